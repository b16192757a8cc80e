"""Benchmark of the member client's `mirror`: applying 1M signed changes to a fresh SQLite mirror.

    .venv/bin/python bench/client_apply.py [--changes 1000000] [--releases 100] [--page-size 1000]

Generates `--releases` releases totalling `--changes` add changes (random md5 / sha256 / pdq
values, a few label sets), hash-chained and signed with a throwaway test consortium key, and
serves them from a separate process: a `ThreadingHTTPServer` on 127.0.0.1 answering the JWKS
and `GET /api/v1/releases?after=&limit=` with pages pre-built as the real server builds them
(stored envelope bytes spliced in). Then it times `python -m consortium_client mirror` in a
fresh process (start-up, HTTP, JSON parsing, JCS, signature checks, SQLite; a new database
each run) and prints the machine, the wall time and changes/s. Not part of the test run;
figures seen are kept in bench/README_client.md. Needs no database server and no Django.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "client"))

from consortium_client import jose  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

LABEL_SETS = [["islamic-state"], ["islamic-state", "beheading"], ["al-qaeda"], ["attacker", "video"]]
KINDS = [("md5", 16), ("sha256", 32), ("pdq", 32)]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"nproc {os.cpu_count()}, CPU {cpu}, {ram:.1f} GiB RAM, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"


def generate(changes: int, releases: int, directory: Path) -> tuple[dict, int]:
    """Sign the releases into `directory/<seq>.json` (envelope bytes); returns (JWKS, bytes)."""
    key = Ed25519PrivateKey.generate()
    rng = random.Random(5)
    prev = None
    total = 0
    per = changes // releases
    fingerprint = 0
    for seq in range(1, releases + 1):
        count = per if seq < releases else changes - per * (releases - 1)
        batch = []
        for _ in range(count):
            fingerprint += 1
            kind, size = KINDS[fingerprint % 3]
            batch.append({"op": "add", "kind": kind, "value": rng.randbytes(size).hex(), "labels": LABEL_SETS[fingerprint % 4], "fingerprint": fingerprint})
        payload = {"seq": seq, "prev": prev, "published_at": "2026-11-21T10:00:00.123456Z", "batch": seq, "changes": batch}
        canonical = jose.jcs(payload)
        signature = jose.sign(payload, key=key, typ=jose.TYP_RELEASE, canonical=canonical)["signature"]
        body = b'{"payload":' + canonical + b',"signature":"' + signature.encode() + b'"}'
        (directory / f"{seq}.json").write_bytes(body)
        total += len(body)
        prev = hashlib.sha256(canonical).hexdigest()
    jwks = {"keys": [{**jose.public_jwk(key), "kid": jose.thumbprint(key), "alg": "EdDSA", "use": "sig", "created": "2026-01-01T00:00:00Z", "retired": None}]}
    return jwks, total


def serve(directory: str, releases: int, jwks: dict, port_queue: multiprocessing.Queue) -> None:
    """The fake server's process: answers the JWKS and release pages from the files."""
    bodies = {seq: (Path(directory) / f"{seq}.json").read_bytes() for seq in range(1, releases + 1)}
    jwks_body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            parsed = urllib.parse.urlsplit(self.path)
            if parsed.path == "/.well-known/jwks.json":
                body = jwks_body
            else:
                query = dict(urllib.parse.parse_qsl(parsed.query))
                after, limit = int(query["after"]), int(query["limit"])
                last = min(after + limit, releases)
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                next_url = f'"{base}/api/v1/releases?after={last}&limit={limit}"' if last < releases else "null"
                body = b'{"releases":[' + b",".join(bodies[s] for s in range(after + 1, last + 1)) + b'],"latest_seq":' + str(releases).encode() + b',"next":' + next_url.encode() + b"}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="client-apply-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        jwks, size = generate(args.changes, args.releases, directory)
        print(f"generated {args.releases} releases, {args.changes:,} changes, {size / 1e6:.0f} MB of envelopes in {time.perf_counter() - started:.1f} s")
        ports: multiprocessing.Queue = multiprocessing.Queue()
        server = multiprocessing.Process(target=serve, args=(str(directory), args.releases, jwks, ports), daemon=True)
        server.start()
        try:
            port = ports.get(timeout=60)
            for run in range(1, args.runs + 1):
                db = directory / f"mirror-{run}.sqlite3"
                started = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "consortium_client", "mirror", "--quiet", "--server", f"http://127.0.0.1:{port}",
                     "--token", "cst_bench", "--db", str(db), "--page-size", str(args.page_size)],
                    cwd=ROOT / "client", capture_output=True, text=True,
                )
                elapsed = time.perf_counter() - started
                if done.returncode != 0:
                    raise SystemExit(f"mirror failed ({done.returncode}): {done.stderr}")
                with sqlite3.connect(db) as conn:
                    rows = conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0]
                    last_seq = conn.execute("SELECT last_seq FROM state").fetchone()[0]
                assert rows == args.changes and last_seq == args.releases, (rows, last_seq)
                # ru_maxrss of waited-for children: the mirror processes (the server is not waited for yet).
                peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
                print(
                    f"run {run}: mirror applied {args.releases} releases / {args.changes:,} changes in {elapsed:.1f} s "
                    f"= {args.changes / elapsed:,.0f} changes/s (page size {args.page_size}; database {db.stat().st_size / 1e6:.0f} MB; "
                    f"peak RSS of the mirror process {peak:,.0f} MiB)"
                )
        finally:
            server.terminate()
            server.join()


if __name__ == "__main__":
    main()
