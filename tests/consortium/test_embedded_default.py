"""The README's run command on the embedded default: SQLite, eager Celery, no broker. It runs in
a subprocess with none of the tests' environment, so the embedded path (SQLite migrations and
triggers, dedup and publishing without PostgreSQL) is exercised by the suite, not only by hand."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.conf import settings

EMBEDDED_UNSET = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE", "CONSORTIUM_REQUIRE_KEYS")


def test_the_demo_sets_up_the_embedded_default_with_a_release_and_batches_voting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_UNSET} | {"CONSORTIUM_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "manage.py", "demo", "--no-serve"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "a first release from acme, and batches from globex and initech awaiting votes" in done.stdout
    databases = list(tmp_path.glob("*.sqlite3"))
    assert len(databases) == 1, databases
    with sqlite3.connect(databases[0]) as db:
        statuses = sorted(status for (status,) in db.execute("SELECT status FROM hashes_batch"))
        near = db.execute("SELECT count(*) FROM hashes_batchitem WHERE outcome = 'near_duplicate'").fetchone()[0]
        published = db.execute("SELECT count(*) FROM hashes_fingerprint WHERE added_seq = 1").fetchone()[0]
    assert statuses == ["published", "voting", "voting"]
    assert near == 6 and published == 25  # Globex's six re-uploads matched Acme's published hashes


def test_a_database_url_that_is_not_one_is_named_with_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in EMBEDDED_UNSET} | {"CONSORTIUM_VAR_DIR": str(tmp_path), "DATABASE_URL": ""}
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "DATABASE_URL='' is not a database URL: set it like postgres://" in done.stderr
