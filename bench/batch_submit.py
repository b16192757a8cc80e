"""Benchmark: a signed 100,000-item batch verified, validated and stored (issue: batches).

    .venv/bin/python bench/batch_submit.py [--items 100000] [--runs 3]

Uses its own PostgreSQL database (DATABASE_URL, default .../consortium_bench), created and
migrated on first use. Prints, per run: the service call (signature check, validation, COPY of
the items, audit entry; the dedup task is not run), the same through the HTTP stack (Django test
client: JSON parsing, auth, the view), and the anchor measured in the same run: a raw
PostgreSQL COPY of the same rows into a table with the same unique index. Goal: <= 3 s, and
<= 3x the raw COPY.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/consortium_bench")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
os.environ.setdefault("CONSORTIUM_VAR_DIR", "/tmp/consortium-bench-var")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return f"{os.cpu_count()} cores, {cpu}, {mem / 1024 / 1024:.1f} GiB RAM, {platform.python_implementation()} {platform.python_version()}"


def ensure_database() -> None:
    import psycopg2

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    conn = psycopg2.connect(url.rsplit("/", 1)[0] + "/postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from consortium import signing
    from consortium.audit.services import SYSTEM
    from hashes.models import BatchItem
    from hashes.services.batches import batch_submit
    from members.models import Member, Role, User
    from members.services.keys import key_add
    from members.services.members import member_create
    from members.services.tokens import token_create
    from members.services.users import user_create

    call_command("migrate", verbosity=0)
    member = Member.objects.filter(slug="bench").first() or member_create(actor=SYSTEM, slug="bench", name="Bench")
    user = User.objects.filter(username="bench-analyst").first() or user_create(
        actor=SYSTEM, username="bench-analyst", member=member, role=Role.ANALYST
    )
    key = signing.generate_private_key()
    key_add(actor=SYSTEM, member=member, jwk=signing.public_jwk(key))
    _, token = token_create(actor=SYSTEM, user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def make_payload() -> dict:
        # A realistic mix: three in four PDQ hashes with quality, the rest MD5s.
        items = []
        for n in range(args.items):
            if n % 4:
                items.append({"kind": "pdq", "value": secrets.token_hex(32), "quality": 90})
            else:
                items.append({"kind": "md5", "value": secrets.token_hex(16), "labels": ["video", "glorification"]})
        return {
            "member": "bench", "ref": secrets.token_hex(8), "issued_at": "2026-11-21T10:00:00Z",
            "labels": ["islamic-state", "image"], "items": items,
        }

    print(f"machine: {machine()}")
    print(f"database: PostgreSQL {connection.cursor().connection.server_version}, items per batch: {args.items}")
    service, http, raw, raw_old = [], [], [], []
    for run in range(args.runs):
        envelope = signing.sign(make_payload(), key=key, typ=signing.TYP_BATCH)
        started = time.perf_counter()
        batch = batch_submit(user=user, envelope=envelope).batch
        service.append(time.perf_counter() - started)
        assert BatchItem.objects.filter(batch=batch).count() == args.items

        envelope = signing.sign(make_payload(), key=key, typ=signing.TYP_BATCH)
        body = json.dumps(envelope).encode()
        started = time.perf_counter()
        response = client.generic("POST", "/api/v1/batches", body, content_type="application/json")
        http.append(time.perf_counter() - started)
        assert response.status_code == 202, response.content[:300]

        # The anchor: the rows the service stored (same values, and the labels each item stores:
        # its own, or the batch's), COPY'd raw in one autocommitted statement into a table with
        # hashes_batchitem's columns and unique index (and no reference check). Until 2026-11-22
        # the anchor wrote `[]` for items that inherit the batch's labels, and had no match
        # columns: it is still timed ("old anchor") so that figures stay comparable.
        payload_labels = envelope["payload"]["labels"]
        same_rows, old_rows = io.StringIO(), io.StringIO()
        writer, old_writer = csv.writer(same_rows, lineterminator="\n"), csv.writer(old_rows, lineterminator="\n")
        for position, item in enumerate(envelope["payload"]["items"]):
            labels = item.get("labels", payload_labels)
            writer.writerow((batch.pk, position, item["kind"], item["value"], signing.jcs(labels).decode(), item.get("quality"), "pending"))
            old_writer.writerow((batch.pk, position, item["kind"], item["value"], json.dumps(item.get("labels", [])), item.get("quality"), "pending"))
        timings = []
        for rows, extra in ((same_rows, ", match_fingerprint_id bigint, match_position integer, distance smallint"), (old_rows, "")):
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS bench_copy")
                cursor.execute(
                    "CREATE TABLE bench_copy (id bigserial primary key, batch_id bigint, position integer, kind varchar(32), "
                    f"value varchar(2048), labels jsonb, quality smallint, outcome varchar(16){extra}, UNIQUE (batch_id, position))"
                )
                rows.seek(0)
                started = time.perf_counter()
                cursor.cursor.copy_expert(
                    "COPY bench_copy (batch_id, position, kind, value, labels, quality, outcome) FROM STDIN WITH (FORMAT csv)", rows
                )
                connection.commit() if not connection.get_autocommit() else None
                timings.append(time.perf_counter() - started)
                cursor.execute("DROP TABLE bench_copy")
        raw.append(timings[0])
        raw_old.append(timings[1])
        print(
            f"run {run + 1}: service {service[-1]:.2f} s ({args.items / service[-1]:,.0f} items/s), "
            f"HTTP {http[-1]:.2f} s, raw COPY {raw[-1]:.2f} s (old anchor {raw_old[-1]:.2f} s), "
            f"service/COPY {service[-1] / raw[-1]:.1f}x, load {os.getloadavg()[0]:.2f}"
        )

    s, h, r = statistics.median(service), statistics.median(http), statistics.median(raw)
    o = statistics.median(raw_old)
    print(f"median: service {s:.2f} s ({min(service):.2f}-{max(service):.2f}), HTTP {h:.2f} s ({min(http):.2f}-{max(http):.2f}), "
          f"raw COPY {r:.2f} s ({min(raw):.2f}-{max(raw):.2f}); ratio service/COPY {s / r:.1f}x, HTTP/COPY {h / r:.1f}x")
    print(f"old anchor (labels [] for inherited, no match columns): {o:.2f} s; ratio service/old anchor {s / o:.1f}x")
    print(f"goal: <= 3 s ({'met' if h <= 3 else 'MISSED'} through HTTP), <= 3x COPY ({'met' if s / r <= 3 else 'MISSED'} for the service)")


if __name__ == "__main__":
    main()
