"""The exact PDQ near-duplicate index (hashes/pdq_index.py), checked against brute force.

No Django, no timings: every test compares the index's answers with a reference
computed from the hashes' bits, independently of the index's uint64 words.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hashes import pdq_index
from hashes.pdq_index import PDQIndex, hamming, hex_to_words, hexes_to_array

R = 31
PLANTED = (0, 1, 2, 15, 23, 31, 32, 33)


def random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64, size=(n, 4), dtype=np.uint64)


def flip(h: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of hash `h` (4 words) with exactly k distinct bits flipped."""
    out = h.copy()
    for b in rng.choice(256, size=k, replace=False):
        out[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def bits(h: np.ndarray) -> np.ndarray:
    """(N, 256) bool, from the big-endian bytes rather than from the words."""
    return np.unpackbits(h.astype(">u8").view(np.uint8).reshape(-1, 32), axis=1).astype(bool)


def brute_force(ids: np.ndarray, h: np.ndarray, queries: np.ndarray, r: int) -> list[list[tuple[int, int]]]:
    hb, qb = bits(h), bits(queries)
    out = []
    for q in qb:
        d = (hb != q).sum(axis=1)
        m = np.flatnonzero(d <= r)
        out.append(sorted(zip(ids[m].tolist(), d[m].tolist(), strict=False), key=lambda t: (t[1], t[0])))
    return out


def as_pairs(result: list[tuple[np.ndarray, np.ndarray]]) -> list[list[tuple[int, int]]]:
    return [list(zip(ids.tolist(), d.tolist(), strict=False)) for ids, d in result]


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """3,000 random hashes, and queries: each planted distance from a known row, plus random ones."""
    rng = np.random.default_rng(20240601)
    n = 3000
    h = random_hashes(rng, n)
    ids = rng.permutation(10 * n)[:n].astype(np.int64) + 1000  # sparse, unordered ids
    base_rows = rng.choice(n, size=len(PLANTED) * 10, replace=False)
    queries, want = [], []
    for i, row in enumerate(base_rows):
        k = PLANTED[i % len(PLANTED)]
        queries.append(flip(h[row], k, rng))
        want.append((int(ids[row]), k))
    queries_arr = np.vstack([np.array(queries), random_hashes(rng, 50)])
    return ids, h, queries_arr, np.array(want)


@pytest.fixture(scope="module")
def index(corpus: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> PDQIndex:
    ids, h, _, _ = corpus
    return PDQIndex.build(ids, h)


# --- hex helpers -------------------------------------------------------------------------------


def test_hex_to_words_reads_the_hex_string_big_endian() -> None:
    hex_str = "0123456789abcdef" + "f" * 16 + "0" * 15 + "1" + "8" + "0" * 15
    w = hex_to_words(hex_str)
    assert w.dtype == np.uint64 and w.shape == (4,)
    assert w.tolist() == [0x0123456789ABCDEF, 2**64 - 1, 1, 1 << 63]


def test_hexes_to_array_agrees_with_hex_to_words_and_accepts_upper_case() -> None:
    rng = np.random.default_rng(1)
    hexes = [bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(20)]
    arr = hexes_to_array(hexes)
    assert arr.shape == (20, 4)
    assert all((arr[i] == hex_to_words(h)).all() for i, h in enumerate(hexes))
    assert (hexes_to_array([h.upper() for h in hexes]) == arr).all()
    assert hexes_to_array([]).shape == (0, 4)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0" * 63,
        "0" * 65,
        "g" + "0" * 63,
        "0x" + "0" * 62,
        " " + "0" * 63,
        "00 " + "0" * 61,
        "é" + "0" * 63,
    ],
)
def test_malformed_hex_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        hex_to_words(bad)
    with pytest.raises(ValueError):
        hexes_to_array(["0" * 64, bad])
    with pytest.raises(ValueError):
        hamming(bad, "0" * 64)


def test_a_non_string_hash_raises_type_error() -> None:
    with pytest.raises(TypeError):
        hexes_to_array([b"0" * 64])  # type: ignore[list-item]


def test_hamming_counts_the_differing_bits() -> None:
    a = "0" * 64
    assert hamming(a, a) == 0
    assert hamming(a, "f" * 64) == 256
    assert hamming(a, "8" + "0" * 62 + "1") == 2
    assert hamming("0f" * 32, "ff" * 32) == 128


# --- exactness ---------------------------------------------------------------------------------


def test_it_finds_every_hash_within_31_bits(corpus: tuple, index: PDQIndex) -> None:
    ids, h, queries, want = corpus
    got = as_pairs(index.query_many(queries, R))
    assert got == brute_force(ids, h, queries, R)
    for (row_id, k), matches in zip(want.tolist(), got, strict=False):
        assert ((row_id, k) in matches) == (k <= R), (row_id, k)


def test_planted_hashes_at_32_and_33_bits_are_not_found_at_31(corpus: tuple, index: PDQIndex) -> None:
    _, _, queries, want = corpus
    for q, (row_id, k) in zip(queries, want.tolist(), strict=False):
        found = dict(index.query(q, R))
        if k <= R:
            assert found[row_id] == k
        else:
            assert row_id not in found


@pytest.mark.parametrize("r", [0, 1, 5, 10, 11, 12, 21, 22, 30, 32])
def test_smaller_and_other_radii_are_exact_too(corpus: tuple, index: PDQIndex, r: int) -> None:
    ids, h, queries, _ = corpus
    assert as_pairs(index.query_many(queries, r)) == brute_force(ids, h, queries, r)


def test_radii_beyond_the_probing_design_fall_back_to_an_exact_scan(corpus: tuple, index: PDQIndex) -> None:
    ids, h, queries, _ = corpus
    few = queries[:: len(queries) // 8]
    assert as_pairs(index.query_many(few, 40)) == brute_force(ids, h, few, 40)


def test_the_large_index_bucket_layout_is_exact_too(corpus: tuple) -> None:
    """bucket_bits=24 is what indexes of 4M+ hashes use (every key bit a bucket bit)."""
    ids, h, queries, _ = corpus
    big_layout = PDQIndex.build(ids, h, bucket_bits=24)
    assert as_pairs(big_layout.query_many(queries, R)) == brute_force(ids, h, queries, R)


def test_results_are_sorted_by_distance_then_id() -> None:
    rng = np.random.default_rng(7)
    center = random_hashes(rng, 1)[0]
    h = np.array([flip(center, k, rng) for k in (3, 1, 3, 0, 2, 1)])
    idx = PDQIndex.build(np.array([60, 50, 40, 30, 20, 10]), h)
    assert idx.query(center, R) == [(30, 0), (10, 1), (50, 1), (20, 2), (40, 3), (60, 3)]
    assert idx.nearest(center, R) == (30, 0)


def test_query_accepts_hex_bytes_and_words_alike(corpus: tuple, index: PDQIndex) -> None:
    _, _, queries, _ = corpus
    q = queries[3]
    as_bytes = q.astype(">u8").tobytes()
    expected = index.query(q, R)
    assert expected
    assert index.query(as_bytes.hex(), R) == expected
    assert index.query(as_bytes, R) == expected
    assert index.query(q.reshape(1, 4), R) == expected


def test_nearest_returns_the_closest_match_or_none(corpus: tuple, index: PDQIndex) -> None:
    ids, h, _, _ = corpus
    rng = np.random.default_rng(3)
    q = flip(h[17], 9, rng)
    assert index.nearest(q) == (int(ids[17]), 9)
    assert index.nearest(q, 8) is None
    assert index.nearest(random_hashes(rng, 1)[0]) is None


def test_query_many_agrees_with_single_queries_in_any_chunking(corpus: tuple, index: PDQIndex) -> None:
    _, _, queries, _ = corpus
    single = [index.query(q, R) for q in queries]
    for kwargs in ({}, {"chunk": 1}, {"chunk": 7, "threads": 2}, {"chunk": 1000}):
        assert as_pairs(index.query_many(queries, R, **kwargs)) == single
    assert index.query_many(np.zeros((0, 4), dtype=np.uint64), R) == []


def test_a_clustered_dataset_falls_back_to_a_full_scan_and_stays_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of near-identical hashes (one popular image) make one bucket per table huge."""
    rng = np.random.default_rng(11)
    center = random_hashes(rng, 1)[0]
    cluster = np.array([flip(center, int(k), rng) for k in rng.integers(0, 12, size=2500)])
    h = np.vstack([cluster, random_hashes(rng, 1500)])
    ids = np.arange(len(h), dtype=np.int64)
    idx = PDQIndex.build(ids, h)
    scans = []
    original = PDQIndex._scan_main

    def spy(self: PDQIndex, q: np.ndarray, r: int, *args: object) -> tuple:
        scans.append(len(q))
        return original(self, q, r, *args)

    monkeypatch.setattr(PDQIndex, "_scan_main", spy)
    queries = np.vstack([[flip(center, k, rng) for k in (0, 5, 20, 31)], h[2600:2605]])
    got = as_pairs(idx.query_many(queries, R))
    assert got == brute_force(ids, h, queries, R)
    assert sum(scans) >= 4, "the cluster queries should have been answered by the full scan"
    assert len(got[0]) >= 2500


def test_build_accepts_a_bytes_buffer_of_32_bytes_per_hash(corpus: tuple, index: PDQIndex) -> None:
    ids, h, queries, _ = corpus
    from_bytes = PDQIndex.build(ids, h.astype(">u8").tobytes())
    assert as_pairs(from_bytes.query_many(queries[:20], R)) == as_pairs(index.query_many(queries[:20], R))


def test_build_rejects_duplicate_ids_mismatched_lengths_and_bad_buffers() -> None:
    h = np.zeros((3, 4), dtype=np.uint64)
    with pytest.raises(ValueError):
        PDQIndex.build(np.array([1, 2, 1]), h)
    with pytest.raises(ValueError):
        PDQIndex.build(np.array([1, 2]), h)
    with pytest.raises(ValueError):
        PDQIndex.build(np.array([1]), b"\x00" * 33)
    with pytest.raises(TypeError):
        PDQIndex.build(np.array([1, 2, 3]), h.astype(np.int64))
    with pytest.raises(ValueError):
        PDQIndex.build(np.array([1, 2, 3]), h).query("0" * 64, -1)


def test_an_empty_index_answers_nothing() -> None:
    idx = PDQIndex.build(np.zeros(0, dtype=np.int64), np.zeros((0, 4), dtype=np.uint64))
    assert len(idx) == 0
    assert idx.query("0" * 64) == []
    assert idx.nearest("0" * 64) is None
    idx.add([5], hexes_to_array(["0" * 64]))
    assert idx.query("0" * 63 + "1") == [(5, 1)]


# --- updates -----------------------------------------------------------------------------------


def test_added_hashes_are_found_before_and_after_the_delta_is_merged(corpus: tuple) -> None:
    ids, h, queries, _ = corpus
    rng = np.random.default_rng(5)
    idx = PDQIndex.build(ids[:2000], h[:2000], delta_limit=300)
    idx.add(ids[2000:2200], h[2000:2200])  # stays in the delta
    assert idx._dh.shape[0] == 200
    sub_ids, sub_h = ids[:2200], h[:2200]
    assert as_pairs(idx.query_many(queries, R)) == brute_force(sub_ids, sub_h, queries, R)
    for lo in range(2200, 3000, 160):  # crosses delta_limit several times: merged by insertion
        idx.add(ids[lo : lo + 160], h[lo : lo + 160])
    assert idx._dh.shape[0] <= 300 and idx._h.shape[0] > 2000
    assert len(idx) == 3000
    assert as_pairs(idx.query_many(queries, R)) == brute_force(ids, h, queries, R)
    near_new = flip(h[2999], 30, rng)
    assert (int(ids[2999]), 30) in idx.query(near_new, R)


def test_merging_into_the_large_layout_keeps_results_exact(corpus: tuple) -> None:
    ids, h, queries, _ = corpus
    idx = PDQIndex.build(ids[:2500], h[:2500], bucket_bits=24, delta_limit=100)
    idx.remove(ids[:40])
    idx.add(ids[2500:], h[2500:])  # 500 > delta_limit: merged at once
    assert idx._dh.shape[0] == 0 and idx._h.shape[0] == 3000
    live = np.ones(3000, dtype=bool)
    live[:40] = False
    assert as_pairs(idx.query_many(queries, R)) == brute_force(ids[live], h[live], queries, R)


def test_adding_an_existing_id_replaces_its_hash() -> None:
    rng = np.random.default_rng(8)
    h = random_hashes(rng, 100)
    idx = PDQIndex.build(np.arange(100), h, delta_limit=10)
    new = random_hashes(rng, 1)
    idx.add([42], new)
    assert len(idx) == 100
    assert idx.query(h[42]) == []
    assert idx.query(new[0]) == [(42, 0)]
    idx.add([42], h[42:43])  # replace the delta entry too
    assert idx.query(new[0]) == [] and idx.query(h[42]) == [(42, 0)]
    idx.merge()
    assert idx.query(h[42]) == [(42, 0)] and len(idx) == 100
    with pytest.raises(ValueError):
        idx.add([1, 1], h[:2])


def test_removed_ids_disappear_from_main_and_delta(corpus: tuple) -> None:
    ids, h, queries, _ = corpus
    idx = PDQIndex.build(ids[:2900], h[:2900])
    idx.add(ids[2900:], h[2900:])
    gone = np.concatenate([ids[:300], ids[2950:], [-1, -2]])  # unknown ids are ignored
    assert idx.remove(gone) == 350
    assert idx.remove(gone) == 0
    assert len(idx) == 2650
    keep = ~np.isin(ids, gone)
    assert as_pairs(idx.query_many(queries, R)) == brute_force(ids[keep], h[keep], queries, R)


def test_many_tombstones_trigger_a_compacting_rebuild_on_merge(corpus: tuple) -> None:
    ids, h, queries, _ = corpus
    idx = PDQIndex.build(ids, h)
    idx.remove(ids[:1000])
    idx.merge()
    assert idx._h.shape[0] == 2000 and idx._dead is None
    assert as_pairs(idx.query_many(queries, R)) == brute_force(ids[1000:], h[1000:], queries, R)


# --- persistence -------------------------------------------------------------------------------


def test_save_and_load_round_trip_with_mmap_and_the_watermark(corpus: tuple, tmp_path: Path) -> None:
    ids, h, queries, _ = corpus
    idx = PDQIndex.build(ids[:2800], h[:2800], watermark=41)
    idx.remove(ids[:10])
    idx.add(ids[2800:], h[2800:])
    snap = tmp_path / "pdq"
    idx.save(snap, watermark=42)
    loaded = PDQIndex.load(snap)
    assert loaded.watermark == 42
    assert isinstance(loaded._h, np.memmap) and isinstance(loaded._perm, np.memmap)
    assert not loaded._h.flags.writeable
    assert len(loaded) == len(idx) == 2990
    assert loaded.memory_bytes() == idx.memory_bytes()
    assert as_pairs(loaded.query_many(queries, R)) == as_pairs(idx.query_many(queries, R))
    # Apply "newer changes" on top of the read-only snapshot.
    loaded.remove(ids[10:20])
    loaded.add(ids[:5], h[:5])
    keep = np.ones(3000, dtype=bool)
    keep[5:20] = False
    assert as_pairs(loaded.query_many(queries, R)) == brute_force(ids[keep], h[keep], queries, R)
    loaded.merge()
    assert as_pairs(loaded.query_many(queries, R)) == brute_force(ids[keep], h[keep], queries, R)


def test_saving_again_swaps_the_snapshot_atomically_and_drops_the_old_one(corpus: tuple, tmp_path: Path) -> None:
    ids, h, _, _ = corpus
    snap = tmp_path / "pdq"
    PDQIndex.build(ids[:100], h[:100], watermark=1).save(snap)
    first = os.path.realpath(snap)
    old_reader = PDQIndex.load(snap)  # keeps its mapped pages after the swap
    PDQIndex.build(ids, h, watermark=2).save(snap)
    assert snap.is_symlink() and os.path.realpath(snap) != first
    assert not os.path.exists(first)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("pdq")) == []
    assert PDQIndex.load(snap).watermark == 2 and len(PDQIndex.load(snap)) == 3000
    assert old_reader.query(h[5]) == [(int(ids[5]), 0)]


def test_loading_something_else_raises_value_error(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text('{"format": "other", "version": 1}')
    with pytest.raises(ValueError):
        PDQIndex.load(tmp_path)


def test_the_probe_plan_uses_the_refined_pigeonhole_bound() -> None:
    tables, masks = pdq_index._probe_plan(31)
    # ten tables at radius 2 (eight 23-bit, two 24-bit), the last 24-bit table at radius 1
    assert len(tables) == 8 * (1 + 23 + 253) + 2 * (1 + 24 + 276) + (1 + 24)
    assert len(pdq_index._probe_plan(10)[0]) == 11  # radius 0 in all eleven tables
    assert len(pdq_index._probe_plan(0)[0]) == 1  # d = 0 means substring 0 is equal


# --- engines: compiled numba kernels against the numpy reference path ---------------------------


def numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


needs_numba = pytest.mark.skipif(not numba_available(), reason="numba is not installed")


def same(a: list[tuple[np.ndarray, np.ndarray]], b: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    return len(a) == len(b) and all(
        x[0].dtype == y[0].dtype and x[1].dtype == y[1].dtype and (x[0] == y[0]).all() and (x[1] == y[1]).all()
        for x, y in zip(a, b, strict=True)
    )


@pytest.fixture(scope="module")
def mutated(corpus: tuple) -> dict[int, tuple[PDQIndex, np.ndarray, np.ndarray]]:
    """Per bucket layout: an index with tombstones in main, a delta, and a removal from the delta."""
    ids, h, _, _ = corpus
    out = {}
    for bits in (None, 24):
        idx = PDQIndex.build(ids[:2600], h[:2600], bucket_bits=bits, delta_limit=1000)
        idx.add(ids[2600:], h[2600:])  # 400 rows stay in the delta
        idx.remove(np.concatenate([ids[100:250], ids[2950:2970]]))  # tombstones + delta removal
        live = ~np.isin(ids, np.concatenate([ids[100:250], ids[2950:2970]]))
        assert idx._dh.shape[0] == 380 and idx._n_dead == 150 and (idx._lowkeys is None) == (bits == 24)
        out[bits or 0] = (idx, ids[live], h[live])
    return out


@needs_numba
@pytest.mark.parametrize("bits", [0, 24])
@pytest.mark.parametrize("r", [0, 10, 23, 31])
def test_numba_engine_equals_numpy_engine_and_brute_force(corpus: tuple, mutated: dict, bits: int, r: int) -> None:
    _, h_all, queries, _ = corpus
    idx, ids, h = mutated[bits]
    rng = np.random.default_rng(r)
    # plus queries near tombstoned rows and near delta rows, at distances around r
    extra = np.array([flip(h_all[row], int(k), rng) for row, k in zip((120, 200, 2700, 2960), (r, 0, r, 1), strict=True)])
    qs = np.vstack([queries, extra])
    want = brute_force(ids, h, qs, r)
    ref = idx.query_many(qs, r, engine="numpy")
    assert as_pairs(ref) == want
    for kwargs in ({}, {"threads": 2}):
        got = idx.query_many(qs, r, engine="numba", **kwargs)
        assert same(got, ref), kwargs
    assert [idx.query(q, r) for q in qs[::9]] == want[::9]


@needs_numba
def test_numba_engine_falls_back_to_the_full_scan_for_huge_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    center = random_hashes(rng, 1)[0]
    cluster = np.array([flip(center, int(k), rng) for k in rng.integers(0, 12, size=2500)])
    h = np.vstack([cluster, random_hashes(rng, 1500)])
    ids = np.arange(len(h), dtype=np.int64) * 7
    idx = PDQIndex.build(ids, h)
    idx.remove(ids[:10])
    scans = []
    original = PDQIndex._scan_main

    def spy(self: PDQIndex, q: np.ndarray, r: int, *args: object) -> tuple:
        scans.append(len(q))
        return original(self, q, r, *args)

    monkeypatch.setattr(PDQIndex, "_scan_main", spy)
    queries = np.vstack([[flip(center, k, rng) for k in (0, 5, 20, 31)], h[2600:2605], random_hashes(rng, 3)])
    for r in (10, 31):
        want = brute_force(ids[10:], h[10:], queries, r)
        ref = idx.query_many(queries, r, engine="numpy")
        scans.clear()
        got = idx.query_many(queries, r, engine="numba")
        assert as_pairs(ref) == want and same(got, ref)
        assert sum(scans) >= 4, "the cluster queries should have been answered by the full scan"
    assert same(idx.query_many(queries, 40, engine="numba"), idx.query_many(queries, 40, engine="numpy"))


@needs_numba
def test_numba_engine_redoes_queries_whose_matches_overflow_the_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny output buffers force the redo path: results must not change."""
    rng = np.random.default_rng(12)
    center = random_hashes(rng, 1)[0]
    cluster = np.array([flip(center, int(k), rng) for k in rng.integers(0, 25, size=300)])
    h = np.vstack([cluster, random_hashes(rng, 3000)])
    ids = np.arange(len(h), dtype=np.int64)
    idx = PDQIndex.build(ids, h, delta_limit=500)
    near = flip(center, 3, rng)[None, :].repeat(200, axis=0) ^ (random_hashes(rng, 200) & np.uint64(1))
    idx.add(ids[-200:] + 10_000, near)  # 200 near-copies in the delta
    queries = np.vstack([[flip(center, k, rng) for k in (0, 4, 9)], h[::97]])
    ref = idx.query_many(queries, R, engine="numpy")
    assert max(len(i) for i, _ in ref) > 300
    monkeypatch.setattr(pdq_index, "_NBK_CAP", 3)
    monkeypatch.setattr(pdq_index, "_NBK_CHUNK", 2)
    for threads in (1, 2):
        assert same(idx.query_many(queries, R, engine="numba", threads=threads), ref)


@needs_numba
def test_numba_engine_works_on_a_read_only_mmap_snapshot(corpus: tuple, mutated: dict, tmp_path: Path) -> None:
    _, _, queries, _ = corpus
    idx, _, _ = mutated[0]
    idx.save(tmp_path / "snap")
    loaded = PDQIndex.load(tmp_path / "snap")
    assert not loaded._perm.flags.writeable and not loaded._dead.flags.writeable
    assert same(loaded.query_many(queries, R, engine="numba"), idx.query_many(queries, R, engine="numpy"))


def test_the_engine_can_be_chosen_per_call_or_by_environment(
    corpus: tuple, index: PDQIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, queries, _ = corpus
    ref = index.query_many(queries[:10], R, engine="numpy")
    with pytest.raises(ValueError):
        index.query_many(queries[:10], R, engine="fortran")
    monkeypatch.setenv("PDQ_INDEX_ENGINE", "numpy")
    calls = []
    original = PDQIndex._mih
    monkeypatch.setattr(PDQIndex, "_mih", lambda self, *a: calls.append(1) or original(self, *a))
    assert same(index.query_many(queries[:10], R), ref) and calls
    if numba_available():
        calls.clear()
        assert same(index.query_many(queries[:10], R, engine="numba"), ref) and not calls


def test_without_numba_auto_uses_numpy_and_numba_is_refused(
    corpus: tuple, index: PDQIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    _, _, queries, _ = corpus
    ref = index.query_many(queries[:10], R, engine="numpy")
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` raise ImportError
    monkeypatch.setattr(pdq_index, "_NB_STATE", {})
    monkeypatch.delenv("PDQ_INDEX_ENGINE", raising=False)
    assert same(index.query_many(queries[:10], R), ref)
    with pytest.raises(RuntimeError):
        index.query_many(queries[:10], R, engine="numba")


# --- the batch join (method="join"): against brute force and the per-query engines -------------


@needs_numba
@pytest.mark.parametrize("bits", [0, 24])
@pytest.mark.parametrize("r", [0, 10, 23, 31])
def test_the_batch_join_equals_brute_force_and_both_per_query_engines(corpus: tuple, mutated: dict, bits: int, r: int) -> None:
    """Both bucket layouts, tombstones, a delta with a removal, queries planted near all three."""
    _, h_all, queries, _ = corpus
    idx, ids, h = mutated[bits]
    rng = np.random.default_rng(100 + r)
    near = h_all[rng.choice(len(h_all), 1500, replace=False)]
    planted = np.array([flip(row, int(k), rng) for row, k in zip(near, rng.integers(0, r + 2, size=len(near)), strict=True)])
    extra = np.array([flip(h_all[row], int(k), rng) for row, k in zip((120, 200, 2700, 2960), (r, 0, r, 1), strict=True)])
    qs = np.vstack([queries, planted, extra, random_hashes(rng, 500)])
    want = brute_force(ids, h, qs, r)
    probe = idx.query_many(qs, r, engine="numba", method="probe")
    ref = idx.query_many(qs, r, engine="numpy")
    assert as_pairs(ref) == want and same(probe, ref)
    for threads in (1, 2):
        assert same(idx.query_many(qs, r, engine="numba", method="join", threads=threads), ref), threads


@needs_numba
def test_the_batch_join_defers_queries_that_probe_huge_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster of near-copies makes big buckets: those queries take the per-query path (and its
    full scan); the join's partial matches for them are dropped, nothing is lost or doubled."""
    rng = np.random.default_rng(21)
    center = random_hashes(rng, 1)[0]
    cluster = np.array([flip(center, int(k), rng) for k in rng.integers(0, 12, size=2500)])
    h = np.vstack([cluster, random_hashes(rng, 1500)])
    ids = np.arange(len(h), dtype=np.int64) * 7
    idx = PDQIndex.build(ids, h)
    idx.remove(ids[:10])
    queries = np.vstack([[flip(center, k, rng) for k in (0, 5, 20, 31)], h[2600:2605], random_hashes(rng, 300)])
    deferred = []
    original = PDQIndex._mih_numba

    def spy(self: PDQIndex, q: np.ndarray, *args: object) -> tuple:
        deferred.append(len(q))
        return original(self, q, *args)

    monkeypatch.setattr(PDQIndex, "_mih_numba", spy)
    for big in (256, 3):
        monkeypatch.setattr(pdq_index, "_JOIN_BIG_BUCKET", big)
        for r in (10, 31):
            want = brute_force(ids[10:], h[10:], queries, r)
            deferred.clear()
            got = idx.query_many(queries, r, engine="numba", method="join")
            assert as_pairs(got) == want, (big, r)
            assert deferred and deferred[0] >= 4, "the cluster queries should have been deferred"


@needs_numba
def test_the_batch_join_redoes_tasks_whose_matches_overflow_the_buffers(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(22)
    center = random_hashes(rng, 1)[0]
    cluster = np.array([flip(center, int(k), rng) for k in rng.integers(0, 25, size=300)])
    h = np.vstack([cluster, random_hashes(rng, 3000)])
    ids = np.arange(len(h), dtype=np.int64)
    idx = PDQIndex.build(ids, h)
    queries = np.vstack([[flip(center, k, rng) for k in (0, 4, 9)], h[::7]])
    ref = idx.query_many(queries, R, engine="numpy")
    monkeypatch.setattr(pdq_index, "_JOIN_CAP", 2)
    for threads in (1, 2):
        assert same(idx.query_many(queries, R, engine="numba", method="join", threads=threads), ref)


@needs_numba
def test_the_batch_join_works_on_a_read_only_mmap_snapshot(corpus: tuple, mutated: dict, tmp_path: Path) -> None:
    _, _, queries, _ = corpus
    idx, _, _ = mutated[24]
    idx.save(tmp_path / "snap")
    loaded = PDQIndex.load(tmp_path / "snap")
    assert same(loaded.query_many(queries, R, engine="numba", method="join"), idx.query_many(queries, R, engine="numpy"))


@needs_numba
def test_auto_joins_large_batches_only(corpus: tuple, index: PDQIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, queries, _ = corpus
    joins = []
    original = PDQIndex._join_numba
    monkeypatch.setattr(PDQIndex, "_join_numba", lambda self, *a: joins.append(1) or original(self, *a))
    rng = np.random.default_rng(23)
    batch = random_hashes(rng, pdq_index._JOIN_MIN_QUERIES)
    ref = index.query_many(batch, R, engine="numba", method="probe")
    assert not joins
    assert same(index.query_many(batch, R, engine="numba"), ref) and joins  # 2,048 x 2,843 probes >> 11 x 3,000 rows
    joins.clear()
    index.query_many(queries, R, engine="numba")  # too few queries
    index.query_many(batch, 5, engine="numba")  # 11 probes per query: not worth streaming every table
    assert not joins
    with pytest.raises(ValueError):
        index.query_many(queries, R, method="merge")


def test_the_warm_up_command_compiles_the_kernels() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("pdq_warm_up", stdout=out)
    assert "done in" in out.getvalue()
