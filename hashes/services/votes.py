"""Votes and the decisions they trigger (PROTOCOL §5).

Concurrency: `vote_cast` locks the batch row (SELECT … FOR UPDATE) before it reads the tallies,
so votes on one batch are applied one at a time across every web process: none is lost and the
tallies a decision is made on are complete. The decision itself is a conditional UPDATE from
`voting`, so a withdrawal or the expiry sweep racing the deciding vote cannot double-decide.
"""
from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from consortium.audit.services import SYSTEM, Actor, audit_append
from consortium.errors import Conflict, InvalidInput, NotAllowed
from hashes import rules
from hashes.models import Batch, Vote
from hashes.services import hooks
from members.models import Member, User

MAX_REASON = 5000


def batch_quorum(batch: Batch) -> rules.Quorum:
    """The quorum stored on a batch when it opened for voting. Precondition: it did."""
    assert batch.closes_at is not None and batch.approvals_required is not None
    return rules.Quorum(
        approvals_required=batch.approvals_required,
        rejections_required=batch.rejections_required or 0,
        closes_at=batch.closes_at,
    )


def batch_tallies(batch_id: int) -> dict[str, int]:
    counts = Vote.objects.filter(batch_id=batch_id).aggregate(
        approve=Count("id", filter=Q(decision=Vote.Decision.APPROVE)),
        reject=Count("id", filter=Q(decision=Vote.Decision.REJECT)),
    )
    return {"approve": counts["approve"], "reject": counts["reject"]}


def vote_cast(*, user: User, batch: Batch, decision: str, reason: str = "") -> tuple[Vote, Batch]:
    """Record (or change) the caller's member's vote and decide the batch if the quorum is met.

    Refused: on a batch not `voting` (Conflict), by the submitting member (NotAllowed), by staff
    on a batch that is not fast-tracked, with a bad decision or an overlong reason. A vote
    arriving after the window closed expires the batch instead of counting. Side effects, in
    one transaction: the vote, a `vote.cast` or `vote.changed` audit entry, and when decided,
    the batch's new status and a `batch.decided` entry.
    """
    if decision not in Vote.Decision.values:
        raise InvalidInput("decision is approve or reject.", pointer="/decision")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(f"reason is a text of at most {MAX_REASON} characters.", pointer="/reason")
    member = user.member
    if member is None and not user.is_staff:
        raise NotAllowed("Only members' analysts and admins, and consortium staff on fast-tracked batches, vote.")
    actor = Actor.of(user)
    late = False
    with transaction.atomic():
        locked = Batch.objects.select_for_update(of=("self",)).select_related("member").get(pk=batch.pk)
        if locked.status != Batch.Status.VOTING:
            raise Conflict(f"The batch is {locked.status}; votes are taken only while it is voting.", pointer="")
        if member is not None and locked.member_id == member.pk:
            raise NotAllowed("A member does not vote on its own batch.")
        if not locked.member.is_active:
            raise Conflict("The submitting member is suspended: voting on its batches is paused.", pointer="")
        if member is None and locked.incident_id is None:
            raise NotAllowed("Staff vote only on batches fast-tracked by an open incident.")
        now = timezone.now()
        if not rules.is_open(quorum=batch_quorum(locked), now=now):
            # The sweep has not run yet: expire it now (committed), then refuse the vote.
            late = _decide(locked, rules.Decision.EXPIRED, actor=SYSTEM, now=now)
        else:
            vote, created = _record(locked, user=user, member=member, decision=decision, reason=reason, now=now)
            if created is None:
                return vote, locked  # the same vote again: nothing changes, nothing is logged
            audit_append(
                actor=actor,
                action="vote.cast" if created else "vote.changed",
                subject=f"batch:{locked.pk}",
                decision=decision,
                reason=reason,
            )
            tallies = batch_tallies(locked.pk)
            outcome = rules.decide(
                approvals=tallies["approve"], rejections=tallies["reject"], quorum=batch_quorum(locked), now=now
            )
            if outcome is not None:
                _decide(locked, outcome, actor=actor, now=now, tallies=tallies)
    if late:
        raise Conflict("The voting window closed before this vote; the batch has expired.", pointer="")
    locked.refresh_from_db()
    return vote, locked


def _record(
    batch: Batch, *, user: User, member: Member | None, decision: str, reason: str, now: datetime
) -> tuple[Vote, bool | None]:
    """Insert or change the member's vote. `created` is None when it was already exactly so."""
    vote, created = Vote.objects.get_or_create(
        batch=batch, member=member, defaults={"user": user, "decision": decision, "reason": reason}
    )
    if created:
        return vote, True
    if (vote.decision, vote.reason) == (decision, reason):
        return vote, None
    Vote.objects.filter(pk=vote.pk).update(user=user, decision=decision, reason=reason, updated=now)
    vote.refresh_from_db()
    return vote, False


def _decide(
    batch: Batch, outcome: rules.Decision, *, actor: Actor, now: datetime, tallies: dict[str, int] | None = None
) -> bool:
    """Move a voting batch to its decision: a conditional UPDATE, so it happens once."""
    moved = Batch.objects.filter(pk=batch.pk, status=Batch.Status.VOTING).update(status=outcome.value, decided=now)
    if moved:
        audit_append(
            actor=actor,
            action="batch.decided",
            subject=f"batch:{batch.pk}",
            decision=outcome.value,
            tallies=tallies or batch_tallies(batch.pk),
            member=batch.member.slug,
        )
        hooks.batch_decided(batch.pk, outcome.value)
    return bool(moved)


def batch_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Expire voting batches whose window has closed; returns how many. Idempotent: each batch
    is expired by a conditional UPDATE in its own transaction, after taking its row lock so
    that a vote being counted at that moment finishes first."""
    now = now or timezone.now()
    due = list(
        Batch.objects.filter(status=Batch.Status.VOTING, closes_at__lte=now).order_by("closes_at").values_list("id", flat=True)[:limit]
    )
    expired = 0
    for batch_id in due:
        with transaction.atomic():
            batch = Batch.objects.select_for_update(of=("self",)).select_related("member").get(pk=batch_id)
            if batch.status != Batch.Status.VOTING:
                continue
            tallies = batch_tallies(batch_id)
            outcome = rules.decide(approvals=tallies["approve"], rejections=tallies["reject"], quorum=batch_quorum(batch), now=now)
            if outcome is not None and _decide(batch, outcome, actor=SYSTEM, now=now, tallies=tallies):
                expired += outcome == rules.Decision.EXPIRED
    return expired
