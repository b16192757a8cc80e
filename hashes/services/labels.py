"""The label taxonomy, managed by consortium staff. Every change is an audit entry."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from consortium.audit.services import Actor, audit_append
from consortium.errors import Conflict, InvalidInput
from hashes.models import Label


def label_create(*, actor: Actor, slug: str, name: str, dimension: str, description: str = "") -> Label:
    if dimension not in Label.Dimension.values:
        raise InvalidInput(f"dimension is one of {', '.join(Label.Dimension.values)}.", pointer="/dimension")
    try:
        with transaction.atomic():
            label = Label.objects.create(slug=slug, name=name, dimension=dimension, description=description)
            audit_append(actor=actor, action="label.created", subject=f"label:{slug}", name=name, dimension=dimension)
    except IntegrityError:
        raise Conflict(f"The label {slug!r} exists already.", pointer="/slug") from None
    return label


def label_update(*, actor: Actor, label: Label, name: str, description: str) -> Label:
    """Rename or redescribe; the slug and dimension never change (history refers to them)."""
    with transaction.atomic():
        Label.objects.filter(pk=label.pk).update(name=name, description=description)
        audit_append(actor=actor, action="label.updated", subject=f"label:{label.slug}", name=name, description=description)
    label.name, label.description = name, description
    return label


def label_set_retired(*, actor: Actor, label: Label, retired: bool) -> bool:
    """Retire (new batches may no longer use it; what carries it keeps it) or restore."""
    with transaction.atomic():
        rows = Label.objects.filter(pk=label.pk, retired__isnull=retired)
        moved = rows.update(retired=timezone.now() if retired else None)
        if moved:
            action = "label.retired" if retired else "label.restored"
            audit_append(actor=actor, action=action, subject=f"label:{label.slug}")
    label.refresh_from_db()
    return bool(moved)
