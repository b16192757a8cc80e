"""The workplace dashboard: activity over the last weeks as charts, the open incidents, and the
backlog that needs people. Private figures (deliveries, endpoints) are the viewer's member's,
or everyone's for staff and auditors, as elsewhere in the admin."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from consortium.admin_access import PEOPLE, SUBMITTERS, VOTERS, may, member_scoped, sees_everything
from consortium.charts import Series, stacked_bars
from hashes.models import Batch, Delivery, Fingerprint, Incident, Release, Vote
from hashes.selectors import review_queue
from members.models import Endpoint, Role
from members.permissions import STAFF

DAYS = 30
OPEN = [Batch.Status.RECEIVED, Batch.Status.VOTING]
ACCEPTED = [Batch.Status.APPROVED, Batch.Status.PUBLISHED]
REFUSED = [Batch.Status.REJECTED, Batch.Status.EXPIRED, Batch.Status.WITHDRAWN]


def _per_day(queryset: QuerySet[Any], field: str, days: list[date], *, split: str | None = None, total: str | None = None) -> dict[Any, list[int]]:
    """{split value: [count or sum per day]} over `days`, from one grouped query."""
    rows = (
        queryset.filter(**{f"{field}__date__gte": days[0]})
        .annotate(day=TruncDate(field))
        .values("day", *([split] if split else []))
        .annotate(n=Sum(total) if total else Count("pk"))
    )
    out: dict[Any, list[int]] = defaultdict(lambda: [0] * len(days))
    where = {day: i for i, day in enumerate(days)}
    for row in rows:
        if row["day"] in where:
            out[row[split] if split else None][where[row["day"]]] += row["n"] or 0
    return out


def _deliveries(user: Any) -> QuerySet[Delivery]:
    return member_scoped(user, Delivery.objects.all(), "endpoint__member")


def dashboard_context(user: Any) -> dict[str, Any]:
    today = timezone.now().date()
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]

    by_status = _per_day(Batch.objects.all(), "received", days, split="status")
    submissions = [
        Series("accepted", "s-ok", _sum_rows(by_status, ACCEPTED, days)),
        Series("refused or withdrawn", "s-bad", _sum_rows(by_status, REFUSED, days)),
        Series("still open", "s-info", _sum_rows(by_status, OPEN, days)),
    ]
    by_decision = _per_day(Vote.objects.all(), "updated", days, split="decision")
    votes = [Series("approve", "s-ok", by_decision[Vote.Decision.APPROVE]), Series("reject", "s-bad", by_decision[Vote.Decision.REJECT])]
    adds = _per_day(Release.objects.all(), "published_at", days, total="adds")[None]
    removes = _per_day(Release.objects.all(), "published_at", days, total="removes")[None]
    published = [Series("added", "s-ok", adds), Series("retracted", "s-bad", removes)]
    by_delivery = _per_day(_deliveries(user), "created", days, split="status")
    deliveries = [
        Series("delivered", "s-ok", by_delivery[Delivery.Status.DELIVERED]),
        Series("retrying", "s-warn", by_delivery[Delivery.Status.PENDING]),
        Series("failed", "s-bad", by_delivery[Delivery.Status.FAILED]),
    ]
    charts = [
        stacked_bars(days=days, series=submissions, title=f"Batches submitted, last {DAYS} days"),
        stacked_bars(days=days, series=votes, title="Votes cast"),
        stacked_bars(days=days, series=published, title="Fingerprints published"),
        stacked_bars(
            days=days, series=deliveries,
            title="Deliveries to endpoints" + ("" if sees_everything(user) else " (ours)"),
        ),
    ]
    queue = (
        list(review_queue(user=user).select_related("member")[:5]) if may(user, VOTERS) else []
    )
    return {
        "queue": queue,
        "charts": charts,
        "cards": _backlog(user),
        "open_incidents": list(
            Incident.objects.filter(closed__isnull=True).select_related("label").annotate(n=Count("batches")).order_by("declared")
        ),
    }


def _sum_rows(rows: dict[Any, list[int]], keys: list[str], days: list[date]) -> list[int]:
    return [sum(rows[key][i] for key in keys) for i in range(len(days))]


def _backlog(user: Any) -> list[dict[str, Any]]:
    """What waits for someone: each card a count, what it is, where to act, and whether it needs attention."""
    cards: list[dict[str, Any]] = []
    batches = reverse("admin:hashes_batch_changelist")
    if may(user, VOTERS):
        waiting = review_queue(user=user).count()
        what = "awaiting our vote" if user.member_id else "fast-tracked, awaiting the staff vote"
        cards.append({"n": waiting, "what": what, "url": reverse("admin:hashes_reviewqueue_changelist"), "attention": waiting > 0})
    if user.member_id and may(user, SUBMITTERS):
        ours = Batch.objects.filter(member_id=user.member_id, status__in=OPEN).count()
        cards.append({"n": ours, "what": "of our batches still open", "url": reverse("admin:hashes_submission_changelist")})
    counts = Batch.objects.aggregate(
        voting=Count("pk", filter=Q(status=Batch.Status.VOTING)),
        received=Count("pk", filter=Q(status=Batch.Status.RECEIVED)),
        approved=Count("pk", filter=Q(status=Batch.Status.APPROVED)),
    )
    if may(user, VOTERS | {Role.AUDITOR}):
        cards.append({"n": counts["voting"], "what": "batches voting (all members)", "url": f"{batches}?status__exact=voting"})
        cards.append({"n": counts["received"], "what": "batches deduplicating", "url": f"{batches}?status__exact=received"})
        cards.append({"n": counts["approved"], "what": "approved, awaiting release", "url": f"{batches}?status__exact=approved", "attention": counts["approved"] > 0})
    queued = Fingerprint.objects.filter(retraction_queued__isnull=False, status=Fingerprint.Status.ACTIVE).count()
    cards.append({"n": queued, "what": "retractions queued", "url": reverse("admin:hashes_fingerprint_changelist")})
    if may(user, PEOPLE | {STAFF}):
        delivery = _deliveries(user).aggregate(
            pending=Count("pk", filter=Q(status=Delivery.Status.PENDING)),
            failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        )
        deliveries = reverse("admin:hashes_delivery_changelist")
        cards.append({"n": delivery["pending"], "what": "deliveries retrying or queued", "url": f"{deliveries}?status__exact=pending"})
        cards.append({"n": delivery["failed"], "what": "deliveries failed", "url": f"{deliveries}?status__exact=failed", "bad": delivery["failed"] > 0})
        disabled = member_scoped(user, Endpoint.objects.filter(enabled=False), "member").count()
        cards.append({"n": disabled, "what": "endpoints disabled", "url": reverse("admin:members_endpoint_changelist") + "?enabled__exact=0", "bad": disabled > 0})
    if sees_everything(user):
        from consortium.audit.selectors import audit_log_size, latest_checkpoint

        latest = latest_checkpoint()
        behind = audit_log_size() - (latest.size if latest else 0)
        cards.append({"n": behind, "what": "log entries not yet in a signed checkpoint", "url": reverse("admin:audit_checkpoint_changelist")})
    return cards
