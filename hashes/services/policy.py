"""The consortium's policy, edited by staff. Every change is an audit entry with old and new."""
from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from consortium.audit.services import Actor, audit_append
from consortium.errors import InvalidInput
from hashes.models import Policy
from hashes.selectors import policy_current

EDITABLE = {
    # field: (minimum, maximum)
    "approvals_required": (0, 100),
    "rejections_required": (0, 100),
    "voting_window": (60, 90 * 24 * 3600),
    "pdq_max_distance": (0, 31),
    "pdq_min_quality": (0, 100),
    "dispute_threshold": (0, 100),
    "incident_approvals_required": (1, 100),
}


def policy_update(*, actor: Actor, changes: dict[str, Any]) -> Policy:
    """Apply `changes` (a subset of EDITABLE). Batches already voting keep the quorum they
    opened with; dedup and matching use the new distance from now on."""
    for field, value in changes.items():
        if field not in EDITABLE:
            raise InvalidInput(f"{field} is not a policy setting.", pointer=f"/{field}")
        low, high = EDITABLE[field]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise InvalidInput(f"{field} is a whole number from {low} to {high}.", pointer=f"/{field}")
    with transaction.atomic():
        policy = Policy.objects.select_for_update().get(pk=policy_current().pk)
        old = {field: getattr(policy, field) for field in changes}
        changed = {field: value for field, value in changes.items() if old[field] != value}
        if not changed:
            return policy
        for field, value in changed.items():
            setattr(policy, field, value)
        policy.updated = timezone.now()
        policy.save(update_fields=[*changed, "updated"])
        audit_append(
            actor=actor, action="policy.changed", subject="policy", old={f: old[f] for f in changed}, new=changed
        )
    return policy
