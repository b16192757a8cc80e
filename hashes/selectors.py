"""Reads of the hashes app: the policy, labels, batches as their callers see them."""
from __future__ import annotations

from django.db.models import QuerySet

from hashes.models import Batch, BatchItem, Label, Policy


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
