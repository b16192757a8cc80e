"""Exact near-duplicate index for 256-bit PDQ hashes (numpy, plus optional numba kernels).

Design: multi-index hashing (Norouzi et al.).  The 256 bits are cut into 11
disjoint substrings (8 of 23 bits, then 3 of 24 bits).  If two hashes differ
in ``r`` bits, write ``r = 11*s + a`` (``0 <= a < 11``); then one of the first
``a + 1`` substrings differs in at most ``s`` bits, or one of the others in at
most ``s - 1`` bits (otherwise the distance would be at least
``(a+1)(s+1) + (10-a)s = r + 1``).  A query therefore probes, in each
substring table, every key within that radius of its own substring (for
``r = 31``: 1 + 23 + 253 keys in ten tables and 1 + 24 in the last one,
2,843 probes) and verifies every candidate with an exact 256-bit popcount.
Recall within ``r`` is 100 % by construction, not by tuning.

Storage is flat numpy arrays, no Python dicts: per table the row numbers are
kept sorted by bucket (``perm``, int32) with a CSR ``offsets`` array
(uint32) over all buckets of all tables.  Small indexes use fewer bucket bits
than key bits (fewer, fuller buckets) and keep the remaining low key bits
(``lowkeys``, uint16) to filter exactly; from 2**22 (4.2M) hashes every key bit
is a bucket bit and ``lowkeys`` is not stored.

A query whose candidate count exceeds ``scan_fraction * len(self)`` (a huge
bucket, e.g. many copies of one popular image) is answered by a vectorised
full scan instead, which is exact too.

Updates: :meth:`PDQIndex.add` appends to a small unsorted *delta* that every
query scans linearly; when it exceeds ``delta_limit`` rows it is merged into
the main arrays by inserting into the CSR (``np.insert``, O(total size) memory
traffic, about a second at 10M) rather than by re-sorting.  :meth:`remove`
sets tombstones.  Rebuilding happens only when more than a quarter of the
main rows are tombstoned.

Persistence: :meth:`save` writes ``.npy`` files plus ``meta.json`` (with the
caller's *watermark*, e.g. the last applied release seq) to a new directory and
atomically swaps a symlink to it; :meth:`load` maps the arrays with
``mmap_mode='r'`` so several worker processes share one copy through the OS
page cache.

Bit order: a hash is 64 hex digits; word ``i`` of the ``(4,)`` uint64
representation holds hex digits ``16*i .. 16*i+15`` read big-endian, so bit 0
(the most significant bit of word 0) is the first bit of the hex string.

Query engines: with numba installed, queries run in compiled kernels
(``engine="numba"``, the default through ``"auto"``): per query, the probe
buckets, low-key filter, row and hash reads are separate passes over small
buffers with software prefetches, so the ~9,000 random DRAM reads per query
at r=31 overlap instead of paying numpy's per-call and temporary-array costs.
A verified match is reported only from the first table whose substring is
within that table's probe radius, which dedupes exactly without sorting.
Without numba (or with ``PDQ_INDEX_ENGINE=numpy``) the vectorised numpy path
below is used; it is also the reference the tests compare the kernels with.
Results are identical.  Numba is imported and the kernels compiled on the
first query (about 5-10 s; later processes load them from numba's on-disk
cache in well under a second).  The cache lives in ``__pycache__`` next to
this file; if that directory is read-only (an installed or container app
directory), set ``NUMBA_CACHE_DIR`` to a writable directory, or every
process compiles again.  ``query_many(..., threads=2)`` runs the kernel on
numba's threading layer (``NUMBA_THREADING_LAYER``; ``omp`` here): prefer the
default ``threads=1`` inside forking servers (GNU OpenMP is not fork-safe)
and do not share the ``workqueue`` layer between concurrently querying
Python threads.  ``threads=1`` never starts numba threads.

Not thread-safe for mutation: do not call :meth:`add`/:meth:`remove`
concurrently with queries on the same object.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "PDQIndex",
    "hamming",
    "hex_to_words",
    "hexes_to_array",
]

HASH_BITS = 256
HASH_BYTES = 32
HASH_HEX_DIGITS = 64
DEFAULT_MAX_DISTANCE = 31

U64Array = npt.NDArray[np.uint64]
I64Array = npt.NDArray[np.int64]
HashLike = str | bytes | bytearray | memoryview | npt.NDArray[np.uint64]
HashesLike = npt.NDArray[np.uint64] | bytes | bytearray | memoryview | Sequence[str]

_FORMAT = "consortium-pdq-mih"
_FORMAT_VERSION = 1

# Substring layout: 8 x 23 bits then 3 x 24 bits (the wider tables come last,
# where the refined pigeonhole bound gives them the smaller probe radius).
_SUB_BITS: tuple[int, ...] = (23,) * 8 + (24,) * 3
_M = len(_SUB_BITS)
_SUB_START: tuple[int, ...] = tuple(int(x) for x in np.cumsum((0,) + _SUB_BITS[:-1]))
assert sum(_SUB_BITS) == HASH_BITS
# Largest s (= r // 11) still answered by probing; beyond it a full scan is cheaper.
_MAX_PROBE_RADIUS = 2


# --------------------------------------------------------------------------
# hex helpers


def hex_to_words(hex_str: str) -> U64Array:
    """Convert one PDQ hash in hex to a ``(4,)`` uint64 array.

    Preconditions: ``hex_str`` is a ``str`` of exactly 64 hex digits (either
    case; no prefix, no whitespace).  Raises ``ValueError`` otherwise
    (``TypeError`` if it is not a ``str``).  Word 0 holds the first 16 digits,
    big-endian.
    """
    return hexes_to_array([hex_str])[0]


def hexes_to_array(hexes: Iterable[str]) -> U64Array:
    """Convert many hex PDQ hashes to an ``(N, 4)`` uint64 array.

    Preconditions: every item is a ``str`` of exactly 64 hex digits; raises
    ``ValueError`` (naming the first bad position) otherwise, ``TypeError``
    for a non-``str`` item.
    """
    items = list(hexes)
    for i, h in enumerate(items):
        if not isinstance(h, str):
            raise TypeError(f"hash {i} is {type(h).__name__}, expected str")
        if len(h) != HASH_HEX_DIGITS:
            raise ValueError(f"hash {i} has {len(h)} characters, expected {HASH_HEX_DIGITS} hex digits")
    try:
        raw = bytes.fromhex("".join(items))
    except ValueError:
        raw = b""
    if len(raw) != HASH_BYTES * len(items):
        # bytes.fromhex skips whitespace and rejects other non-hex characters;
        # find the offending hash for the message.
        for i, h in enumerate(items):
            try:
                ok = len(bytes.fromhex(h)) == HASH_BYTES
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(f"hash {i} is not 64 hex digits: {h!r}")
        raise ValueError("malformed hex")  # pragma: no cover - unreachable
    return _words_from_bytes(raw)


def hamming(a_hex: str, b_hex: str) -> int:
    """Hamming distance between two hex PDQ hashes (preconditions as :func:`hex_to_words`)."""
    return int(np.bitwise_count(hex_to_words(a_hex) ^ hex_to_words(b_hex)).sum())


def _words_from_bytes(raw: bytes | bytearray | memoryview) -> U64Array:
    """Big-endian 32-byte records -> ``(N, 4)`` native uint64 (a copy)."""
    if len(raw) % HASH_BYTES:
        raise ValueError(f"hash buffer length {len(raw)} is not a multiple of {HASH_BYTES}")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def _as_hashes(hashes: HashesLike) -> U64Array:
    """Normalise hashes to a C-contiguous ``(N, 4)`` uint64 array."""
    if isinstance(hashes, np.ndarray):
        if hashes.dtype != np.uint64:
            raise TypeError(f"hash array must be uint64, got {hashes.dtype}")
        if hashes.ndim == 1 and hashes.shape[0] == 4:
            hashes = hashes.reshape(1, 4)
        if hashes.ndim != 2 or hashes.shape[1] != 4:
            raise ValueError(f"hash array must have shape (N, 4), got {hashes.shape}")
        return np.ascontiguousarray(hashes)
    if isinstance(hashes, (bytes, bytearray, memoryview)):
        return _words_from_bytes(hashes)
    if isinstance(hashes, str):
        return hexes_to_array([hashes])
    return hexes_to_array(hashes)


def _as_one_hash(h: HashLike) -> U64Array:
    arr = _as_hashes(h)  # type: ignore[arg-type]
    if arr.shape[0] != 1:
        raise ValueError(f"expected one hash, got {arr.shape[0]}")
    return arr


def _as_ids(ids: npt.ArrayLike) -> I64Array:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"ids must be integers, got {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError("ids must fit in int64")
    return np.ascontiguousarray(arr, dtype=np.int64)


def _check_radius(max_distance: int) -> int:
    r = int(max_distance)
    if r != max_distance or r < 0:
        raise ValueError(f"max_distance must be a non-negative integer, got {max_distance!r}")
    return min(r, HASH_BITS)


# --------------------------------------------------------------------------
# bit twiddling


def _distances(x: U64Array) -> npt.NDArray[np.uint32]:
    """Row popcounts of an ``(n, 4)`` uint64 XOR array (values 0..256)."""
    c = np.bitwise_count(x)  # (n, 4) uint8, each <= 64
    v = c.view(np.uint32).reshape(-1)  # four byte counts per uint32
    s = (v & 0x00FF00FF) + ((v >> 8) & 0x00FF00FF)
    return (s & 0xFFFF) + (s >> 16)


# Per substring: the word holding its first bit, the next word, the bit offset.
_SUB_WA = np.array([st // 64 for st in _SUB_START], dtype=np.intp)
_SUB_WB = np.minimum(_SUB_WA + 1, 3)
_SUB_O = np.array([st % 64 for st in _SUB_START], dtype=np.uint64)
_SUB_R = np.array([64 - b for b in _SUB_BITS], dtype=np.uint64)


def _subkeys(h: U64Array) -> npt.NDArray[np.uint32]:
    """``(n, 4)`` uint64 -> ``(n, 11)`` uint32 substring keys (all at once).

    The 64-bit window starting at the substring's first bit is
    ``(wa << o) | (wb >> (64 - o))`` (numpy shifts by 64 give 0); its top
    ``bits`` bits are the key.
    """
    window = (h[:, _SUB_WA] << _SUB_O) | (h[:, _SUB_WB] >> (np.uint64(64) - _SUB_O))
    return (window >> _SUB_R).astype(np.uint32)


class _Layout:
    """Bucket geometry for a given bucket-bit budget (derived, never stored)."""

    def __init__(self, bucket_bits: int) -> None:
        self.bucket_bits = bucket_bits
        b = [min(L, bucket_bits) for L in _SUB_BITS]
        self.shift = np.array([L - x for L, x in zip(_SUB_BITS, b, strict=False)], dtype=np.uint32)
        self.lowmask = np.array([(1 << int(s)) - 1 for s in self.shift], dtype=np.uint32)
        self.sizes = [1 << x for x in b]
        self.base = np.cumsum([0] + self.sizes[:-1]).astype(np.int64)
        self.n_buckets = int(sum(self.sizes))
        self.exact = bool(np.all(self.shift == 0))

    @staticmethod
    def for_size(n: int) -> int:
        """Bucket bits for ``n`` rows: about 2 buckets per row, 8..24 bits."""
        return int(min(24, max(8, int(n).bit_length() + 1)))


@lru_cache(maxsize=64)
def _probe_plan(r: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]]:
    """(table index, xor mask) for every probe needed for radius ``r``."""
    s, a = divmod(r, _M)
    tables: list[int] = []
    masks: list[int] = []
    for j, bits in enumerate(_SUB_BITS):
        radius = s if j <= a else s - 1
        for k in range(radius + 1):
            for combo in combinations(range(bits), k):
                m = 0
                for b in combo:
                    m |= 1 << b
                tables.append(j)
                masks.append(m)
    return np.array(tables, dtype=np.intp), np.array(masks, dtype=np.uint32)


def _ro(a: np.ndarray) -> np.ndarray:
    """A read-only plain-ndarray view: in-memory and mmap-loaded indexes then
    share one compiled specialisation of each kernel (numba types read-only
    arrays separately, and compiling another costs seconds on first use)."""
    v = np.asarray(a).view()
    v.flags.writeable = False
    return v


@lru_cache(maxsize=64)
def _nb_plan(r: int) -> tuple[I64Array, npt.NDArray[np.uint32], I64Array]:
    """:func:`_probe_plan` for the kernels, plus each table's probe radius (-1: not probed)."""
    tables, masks = _probe_plan(r)
    s, a = divmod(r, _M)
    trad = np.array([s if j <= a else s - 1 for j in range(_M)], dtype=np.int64)
    return tables.astype(np.int64), masks, trad


@lru_cache(maxsize=256)
def _join_masks(bits: int, radius: int) -> tuple[I64Array, I64Array]:
    """Every mask of ``bits`` bits with at most ``radius`` bits set, by weight, and the weights."""
    masks: list[int] = []
    weights: list[int] = []
    for k in range(min(radius, bits) + 1):
        for combo in combinations(range(bits), k):
            m = 0
            for b in combo:
                m |= 1 << b
            masks.append(m)
            weights.append(k)
    return np.array(masks, dtype=np.int64), np.array(weights, dtype=np.int64)


def _unique(x: I64Array) -> I64Array:
    """Sorted unique values (np.unique is hash-based and slow in numpy 2.4)."""
    s = np.sort(x)
    if s.size > 1:
        s = s[np.concatenate(([True], s[1:] != s[:-1]))]
    return s


def _expand_ranges(start: I64Array, count: I64Array) -> I64Array:
    """Concatenate ``arange(start[i], start[i] + count[i])`` for all i (count > 0)."""
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(count)
    return np.arange(total, dtype=np.int64) + np.repeat(start - (ends - count), count)


# --------------------------------------------------------------------------
# compiled kernels (numba, optional)
#
# The functions named ``_nbk_*`` are plain Python until :func:`_numba_kernels`
# jit-compiles them on first use (numba is imported lazily: importing it costs
# ~0.5 s, compiling ~5-10 s the first time, then ~0.2 s from the on-disk cache).
# They are the same algorithm as ``PDQIndex._mih``/``_scan``, one query at a
# time with no temporaries.  Numba's integer typing rules matter here: a
# uint64 mixed with a signed int becomes float64, so bit operations keep both
# operands uint64 (the ``_NBK_*`` shift arrays are uint64 for that reason).

_NBK_WA = _SUB_WA.astype(np.int64)
_NBK_WB = _SUB_WB.astype(np.int64)
_NBK_O = _SUB_O.copy()
_NBK_RO = (np.uint64(64) - _SUB_O) % np.uint64(64)  # right shift for word b (unused when o == 0)
_NBK_R = _SUB_R.copy()
# Matches per task (a chunk of queries) that fit in the output buffer before a
# query is redone on its own with a buffer as large as its candidate bound.
_NBK_CHUNK = 64
_NBK_CAP = 4096


def _nbk_subkey(w, j, wa, wb, o, ro, rsh):  # noqa: ANN001  # pragma: no cover - compiled
    """Key of substring ``j`` of the 4 words ``w`` (same formula as :func:`_subkeys`)."""
    win = w[wa[j]]
    if o[j] != 0:
        win = (win << o[j]) | (w[wb[j]] >> ro[j])
    return win >> rsh[j]


def _nbk_mih_range(  # pragma: no cover - compiled
    q, lo, hi, h, perm, offsets, lowkeys, dead, ptab, pmask, shift, lowmask, base, trad,  # noqa: ANN001
    wa, wb, o, ro, rsh, r, limit, out_q, out_row, out_d, o0, cap, flags,  # noqa: ANN001
):
    """Probe + verify queries ``lo..hi-1``; write matches from ``out_*[o0]``.

    Returns how many matches were written (at most ``cap``).  ``flags[i]`` is
    set to 1 if query ``i`` has more than ``limit`` candidates (the caller
    full-scans it) and to 2 if its matches did not fit (the caller redoes it).

    Each query runs in passes over small per-task buffers (probe buckets,
    then candidate positions, low-key filter, rows, distances) whose loops
    have no branch on freshly loaded data, and each pass prefetches what the
    next one reads: the random DRAM reads overlap.  (A first version that
    walked each bucket and branched on every loaded value was no faster
    than the numpy path: mispredictions serialised the cache misses.)

    A row is reported only from the first table in which its substring is
    within that table's probe radius ``trad[j]``: it is probed in every such
    table, so this dedupes without any per-query set, exactly.
    """
    n_probe = ptab.shape[0]
    has_low = lowkeys.shape[0] > 0
    has_dead = dead.shape[0] > 0
    pst = np.empty(n_probe, np.int64)
    pct = np.empty(n_probe, np.int64)
    plow = np.empty(n_probe, np.uint32)
    qk = np.empty(11, np.uint32)
    xw = np.empty(4, np.uint64)
    size = 4096
    cpos = np.empty(size, np.int64)
    ctab = np.empty(size, np.int64)
    clow = np.empty(size, np.uint32)
    cd = np.empty(size, np.int64)
    n_out = o0
    end = o0 + cap
    for i in range(lo, hi):
        qw = q[i]
        for j in range(11):
            qk[j] = np.uint32(_nbk_subkey(qw, j, wa, wb, o, ro, rsh))
        # pass 1: bucket numbers, and prefetch their offsets
        for p in range(n_probe):
            j = ptab[p]
            key = qk[j] ^ pmask[p]
            b = np.int64(key >> shift[j]) + base[j]
            pst[p] = b
            plow[p] = key & lowmask[j]
            _nbk_prefetch(offsets, b)
        # pass 1b: bucket ranges (random reads of offsets); prefetch the buckets
        total = 0
        for p in range(n_probe):
            b = pst[p]
            s = np.int64(offsets[b])
            c = np.int64(offsets[b + 1]) - s
            pst[p] = s
            pct[p] = c
            total += c
            if c > 0:
                if has_low:
                    _nbk_prefetch(lowkeys, s)
                _nbk_prefetch(perm, s)
        if total > limit:
            flags[i] = 1
            continue
        if total >= size:
            size = max(total + 1, 2 * size)
            cpos = np.empty(size, np.int64)
            ctab = np.empty(size, np.int64)
            clow = np.empty(size, np.uint32)
            cd = np.empty(size, np.int64)
        # pass 2: candidate positions in perm (no memory reads)
        # (most buckets hold 0 or 1 rows: write one slot unconditionally, so
        # the common case has no unpredictable branch)
        m = 0
        for p in range(n_probe):
            s = pst[p]
            c = pct[p]
            j = ptab[p]
            low = plow[p]
            cpos[m] = s
            ctab[m] = j
            clow[m] = low
            m += np.int64(c > 0)
            if c > 1:
                for k in range(1, c):
                    cpos[m] = s + k
                    ctab[m] = j
                    clow[m] = low
                    m += 1
        # pass 3: exact low-key filter (random reads of lowkeys), compacting in place
        if has_low:
            m2 = 0
            for k in range(m):
                pos = cpos[k]
                keep = np.uint32(lowkeys[pos]) == clow[k]
                cpos[m2] = pos
                ctab[m2] = ctab[k]
                m2 += np.int64(keep)
            m = m2
        # pass 4: rows (random reads of perm); prefetch their hashes
        for k in range(m):
            row = perm[cpos[k]]
            cpos[k] = row
            _nbk_prefetch(h, row)
        # pass 5: exact distances (random reads of the hashes), keep those <= r
        q0, q1, q2, q3 = qw[0], qw[1], qw[2], qw[3]
        nm = 0
        for k in range(m):
            row = cpos[k]
            d = (
                _nbk_popcount(h[row, 0] ^ q0)
                + _nbk_popcount(h[row, 1] ^ q1)
                + _nbk_popcount(h[row, 2] ^ q2)
                + _nbk_popcount(h[row, 3] ^ q3)
            )
            cpos[nm] = row
            ctab[nm] = ctab[k]
            cd[nm] = d
            nm += np.int64(d <= r)
        # pass 6 (matches only): tombstones, dedupe across tables, output
        start_i = n_out
        for k in range(nm):
            row = cpos[k]
            if has_dead and dead[row]:
                continue
            xw[0] = h[row, 0] ^ q0
            xw[1] = h[row, 1] ^ q1
            xw[2] = h[row, 2] ^ q2
            xw[3] = h[row, 3] ^ q3
            seen = False
            for j2 in range(ctab[k]):
                if trad[j2] >= 0 and _nbk_popcount(_nbk_subkey(xw, j2, wa, wb, o, ro, rsh)) <= trad[j2]:
                    seen = True
                    break
            if seen:
                continue
            if n_out >= end:
                flags[i] = 2
                n_out = start_i
                break
            out_q[n_out] = i
            out_row[n_out] = row
            out_d[n_out] = cd[k]
            n_out += 1
    return n_out - o0


def _nbk_scan_range(q, lo, hi, h, dead, r, out_q, out_row, out_d, o0, cap, flags):  # noqa: ANN001  # pragma: no cover - compiled
    """Brute force for queries ``lo..hi-1`` (flags/return value as :func:`_nbk_mih_range`)."""
    n = h.shape[0]
    has_dead = dead.shape[0] > 0
    n_out = o0
    end = o0 + cap
    for i in range(lo, hi):
        q0, q1, q2, q3 = q[i, 0], q[i, 1], q[i, 2], q[i, 3]
        start_i = n_out
        for row in range(n):
            d = (
                _nbk_popcount(h[row, 0] ^ q0)
                + _nbk_popcount(h[row, 1] ^ q1)
                + _nbk_popcount(h[row, 2] ^ q2)
                + _nbk_popcount(h[row, 3] ^ q3)
            )
            if d <= r and not (has_dead and dead[row]):
                if n_out >= end:
                    flags[i] = 2
                    n_out = start_i
                    break
                out_q[n_out] = i
                out_row[n_out] = row
                out_d[n_out] = d
                n_out += 1
    return n_out - o0


def _nbk_mih_tasks(  # pragma: no cover - compiled
    q, h, perm, offsets, lowkeys, dead, ptab, pmask, shift, lowmask, base, trad,  # noqa: ANN001
    wa, wb, o, ro, rsh, r, limit, chunk, cap, out_q, out_row, out_d, counts, flags,  # noqa: ANN001
):
    """Serial driver: task ``t`` covers queries ``t*chunk ..`` and owns ``out_*[t*cap : (t+1)*cap]``."""
    nq = q.shape[0]
    for t in range(counts.shape[0]):
        lo = t * chunk
        counts[t] = _nbk_mih_range(
            q, lo, min(nq, lo + chunk), h, perm, offsets, lowkeys, dead, ptab, pmask, shift, lowmask, base,
            trad, wa, wb, o, ro, rsh, r, limit, out_q, out_row, out_d, t * cap, cap, flags,
        )


def _nbk_mih_tasks_par(  # pragma: no cover - compiled
    q, h, perm, offsets, lowkeys, dead, ptab, pmask, shift, lowmask, base, trad,  # noqa: ANN001
    wa, wb, o, ro, rsh, r, limit, chunk, cap, out_q, out_row, out_d, counts, flags,  # noqa: ANN001
):
    """:func:`_nbk_mih_tasks` with the tasks spread over numba's threads (disjoint outputs)."""
    nq = q.shape[0]
    for t in _nb_prange(counts.shape[0]):
        lo = t * chunk
        counts[t] = _nbk_mih_range(
            q, lo, min(nq, lo + chunk), h, perm, offsets, lowkeys, dead, ptab, pmask, shift, lowmask, base,
            trad, wa, wb, o, ro, rsh, r, limit, out_q, out_row, out_d, t * cap, cap, flags,
        )


def _nbk_scan_tasks(q, h, dead, r, chunk, cap, out_q, out_row, out_d, counts, flags):  # noqa: ANN001  # pragma: no cover
    nq = q.shape[0]
    for t in range(counts.shape[0]):
        lo = t * chunk
        counts[t] = _nbk_scan_range(q, lo, min(nq, lo + chunk), h, dead, r, out_q, out_row, out_d, t * cap, cap, flags)


def _nbk_scan_tasks_par(q, h, dead, r, chunk, cap, out_q, out_row, out_d, counts, flags):  # noqa: ANN001  # pragma: no cover
    nq = q.shape[0]
    for t in _nb_prange(counts.shape[0]):
        lo = t * chunk
        counts[t] = _nbk_scan_range(q, lo, min(nq, lo + chunk), h, dead, r, out_q, out_row, out_d, t * cap, cap, flags)


# The batch join (``method="join"``): for a large batch, a table at a time, the probes
# of all queries are visited in key order instead of query by query.  The table's
# key space is cut into partitions of about ``_JOIN_PART_ROWS`` rows; the queries are
# grouped by the partition of their own key, and for partition ``p`` the probes that
# land in it are exactly those of the groups ``p ^ mh`` (``mh`` a flip of the
# partition bits) combined with a flip ``ml`` of the remaining bits, of total weight
# within the table's radius.  So no probe is stored or sorted, each partition's
# ``offsets`` and ``perm`` are read once, sequentially, and its rows' hashes are
# gathered once into a small cache-resident buffer: ~11 random DRAM reads per
# indexed hash for the whole batch, instead of ~9,000 per query.
_JOIN_PART_ROWS = 4096
# A probe of a bucket with more rows than this defers its query to the per-query path
# (which full-scans it if its candidates exceed the limit): huge buckets are rare and
# the join would otherwise verify them once per probing query.
_JOIN_BIG_BUCKET = 256
# Matches per join task that fit in its first output buffer (a task with more is redone with
# a buffer of the size it counted).
_JOIN_CAP = 1 << 16
# Below this many queries "auto" never joins (the per-query kernel's set-up is cheaper).
_JOIN_MIN_QUERIES = 2048


def _nbk_join_parts(  # pragma: no cover - compiled
    qs, qid, qlow, gstart, h, perm, offsets, lowkeys, dead,  # noqa: ANN001
    j, L, base_j, shift_j, lowmask_j, R, hmasks, hweight, lmasks, lcum,  # noqa: ANN001
    trad, wa, wb, o, ro, rsh, r, big, p_lo, p_hi, out_q, out_row, out_d, cap, qflags,  # noqa: ANN001
):
    """Table ``j``, partitions ``p_lo..p_hi-1``: every (query, row) within ``r``.

    ``qs``/``qid``/``qlow``: the queries' words, original indices and low ``L`` key bits,
    sorted by partition (``gstart``: CSR over partitions).  ``hmasks`` (sorted by weight,
    ``hweight``) flip partition bits, ``lmasks`` (sorted by weight; ``lcum[w]`` = how many
    have weight <= w) flip the low bits.  Matches are reported under the same rule as
    :func:`_nbk_mih_range` (first table within its radius, tombstones skipped).  Writes at
    most ``cap`` matches and returns how many there are (the caller redoes the range with
    a larger buffer if that is more than ``cap``).  Queries probing a bucket of more than
    ``big`` rows get ``qflags[query] = 1``; the caller answers them another way.
    """
    has_low = lowkeys.shape[0] > 0
    has_dead = dead.shape[0] > 0
    n_h = hmasks.shape[0]
    xw = np.empty(4, np.uint64)
    # the largest partition of the range, for the gather buffer
    most = 0
    for p in range(p_lo, p_hi):
        b0 = base_j + ((np.int64(p) << L) >> shift_j)
        b1 = base_j + ((np.int64(p + 1) << L) >> shift_j)
        c = np.int64(offsets[b1]) - np.int64(offsets[b0])
        if c > most:
            most = c
    # (two spare rows: pass 1 writes two candidate slots per probe, and pass 2 reads the
    # hashes of all written slots before masking out those past the bucket's end)
    hp = np.zeros((most + 2, 4), np.uint64)
    size = lcum[R] * (big + 2) + 2
    cpos = np.empty(size, np.int64)
    clow = np.empty(size, np.uint32)
    cd = np.empty(size, np.int64)
    n_out = 0
    for p in range(p_lo, p_hi):
        b0 = base_j + ((np.int64(p) << L) >> shift_j)
        b1 = base_j + ((np.int64(p + 1) << L) >> shift_j)
        s0 = np.int64(offsets[b0])
        n_rows = np.int64(offsets[b1]) - s0
        if n_rows == 0:
            continue
        # gather the partition's hashes in perm order (the only random DRAM reads)
        ahead = min(n_rows, 16)
        for k in range(ahead):
            _nbk_prefetch(h, perm[s0 + k])
        for k in range(n_rows):
            if k + 16 < n_rows:
                _nbk_prefetch(h, perm[s0 + k + 16])
            row = perm[s0 + k]
            hp[k, 0] = h[row, 0]
            hp[k, 1] = h[row, 1]
            hp[k, 2] = h[row, 2]
            hp[k, 3] = h[row, 3]
        kp = np.int64(p) << L
        for m in range(n_h):
            w = hweight[m]
            if w > R:
                break
            n_l = lcum[R - w]
            g = p ^ hmasks[m]
            for t in range(gstart[g], gstart[g + 1]):
                ql = qlow[t]
                # pass 1: the probes' buckets -> candidate positions (no branch on a bucket's
                # size unless it holds more than two rows)
                nc = 0
                for u in range(n_l):
                    key = kp | np.int64(ql ^ lmasks[u])
                    b = base_j + (key >> shift_j)
                    st = np.int64(offsets[b])
                    c = np.int64(offsets[b + 1]) - st
                    lowv = np.uint32(key & lowmask_j)
                    cpos[nc] = st
                    cpos[nc + 1] = st + 1
                    clow[nc] = lowv
                    clow[nc + 1] = lowv
                    if c > 2:
                        if c > big:
                            qflags[qid[t]] = 1
                            c = 0
                        else:
                            for k in range(2, c):
                                cpos[nc + k] = st + k
                                clow[nc + k] = lowv
                    nc += c
                if nc == 0:
                    continue
                # pass 2: distances from the partition's cached hashes; keep those <= r
                q0, q1, q2, q3 = qs[t, 0], qs[t, 1], qs[t, 2], qs[t, 3]
                nm = 0
                for k in range(nc):
                    pos = cpos[k]
                    x = pos - s0
                    d = (
                        _nbk_popcount(hp[x, 0] ^ q0)
                        + _nbk_popcount(hp[x, 1] ^ q1)
                        + _nbk_popcount(hp[x, 2] ^ q2)
                        + _nbk_popcount(hp[x, 3] ^ q3)
                    )
                    keep = d <= r
                    if has_low:
                        keep = keep & (np.uint32(lowkeys[pos]) == clow[k])
                    cpos[nm] = pos
                    cd[nm] = d
                    nm += np.int64(keep)
                # pass 3 (matches only): tombstones, first table within its radius, output
                for k in range(nm):
                    pos = cpos[k]
                    row = perm[pos]
                    if has_dead and dead[row]:
                        continue
                    x = pos - s0
                    xw[0] = hp[x, 0] ^ q0
                    xw[1] = hp[x, 1] ^ q1
                    xw[2] = hp[x, 2] ^ q2
                    xw[3] = hp[x, 3] ^ q3
                    seen = False
                    for j2 in range(j):
                        if trad[j2] >= 0 and _nbk_popcount(_nbk_subkey(xw, j2, wa, wb, o, ro, rsh)) <= trad[j2]:
                            seen = True
                            break
                    if seen:
                        continue
                    if n_out < cap:
                        out_q[n_out] = qid[t]
                        out_row[n_out] = row
                        out_d[n_out] = cd[k]
                    n_out += 1
    return n_out


_nb_prange = range  # replaced by numba.prange when the kernels are compiled
_nbk_popcount = None  # replaced by an LLVM ctpop intrinsic when the kernels are compiled
_nbk_prefetch = None  # replaced by an LLVM prefetch intrinsic when the kernels are compiled
_NB_STATE: dict[str, object] = {}
_NB_LOCK = threading.Lock()


def _numba_kernels() -> dict[str, object] | None:
    """Compile (or load from numba's cache) the kernels; ``None`` if numba is unusable.

    Compiled code is
    cached on disk (``cache=True``): in ``__pycache__`` next to this file, or,
    if that is not writable, numba's user-wide cache; point ``NUMBA_CACHE_DIR``
    at a writable directory when the app directory is read-only (otherwise
    every process compiles again, ~5-10 s on the first query).
    """
    if "ok" in _NB_STATE:
        return _NB_STATE if _NB_STATE["ok"] else None
    # Two threads' first queries must not both jit the same functions (numba refuses to jit a
    # dispatcher), so the set-up runs once, under a lock.
    with _NB_LOCK:
        if "ok" in _NB_STATE:
            return _NB_STATE if _NB_STATE["ok"] else None
        return _numba_kernels_setup()


def _numba_kernels_setup() -> dict[str, object] | None:
    try:
        import numba
        from numba.core import cgutils, types
        from numba.extending import intrinsic
    except Exception:  # ImportError, or a broken llvmlite
        _NB_STATE["ok"] = False
        return None

    @intrinsic
    def _ctpop(typingctx, x):  # type: ignore[no-untyped-def]  # noqa: ANN001  # pragma: no cover - compile time
        if not isinstance(x, types.Integer):
            return None
        sig = types.int64(x)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # noqa: ANN001
            v = builder.ctpop(args[0])
            return context.cast(builder, v, x, types.int64)

        return sig, codegen

    @intrinsic
    def _prefetch(typingctx, arr, idx):  # type: ignore[no-untyped-def]  # noqa: ANN001  # pragma: no cover - compile time
        """Hint the CPU to load ``arr[idx]`` (row ``idx`` of a 2-D array) into cache."""
        if not isinstance(arr, types.Array) or not isinstance(idx, types.Integer):
            return None
        sig = types.void(arr, idx)

        def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]  # noqa: ANN001
            from llvmlite import ir

            aryty, idxty = signature.args
            ary = context.make_array(aryty)(context, builder, args[0])
            inds = [context.cast(builder, args[1], idxty, types.intp)]
            inds += [context.get_constant(types.intp, 0)] * (aryty.ndim - 1)
            ptr = cgutils.get_item_pointer2(
                context, builder, data=ary.data, shape=cgutils.unpack_tuple(builder, ary.shape),
                strides=cgutils.unpack_tuple(builder, ary.strides), layout=aryty.layout, inds=inds,
                wraparound=False, boundscheck=False,
            )
            i32 = ir.IntType(32)
            i8p = ir.IntType(8).as_pointer()
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0"
            )
            # read, high temporal locality, data cache
            builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return sig, codegen

    g = globals()
    g["_nbk_prefetch"] = _prefetch

    def jit(fn, **kw):  # type: ignore[no-untyped-def]  # noqa: ANN001
        try:
            return numba.njit(cache=True, nogil=True, **kw)(fn)
        except RuntimeError:  # no writable cache location: compile per process
            return numba.njit(nogil=True, **kw)(fn)

    g["_nbk_popcount"] = _ctpop
    g["_nb_prange"] = numba.prange
    g["_nbk_subkey"] = jit(_nbk_subkey)
    g["_nbk_mih_range"] = jit(_nbk_mih_range)
    g["_nbk_scan_range"] = jit(_nbk_scan_range)
    _NB_STATE["join"] = jit(_nbk_join_parts)
    _NB_STATE["mih"] = jit(_nbk_mih_tasks)
    _NB_STATE["mih_par"] = jit(_nbk_mih_tasks_par, parallel=True)
    _NB_STATE["scan"] = jit(_nbk_scan_tasks)
    _NB_STATE["scan_par"] = jit(_nbk_scan_tasks_par, parallel=True)
    _NB_STATE["numba"] = numba
    _NB_STATE["ok"] = True
    return _NB_STATE


def _resolve_engine(engine: str | None) -> bool:
    """True to use the numba kernels for this call.

    ``engine`` None means ``PDQ_INDEX_ENGINE`` from the environment, else
    ``"auto"``; ``PDQ_INDEX_ENGINE=numpy`` therefore keeps numba from even
    being imported unless a caller asks for ``engine="numba"`` explicitly.
    """
    e = (engine or os.environ.get("PDQ_INDEX_ENGINE", "") or "auto").strip().lower()
    if e == "numpy":
        return False
    if e not in ("auto", "numba"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    ok = _numba_kernels() is not None
    if e == "numba" and not ok:
        raise RuntimeError("engine='numba' but numba is not importable")
    return ok


# --------------------------------------------------------------------------
# the index


class PDQIndex:
    """Exact Hamming-radius index over 256-bit PDQ hashes with int64 ids.

    Construct with :meth:`build` or :meth:`load`.  Ids are unique among live
    entries; :meth:`add` of an id already present replaces it.
    """

    def __init__(self) -> None:
        """Private: use :meth:`build` or :meth:`load`."""
        self._h: U64Array = np.zeros((0, 4), dtype=np.uint64)
        self._ids: I64Array = np.zeros(0, dtype=np.int64)
        self._id_order: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._perm: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._offsets: npt.NDArray[np.uint32] = np.zeros(1, dtype=np.uint32)
        self._lowkeys: npt.NDArray[np.uint16] | None = None
        self._layout = _Layout(8)
        self._dead: npt.NDArray[np.bool_] | None = None
        self._n_dead = 0
        self._dh: U64Array = np.zeros((0, 4), dtype=np.uint64)
        self._dids: I64Array = np.zeros(0, dtype=np.int64)
        self.watermark: int | None = None
        self.delta_limit = 4096
        self.scan_fraction = 0.125
        self._threads = os.cpu_count() or 1
        self._fixed_bits: int | None = None

    # ---------------------------------------------------------------- build

    @classmethod
    def build(
        cls,
        ids: npt.ArrayLike,
        hashes: HashesLike,
        *,
        watermark: int | None = None,
        delta_limit: int = 4096,
        scan_fraction: float = 0.125,
        threads: int | None = None,
        bucket_bits: int | None = None,
    ) -> PDQIndex:
        """Build an index from scratch.

        Preconditions: ``ids`` is 1-D integer (stored as int64) with no
        duplicates (``ValueError`` otherwise); ``hashes`` is an ``(N, 4)``
        uint64 array (see module docstring for bit order), a bytes buffer of
        32 big-endian bytes per hash, or a sequence of hex strings, with the
        same length as ``ids``.  ``watermark`` is an opaque int the caller
        uses to know which changes the index already contains.
        ``delta_limit`` is how many added rows are scanned linearly before
        being merged into the main structure; ``scan_fraction`` is the
        candidate count (as a fraction of the index size) above which a query
        is answered by a full scan.  ``threads`` (default: all CPUs) only
        parallelises the per-table sorts of the build.  ``bucket_bits``
        (8..24) fixes the bucket geometry instead of deriving it from the size
        (tests use 24 to exercise the large-index layout on small data).
        """
        h = _as_hashes(hashes)
        id_arr = _as_ids(ids)
        if h.shape[0] != id_arr.shape[0]:
            raise ValueError(f"{id_arr.shape[0]} ids but {h.shape[0]} hashes")
        if h.shape[0] >= 2**31 // _M:
            raise ValueError("too many hashes for int32/uint32 row and offset arrays")
        self = cls()
        self.watermark = None if watermark is None else int(watermark)
        self.delta_limit = int(delta_limit)
        self.scan_fraction = float(scan_fraction)
        self._threads = max(1, int(threads if threads is not None else (os.cpu_count() or 1)))
        if bucket_bits is not None and not 8 <= bucket_bits <= 24:
            raise ValueError("bucket_bits must be in 8..24")
        self._fixed_bits = bucket_bits
        self._build_main(id_arr, h)
        return self

    def _build_main(self, ids: I64Array, h: U64Array) -> None:
        n = h.shape[0]
        order = np.argsort(ids, kind="stable")
        if n > 1 and np.any(ids[order[1:]] == ids[order[:-1]]):
            raise ValueError("duplicate ids")
        layout = _Layout(self._bits_for(n))
        perm = np.empty(_M * n, dtype=np.int32)
        lowkeys = None if layout.exact else np.empty(_M * n, dtype=np.uint16)
        offsets = np.zeros(layout.n_buckets + 1, dtype=np.uint32)

        def one_table(j: int) -> None:
            key = _subkeys_one(h, j)
            bucket = key >> layout.shift[j]
            o = np.argsort(bucket)
            perm[j * n : (j + 1) * n] = o
            if lowkeys is not None:
                lowkeys[j * n : (j + 1) * n] = (key & layout.lowmask[j])[o]
            b0 = int(layout.base[j]) + 1
            if n * 8 < layout.sizes[j]:  # sparse: count runs of the sorted buckets
                sb = bucket[o]
                last = np.ones(n, dtype=bool)
                last[:-1] = sb[1:] != sb[:-1]
                ends = np.flatnonzero(last)
                offsets[b0 + sb[ends].astype(np.int64)] = np.diff(ends, prepend=-1)
            else:
                offsets[b0 : b0 + layout.sizes[j]] = np.bincount(bucket, minlength=layout.sizes[j])

        if self._threads > 1 and n >= 100_000:
            with ThreadPoolExecutor(max_workers=self._threads) as ex:
                list(ex.map(one_table, range(_M)))
        else:
            for j in range(_M):
                one_table(j)
        np.cumsum(offsets, dtype=np.uint32, out=offsets)  # counts -> CSR offsets into perm
        self._h = h
        self._ids = ids
        self._id_order = order.astype(np.int32)
        self._perm = perm
        self._offsets = offsets
        self._lowkeys = lowkeys
        self._layout = layout
        self._dead = None
        self._n_dead = 0

    def _bits_for(self, n: int) -> int:
        return self._fixed_bits if self._fixed_bits is not None else _Layout.for_size(n)

    # ---------------------------------------------------------------- basics

    def __len__(self) -> int:
        """Number of live entries (main rows minus tombstones, plus delta)."""
        return int(self._h.shape[0] - self._n_dead + self._dh.shape[0])

    def memory_bytes(self) -> int:
        """Bytes held by the index arrays (mmap-backed arrays included)."""
        arrays = [self._h, self._ids, self._id_order, self._perm, self._offsets, self._dh, self._dids]
        if self._lowkeys is not None:
            arrays.append(self._lowkeys)
        if self._dead is not None:
            arrays.append(self._dead)
        return int(sum(a.nbytes for a in arrays))

    def __repr__(self) -> str:
        return (
            f"PDQIndex(n={len(self)}, main={self._h.shape[0]}, delta={self._dh.shape[0]}, "
            f"dead={self._n_dead}, watermark={self.watermark})"
        )

    # ---------------------------------------------------------------- queries

    def query(self, hash: HashLike, max_distance: int = DEFAULT_MAX_DISTANCE) -> list[tuple[int, int]]:
        """All live entries within ``max_distance`` bits of ``hash``.

        Preconditions: ``hash`` is 64 hex digits, 32 big-endian bytes or a
        ``(4,)`` uint64 array; ``max_distance`` is a non-negative int.
        Returns ``[(id, distance), ...]`` sorted by distance, then id.
        """
        ids, dists = self.query_many(_as_one_hash(hash), max_distance)[0]
        return list(zip(ids.tolist(), dists.tolist(), strict=False))

    def nearest(self, hash: HashLike, max_distance: int = DEFAULT_MAX_DISTANCE) -> tuple[int, int] | None:
        """The closest live entry within ``max_distance`` as ``(id, distance)``
        (lowest id on ties), or ``None``.  Preconditions as :meth:`query`."""
        ids, dists = self.query_many(_as_one_hash(hash), max_distance)[0]
        if ids.size == 0:
            return None
        return int(ids[0]), int(dists[0])

    def query_many(
        self,
        hashes: HashesLike,
        max_distance: int = DEFAULT_MAX_DISTANCE,
        *,
        threads: int = 1,
        chunk: int = 32,
        engine: str | None = None,
        method: str = "auto",
    ) -> list[tuple[I64Array, npt.NDArray[np.int32]]]:
        """Batched :meth:`query`: one ``(ids, distances)`` pair of arrays per
        query hash, each sorted by distance then id.

        Preconditions: ``hashes`` as accepted by :meth:`build` (``(Q, 4)``
        uint64 is fastest); ``max_distance`` a non-negative int.

        ``engine``: ``"numba"`` (compiled kernels; ``RuntimeError`` if numba
        is not importable), ``"numpy"`` (the pure-numpy reference path) or
        ``"auto"`` (numba if importable).  ``None`` means the
        ``PDQ_INDEX_ENGINE`` environment variable, else ``"auto"``.  Both
        engines return identical results.

        ``threads > 1``: numpy engine, spreads chunks over a thread pool (numpy
        releases the GIL in the gathers that dominate); numba engine, runs
        the kernel in parallel on ``min(threads, NUMBA_NUM_THREADS)`` numba
        threads (its threading layer; see the module docstring).  ``chunk``
        (numpy engine only) is how many queries are expanded at once
        (temporary memory is about 0.3 MB per query at r=31; 32 was fastest
        on the benchmark machine).

        ``method`` (numba engine only; the numpy engine always probes query by
        query): ``"probe"``, each query on its own; ``"join"``, the batch join
        (a table at a time, all queries' probes visited in key order, see
        ``_nbk_join_parts``; with ``threads > 1`` it runs on plain Python
        threads, not numba's, so it is safe in forked workers); ``"auto"``
        (default), the join when the batch's probes outnumber the index's
        rows enough to pay for streaming every table (large batches against
        large indexes, e.g. a 100k-item dedup).  Results are identical.
        """
        if method not in ("auto", "join", "probe"):
            raise ValueError(f"method must be 'auto', 'join' or 'probe', got {method!r}")
        q = _as_hashes(hashes)
        r = _check_radius(max_distance)
        use_numba = _resolve_engine(engine)
        if q.shape[0] == 0:
            return []
        qi, ids, d = self._search(q, r, max(1, int(chunk)), max(1, int(threads)), use_numba, method)
        order = np.lexsort((ids, d, qi))
        qi, ids, d = qi[order], ids[order], d[order].astype(np.int32)
        if q.shape[0] == 1:
            return [(ids, d)]
        bounds = np.searchsorted(qi, np.arange(1, q.shape[0]), side="left")
        return list(zip(np.split(ids, bounds), np.split(d, bounds), strict=False))

    def _search(
        self, q: U64Array, r: int, chunk: int = 32, threads: int = 1, use_numba: bool = False, method: str = "probe"
    ) -> tuple[I64Array, I64Array, npt.NDArray[np.uint32]]:
        """(query index, id, distance) for all matches, unsorted, deduplicated."""
        parts_q: list[npt.NDArray[np.int64]] = []
        parts_id: list[I64Array] = []
        parts_d: list[npt.NDArray[np.uint32]] = []
        n = self._h.shape[0]
        nq = q.shape[0]
        if n:
            if r // _M > _MAX_PROBE_RADIUS:
                scan = np.arange(nq)
            elif use_numba and self._join_pays(nq, r, method):
                qq, rows, d, deferred = self._join_numba(q, r, threads)
                parts_q.append(qq)
                parts_id.append(np.take(self._ids, rows))
                parts_d.append(d)
                scan = deferred[:0]
                if deferred.size:  # queries that probed a huge bucket: per query, as below
                    qq, rows, d, big = self._mih_numba(q[deferred], r, max(4096.0, self.scan_fraction * n), threads)
                    parts_q.append(deferred[qq])
                    parts_id.append(np.take(self._ids, rows))
                    parts_d.append(d)
                    scan = deferred[big]
            elif use_numba:
                qq, rows, d, scan = self._mih_numba(q, r, max(4096.0, self.scan_fraction * n), threads)
                parts_q.append(qq)
                parts_id.append(np.take(self._ids, rows))
                parts_d.append(d)
            else:
                plan = _probe_plan(r)
                limit = max(4096.0, self.scan_fraction * n)
                scan_list = []
                starts = range(0, nq, chunk)

                def run(lo: int) -> tuple[I64Array, I64Array, npt.NDArray[np.uint32], I64Array]:
                    return self._mih(q[lo : lo + chunk], r, plan, limit)

                if threads > 1 and len(starts) > 1:
                    with ThreadPoolExecutor(max_workers=threads) as ex:
                        results = list(ex.map(run, starts))
                else:
                    results = [run(lo) for lo in starts]
                for lo, (qq, rows, d, big) in zip(starts, results, strict=False):
                    parts_q.append(qq + lo)
                    parts_id.append(np.take(self._ids, rows))
                    parts_d.append(d)
                    scan_list.append(big + lo)
                scan = np.concatenate(scan_list) if scan_list else np.zeros(0, dtype=np.int64)
            if scan.size:
                qq, rows, d = self._scan_main(q[scan], r, use_numba, threads)
                parts_q.append(scan[qq])
                parts_id.append(np.take(self._ids, rows))
                parts_d.append(d)
        if self._dh.shape[0]:
            if use_numba:
                qq, rows, d = self._scan_numba(self._dh, None, q, r, threads)
            else:
                qq, rows, d = self._scan(self._dh, q, r)
            parts_q.append(qq)
            parts_id.append(np.take(self._dids, rows))
            parts_d.append(d)
        if not parts_q:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint32)
        return np.concatenate(parts_q), np.concatenate(parts_id), np.concatenate(parts_d)

    def _mih(
        self,
        q: U64Array,
        r: int,
        plan: tuple[npt.NDArray[np.intp], npt.NDArray[np.uint32]],
        limit: float,
    ) -> tuple[I64Array, I64Array, npt.NDArray[np.uint32], I64Array]:
        """Probe + verify a chunk of queries.

        Returns (query idx, row, distance) of live matches and the indices of
        queries whose candidate set exceeded ``limit`` (to be full-scanned).
        """
        lay = self._layout
        tables, masks = plan
        nq, n_probe = q.shape[0], tables.shape[0]
        local = _subkeys(q)[:, tables] ^ masks  # (nq, P) uint32
        if lay.exact:
            bucket = local.astype(np.int64)
            bucket += lay.base[tables]
        else:
            bucket = (local >> lay.shift[tables]).astype(np.int64)
            bucket += lay.base[tables]
        bucket = bucket.reshape(-1)
        start = np.take(self._offsets, bucket).astype(np.int64)
        bucket += 1
        count = np.take(self._offsets, bucket).astype(np.int64)
        count -= start
        per_query = count.reshape(nq, n_probe).sum(axis=1)
        big = np.flatnonzero(per_query > limit)
        if big.size:
            count.reshape(nq, n_probe)[big] = 0
            per_query[big] = 0
        # Expand every bucket [start, start+count) into perm positions.
        ends = np.cumsum(count)
        start -= ends
        start += count
        pos = np.repeat(start, count)
        pos += np.arange(pos.shape[0], dtype=np.int64)
        cq = np.repeat(np.arange(nq, dtype=np.int64), per_query)
        if not lay.exact:
            low = (local & lay.lowmask[tables]).reshape(-1)
            hit = np.take(self._lowkeys, pos) == np.repeat(low, count)  # type: ignore[arg-type]
            pos, cq = pos[hit], cq[hit]
        rows = np.take(self._perm, pos)
        x = np.take(self._h, rows, axis=0)
        x ^= np.take(q, cq, axis=0)
        d = _distances(x)
        ok = d <= r
        cq, rows, d = cq[ok], rows[ok].astype(np.int64), d[ok]
        if self._dead is not None and rows.size:
            live = ~np.take(self._dead, rows)
            cq, rows, d = cq[live], rows[live], d[live]
        # A near-duplicate usually sits in several probed buckets: dedupe the
        # (few) verified matches rather than all candidates (see bench README).
        if rows.size > 1:
            key = cq * np.int64(self._h.shape[0]) + rows
            o = np.argsort(key)
            key = key[o]
            first = np.ones(key.size, dtype=bool)
            first[1:] = key[1:] != key[:-1]
            o = o[first]
            cq, rows, d = cq[o], rows[o], d[o]
        return cq, rows, d, big

    # ---------------------------------------------------------------- numba engine

    def _mih_numba(
        self, q: U64Array, r: int, limit: float, threads: int
    ) -> tuple[I64Array, I64Array, npt.NDArray[np.int32], I64Array]:
        """Compiled :meth:`_mih` over all queries: (query idx, row, distance) of
        live matches, and the indices of queries to full-scan instead."""
        lay = self._layout
        tables, masks, trad = _nb_plan(r)
        lowkeys = np.zeros(0, np.uint16) if self._lowkeys is None else self._lowkeys
        dead = np.zeros(0, np.bool_) if self._dead is None else self._dead
        fixed = (
            *map(_ro, (self._h, self._perm, self._offsets, lowkeys, dead, tables, masks)),
            *map(_ro, (lay.shift, lay.lowmask, lay.base, trad, _NBK_WA, _NBK_WB, _NBK_O, _NBK_RO, _NBK_R)),
            r,
            float(limit),
        )
        # A query's matches never exceed its candidates, which are <= limit.
        return self._nb_run("mih", q, fixed, threads, int(limit) + 1)

    def _scan_numba(
        self, h: U64Array, dead: npt.NDArray[np.bool_] | None, q: U64Array, r: int, threads: int
    ) -> tuple[I64Array, I64Array, npt.NDArray[np.int32]]:
        """Compiled :meth:`_scan` (rows with ``dead`` set are skipped)."""
        dead_arr = np.zeros(0, np.bool_) if dead is None else dead
        qq, rows, d, _ = self._nb_run("scan", q, (_ro(h), _ro(dead_arr), r), threads, h.shape[0] + 1)
        return qq, rows, d

    @staticmethod
    def _nb_run(
        kind: str, q: U64Array, fixed: tuple, threads: int, max_matches: int
    ) -> tuple[I64Array, I64Array, npt.NDArray[np.int32], I64Array]:
        """Run kernel ``kind`` over ``q`` in tasks of ``_NBK_CHUNK`` queries.

        Each task writes into its own ``_NBK_CAP`` slots of the output
        buffers; a query whose matches do not fit is flagged and redone alone
        with bigger buffers (up to ``max_matches``, its proven bound).
        Returns (query idx, row, distance, indices of queries flagged 1).
        """
        nb = _numba_kernels()
        assert nb is not None
        chunk, cap = _NBK_CHUNK, _NBK_CAP
        nq = q.shape[0]
        par = threads > 1 and nq > chunk
        if par:
            numba = nb["numba"]
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
        out_q: list[I64Array] = []
        out_row: list[I64Array] = []
        out_d: list[npt.NDArray[np.int32]] = []
        big: list[I64Array] = []
        step = chunk * 256  # queries per call: bounds the output buffers to ~21 MB
        for lo in range(0, nq, step):
            qb = _ro(np.ascontiguousarray(q[lo : lo + step]))
            n_tasks = -(-qb.shape[0] // chunk)
            bq = np.empty(n_tasks * cap, np.int64)
            brow = np.empty(n_tasks * cap, np.int64)
            bd = np.empty(n_tasks * cap, np.int32)
            counts = np.zeros(n_tasks, np.int64)
            flags = np.zeros(qb.shape[0], np.uint8)
            fn = nb[kind + "_par"] if par and n_tasks > 1 else nb[kind]
            fn(qb, *fixed, chunk, cap, bq, brow, bd, counts, flags)  # type: ignore[operator]
            if n_tasks == 1:
                k = int(counts[0])
                out_q.append(bq[:k] + lo)
                out_row.append(brow[:k])
                out_d.append(bd[:k])
            else:
                pos = _expand_ranges(np.arange(n_tasks, dtype=np.int64) * cap, counts)
                out_q.append(bq[pos] + lo)
                out_row.append(brow[pos])
                out_d.append(bd[pos])
            big.append(np.flatnonzero(flags == 1) + lo)
            for i in np.flatnonzero(flags == 2).tolist():
                c = cap
                while True:
                    c = min(c * 16, max_matches)
                    one = np.ascontiguousarray(qb[i : i + 1])
                    oq, orow, od = np.empty(c, np.int64), np.empty(c, np.int64), np.empty(c, np.int32)
                    cnt, fl = np.zeros(1, np.int64), np.zeros(1, np.uint8)
                    nb[kind](one, *fixed, 1, c, oq, orow, od, cnt, fl)  # type: ignore[operator]
                    if fl[0] != 2:
                        break
                    assert c < max_matches, "match bound exceeded"
                k = int(cnt[0])
                out_q.append(np.full(k, lo + i, np.int64))
                out_row.append(orow[:k])
                out_d.append(od[:k])
        if len(out_q) == 1:
            return out_q[0], out_row[0], out_d[0], big[0]
        return np.concatenate(out_q), np.concatenate(out_row), np.concatenate(out_d), np.concatenate(big)

    # ---------------------------------------------------------------- numba batch join

    def joins(self, n_queries: int, max_distance: int = DEFAULT_MAX_DISTANCE, *, method: str = "auto") -> bool:
        """Whether :meth:`query_many` of ``n_queries`` hashes with this ``method`` would use the
        batch join (whose ``threads`` are plain Python threads, safe in forked workers) when the
        numba engine is in use."""
        r = _check_radius(max_distance)
        return bool(self._h.shape[0]) and r // _M <= _MAX_PROBE_RADIUS and self._join_pays(int(n_queries), r, method)

    def _join_pays(self, nq: int, r: int, method: str) -> bool:
        """Whether ``method`` means the batch join for ``nq`` queries at radius ``r``.

        ``"auto"``: when the batch makes at least two probes per indexed row and table
        (each row's hash is then gathered once per table instead of read for many
        candidates), and has at least ``_JOIN_MIN_QUERIES`` queries.
        """
        if method != "auto":
            return method == "join"
        probes = _probe_plan(r)[0].shape[0]
        return nq >= _JOIN_MIN_QUERIES and nq * probes >= 2 * _M * self._h.shape[0]

    def _join_numba(
        self, q: U64Array, r: int, threads: int
    ) -> tuple[I64Array, I64Array, npt.NDArray[np.int32], I64Array]:
        """The main rows' matches of every query by the batch join (see ``_nbk_join_parts``).

        Returns (query idx, row, distance) like :meth:`_mih_numba`, and the indices of the
        queries the join left out (they probed a huge bucket): the caller answers those
        with the per-query path, and the join's matches for them are dropped here.
        """
        nb = _numba_kernels()
        assert nb is not None
        lay = self._layout
        n = self._h.shape[0]
        nq = q.shape[0]
        _, _, trad = _nb_plan(r)
        lowkeys = _ro(np.zeros(0, np.uint16) if self._lowkeys is None else self._lowkeys)
        dead = _ro(np.zeros(0, np.bool_) if self._dead is None else self._dead)
        h, perm, offsets = _ro(self._h), _ro(self._perm), _ro(self._offsets)
        consts = tuple(map(_ro, (trad, _NBK_WA, _NBK_WB, _NBK_O, _NBK_RO, _NBK_R)))
        qflags = np.zeros(nq, np.uint8)
        keys = _subkeys(q)  # (nq, 11)
        out_q: list[I64Array] = []
        out_row: list[I64Array] = []
        out_d: list[npt.NDArray[np.int32]] = []
        pool = ThreadPoolExecutor(max_workers=threads) if threads > 1 else None
        try:
            for j in range(_M):
                radius = int(trad[j])
                if radius < 0:
                    continue
                bits = _SUB_BITS[j]
                shift = int(lay.shift[j])
                # partition bits: about _JOIN_PART_ROWS rows per partition, and partition
                # boundaries on bucket boundaries (L >= shift)
                hb = max(0, min(bits - shift, int(np.log2(max(n, 1) / _JOIN_PART_ROWS) + 0.5)))
                low_bits = bits - hb
                hmasks, hweight = _join_masks(hb, radius)
                lmasks, lweight = _join_masks(low_bits, radius)
                lcum = np.searchsorted(lweight, np.arange(radius + 1), side="right").astype(np.int64)
                key = keys[:, j]
                part = (key >> np.uint32(low_bits)).astype(np.int64)
                order = np.argsort(part, kind="stable")
                gstart = np.zeros((1 << hb) + 1, np.int64)
                np.cumsum(np.bincount(part, minlength=1 << hb), out=gstart[1:])
                qs = _ro(np.ascontiguousarray(q[order]))
                qid = _ro(order.astype(np.int64))
                qlow = _ro((key & np.uint32((1 << low_bits) - 1))[order])
                fixed = (
                    qs, qid, qlow, _ro(gstart), h, perm, offsets, lowkeys, dead,
                    j, low_bits, int(lay.base[j]), shift, int(lay.lowmask[j]), radius,
                    _ro(hmasks), _ro(hweight), _ro(lmasks), _ro(lcum), *consts, r, _JOIN_BIG_BUCKET,
                )
                n_parts = 1 << hb
                n_tasks = min(n_parts, 1 if pool is None else 8 * threads)
                bounds = [n_parts * t // n_tasks for t in range(n_tasks + 1)]

                def task(t: int, fixed: tuple = fixed, bounds: list[int] = bounds) -> tuple:
                    cap = _JOIN_CAP
                    while True:
                        bq, brow, bd = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int32)
                        found = nb["join"](*fixed, bounds[t], bounds[t + 1], bq, brow, bd, cap, qflags)  # type: ignore[operator]
                        if found <= cap:
                            return bq[:found], brow[:found], bd[:found]
                        cap = found

                results = list(pool.map(task, range(n_tasks))) if pool is not None else [task(t) for t in range(n_tasks)]
                for bq, brow, bd in results:
                    out_q.append(bq)
                    out_row.append(brow)
                    out_d.append(bd)
        finally:
            if pool is not None:
                pool.shutdown()
        qq = np.concatenate(out_q) if out_q else np.zeros(0, np.int64)
        rows = np.concatenate(out_row) if out_row else np.zeros(0, np.int64)
        d = np.concatenate(out_d) if out_d else np.zeros(0, np.int32)
        deferred = np.flatnonzero(qflags)
        if deferred.size:
            keep = qflags[qq] == 0
            qq, rows, d = qq[keep], rows[keep], d[keep]
        return qq, rows, d, deferred

    # ---------------------------------------------------------------- numpy engine

    def _scan_main(
        self, q: U64Array, r: int, use_numba: bool = False, threads: int = 1
    ) -> tuple[I64Array, I64Array, npt.NDArray[np.uint32]]:
        if use_numba:
            return self._scan_numba(self._h, self._dead, q, r, threads)
        qq, rows, d = self._scan(self._h, q, r)
        if self._dead is not None and rows.size:
            live = ~np.take(self._dead, rows)
            qq, rows, d = qq[live], rows[live], d[live]
        return qq, rows, d

    @staticmethod
    def _scan(
        h: U64Array, q: U64Array, r: int, block: int = 1 << 16
    ) -> tuple[I64Array, I64Array, npt.NDArray[np.uint32]]:
        """Brute force: every (query, row) with distance <= r."""
        out_q, out_r, out_d = [], [], []
        n = h.shape[0]
        if 0 < n <= block:
            # Small side (the delta, or a small index): many queries per step.
            k = max(1, (1 << 18) // max(n, 1))
            for lo in range(0, q.shape[0], k):
                d = _distances((q[lo : lo + k, None, :] ^ h[None, :, :]).reshape(-1, 4)).reshape(-1, n)
                qq, rr = np.nonzero(d <= r)
                if qq.size:
                    out_q.append(qq.astype(np.int64) + lo)
                    out_r.append(rr.astype(np.int64))
                    out_d.append(d[qq, rr])
        elif n > block:
            # Large side: stream blocks of rows (cache-sized), every query per block.
            for lo in range(0, n, block):
                hb = h[lo : lo + block]
                for i in range(q.shape[0]):
                    d = _distances(hb ^ q[i])
                    rr = np.flatnonzero(d <= r)
                    if rr.size:
                        out_q.append(np.full(rr.size, i, dtype=np.int64))
                        out_r.append(rr + lo)
                        out_d.append(d[rr])
        if not out_q:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint32)
        return np.concatenate(out_q), np.concatenate(out_r).astype(np.int64), np.concatenate(out_d)

    # ---------------------------------------------------------------- updates

    def add(self, ids: npt.ArrayLike, hashes: HashesLike) -> None:
        """Insert (or replace) entries without rebuilding.

        Preconditions: as :meth:`build` (no duplicate ids within the call).
        An id that is already live is replaced by the new hash.  Rows go to
        the linearly scanned delta; once it holds more than ``delta_limit``
        rows it is merged into the main arrays (which copies mmap-loaded
        arrays into private memory).
        """
        h = _as_hashes(hashes)
        id_arr = _as_ids(ids)
        if h.shape[0] != id_arr.shape[0]:
            raise ValueError(f"{id_arr.shape[0]} ids but {h.shape[0]} hashes")
        if id_arr.size == 0:
            return
        s = np.sort(id_arr)
        if np.any(s[1:] == s[:-1]):
            raise ValueError("duplicate ids")
        self.remove(id_arr)
        self._dh = np.concatenate([self._dh, h])
        self._dids = np.concatenate([self._dids, id_arr])
        if self._dh.shape[0] > self.delta_limit:
            self.merge()

    def remove(self, ids: npt.ArrayLike) -> int:
        """Retract entries by id (tombstones); unknown ids are ignored.

        Returns the number of live entries removed.
        """
        x = _unique(_as_ids(ids))
        removed = 0
        if self._dids.size:
            gone = np.isin(self._dids, x)
            if gone.any():
                removed += int(gone.sum())
                keep = ~gone
                self._dh, self._dids = self._dh[keep], self._dids[keep]
        n = self._ids.shape[0]
        if n and x.size:
            lo = np.searchsorted(self._ids, x, side="left", sorter=self._id_order)
            hi = np.searchsorted(self._ids, x, side="right", sorter=self._id_order)
            cnt = (hi - lo).astype(np.int64)
            nz = np.flatnonzero(cnt)
            if nz.size:
                rows = np.take(self._id_order, _expand_ranges(lo[nz].astype(np.int64), cnt[nz]))
                if self._dead is None:
                    self._dead = np.zeros(n, dtype=bool)
                elif not self._dead.flags.writeable:
                    self._dead = np.array(self._dead)
                rows = rows[~self._dead[rows]]
                self._dead[rows] = True
                self._n_dead += int(rows.size)
                removed += int(rows.size)
        return removed

    def merge(self) -> None:
        """Fold the delta into the main CSR arrays now.

        Inserts into the sorted arrays (no re-sort); rebuilds from scratch
        instead when more than a quarter of main rows are tombstoned or the
        bucket geometry for the new size differs.
        """
        d = self._dh.shape[0]
        n = self._h.shape[0]
        if d == 0 and self._n_dead * 4 <= n:
            return
        new_n = n + d
        if (
            self._n_dead * 4 > n
            or self._bits_for(new_n) != self._layout.bucket_bits
            or new_n >= 2**31 // _M
        ):
            live = np.ones(n, dtype=bool) if self._dead is None else ~self._dead
            ids = np.concatenate([self._ids[live], self._dids])
            h = np.concatenate([self._h[live], self._dh])
            self._build_main(ids, h)
            self._dh = np.zeros((0, 4), dtype=np.uint64)
            self._dids = np.zeros(0, dtype=np.int64)
            return
        lay = self._layout
        new_rows = np.arange(n, new_n, dtype=np.int32)
        keys = _subkeys(self._dh)  # (d, 11)
        tables = np.arange(_M)
        bucket = ((keys >> lay.shift[tables]).astype(np.int64) + lay.base[tables]).reshape(-1)
        row_rep = np.repeat(new_rows, _M)
        o = np.argsort(bucket, kind="stable")
        bucket, row_rep = bucket[o], row_rep[o]
        ins = np.take(self._offsets, bucket + 1).astype(np.int64)
        # Rows are numbered per table (0..n-1) but perm positions are global:
        # table j's segment moves right by j*d, handled by np.insert itself.
        self._perm = np.insert(self._perm, ins, row_rep)
        if self._lowkeys is not None:
            low = (keys & lay.lowmask[tables]).reshape(-1)[o]
            self._lowkeys = np.insert(self._lowkeys, ins, low.astype(np.uint16))
        # Bucket b's start moves right by the number of inserted keys < b:
        # add the running count over each stretch between inserted buckets.
        off = np.array(self._offsets, dtype=np.uint32)  # private, writable copy
        last = np.ones(bucket.size, dtype=bool)
        last[:-1] = bucket[1:] != bucket[:-1]
        ends = np.flatnonzero(last)
        ub = bucket[ends].tolist()
        stops = ub[1:] + [off.shape[0] - 1]
        for b, stop, c in zip(ub, stops, (ends + 1).tolist(), strict=False):
            off[b + 1 : stop + 1] += np.uint32(c)
        self._offsets = off
        ds = np.argsort(self._dids, kind="stable")
        at = np.searchsorted(self._ids, self._dids[ds], side="right", sorter=self._id_order)
        self._id_order = np.insert(self._id_order, at, new_rows[ds])
        self._h = np.concatenate([self._h, self._dh])
        self._ids = np.concatenate([self._ids, self._dids])
        if self._dead is not None:
            self._dead = np.concatenate([self._dead, np.zeros(d, dtype=bool)])
        self._dh = np.zeros((0, 4), dtype=np.uint64)
        self._dids = np.zeros(0, dtype=np.int64)

    # ---------------------------------------------------------------- persistence

    def save(self, path: str | os.PathLike[str], watermark: int | None = None) -> None:
        """Write a snapshot that :meth:`load` can map.

        ``path`` becomes a symlink to a fresh sibling directory
        ``<name>.<token>``, swapped in with ``os.replace`` so readers see the
        old or the new snapshot, never a partial one; the previous target
        directory is then deleted (processes that already mapped it keep
        their pages).  If ``path`` is an existing real directory it is moved
        aside first (brief window without a snapshot).  ``watermark``
        (default: the index's own) is stored in the metadata.
        """
        path = Path(path)
        parent = path.parent
        parent.mkdir(parents=True, exist_ok=True)
        if watermark is not None:
            self.watermark = int(watermark)
        token = uuid.uuid4().hex[:12]
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=parent))
        try:
            arrays: dict[str, np.ndarray] = {
                "hashes": self._h,
                "ids": self._ids,
                "id_order": self._id_order,
                "perm": self._perm,
                "offsets": self._offsets,
                "delta_hashes": self._dh,
                "delta_ids": self._dids,
            }
            if self._lowkeys is not None:
                arrays["lowkeys"] = self._lowkeys
            if self._dead is not None:
                arrays["dead"] = self._dead
            for name, arr in arrays.items():
                with open(tmp / f"{name}.npy", "wb") as f:
                    np.save(f, arr, allow_pickle=False)
                    f.flush()
                    os.fsync(f.fileno())
            meta = {
                "format": _FORMAT,
                "version": _FORMAT_VERSION,
                "sub_bits": list(_SUB_BITS),
                "bucket_bits": self._layout.bucket_bits,
                "fixed_bucket_bits": self._fixed_bits,
                "n_main": int(self._h.shape[0]),
                "n_delta": int(self._dh.shape[0]),
                "n_dead": int(self._n_dead),
                "watermark": self.watermark,
                "delta_limit": self.delta_limit,
                "scan_fraction": self.scan_fraction,
                "arrays": sorted(arrays),
            }
            with open(tmp / "meta.json", "w") as f:
                json.dump(meta, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            final = parent / f"{path.name}.{token}"
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        old_target: Path | None = None
        if path.is_symlink():
            old_target = parent / os.readlink(path)
        elif path.exists():
            old_target = parent / f".{path.name}.old-{token}"
            os.rename(path, old_target)
        link = parent / f".{path.name}.link-{token}"
        os.symlink(final.name, link)
        os.replace(link, path)
        if old_target is not None and old_target.resolve() != final.resolve():
            if old_target.is_dir():
                shutil.rmtree(old_target, ignore_errors=True)
            else:
                old_target.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, mmap: bool = True) -> PDQIndex:
        """Open a snapshot written by :meth:`save`.

        With ``mmap=True`` (default) the main arrays are read-only memory
        maps shared through the page cache; the delta is read into memory.
        Apply changes newer than ``index.watermark`` with :meth:`add` /
        :meth:`remove`.  Raises ``ValueError`` on an unknown format.
        """
        for attempt in range(3):
            real = Path(os.path.realpath(path))
            try:
                return cls._load_dir(real, mmap)
            except FileNotFoundError:
                if attempt == 2 or real == Path(os.path.realpath(path)):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _load_dir(cls, d: Path, mmap: bool) -> PDQIndex:
        with open(d / "meta.json") as f:
            meta = json.load(f)
        if meta.get("format") != _FORMAT or meta.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{d}: not a {_FORMAT} v{_FORMAT_VERSION} snapshot")
        if tuple(meta["sub_bits"]) != _SUB_BITS:
            raise ValueError(f"{d}: substring layout {meta['sub_bits']} unsupported")
        mode = "r" if mmap else None
        names = set(meta["arrays"])

        def arr(name: str, in_memory: bool = False) -> np.ndarray:
            return np.load(d / f"{name}.npy", mmap_mode=None if in_memory else mode, allow_pickle=False)

        self = cls()
        self._layout = _Layout(int(meta["bucket_bits"]))
        self._h = arr("hashes")
        self._ids = arr("ids")
        self._id_order = arr("id_order")
        self._perm = arr("perm")
        self._offsets = arr("offsets")
        self._lowkeys = arr("lowkeys") if "lowkeys" in names else None
        self._dead = arr("dead") if "dead" in names else None
        self._n_dead = int(meta["n_dead"])
        self._dh = arr("delta_hashes", in_memory=True)
        self._dids = arr("delta_ids", in_memory=True)
        self.watermark = meta["watermark"]
        self.delta_limit = int(meta["delta_limit"])
        self.scan_fraction = float(meta["scan_fraction"])
        self._fixed_bits = meta["fixed_bucket_bits"]
        n = int(meta["n_main"])
        if (
            self._h.shape != (n, 4)
            or self._ids.shape != (n,)
            or self._perm.shape != (_M * n,)
            or self._offsets.shape != (self._layout.n_buckets + 1,)
            or (self._lowkeys is None) != self._layout.exact
        ):
            raise ValueError(f"{d}: arrays do not match meta.json")
        return self


def _subkeys_one(h: U64Array, j: int) -> npt.NDArray[np.uint32]:
    """Key of substring ``j`` for every row, as uint32 (same formula as :func:`_subkeys`)."""
    o = _SUB_O[j]
    window = (h[:, _SUB_WA[j]] << o) | (h[:, _SUB_WB[j]] >> (np.uint64(64) - o))
    return (window >> _SUB_R[j]).astype(np.uint32)


def warm_up() -> float:
    """Compile the numba kernels, or load them from numba's on-disk cache, on a tiny index, so
    that the first dedup or match of a new process or deploy does not pay the compilation
    (5-15 s on a 2-core machine when nothing is cached). Returns the seconds it took; a no-op
    without numba. Run by the Docker build and by `manage.py pdq_warm_up`."""
    import time

    start = time.perf_counter()
    if _numba_kernels() is None:
        return 0.0
    rng = np.random.default_rng(2019)
    hashes = rng.integers(0, np.iinfo(np.uint64).max, size=(4096, 4), dtype=np.uint64, endpoint=True)
    index = PDQIndex.build(np.arange(len(hashes)), hashes)
    for method in ("probe", "join"):
        for threads in (1, 2):
            index.query_many(hashes[:256], DEFAULT_MAX_DISTANCE, method=method, threads=threads, engine="numba")
    return time.perf_counter() - start
