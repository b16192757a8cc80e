"""Benchmark hashes/pdq_index.py against threatexchange's PDQIndex (faiss) on the same data.

Run from the repository root:

    .venv/bin/python bench/pdq_index.py --sizes 1000000,10000000 --queries 2000 \\
        --anchor-python /tmp/tx-venv/bin/python

The anchor needs its own venv (python3.11 -m venv /tmp/tx-venv &&
/tmp/tx-venv/bin/pip install threatexchange); it runs as a subprocess that reads
the same generated hashes from temporary .npy files.  Without --anchor-python
only our index is measured.  Everything is single-threaded unless a column
says "2 thr" (the build always uses all CPUs for its per-table sorts).
--engine picks the query engine under test (numba by default); --compare
also times the other one (--compare queries skips its slow 100k dedup).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hashes.pdq_index import PDQIndex  # noqa: E402

SEED = 20240601
R = 31


def machine() -> str:
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return (
        f"nproc={nproc}, CPU={model}, RAM={mem_kb / 2**20:.1f} GiB, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MiB."""
    vals = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                vals[k] = int(v.split()[0]) / 1024
    return vals["VmRSS"], vals["VmHWM"]


def flip_bits(rng: np.random.Generator, h: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Copy of h (n, 4) with exactly ks[i] distinct random bits flipped in row i."""
    out = h.copy()
    for i, k in enumerate(ks.tolist()):
        for b in rng.choice(256, size=k, replace=False).tolist():
            out[i, b // 64] ^= np.uint64(1 << (63 - b % 64))
    return out


def make_data(n: int, n_planted: int, n_queries: int, batch: int) -> dict[str, np.ndarray]:
    """n random hashes whose last n_planted rows are near-duplicates (1..31 bits) of earlier rows.

    planted_q are the source rows' hashes: querying them must return the planted row.
    queries: half planted sources, half fresh random hashes (no match).
    batch: a dedup batch, 10% near-duplicates (1..31 bits) of index rows, 90% random.
    """
    rng = np.random.default_rng(SEED + n)
    h = rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)
    src = rng.choice(n - n_planted, size=n_planted, replace=False)
    ks = rng.integers(1, R + 1, size=n_planted)
    h[n - n_planted :] = flip_bits(rng, h[src], ks)
    fresh = rng.integers(0, 2**64, size=(n_queries - n_queries // 2, 4), dtype=np.uint64)
    queries = np.vstack([h[src[: n_queries // 2]], fresh])
    rng.shuffle(queries)
    n_near = batch // 10
    near_rows = rng.choice(n, size=n_near, replace=False)
    near = h[near_rows].copy()
    # flip 1..31 bits vectorised: xor with random masks of the right popcount is slow to
    # make exactly, so flip bits one position at a time (positions may repeat: distance <= k)
    for _ in range(R):
        pos = rng.integers(0, 256, size=n_near)
        active = rng.random(n_near) < 0.5
        near[active, pos[active] // 64] ^= np.uint64(1) << (np.uint64(63) - (pos[active] % 64).astype(np.uint64))
    batch_q = np.vstack([near, rng.integers(0, 2**64, size=(batch - n_near, 4), dtype=np.uint64)])
    rng.shuffle(batch_q)
    return {
        "ids": np.arange(n, dtype=np.int64),
        "hashes": h,
        "planted_q": h[src],
        "planted_id": np.arange(n - n_planted, n, dtype=np.int64),
        "planted_k": ks,
        "queries": queries,
        "batch": batch_q,
    }


ANCHOR = r"""
import json, sys, time
import numpy as np
from threatexchange.signal_type.pdq.pdq_index import PDQIndex

def rss():
    with open("/proc/self/status") as f:
        d = {l.split(":")[0]: int(l.split()[1]) / 1024 for l in f if l.startswith(("VmRSS", "VmHWM"))}
    return d["VmRSS"], d["VmHWM"]

def hexes(a):
    s = a.astype(">u8").tobytes().hex()
    return [s[i:i + 64] for i in range(0, len(s), 64)]

d = sys.argv[1]
n_q = int(sys.argv[2])
h = np.load(d + "/hashes.npy")
hx = hexes(h)
del h
queries = hexes(np.load(d + "/queries.npy"))[:n_q]
pq = hexes(np.load(d + "/planted_q.npy"))[:n_q]
pid = np.load(d + "/planted_id.npy")[:n_q].tolist()
rss0, _ = rss()
t = time.perf_counter()
index = PDQIndex(entries=zip(hx, range(len(hx))))
build_s = time.perf_counter() - t
rss1, hwm1 = rss()
for q in queries[:5]:
    index.query(q)
t = time.perf_counter()
for q in queries:
    index.query(q)
qps = len(queries) / (time.perf_counter() - t)
found = sum(any(m.metadata == i for m in index.query(q)) for q, i in zip(pq, pid))
print(json.dumps({"build_s": build_s, "qps": qps, "n_queries": len(queries), "index_mb": rss1 - rss0,
                  "rss_mb": rss1, "hwm_mb": rss()[1], "recall": found / len(pq)}))
"""


def run_anchor(python: str, data: dict[str, np.ndarray], n_q: int, timeout: float) -> dict[str, float] | str:
    with tempfile.TemporaryDirectory(prefix="pdq-bench-") as d:
        for name in ("hashes", "queries", "planted_q", "planted_id"):
            np.save(f"{d}/{name}.npy", data[name])
        env = dict(os.environ, OMP_NUM_THREADS="1")  # single-threaded, like our q/s column
        try:
            p = subprocess.run(
                [python, "-c", ANCHOR, d, str(n_q)],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=tempfile.gettempdir(),
            )
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:.0f} s"
        if p.returncode != 0:
            return f"failed (exit {p.returncode}): {p.stderr.strip().splitlines()[-1:]}"
        return json.loads(p.stdout.strip().splitlines()[-1])


def bench_size(n: int, args: argparse.Namespace) -> dict[str, object]:
    print(f"\n=== N = {n:,} ===", flush=True)
    t = time.perf_counter()
    data = make_data(n, args.planted, args.queries, args.batch)
    print(f"data generated in {time.perf_counter() - t:.1f} s", flush=True)
    row: dict[str, object] = {"n": n}
    gc.collect()
    rss0, _ = rss_mb()
    t = time.perf_counter()
    index = PDQIndex.build(data["ids"], data["hashes"])
    row["build_s"] = time.perf_counter() - t
    rss1, hwm1 = rss_mb()
    row["index_mb"] = index.memory_bytes() / 2**20
    row["rss_mb"] = rss1
    print(
        f"build {row['build_s']:.1f} s; memory_bytes {row['index_mb']:.0f} MiB; "
        f"process RSS {rss1:.0f} MiB (was {rss0:.0f} before build, includes the generated data), "
        f"peak {hwm1:.0f} MiB",
        flush=True,
    )

    qs = data["queries"]
    t = time.perf_counter()
    index.query_many(qs[:2], R, engine=args.engine)
    index.query_many(qs[:200], R, engine=args.engine, threads=2)
    print(
        f"first {args.engine} queries (numba: compile or load from its cache): {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    for q in qs[:20]:
        index.query(q)
    for engine in engines(args):
        t = time.perf_counter()
        for q in qs:
            index.query_many(q, R, engine=engine)
        row[f"single_qps_{engine}"] = len(qs) / (time.perf_counter() - t)
        print(f"single queries, {engine}: {row[f'single_qps_{engine}']:.0f} q/s ({len(qs)} queries, r={R})", flush=True)
        for threads in (1, 2):
            t = time.perf_counter()
            index.query_many(qs, R, threads=threads, engine=engine)
            row[f"batch_qps_{engine}_{threads}"] = len(qs) / (time.perf_counter() - t)
            qps = row[f"batch_qps_{engine}_{threads}"]
            print(f"query_many, {engine}, {threads} thread(s): {qps:.0f} q/s", flush=True)
    row["single_qps"] = row[f"single_qps_{args.engine}"]

    res = index.query_many(data["planted_q"], R, engine=args.engine)
    found = sum(
        int(pid) in ids.tolist() and int(d[ids.tolist().index(int(pid))]) == int(k)
        for (ids, d), pid, k in zip(res, data["planted_id"], data["planted_k"], strict=False)
    )
    row["recall"] = found / len(res)
    print(f"recall on {len(res)} planted near-duplicates (1..31 bits): {100 * row['recall']:.2f} %", flush=True)

    # Exactness spot check against a full scan.
    sample = qs[:: max(1, len(qs) // 10)][:10]
    ok = True
    for q, (ids, _distances) in zip(sample, index.query_many(sample, R, engine=args.engine), strict=True):
        dist = np.bitwise_count(data["hashes"] ^ q).sum(axis=1)
        ok &= sorted(np.flatnonzero(dist <= R).tolist()) == sorted(ids.tolist())
    row["spot_check"] = "ok" if ok else "MISMATCH"
    print(f"spot check vs full scan ({len(sample)} queries): {row['spot_check']}", flush=True)

    ref = None
    # numba: the batch join ("auto" picks it for a batch this large) and the per-query kernel
    runs = [(e, m) for e in engines(args, dedup=True) for m in (("join", "probe") if e == "numba" else ("probe",))]
    for engine, method in runs:
        for threads in (1, 2):
            t = time.perf_counter()
            res = index.query_many(data["batch"], R, threads=threads, engine=engine, method=method)
            key = f"dedup_s_{engine}_{threads}" if method != "join" else f"dedup_s_join_{threads}"
            row[key] = time.perf_counter() - t
            hits = sum(len(ids) > 0 for ids, _ in res)
            print(
                f"dedup of a {len(data['batch']):,}-hash batch (r={R}), {engine} {method}, {threads} thread(s): "
                f"{row[key]:.1f} s, {hits:,} hashes with a match; "
                f"peak RSS {rss_mb()[1]:.0f} MiB, load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            if ref is None:
                ref = res
            elif not all((a[0] == b[0]).all() and (a[1] == b[1]).all() for a, b in zip(ref, res, strict=True)):
                row["engines_agree"] = "MISMATCH"
    row.setdefault("engines_agree", "ok")
    print(f"all dedup runs returned identical results: {row['engines_agree']}", flush=True)
    del ref, res

    with tempfile.TemporaryDirectory(prefix="pdq-snap-") as d:
        t = time.perf_counter()
        index.save(Path(d) / "snap", watermark=1)
        save_s = time.perf_counter() - t
        t = time.perf_counter()
        loaded = PDQIndex.load(Path(d) / "snap")
        load_s = time.perf_counter() - t
        loaded.query_many(qs[0], R, engine=args.engine)  # not timed: a first query may compile
        t = time.perf_counter()
        for q in qs[:500]:
            loaded.query_many(q, R, engine=args.engine)
        row["mmap_qps"] = 500 / (time.perf_counter() - t)
        del loaded
    print(f"save {save_s:.1f} s, load (mmap) {load_s * 1000:.0f} ms, single queries on the mmap: "
          f"{row['mmap_qps']:.0f} q/s (page cache warm)", flush=True)

    t = time.perf_counter()
    extra = np.random.default_rng(1).integers(0, 2**64, size=(5000, 4), dtype=np.uint64)
    index.add(np.arange(n, n + 5000), extra)
    row["add_merge_s"] = time.perf_counter() - t
    print(f"add 5,000 (delta_limit 4,096, so one merge into the CSR): {row['add_merge_s']:.1f} s", flush=True)

    del index
    gc.collect()
    if args.anchor_python:
        n_q = args.anchor_queries
        print(f"anchor: threatexchange PDQIndex, {n_q} single queries, OMP_NUM_THREADS=1 ...", flush=True)
        t = time.perf_counter()
        a = run_anchor(args.anchor_python, data, n_q, args.anchor_timeout)
        print(f"anchor finished in {time.perf_counter() - t:.0f} s: {a}", flush=True)
        row["anchor"] = a
    return row


def engines(args: argparse.Namespace, dedup: bool = False) -> list[str]:
    """The engine under test first, then the other one when comparing."""
    other = "numpy" if args.engine == "numba" else "numba"
    if args.compare == "none" or (dedup and args.compare == "queries"):
        return [args.engine]
    return [args.engine, other]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000", help="comma-separated index sizes")
    ap.add_argument("--queries", type=int, default=2000, help="single/batched query count")
    ap.add_argument("--planted", type=int, default=2000, help="planted near-duplicates per size")
    ap.add_argument("--batch", type=int, default=100_000, help="dedup batch size")
    ap.add_argument("--anchor-python", default="", help="python of a venv with threatexchange installed")
    ap.add_argument("--anchor-queries", type=int, default=300)
    ap.add_argument("--anchor-timeout", type=float, default=1800)
    ap.add_argument("--engine", default="numba", choices=["numba", "numpy"], help="query engine under test")
    ap.add_argument(
        "--compare",
        default="all",
        choices=["all", "queries", "none"],
        help="also time the other engine: on everything, on the 2,000 queries only (skip its 100k dedup), or not",
    )
    args = ap.parse_args()
    print("machine:", machine(), flush=True)
    rows = [bench_size(int(s), args) for s in args.sizes.split(",")]

    print("\n" + "=" * 100)
    print("machine:", machine())
    head = (
        f"{'N':>11} {'engine':>6} {'build s':>8} {'index MiB':>9} {'RSS MiB':>8} {'1-q q/s':>8} {'batch q/s':>9} "
        f"{'2 thr':>7} {'recall':>7} {'100k s':>7} {'2 thr':>6}"
    )
    print(head)

    def f(r: dict, key: str, fmt: str) -> str:
        return format(r[key], fmt) if key in r else "-"

    for r in rows:
        for e in engines(args):
            print(
                f"{r['n']:>11,} {e:>6} {r['build_s']:>8.1f} {r['index_mb']:>9.0f} {r['rss_mb']:>8.0f} "
                f"{r[f'single_qps_{e}']:>8.0f} {r[f'batch_qps_{e}_1']:>9.0f} {r[f'batch_qps_{e}_2']:>7.0f} "
                f"{100 * r['recall']:>6.1f}% {f(r, f'dedup_s_{e}_1', '.1f'):>7} {f(r, f'dedup_s_{e}_2', '.1f'):>6}"
            )
    print("\nanchor (threatexchange PDQIndex = faiss IndexBinaryMultiHash, nhash=16, OMP_NUM_THREADS=1):")
    print(f"{'N':>11} {'build s':>8} {'index MiB':>9} {'1-q q/s':>8} {'recall':>7}   ours/anchor q/s (single)")
    for r in rows:
        a = r.get("anchor")
        if isinstance(a, dict):
            print(
                f"{r['n']:>11,} {a['build_s']:>8.1f} {a['index_mb']:>9.0f} {a['qps']:>8.0f} "
                f"{100 * a['recall']:>6.1f}%   {r['single_qps'] / a['qps']:.1f}x"
            )
        else:
            print(f"{r['n']:>11,} {a or 'not run'}")


if __name__ == "__main__":
    main()
