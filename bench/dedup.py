"""Benchmark: deduplicate one 100k-item PDQ batch against N published fingerprints (end to end).

    .venv/bin/python bench/dedup.py [--published 1000000] [--items 100000]

Uses its own PostgreSQL database (DATABASE_URL, default .../consortium_bench). Loads N random
published PDQ fingerprints with COPY (once per size; reused by later runs), then measures:
- the first build of the published index from the database (and its snapshot on disk),
- loading that snapshot in a fresh process state (what every other worker does),
- `batch_deduplicate` of a batch of `--items` hashes: a third planted 1-31 bits from published
  ones, a tenth exact copies, the rest random; the outcome counts are checked against the plan.
Goal (issue): one 100k-item batch deduplicated against 10M in <= 10 s.
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import secrets
import sys
import time
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

from batch_submit import ensure_database, machine  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--published", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    ensure_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from consortium import signing
    from consortium.audit.services import SYSTEM
    from hashes import pdq_published
    from hashes.models import Fingerprint
    from hashes.services.batches import batch_submit
    from hashes.services.dedup import batch_deduplicate
    from members.models import Member, Role, User
    from members.services.keys import key_add
    from members.services.members import member_create
    from members.services.users import user_create

    call_command("migrate", verbosity=0)
    print(f"machine: {machine()}")
    rng = np.random.default_rng(7)

    # Published fingerprints: exactly N PDQ rows at seq 1 (a fresh table per size).
    have = Fingerprint.objects.filter(kind="pdq").count()
    if have != args.published:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE hashes_batchitem, hashes_fingerprint RESTART IDENTITY CASCADE")
            chunk = 1_000_000
            for start in range(0, args.published, chunk):
                n = min(chunk, args.published - start)
                hexes = rng.bytes(n * 32).hex()
                lines = "".join(f"pdq\t{hexes[i * 64:(i + 1) * 64]}\t[]\tactive\t1\t2026-11-21 00:00:00+00\n" for i in range(n))
                cursor.cursor.copy_expert(
                    "COPY hashes_fingerprint (kind, value, labels, status, added_seq, created) FROM STDIN", io.StringIO(lines)
                )
            connection.commit() if not connection.get_autocommit() else None
        print(f"loaded {args.published:,} published PDQ fingerprints with COPY in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    pdq_published.published_pdq_index_reset()
    import shutil

    shutil.rmtree(Path(os.environ["CONSORTIUM_VAR_DIR"]) / "pdq-index", ignore_errors=True)
    index = pdq_published.published_pdq_index()
    print(f"first build from the database + snapshot: {time.perf_counter() - started:.1f} s, {len(index):,} hashes, "
          f"index {index.memory_bytes() / 1e6:.0f} MB, peak RSS {rss_mb():.0f} MB")
    pdq_published.published_pdq_index_reset()
    started = time.perf_counter()
    index = pdq_published.published_pdq_index()
    print(f"load of the snapshot by another process: {time.perf_counter() - started:.2f} s")

    # The batch: planted near-duplicates, exact copies, random hashes.
    # Ids run 1..N (loaded with RESTART IDENTITY): a random sample of published values.
    wanted = rng.choice(np.arange(1, args.published + 1), size=args.items // 2, replace=False).tolist()
    sample = list(Fingerprint.objects.filter(kind="pdq", id__in=wanted).values_list("value", flat=True))
    planted_near = args.items // 3
    planted_exact = args.items // 10
    values = []
    for n in range(planted_near):
        number = int(sample[n % len(sample)], 16)
        for bit in rng.choice(256, size=int(rng.integers(1, 32)), replace=False):
            number ^= 1 << int(bit)
        values.append(f"{number:064x}")
    values += sample[planted_near % len(sample): planted_near % len(sample) + planted_exact]
    values += [rng.bytes(32).hex() for _ in range(args.items - len(values))]

    member = Member.objects.filter(slug="bench").first() or member_create(actor=SYSTEM, slug="bench", name="Bench")
    user = User.objects.filter(username="bench-analyst").first() or user_create(
        actor=SYSTEM, username="bench-analyst", member=member, role=Role.ANALYST
    )
    key = signing.generate_private_key()
    key_add(actor=SYSTEM, member=member, jwk=signing.public_jwk(key))
    payload = {"member": "bench", "ref": secrets.token_hex(8), "issued_at": "2026-11-21T10:00:00Z", "labels": [],
               "items": [{"kind": "pdq", "value": v} for v in values]}
    batch = batch_submit(user=user, envelope=signing.sign(payload, key=key, typ=signing.TYP_BATCH)).batch
    started = time.perf_counter()
    batch = batch_deduplicate(batch_id=batch.pk)
    elapsed = time.perf_counter() - started
    print(f"dedup of {args.items:,} items against {args.published:,}: {elapsed:.2f} s "
          f"(new {batch.new_count:,}, duplicate {batch.duplicate_count:,}, near {batch.near_duplicate_count:,}); "
          f"planted: {planted_near:,} near (1-31 bits), {planted_exact:,} exact; peak RSS {rss_mb():.0f} MB")
    assert batch.duplicate_count >= planted_exact and batch.near_duplicate_count >= planted_near, "a planted duplicate was missed"
    print(f"goal at 10M: <= 10 s ({'met' if elapsed <= 10 else 'MISSED'} at {args.published:,})")


if __name__ == "__main__":
    main()
