"""Reads of the hashes app: the policy, labels, batches as their callers see them."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db.models import Exists, OuterRef, QuerySet

from consortium.errors import InvalidInput
from hashes.kinds import NAMES, REGISTRY, KindError
from hashes.models import Batch, BatchItem, Fingerprint, FingerprintSource, Label, Policy, Vote


def policy_current() -> Policy:
    """The policy in force (the row migrations create; recreated with defaults if deleted)."""
    policy, _ = Policy.objects.get_or_create(id=1)
    return policy


def label_usable_slugs() -> set[str]:
    """Slugs new submissions may use: every label not retired."""
    return set(Label.objects.filter(retired__isnull=True).values_list("slug", flat=True))


def batch_list(*, status: str | None = None, member: str | None = None) -> QuerySet[Batch]:
    batches = Batch.objects.select_related("member", "key").prefetch_related("votes")
    if status:
        batches = batches.filter(status=status)
    if member:
        batches = batches.filter(member__slug=member)
    return batches


def batch_items(*, batch: Batch, outcome: str | None = None, kind: str | None = None) -> QuerySet[BatchItem]:
    items = BatchItem.objects.filter(batch=batch).select_related("match_fingerprint")
    if outcome:
        items = items.filter(outcome=outcome)
    if kind:
        items = items.filter(kind=kind)
    return items


MAX_MATCHES_PER_QUERY = 100


def match_queries(queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Look each query up among published, active fingerprints (PROTOCOL §7).

    Exact kinds match on the normalized value; kinds with a distance (PDQ) match within
    `max_distance` (default and maximum: the policy's), nearest first, at most 100 per query.
    Every bad query is reported (422 with pointers) before anything is looked up.
    """
    from hashes.pdq_published import published_pdq_index

    policy_distance = policy_current().pdq_max_distance
    errors: list[dict[str, str]] = []
    normalized: list[tuple[str, str, int]] = []
    for i, query in enumerate(queries):
        kind = REGISTRY.get(query["kind"])
        if kind is None:
            errors.append({"pointer": f"/queries/{i}/kind", "code": "unknown_kind", "message": f"kind is one of {', '.join(NAMES)}."})
            continue
        try:
            value = kind.normalize(query["value"])
        except KindError as exc:
            errors.append({"pointer": f"/queries/{i}/value", "code": exc.code, "message": str(exc)})
            continue
        distance = query.get("max_distance")
        if distance is not None and not kind.near_duplicates:
            errors.append({"pointer": f"/queries/{i}/max_distance", "code": "not_near", "message": f"{kind.name} matches exactly; drop max_distance."})
            continue
        if distance is not None and distance > policy_distance:
            errors.append({"pointer": f"/queries/{i}/max_distance", "code": "too_far", "message": f"max_distance is at most the policy's {policy_distance}."})
            continue
        normalized.append((kind.name, value, policy_distance if distance is None else distance))
    if errors:
        raise InvalidInput(f"{len(errors)} of the queries are invalid; nothing was looked up.", errors=errors[:1000])

    found: list[list[tuple[int, int]]] = [[] for _ in normalized]  # (fingerprint id, distance)
    exact: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    near: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, (kind, value, distance) in enumerate(normalized):
        if REGISTRY[kind].near_duplicates:
            near[(kind, distance)].append(i)
        else:
            exact[kind][value].append(i)
    active = Fingerprint.objects.filter(status=Fingerprint.Status.ACTIVE, added_seq__isnull=False)
    for kind, by_value in exact.items():
        for fid, value in active.filter(kind=kind, value__in=list(by_value)).values_list("id", "value"):
            for i in by_value[value]:
                found[i].append((fid, 0))
    for (_kind, distance), positions in near.items():
        index = published_pdq_index()
        hashes = np.frombuffer(bytes.fromhex("".join(normalized[i][1] for i in positions)), dtype=">u8")
        results = index.query_many(hashes.astype(np.uint64).reshape(-1, 4), distance)
        for i, (ids, distances) in zip(positions, results, strict=True):
            found[i] = list(zip(ids[:MAX_MATCHES_PER_QUERY].tolist(), distances[:MAX_MATCHES_PER_QUERY].tolist(), strict=True))

    wanted = {fid for matches in found for fid, _ in matches}
    rows = {row["id"]: row for row in active.filter(id__in=wanted).values("id", "kind", "value", "labels", "added_seq")}
    members: dict[int, list[str]] = defaultdict(list)
    for fid, slug in FingerprintSource.objects.filter(fingerprint_id__in=wanted).order_by("member__slug").values_list("fingerprint_id", "member__slug"):
        members[fid].append(slug)
    return [
        {
            "query": i,
            "matches": [
                {
                    "fingerprint": fid,
                    "kind": rows[fid]["kind"],
                    "value": rows[fid]["value"],
                    "distance": distance,
                    "labels": rows[fid]["labels"],
                    "seq": rows[fid]["added_seq"],
                    "members": members[fid],
                }
                for fid, distance in matches
                if fid in rows  # retracted between the index look-up and this read
            ],
        }
        for i, matches in enumerate(found)
    ]


@dataclass(frozen=True)
class SearchHit:
    fingerprint: Fingerprint
    distance: int
    kind_tried: str


def fingerprint_search(*, value: str, kind: str | None = None, max_distance: int = 0, limit: int = MAX_MATCHES_PER_QUERY) -> tuple[list[SearchHit], list[str]]:
    """Published fingerprints (active or retracted) with this value as any kind that accepts it,
    or as `kind` only; for kinds with a distance (PDQ), also active ones within `max_distance`.

    Returns the hits, nearest first (at most `limit`), and the kinds the value was read as.
    Raises InvalidInput when no kind (or not the given kind) accepts the value.
    """
    from hashes.pdq_published import published_pdq_index

    text = value.strip()
    candidates = [REGISTRY[kind]] if kind else [REGISTRY[name] for name in NAMES]
    readings: list[tuple[str, str]] = []
    reasons: list[str] = []
    for candidate in candidates:
        try:
            readings.append((candidate.name, candidate.normalize(text)))
        except KindError as exc:
            reasons.append(f"{candidate.name}: {exc}")
    if not readings:
        raise InvalidInput("No fingerprint kind accepts this value. " + " ".join(reasons), pointer="/value")
    published = Fingerprint.objects.filter(added_seq__isnull=False)
    hits: dict[int, SearchHit] = {}
    for name, normalized in readings:
        for fingerprint in published.filter(kind=name, value=normalized):
            hits[fingerprint.pk] = SearchHit(fingerprint, 0, name)
        if REGISTRY[name].near_duplicates and max_distance > 0:
            query = np.frombuffer(bytes.fromhex(normalized), dtype=">u8").astype(np.uint64).reshape(1, 4)
            ids, distances = published_pdq_index().query_many(query, max_distance)[0]
            order = np.argsort(distances, kind="stable")[:limit]
            near = {int(ids[i]): int(distances[i]) for i in order}
            for fingerprint in published.filter(pk__in=list(near)):
                if fingerprint.pk not in hits:
                    hits[fingerprint.pk] = SearchHit(fingerprint, near[fingerprint.pk], name)
    ordered = sorted(hits.values(), key=lambda hit: (hit.distance, hit.fingerprint.pk))[:limit]
    return ordered, [name for name, _ in readings]


def review_queue(*, user: Any) -> QuerySet[Batch]:
    """Batches awaiting the user's member's vote: voting, of another active member, not voted on
    by the member yet; for staff, fast-tracked batches without the staff vote. Oldest first."""
    voting = Batch.objects.filter(status=Batch.Status.VOTING, member__status="active").order_by("voting_opened", "id")
    if user.member_id:
        ours = Vote.objects.filter(batch=OuterRef("pk"), member_id=user.member_id)
        return voting.exclude(member_id=user.member_id).exclude(Exists(ours))
    staff_vote = Vote.objects.filter(batch=OuterRef("pk"), member__isnull=True)
    return voting.filter(incident__isnull=False).exclude(Exists(staff_vote))
