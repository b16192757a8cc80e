"""The fixture cast and the real moving parts (Celery worker on Redis) shared by every test.

The cast, with stated roles:
- Acme: Alice (admin), Bob (analyst), Rita (reader, Acme's sync machine).
- Globex: Charlie (admin), Gina (analyst). Charlie should have no access to Alice's stuff.
- Audrey: auditor of the consortium, belongs to no member.
- Stan: consortium staff.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from consortium import signing
from consortium.audit.models import AuditEntry
from consortium.audit.services import SYSTEM
from members.models import Member, Role, User
from members.services.members import member_create
from members.services.tokens import token_create
from members.services.users import user_create

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Cast:
    acme: Member
    globex: Member
    alice: User
    bob: User
    rita: User
    charlie: User
    gina: User
    audrey: User
    stan: User


@pytest.fixture
def cast(db: Any) -> Cast:
    acme = member_create(actor=SYSTEM, slug="acme", name="Acme Video")
    globex = member_create(actor=SYSTEM, slug="globex", name="Globex Social")

    def user(name: str, member: Member | None, role: str | None, **extra: Any) -> User:
        return user_create(actor=SYSTEM, username=name, member=member, role=role, **extra)

    return Cast(
        acme=acme,
        globex=globex,
        alice=user("alice", acme, Role.ADMIN),
        bob=user("bob", acme, Role.ANALYST),
        rita=user("rita", acme, Role.READER),
        charlie=user("charlie", globex, Role.ADMIN),
        gina=user("gina", globex, Role.ANALYST),
        audrey=user("audrey", None, Role.AUDITOR),
        stan=user("stan", None, None, is_staff=True),
    )


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _tasks_reach_the_worker_only_in_worker_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks queued by committed transactions of other tests go to a queue no worker reads.

    Otherwise the session's worker would run them (publishing, dedup) against the database
    while that test asserts on it or flushes it. Worker tests use the normal queue.
    """
    if request.node.get_closest_marker("worker"):
        yield
        return
    from consortium.celery import app

    default = app.conf.task_default_queue
    app.conf.task_default_queue = "tests-without-a-worker"
    try:
        yield
    finally:
        app.conf.task_default_queue = default


@pytest.fixture(autouse=True)
def _fresh_pdq_index(settings: Any, tmp_path: Path) -> Iterator[None]:
    """Each test gets its own PDQ index snapshot directory and an empty in-process index."""
    from hashes.pdq_published import published_pdq_index_reset

    settings.PDQ_INDEX_DIR = tmp_path / "pdq-index"
    published_pdq_index_reset()
    yield
    published_pdq_index_reset()


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """`api(user)`: a client authenticated with a new real token of `user` (None: anonymous)."""

    def make(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            _, secret = token_create(actor=SYSTEM, user=user, name="test")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture
def staff_client(cast: Cast) -> Any:
    """A browser session of Stan, staff with every admin permission."""
    from django.test import Client

    cast.stan.is_superuser = True
    cast.stan.save(update_fields=["is_superuser"])
    client = Client()
    client.force_login(cast.stan)
    return client


@pytest.fixture
def ed25519() -> Callable[[], Any]:
    """A fresh private Ed25519 key (joserfc OKPKey)."""
    return signing.generate_private_key


def audit_actions(since: int = 0) -> list[str]:
    return list(AuditEntry.objects.filter(index__gte=since).order_by("index").values_list("action", flat=True))


def audit_size() -> int:
    return AuditEntry.objects.count()


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem document with this status; returns its body."""
    assert response.status_code == status, (response.status_code, getattr(response, "content", b"")[:500])
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    return body


# --- the real Celery worker -----------------------------------------------------------------------


def _celery_env() -> dict[str, str]:
    """The environment of the Celery processes the tests start: the test database and broker."""
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "PYTHONPATH": str(ROOT),
        # The tests' webhook receivers listen on 127.0.0.1.
        "WEBHOOK_ALLOW_LOOPBACK": "true",
        # A fresh PDQ index snapshot directory: never one left by an earlier run's database.
        "PDQ_INDEX_DIR": tempfile.mkdtemp(prefix="consortium-worker-pdq-"),
    }


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: Any, django_db_blocker: Any) -> Iterator[subprocess.Popen]:
    """One real `celery worker` process on the test Redis broker and the test database.

    Tests that use it must commit their data (`@pytest.mark.django_db(transaction=True,
    serialized_rollback=True)`: the rollback puts back the rows migrations seed, which the
    flush after a transactional test removes),
    since the worker reads the database through its own connection.
    """
    from consortium.celery import app

    assert not app.conf.task_always_eager, "the worker tests need a real broker (CELERY_BROKER_URL=redis://…)"
    env = _celery_env()
    app.control.purge()
    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    log = open(Path(settings.VAR_DIR) / "celery-worker.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "consortium", "worker", "--pool=solo", "--concurrency=1",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", "--hostname=test-worker@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited early; see {log.name}")
        if app.control.ping(timeout=0.5):
            break
    else:
        process.kill()
        raise RuntimeError(f"the Celery worker did not answer a ping in 60 s; see {log.name}")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def celery_beat(celery_worker: subprocess.Popen, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A real `celery beat` with the periodic tasks every second (the worker runs them)."""
    env = {**_celery_env(), "BATCH_EXPIRY_INTERVAL": "1", "AUDIT_CHECKPOINT_INTERVAL": "1"}
    log = open(tmp_path / "celery-beat.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "consortium", "beat", "--loglevel=INFO",
         f"--schedule={tmp_path / 'beat-schedule'}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
