"""Benchmark: the match API and the snapshot download, through a real gunicorn on 127.0.0.1.

    .venv/bin/python bench/match_snapshot.py [--published 1000000] [--runs 20]

Uses the bench database of bench/dedup.py (DATABASE_URL, default .../consortium_bench), loading
N published PDQ fingerprints if it holds another number. Starts gunicorn (2 workers) on a free
port, then measures over HTTP:
- POST /api/v1/match with 1,000 PDQ queries (a third planted near published ones), p50/p95
  over `--runs` requests (goal <= 1 s), and with 1,000 exact MD5 look-ups (goal <= 100 ms);
- the snapshot of all N fingerprints: build time, then GET /api/v1/snapshot throughput (goal
  >= 50 MB/s) and the gunicorn worker's RSS before and after (flat memory).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/consortium_bench")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")
os.environ.setdefault("CONSORTIUM_VAR_DIR", "/tmp/consortium-bench-var")
os.environ.setdefault("API_RATE_LIMIT", "100000/min")

from batch_submit import ensure_database, machine  # noqa: E402


def rss_of(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--published", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    from consortium.audit.services import SYSTEM
    from hashes.models import Fingerprint, ReleaseHead, Snapshot
    from hashes.services.snapshots import snapshot_build
    from members.models import Member, Role, User
    from members.services.members import member_create
    from members.services.tokens import token_create
    from members.services.users import user_create

    call_command("migrate", verbosity=0)
    print(f"machine: {machine()}")
    if Fingerprint.objects.filter(kind="pdq").count() != args.published:
        subprocess.run([sys.executable, str(ROOT / "bench" / "dedup.py"), "--published", str(args.published), "--items", "1000"], check=True)
    md5s = [secrets.token_hex(16) for _ in range(1000)]
    Fingerprint.objects.filter(kind="md5").delete()
    Fingerprint.objects.bulk_create([Fingerprint(kind="md5", value=v, added_seq=1) for v in md5s[:500]])
    ReleaseHead.objects.filter(pk=1, seq=0).update(seq=1)  # the bench's rows are "release 1"

    member = Member.objects.filter(slug="bench").first() or member_create(actor=SYSTEM, slug="bench", name="Bench")
    user = User.objects.filter(username="bench-reader").first() or user_create(actor=SYSTEM, username="bench-reader", member=member, role=Role.READER)
    _, token = token_create(actor=SYSTEM, user=user)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "consortium.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "300"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)

        def post(body: dict) -> tuple[float, dict]:
            request = urllib.request.Request(
                f"{base}/api/v1/match", data=json.dumps(body).encode(), method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=300) as response:
                answer = json.loads(response.read())
            return time.perf_counter() - started, answer

        rng = np.random.default_rng(3)
        sample = list(Fingerprint.objects.filter(kind="pdq", id__in=rng.integers(1, args.published, size=400).tolist()).values_list("value", flat=True))
        queries = []
        for n in range(1000):
            if n % 3 == 0 and sample:
                number = int(sample[n % len(sample)], 16)
                for bit in rng.choice(256, size=int(rng.integers(1, 32)), replace=False):
                    number ^= 1 << int(bit)
                queries.append({"kind": "pdq", "value": f"{number:064x}"})
            else:
                queries.append({"kind": "pdq", "value": rng.bytes(32).hex()})
        warm, _ = post({"queries": queries[:10]})  # each worker builds or maps its index once
        post({"queries": queries[:10]})
        print(f"warm-up (index load in the workers): {warm:.2f} s")
        pdq_times, hits = [], 0
        for _ in range(args.runs):
            elapsed, answer = post({"queries": queries})
            pdq_times.append(elapsed)
            hits = sum(1 for r in answer["results"] if r["matches"])
        exact_times = [post({"queries": [{"kind": "md5", "value": v} for v in md5s]})[0] for _ in range(args.runs)]

        def pct(values: list[float], q: float) -> float:
            return sorted(values)[min(len(values) - 1, int(q * len(values)))]

        print(f"match, 1,000 PDQ queries vs {args.published:,}: p50 {statistics.median(pdq_times):.3f} s, p95 {pct(pdq_times, 0.95):.3f} s "
              f"({hits} queries matched; {len([q for i, q in enumerate(queries) if i % 3 == 0])} planted); goal <= 1 s")
        print(f"match, 1,000 exact MD5 look-ups: p50 {statistics.median(exact_times) * 1000:.0f} ms, p95 {pct(exact_times, 0.95) * 1000:.0f} ms; goal <= 100 ms")

        Snapshot.objects.all().delete()
        started = time.perf_counter()
        snapshot = snapshot_build()
        print(f"snapshot build of {snapshot.count:,} fingerprints ({snapshot.size / 1e6:.0f} MB): {time.perf_counter() - started:.1f} s")
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()]
        before = {pid: rss_of(pid) for pid in workers}
        request = urllib.request.Request(f"{base}/api/v1/snapshot", headers={"Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        size = 0
        with urllib.request.urlopen(request, timeout=600) as response:
            while block := response.read(1 << 20):
                size += len(block)
        elapsed = time.perf_counter() - started
        after = {pid: rss_of(pid) for pid in workers}
        print(f"snapshot download: {size / 1e6:.0f} MB in {elapsed:.2f} s = {size / 1e6 / elapsed:.0f} MB/s; goal >= 50 MB/s")
        print("gunicorn worker RSS before/after the download (MB): " + ", ".join(f"{before[p]}/{after[p]}" for p in workers))
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
