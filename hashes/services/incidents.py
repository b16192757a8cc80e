"""Content incidents: staff declare one for a label; its batches are fast-tracked while open."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from consortium.audit.services import Actor, audit_append
from consortium.errors import Conflict, InvalidInput, NotAllowed
from hashes.models import Incident, Label
from members.models import User


def incident_declare(*, user: User, label: Label, title: str) -> Incident:
    """Open an incident on `label`. Batches opening for voting from now on with that label need
    only the policy's `incident_approvals_required` approvals. Staff only; one open per label."""
    if not user.is_staff:
        raise NotAllowed("Only consortium staff declare incidents.")
    if not title.strip():
        raise InvalidInput("An incident needs a title.", pointer="/title")
    if label.retired is not None:
        raise InvalidInput(f"The label {label.slug!r} is retired.", pointer="/label")
    try:
        with transaction.atomic():
            incident = Incident.objects.create(label=label, title=title.strip(), declared_by=user)
            audit_append(
                actor=Actor.of(user), action="incident.declared", subject=f"incident:{incident.pk}", label=label.slug, title=incident.title
            )
    except IntegrityError:
        raise Conflict(f"An incident on {label.slug!r} is open already; close it first.", pointer="/label") from None
    return incident


def incident_close(*, user: User, incident: Incident) -> bool:
    """Close an open incident (batches already fast-tracked keep their quorum)."""
    if not user.is_staff:
        raise NotAllowed("Only consortium staff close incidents.")
    with transaction.atomic():
        moved = Incident.objects.filter(pk=incident.pk, closed__isnull=True).update(closed=timezone.now(), closed_by=user)
        if moved:
            audit_append(actor=Actor.of(user), action="incident.closed", subject=f"incident:{incident.pk}", label=incident.label.slug)
    incident.refresh_from_db()
    return bool(moved)
