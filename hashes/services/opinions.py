"""Members' opinions on published fingerprints, and retraction (PROTOCOL §5)."""
from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from consortium.audit.services import Actor, audit_append
from consortium.errors import Conflict, InvalidInput, NotAllowed
from hashes import rules
from hashes.models import Fingerprint, Opinion
from hashes.selectors import policy_current
from members.models import User

MAX_REASON = 5000


def opinion_set(*, user: User, fingerprint: Fingerprint, opinion: str, reason: str = "") -> Opinion:
    """Record the member's affirmation or dispute (changeable). When disputes reach the policy's
    threshold the fingerprint is queued for retraction: the next release removes it.

    Locks the fingerprint row, so concurrent disputes are counted one after another and the
    queueing happens once. Side effects: the opinion, an `opinion.set` audit entry, and when
    the threshold is reached, `retraction_queued` and a `fingerprint.retraction_queued` entry.
    """
    if opinion not in Opinion.Kind.values:
        raise InvalidInput("opinion is affirm or dispute.", pointer="/opinion")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise InvalidInput(f"reason is a text of at most {MAX_REASON} characters.", pointer="/reason")
    if opinion == Opinion.Kind.DISPUTE and not (isinstance(reason, str) and reason.strip()):
        raise InvalidInput("A dispute needs a reason: what is wrong with this fingerprint?", pointer="/reason")
    if user.member is None:
        raise NotAllowed("Opinions are members'; staff retract directly.")
    actor = Actor.of(user)
    with transaction.atomic():
        locked = Fingerprint.objects.select_for_update().get(pk=fingerprint.pk)
        if locked.status != Fingerprint.Status.ACTIVE or locked.added_seq is None:
            raise Conflict("Only published, active fingerprints take opinions.", pointer="")
        row, created = Opinion.objects.get_or_create(
            fingerprint=locked, member=user.member, defaults={"user": user, "opinion": opinion, "reason": reason}
        )
        if not created:
            if (row.opinion, row.reason) == (opinion, reason):
                return row
            Opinion.objects.filter(pk=row.pk).update(user=user, opinion=opinion, reason=reason, updated=timezone.now())
            row.refresh_from_db()
        audit_append(actor=actor, action="opinion.set", subject=f"fingerprint:{locked.pk}", opinion=opinion, reason=reason)
        disputes = Opinion.objects.filter(fingerprint=locked).aggregate(n=Count("id", filter=Q(opinion=Opinion.Kind.DISPUTE)))["n"]
        if locked.retraction_queued is None and rules.disputes_retract(disputes=disputes, threshold=policy_current().dispute_threshold):
            _queue_retraction(locked, actor=actor, reason=f"{disputes} disputes")
    return row


def fingerprint_retract(*, user: User, fingerprint: Fingerprint, reason: str) -> bool:
    """Staff queue a published fingerprint for retraction directly. False if already queued."""
    if not user.is_staff:
        raise NotAllowed("Only consortium staff retract fingerprints directly; members dispute them.")
    if not reason.strip():
        raise InvalidInput("A retraction needs a reason.", pointer="/reason")
    with transaction.atomic():
        locked = Fingerprint.objects.select_for_update().get(pk=fingerprint.pk)
        if locked.status != Fingerprint.Status.ACTIVE or locked.added_seq is None:
            raise Conflict("Only published, active fingerprints can be retracted.", pointer="")
        if locked.retraction_queued is not None:
            return False
        _queue_retraction(locked, actor=Actor.of(user), reason=reason)
    return True


def _queue_retraction(fingerprint: Fingerprint, *, actor: Actor, reason: str) -> None:
    from hashes.tasks import release_publish_retractions_task

    Fingerprint.objects.filter(pk=fingerprint.pk).update(retraction_queued=timezone.now())
    release_publish_retractions_task.delay_on_commit()
    audit_append(
        actor=actor,
        action="fingerprint.retraction_queued",
        subject=f"fingerprint:{fingerprint.pk}",
        kind=fingerprint.kind,
        value=fingerprint.value,
        reason=reason,
    )
