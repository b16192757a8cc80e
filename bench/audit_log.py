"""Benchmark of the transparency log at scale: export, verify and proofs over a 1M-entry log.

    .venv/bin/python bench/audit_log.py [--entries 1000000] [--rebuild]

Uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/consortium_audit_bench),
created and migrated if missing. The log is built directly with COPY (entries, their tree nodes
and some documents), as fast as PostgreSQL takes it; then:
- export: GET /api/v1/audit/export's stream written to a file, in a fresh process, entries/s and
  RSS sampled while it runs (it must stay flat);
- verify: the client verifier on that file, in a fresh process without Django, entries/s;
- proofs: inclusion and consistency proof endpoints through the Django test client, latency.
Not part of the test run. Figures seen are kept in bench/README_audit.md.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/consortium_audit_bench")
os.environ["DATABASE_URL"] = BENCH_DB
os.environ.setdefault("CONSORTIUM_VAR_DIR", "/tmp/consortium-bench-var")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "consortium.settings")
sys.path.insert(0, str(ROOT))
EXPORT_FILE = Path(os.environ["CONSORTIUM_VAR_DIR"]) / "audit-export.tar.gz"


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """VmHWM: this process's own peak (ru_maxrss would carry the parent's over fork and exec)."""
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} CPUs ({cpu}), {ram:.1f} GiB RAM, Python {platform.python_version()}"


def ensure_database() -> None:
    import psycopg2

    name = BENCH_DB.rsplit("/", 1)[1]
    admin = psycopg2.connect(BENCH_DB.rsplit("/", 1)[0] + "/postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not cursor.fetchone():
            cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def build(entries: int) -> None:
    """TRUNCATE and refill the log with COPY (the append-only triggers do not fire on TRUNCATE)."""
    from django.db import connection

    from client.consortium_client import merkle

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE audit_auditentry, audit_audittreenode, audit_auditdocument, audit_checkpoint"
        )
        cursor.execute("UPDATE audit_audithead SET size = 0")
    raw = connection.connection
    tree = merkle.CompactRange()
    chunk = 100_000
    members = ["acme", "globex", "initech", "umbrella"]
    for low in range(0, entries, chunk):
        entry_rows, node_rows, document_rows = io.StringIO(), io.StringIO(), io.StringIO()
        for index in range(low, min(low + chunk, entries)):
            member = members[index % 4]
            seconds = index // 10
            moment = f"2026-{1 + seconds // 2_592_000 % 12:02d}-{1 + seconds // 86400 % 28:02d}T{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{index % 1000000:06d}Z"
            entry = {
                "v": 1, "index": index, "time": moment, "actor": {"member": member, "user": f"analyst-{index % 50}"},
                "action": "batch.vote_cast", "subject": f"batch:{index // 7}", "decision": "approve", "reason": "matches our own findings",
            }
            if index % 1000 == 0:
                document = json.dumps({"bench": index, "note": "an unsigned stand-in for a batch envelope"}, separators=(",", ":")).encode()
                import hashlib

                digest = hashlib.sha256(document).hexdigest()
                entry["documents"] = [digest]
                document_rows.write(f"{digest}\t\\\\x{document.hex()}\tapplication/json\t{index}\n")
            body = json.dumps(entry, separators=(",", ":"), sort_keys=True).encode()
            entry_rows.write(f"{index}\t{moment}\tbatch.vote_cast\tbatch:{index // 7}\t{member}\tanalyst-{index % 50}\t\\\\x{body.hex()}\n")
            for (level, position), digest in tree.append(merkle.leaf_hash(body)):
                node_rows.write(f"{level}\t{position}\t\\\\x{digest.hex()}\n")
        with raw.cursor() as cursor:
            for table, columns, rows in [
                ("audit_auditentry", "index, time, action, subject, actor_member, actor_user, body", entry_rows),
                ("audit_audittreenode", "level, index, digest", node_rows),
                ("audit_auditdocument", "sha256, body, media_type, first_index", document_rows),
            ]:
                rows.seek(0)
                cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", rows)
        raw.commit()
        print(f"  built {min(low + chunk, entries):,} entries", end="\r", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_audithead SET size = %s", [entries])
        cursor.execute("ANALYZE audit_auditentry")
        cursor.execute("ANALYZE audit_audittreenode")
    print(f"built {entries:,} entries and {entries * 2 - bin(entries).count('1'):,} tree nodes in {time.perf_counter() - started:.1f} s")


def phase_export() -> None:
    """In a fresh process: stream the export to a file, sampling RSS."""
    import django

    django.setup()
    from consortium.audit.export import audit_export_stream
    from consortium.audit.services import checkpoint_sign

    checkpoint = checkpoint_sign()
    samples = [rss_mib()]
    started = time.perf_counter()
    written = 0
    with open(EXPORT_FILE, "wb") as out:
        for n, chunk in enumerate(audit_export_stream(checkpoint)):
            out.write(chunk)
            written += len(chunk)
            if n % 50 == 0:
                samples.append(rss_mib())
    elapsed = time.perf_counter() - started
    samples.append(rss_mib())
    peak = peak_rss_mib()
    print(json.dumps({"entries": checkpoint.size, "seconds": elapsed, "bytes": written, "rss_start": samples[0],
                      "rss_min": min(samples[1:]), "rss_max": max(samples), "rss_peak": peak}))


def phase_verify() -> None:
    """In a fresh process, Django unimportable: the client verifier on the export."""
    sys.modules["django"] = None  # type: ignore[assignment]
    sys.path.insert(0, str(ROOT / "client"))
    from consortium_client.audit_verify import verify_export

    started = time.perf_counter()
    report = verify_export(EXPORT_FILE)
    elapsed = time.perf_counter() - started
    peak = peak_rss_mib()
    print(json.dumps({"entries": report.entries, "documents": report.documents, "seconds": elapsed, "rss_peak": peak}))


def run_phase(name: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", name], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def proofs(size: int, requests: int = 300) -> None:
    from rest_framework.test import APIClient

    from consortium.audit.services import SYSTEM
    from members.models import Role, User
    from members.services.tokens import token_create

    user, _ = User.objects.get_or_create(username="bench-auditor", defaults={"role": Role.AUDITOR})
    from django.db import transaction

    with transaction.atomic():
        # token_create appends an audit entry: keep the log at `size` by building it after.
        _, secret = token_create(actor=SYSTEM, user=user, name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    rng = random.Random(7)
    for label, make in [
        ("inclusion", lambda: f"/api/v1/audit/proof/inclusion?index={rng.randrange(size)}&size={size}"),
        ("consistency", lambda: f"/api/v1/audit/proof/consistency?old={rng.randrange(1, size)}&new={size}"),
    ]:
        client.get(make())  # warm up
        timings = []
        for _ in range(requests):
            path = make()
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content
        timings.sort()
        print(f"{label} proof at {size:,} entries: median {statistics.median(timings):.2f} ms, "
              f"p95 {timings[int(len(timings) * 0.95)]:.2f} ms, max {timings[-1]:.2f} ms over {requests} requests")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the log even if it has the right size")
    parser.add_argument("--phase", choices=["export", "verify"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "export":
        return phase_export()
    if args.phase == "verify":
        return phase_verify()

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f} at start")
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from consortium.audit.selectors import audit_log_size

    if args.rebuild or audit_log_size() != args.entries:
        build(args.entries)
    from consortium.audit.models import AuditEntry

    # The bench's token entries (below) grow the log a little past --entries; that is fine.
    size = audit_log_size()
    started = time.perf_counter()
    from consortium.audit.services import checkpoint_sign

    checkpoint = checkpoint_sign()
    print(f"checkpoint_sign at {checkpoint.size:,} entries: {(time.perf_counter() - started) * 1000:.1f} ms")
    proofs(size)
    size = AuditEntry.objects.count()

    export = run_phase("export")
    print(f"export: {export['entries']:,} entries in {export['seconds']:.1f} s = {export['entries'] / export['seconds']:,.0f} entries/s, "
          f"{export['bytes'] / 2**20:.0f} MiB gzip; RSS {export['rss_start']:.0f} MiB at start, "
          f"{export['rss_min']:.0f}-{export['rss_max']:.0f} MiB while streaming (peak {export['rss_peak']:.0f} MiB)")
    verify = run_phase("verify")
    print(f"verify: {verify['entries']:,} entries and {verify['documents']:,} documents in {verify['seconds']:.1f} s = "
          f"{verify['entries'] / verify['seconds']:,.0f} entries/s (peak RSS {verify['rss_peak']:.0f} MiB)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
