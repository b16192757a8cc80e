"""Member companies: creation, suspension and reactivation (consortium staff)."""
from __future__ import annotations

from django.db import IntegrityError, transaction

from consortium.audit.services import Actor, audit_append
from consortium.errors import Conflict, InvalidInput
from members.models import Member


def member_create(*, actor: Actor, slug: str, name: str) -> Member:
    """Create an active member. Raises Conflict when the slug is taken."""
    if not name.strip():
        raise InvalidInput("A member needs a name.", pointer="/name")
    try:
        with transaction.atomic():
            member = Member.objects.create(slug=slug, name=name.strip())
            audit_append(actor=actor, action="member.created", subject=f"member:{slug}", name=member.name)
    except IntegrityError:
        raise Conflict(f"A member with the slug {slug!r} exists already.", pointer="/slug") from None
    return member


def member_set_status(*, actor: Actor, member: Member, status: Member.Status) -> bool:
    """Suspend or reactivate. Tokens of a suspended member stop working at once (each request
    reads the member's status). Returns False, and logs nothing, when it already had `status`."""
    with transaction.atomic():
        # Conditional UPDATE: of two staff clicking at once, one changes it, one sees no row move.
        moved = Member.objects.filter(pk=member.pk).exclude(status=status).update(status=status)
        if moved:
            action = "member.suspended" if status == Member.Status.SUSPENDED else "member.reactivated"
            audit_append(actor=actor, action=action, subject=f"member:{member.slug}")
    member.status = status
    return bool(moved)
