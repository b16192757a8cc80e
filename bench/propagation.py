"""Benchmark: fan-out of releases to 50 member endpoints on 127.0.0.1, one Celery worker.

    .venv/bin/python bench/propagation.py [--endpoints 50] [--releases 10]

Uses the bench database (DATABASE_URL, default .../consortium_bench) and Redis db 12 as the
broker. Starts 50 small HTTP receivers in this process (each verifies every delivery with the
standardwebhooks library) and one `celery worker --concurrency 1`. Each round approves a
one-item batch with two votes (the deciding vote commits here), then the worker publishes the
release and delivers `release.published` to every endpoint. Reports, per round, the time from
the deciding vote's commit to the last delivery received, p50/p99 over the rounds (goal p99 <= 5
s), and deliveries per second sustained.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/consortium_bench")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("CONSORTIUM_VAR_DIR", "/tmp/consortium-bench-var")
os.environ.setdefault("WEBHOOK_ALLOW_LOOPBACK", "true")

from batch_submit import ensure_database, machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--releases", type=int, default=10)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from standardwebhooks.webhooks import Webhook

    from consortium import signing
    from consortium.audit.services import SYSTEM
    from consortium.celery import app
    from hashes.models import Delivery
    from hashes.services.batches import batch_submit
    from hashes.services.dedup import batch_deduplicate
    from hashes.services.votes import vote_cast
    from members.models import Endpoint, Member, Role, User
    from members.services.endpoints import endpoint_create
    from members.services.keys import key_add
    from members.services.members import member_create
    from members.services.users import user_create

    call_command("migrate", verbosity=0)
    print(f"machine: {machine()}")

    received: dict[str, float] = {}
    lock = threading.Lock()
    verified_failures = [0]
    secrets_by_port: dict[int, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                Webhook(secrets_by_port[self.server.server_address[1]]).verify(body, headers)
            except Exception:
                verified_failures[0] += 1
                self.send_response(400)
                self.end_headers()
                return
            with lock:
                received[f"{self.server.server_address[1]}:{headers['webhook-id']}"] = time.monotonic()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Handler) for _ in range(args.endpoints)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def member(slug: str, role: str = Role.ANALYST) -> tuple[Member, User]:
        m = Member.objects.filter(slug=slug).first() or member_create(actor=SYSTEM, slug=slug, name=slug)
        u = User.objects.filter(username=f"{slug}-bench").first() or user_create(actor=SYSTEM, username=f"{slug}-bench", member=m, role=role)
        return m, u

    submitter, analyst = member("prop-sub")
    _, voter1 = member("prop-v1")
    _, voter2 = member("prop-v2")
    key = signing.generate_private_key()
    key_add(actor=SYSTEM, member=submitter, jwk=signing.public_jwk(key))
    Endpoint.objects.all().update(enabled=False)  # only this run's receivers
    for server in servers:
        endpoint = endpoint_create(actor=SYSTEM, member=submitter, url=f"http://127.0.0.1:{server.server_address[1]}/hook", events=["release.published"])
        secrets_by_port[server.server_address[1]] = endpoint.secret

    app.control.purge()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "consortium", "worker", "--concurrency=1", "--loglevel=WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            if app.control.ping(timeout=0.5):
                break
        latencies = []
        started_all = time.monotonic()
        for _round in range(args.releases):
            payload = {"member": "prop-sub", "ref": secrets.token_hex(8), "issued_at": "2026-11-21T10:00:00Z", "labels": [],
                       "items": [{"kind": "sha256", "value": secrets.token_hex(32)}]}
            batch = batch_submit(user=analyst, envelope=signing.sign(payload, key=key, typ=signing.TYP_BATCH)).batch
            batch_deduplicate(batch_id=batch.pk)
            vote_cast(user=voter1, batch=batch, decision="approve")
            before = len(received)
            decided_at = time.monotonic()
            vote_cast(user=voter2, batch=batch, decision="approve")  # commits: publishing is queued
            deadline = decided_at + 60
            while len(received) < before + args.endpoints and time.monotonic() < deadline:
                time.sleep(0.01)
            last = max(received.values())
            latencies.append(last - decided_at)
            print(f"round {_round + 1}: {len(received) - before}/{args.endpoints} delivered, last {last - decided_at:.2f} s after the deciding vote")
        total = time.monotonic() - started_all
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        print(f"approval -> last delivery: p50 {statistics.median(latencies):.2f} s, p99 {p99:.2f} s over {len(latencies)} releases; goal p99 <= 5 s")
        print(f"deliveries: {len(received)} in {total:.1f} s = {len(received) / total:.0f}/s over the whole run (one worker; each round also submits and deduplicates its batch here); "
              f"signature failures at the receivers: {verified_failures[0]}; failed deliveries: {Delivery.objects.filter(status='failed').count()}")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        for server in servers:
            server.shutdown()


if __name__ == "__main__":
    main()
