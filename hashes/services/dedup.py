"""Deduplication of a received batch, which then opens for voting (PROTOCOL §4).

Outcomes per item:
- `duplicate`: the same (kind, value) is already published (`match_fingerprint`), or appears
  earlier in the batch (`match_position`);
- `near_duplicate` (PDQ only): within the policy's distance of a published PDQ fingerprint or of
  an earlier PDQ item of the batch; the nearest one is recorded with its `distance` (a
  published fingerprint wins a tie with an item);
- `new` otherwise.
Near-duplicates are distinct hashes: on approval they are published like new ones; exact
duplicates only add the member as a source.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from consortium.audit.services import SYSTEM, audit_append, rfc3339
from hashes.kinds import REGISTRY
from hashes.models import Batch, BatchItem, Fingerprint, Incident
from hashes.pdq_index import PDQIndex
from hashes.pdq_published import published_pdq_index
from hashes.selectors import policy_current
from hashes.services import hooks


@dataclass
class _Outcome:
    outcome: str
    fingerprint: int | None = None
    position: int | None = None
    distance: int | None = None


def batch_deduplicate(*, batch_id: int) -> Batch | None:
    """Record every item's outcome and move the batch from `received` to `voting`, fixing its
    quorum and window from the policy in force (fast-tracked if it carries an open incident's
    label: the batch's labels or any item's).

    Idempotent and safe to run concurrently: it locks the batch row (SELECT FOR UPDATE) and
    does nothing unless the batch is still `received`; outcomes are overwritten, not added
    to, so a run after a crash starts clean. Side effects, in one transaction: the items'
    outcomes, the batch's counts and status, and a `batch.voting_opened` audit entry.
    """
    with transaction.atomic():
        batch = Batch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or batch.status != Batch.Status.RECEIVED:
            return batch
        policy = policy_current()
        distance = policy.pdq_max_distance
        items, item_labels = _items_and_labels(batch_id)
        carried = set(batch.labels).union(item_labels)
        incident = Incident.objects.filter(closed__isnull=True, label__slug__in=carried).order_by("declared").first()
        outcomes = _outcomes(items, published=_published_equal(batch_id), max_distance=distance)
        _write(batch_id, outcomes)
        counts = {choice: 0 for choice in (BatchItem.Outcome.NEW, BatchItem.Outcome.DUPLICATE, BatchItem.Outcome.NEAR_DUPLICATE)}
        counts[BatchItem.Outcome.NEW] = len(items) - len(outcomes)
        for result in outcomes.values():
            counts[result.outcome] += 1
        now = timezone.now()
        # The quorum is fixed now, from the policy in force (and the fast-track of an open
        # incident whose label the batch carries), so later policy edits flip no decision.
        approvals = policy.incident_approvals_required if incident else policy.approvals_required
        Batch.objects.filter(pk=batch_id, status=Batch.Status.RECEIVED).update(
            status=Batch.Status.VOTING,
            voting_opened=now,
            approvals_required=approvals,
            rejections_required=policy.rejections_required,
            closes_at=now + timedelta(seconds=policy.voting_window),
            incident=incident,
            new_count=counts[BatchItem.Outcome.NEW],
            duplicate_count=counts[BatchItem.Outcome.DUPLICATE],
            near_duplicate_count=counts[BatchItem.Outcome.NEAR_DUPLICATE],
        )
        audit_append(
            actor=SYSTEM,
            action="batch.voting_opened",
            subject=f"batch:{batch_id}",
            member=batch.member.slug,
            new=counts[BatchItem.Outcome.NEW],
            duplicate=counts[BatchItem.Outcome.DUPLICATE],
            near_duplicate=counts[BatchItem.Outcome.NEAR_DUPLICATE],
            pdq_max_distance=distance,
            approvals_required=approvals,
            rejections_required=policy.rejections_required,
            closes_at=rfc3339(now + timedelta(seconds=policy.voting_window)),
            incident=incident.pk if incident else None,
        )
        hooks.batch_voting_opened(batch_id)
    batch.refresh_from_db()
    return batch


def _outcomes(
    items: list[tuple[int, str, str]], *, published: dict[int, int], max_distance: int
) -> dict[int, _Outcome]:
    """Outcomes of the items that are not `new`, by position. Items come in position order;
    `published` maps the positions whose value is published to that fingerprint."""
    found: dict[int, _Outcome] = {}

    # Exact, within the batch: every later copy of a (kind, value) duplicates the first.
    first_seen: dict[tuple[str, str], int] = {}
    for position, kind, value in items:
        earlier = first_seen.setdefault((kind, value), position)
        if earlier != position:
            found[position] = _Outcome(BatchItem.Outcome.DUPLICATE, position=earlier, distance=0)

    # Exact, against published fingerprints: one join, found before (`published`).
    by_kind: dict[str, list[int]] = defaultdict(list)
    for position, kind, _value in items:
        by_kind[kind].append(position)
    for position, fingerprint_id in published.items():
        found[position] = _Outcome(BatchItem.Outcome.DUPLICATE, fingerprint=fingerprint_id, distance=0)

    # Near, for kinds with a distance: the rest, against published ones and earlier items.
    for kind in (k for k in by_kind if REGISTRY[k].near_duplicates):
        rest = [(position, value) for position, k, value in items if k == kind and position not in found]
        if rest:
            found.update(_near(rest, max_distance=max_distance))
    return found


def _items_and_labels(batch_id: int) -> tuple[list[tuple[int, str, str]], set[str]]:
    """The batch's (position, kind, value) in position order, and every label its items carry.

    On PostgreSQL: a plain cursor for the 100k rows (no model or JSON decoding per row) and the
    labels collected by the database, one row per distinct label.
    """
    if connection.vendor != "postgresql":
        rows = list(
            BatchItem.objects.filter(batch_id=batch_id).order_by("position").values_list("position", "kind", "value", "labels")
        )
        return [(position, kind, value) for position, kind, value, _ in rows], set().union(*(labels for *_, labels in rows))
    table = BatchItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT position, kind, value FROM {table} WHERE batch_id = %s ORDER BY position", [batch_id])
        items = cursor.fetchall()
        cursor.execute(
            f"SELECT DISTINCT label FROM {table}, jsonb_array_elements_text({table}.labels) AS label WHERE batch_id = %s",
            [batch_id],
        )
        labels = {label for (label,) in cursor.fetchall()}
    return items, labels


def _published_equal(batch_id: int) -> dict[int, int]:
    """Positions of the batch whose (kind, value) is published and active → that fingerprint.

    One index look-up per item on the (kind, value) unique index: ~1 s for 100k items against
    1M or 10M, where IN lists of 5,000 values each took ~13 s. The look-up is a LATERAL
    subquery with LIMIT 1 (exact: (kind, value) is unique) so that the planner cannot turn it
    into a hash join over the whole fingerprint table, which it prefers once it knows a batch
    has 100k items (7-8 s at 10M on the benchmark machine). SQLite has no LATERAL: there the
    same look-up is a correlated subquery per item.
    """
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(
                f"""
                SELECT position, fingerprint_id FROM (
                    SELECT item.position, (
                        SELECT published.id FROM {Fingerprint._meta.db_table} AS published
                        WHERE published.kind = item.kind AND published.value = item.value
                          AND published.status = %s AND published.added_seq IS NOT NULL
                        LIMIT 1
                    ) AS fingerprint_id
                    FROM {BatchItem._meta.db_table} AS item
                    WHERE item.batch_id = %s
                ) AS matched
                WHERE fingerprint_id IS NOT NULL
                """,
                [Fingerprint.Status.ACTIVE, batch_id],
            )
            return dict(cursor.fetchall())
        cursor.execute(
            f"""
            SELECT item.position, fingerprint.id
            FROM {BatchItem._meta.db_table} AS item
            CROSS JOIN LATERAL (
                SELECT published.id FROM {Fingerprint._meta.db_table} AS published
                WHERE published.kind = item.kind AND published.value = item.value
                  AND published.status = %s AND published.added_seq IS NOT NULL
                LIMIT 1
            ) AS fingerprint
            WHERE item.batch_id = %s
            """,
            [Fingerprint.Status.ACTIVE, batch_id],
        )
        return dict(cursor.fetchall())


def _near(rest: list[tuple[int, str]], *, max_distance: int) -> dict[int, _Outcome]:
    positions = np.fromiter((p for p, _ in rest), dtype=np.int64, count=len(rest))
    hashes = np.frombuffer(bytes.fromhex("".join(v for _, v in rest)), dtype=">u8").astype(np.uint64).reshape(-1, 4)
    published = published_pdq_index()
    own = PDQIndex.build(positions, hashes)
    # The two passes are independent and the compiled kernels release the GIL: run them side
    # by side (plain threads, not numba's thread pool, which is not safe in forked workers).
    # A large batch against the published index takes the batch join, which also spreads
    # itself over plain threads.
    threads = 2 if published.joins(len(hashes), max_distance) else 1
    with ThreadPoolExecutor(max_workers=2) as pool:
        against_published = (
            pool.submit(published.query_many, hashes, max_distance, threads=threads) if len(published) else None
        )
        within_batch = pool.submit(own.query_many, hashes, max_distance)
        published_results = against_published.result() if against_published else None
        own_results = within_batch.result()

    best: dict[int, _Outcome] = {}
    if published_results is not None:
        for position, (ids, distances) in zip(positions.tolist(), published_results, strict=True):
            if len(ids):  # sorted by distance, then id
                best[position] = _Outcome(BatchItem.Outcome.NEAR_DUPLICATE, fingerprint=int(ids[0]), distance=int(distances[0]))
    # Within the batch: each distinct value left against the earlier ones (its own position is
    # always among its results, at distance 0, so only results with more than one entry count).
    for position, (ids, distances) in zip(positions.tolist(), own_results, strict=True):
        if len(ids) < 2:
            continue
        earlier = np.flatnonzero(ids < position)
        if not len(earlier):
            continue
        nearest = int(earlier[0])  # results are sorted by distance: the first earlier one
        candidate = _Outcome(BatchItem.Outcome.NEAR_DUPLICATE, position=int(ids[nearest]), distance=int(distances[nearest]))
        if position not in best or candidate.distance < best[position].distance:
            best[position] = candidate
    return best


def _write(batch_id: int, outcomes: dict[int, _Outcome]) -> None:
    """Everything `new`, the others with their match: on PostgreSQL each row is updated once
    (the others from one unnest, then the rest), elsewhere all `new` first, then the others.

    On PostgreSQL the arrays travel as array literals (one text parameter each): psycopg2 turns
    a list into an ARRAY[...] expression of one constant per element, which the server parses
    and plans (~0.35 s for the five arrays of 43k outcomes)."""
    rows = sorted(outcomes.items())
    if connection.vendor == "postgresql":
        positions = _array_literal(p for p, _ in rows)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {BatchItem._meta.db_table}
                SET outcome = %s, match_fingerprint_id = NULL, match_position = NULL, distance = NULL
                WHERE batch_id = %s AND NOT (position = ANY(%s::integer[]))
                """,
                [BatchItem.Outcome.NEW, batch_id, positions],
            )
            if not rows:
                return
            cursor.execute(
                f"""
                UPDATE {BatchItem._meta.db_table} AS item
                SET outcome = v.outcome, match_fingerprint_id = v.fingerprint,
                    match_position = v.match_position, distance = v.distance
                FROM unnest(%s::integer[], %s::text[], %s::bigint[], %s::integer[], %s::integer[])
                    AS v(position, outcome, fingerprint, match_position, distance)
                WHERE item.batch_id = %s AND item.position = v.position
                """,
                [
                    positions,
                    _array_literal(o.outcome for _, o in rows),
                    _array_literal(o.fingerprint for _, o in rows),
                    _array_literal(o.position for _, o in rows),
                    _array_literal(o.distance for _, o in rows),
                    batch_id,
                ],
            )
        return
    BatchItem.objects.filter(batch_id=batch_id).update(
        outcome=BatchItem.Outcome.NEW, match_fingerprint=None, match_position=None, distance=None
    )
    if not rows:
        return
    # The embedded SQLite default: batches there are small, and an IN list of 100k would not fit.
    by_position = {item.position: item for item in BatchItem.objects.filter(batch_id=batch_id)}
    changed = []
    for position, result in rows:
        item = by_position[position]
        item.outcome, item.match_fingerprint_id = result.outcome, result.fingerprint
        item.match_position, item.distance = result.position, result.distance
        changed.append(item)
    BatchItem.objects.bulk_update(changed, ["outcome", "match_fingerprint", "match_position", "distance"], batch_size=1000)


def _array_literal(values: Iterable[int | str | None]) -> str:
    """A PostgreSQL array literal of integers or plain words (outcomes), NULL for None."""
    return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"
