"""The index of published PDQ fingerprints, shared by deduplication and the match API.

One index per process, caught up from the database on every use, and one snapshot per
machine on disk that every process memory-maps:

- Start: a process loads the machine's snapshot (PDQ_INDEX_DIR) if there is one; otherwise it
  takes the machine's build lock (flock), builds the index from the database and writes the
  snapshot, so that of many workers starting at once one builds and the rest load its result.
- Each use: two index-only queries read the highest release seq that added or removed a PDQ
  fingerprint; if it moved past the index's watermark, only the fingerprints added or removed
  in between are fetched and applied (`PDQIndex.add` / `remove`), never the whole table.
- After PDQ_INDEX_SNAPSHOT_EVERY applied changes a process rewrites the snapshot (if no other
  process holds the lock) and maps it again, so processes keep sharing one copy of the arrays
  and new processes start close to the present.

Precondition for correctness: release seqs commit in seq order (the publishing service holds
the seq lock until commit), so "every fingerprint with a seq <= watermark" is a stable set.
"""
from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Max

from hashes.models import Fingerprint
from hashes.pdq_index import PDQIndex

log = logging.getLogger(__name__)

KIND = "pdq"
FETCH_CHUNK = 200_000

_lock = threading.Lock()
_state: dict[str, object] = {"index": None, "applied": 0}


def _snapshot_path() -> Path:
    return Path(settings.PDQ_INDEX_DIR) / "published"


@contextmanager
def _machine_lock(*, blocking: bool) -> Iterator[bool]:
    """An exclusive flock shared by every process of this machine (not across machines)."""
    directory = Path(settings.PDQ_INDEX_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _published_watermark() -> int:
    """The highest release seq that changed a PDQ fingerprint (0 before any). Index-only scans."""
    pdq = Fingerprint.objects.filter(kind=KIND)
    added = pdq.aggregate(m=Max("added_seq"))["m"] or 0
    removed = pdq.aggregate(m=Max("removed_seq"))["m"] or 0
    return max(added, removed)


def _rows_to_arrays(rows: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    raw = bytes.fromhex("".join(row[1] for row in rows))
    hashes = np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)
    return ids, hashes


def _fetch_active(upto: int) -> tuple[np.ndarray, np.ndarray]:
    """Every PDQ fingerprint published at or before seq `upto` and not removed by then."""
    query = (
        Fingerprint.objects.filter(kind=KIND, added_seq__isnull=False, added_seq__lte=upto)
        .exclude(removed_seq__lte=upto)
        .order_by()
        .values_list("id", "value")
    )
    id_parts, hash_parts = [], []
    batch: list[tuple[int, str]] = []
    for row in query.iterator(chunk_size=FETCH_CHUNK):
        batch.append(row)
        if len(batch) >= FETCH_CHUNK:
            ids, hashes = _rows_to_arrays(batch)
            id_parts.append(ids)
            hash_parts.append(hashes)
            batch = []
    ids, hashes = _rows_to_arrays(batch)
    id_parts.append(ids)
    hash_parts.append(hashes)
    return np.concatenate(id_parts), np.concatenate(hash_parts)


def _build(watermark: int) -> PDQIndex:
    ids, hashes = _fetch_active(watermark)
    index = PDQIndex.build(ids, hashes)
    index.watermark = watermark
    log.info("built the PDQ index of %d fingerprints at seq %d", len(index), watermark)
    return index


def _load_or_build() -> PDQIndex:
    path = _snapshot_path()
    if path.exists():
        try:
            return PDQIndex.load(path)
        except Exception as exc:  # any unreadable snapshot (old format, torn disk): rebuild it
            log.warning("PDQ index snapshot at %s unreadable (%r); rebuilding", path, exc)
    with _machine_lock(blocking=True):
        if path.exists():  # another process built it while we waited for the lock
            try:
                return PDQIndex.load(path)
            except Exception:  # the unreadable one we found above: overwrite it
                pass
        index = _build(_published_watermark())
        index.save(path, watermark=index.watermark)
        return index


def _catch_up(index: PDQIndex, upto: int) -> int:
    """Apply the adds and removes of seqs in (index.watermark, upto]. Returns how many."""
    since = index.watermark or 0
    pdq = Fingerprint.objects.filter(kind=KIND).order_by()
    added = list(
        pdq.filter(added_seq__gt=since, added_seq__lte=upto).exclude(removed_seq__lte=upto).values_list("id", "value")
    )
    removed = list(pdq.filter(removed_seq__gt=since, removed_seq__lte=upto).values_list("id", flat=True))
    if added:
        index.add(*_rows_to_arrays(added))
    if removed:
        index.remove(np.asarray(removed, dtype=np.int64))
    index.watermark = upto
    return len(added) + len(removed)


def published_pdq_index() -> PDQIndex:
    """This process's index of published PDQ fingerprints, up to date with the database."""
    with _lock:
        index = _state["index"]
        if index is None:
            index = _load_or_build()
            _state["index"] = index
            _state["applied"] = 0
        assert isinstance(index, PDQIndex)
        latest = _published_watermark()
        if latest < (index.watermark or 0):
            # The database went back (restored from a backup): start over, snapshot included.
            with _machine_lock(blocking=True):
                index = _build(latest)
                index.save(_snapshot_path(), watermark=index.watermark)
            _state["index"] = index
            _state["applied"] = 0
        elif latest > (index.watermark or 0):
            _state["applied"] = int(_state["applied"]) + _catch_up(index, latest)
            if int(_state["applied"]) >= settings.PDQ_INDEX_SNAPSHOT_EVERY:
                index = _refresh_snapshot(index, latest)
                _state["index"] = index
                _state["applied"] = 0
        return index


def _refresh_snapshot(index: PDQIndex, latest: int) -> PDQIndex:
    """After many changes: write a fresh snapshot, or map the one another process just wrote.

    Either way the process goes back to sharing the machine's mapped snapshot: changes applied
    on top of a mapped index end up in private copies of its arrays (PDQIndex merges its delta
    into them), which would otherwise grow every process by the index's size.
    """
    path = _snapshot_path()
    with _machine_lock(blocking=False) as locked:
        if locked:
            index.save(path, watermark=index.watermark)
    try:
        fresh = PDQIndex.load(path)
    except Exception as exc:  # keep the one we have; the next refresh tries again
        log.warning("could not map the PDQ index snapshot at %s (%r)", path, exc)
        return index
    if (fresh.watermark or 0) < (index.watermark or 0) - settings.PDQ_INDEX_SNAPSHOT_EVERY:
        return index  # the other writer's snapshot is older than ours: not worth the catch-up
    _catch_up(fresh, latest)
    return fresh


def published_pdq_index_reset() -> None:
    """Forget this process's index (tests; after restoring a database)."""
    with _lock:
        _state["index"] = None
        _state["applied"] = 0
