"""Appending to the audit log. Every state-changing service calls `audit_append` in its own
transaction, so a change and its entry commit or roll back together (PROTOCOL §9)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from consortium.audit.models import AuditEntry, AuditHead
from consortium.signing import jcs

if TYPE_CHECKING:
    from members.models import User

MAX_ENTRY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Actor:
    """Who made a change: a member's user, staff, or (both None) the operator's command line."""

    member: str | None
    user: str | None

    @classmethod
    def of(cls, user: User | None) -> Actor:
        if user is None:
            return SYSTEM
        return cls(member=user.member.slug if user.member_id else None, user=user.username)

    def as_json(self) -> dict[str, str | None]:
        return {"member": self.member, "user": self.user}


SYSTEM = Actor(member=None, user=None)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 UTC with a `Z`, microseconds kept: the one time format of every document."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def audit_append(*, actor: Actor, action: str, subject: str, **fields: Any) -> AuditEntry:
    """Append one entry `{"v", "index", "time", "actor", "action", "subject", **fields}`.

    Call inside the transaction that makes the change, as its last write: the UPDATE on the head
    row takes a row lock that orders concurrent appends (gapless indexes) and is held until
    commit, so the shorter the rest of the transaction after it, the less appends queue.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_append must run inside the transaction of the change it records")
    now = timezone.now()
    # A conditional UPDATE ... RETURNING-style increment: the row lock serializes appenders.
    updated = AuditHead.objects.filter(pk=1).update(size=F("size") + 1)
    if updated != 1:
        raise RuntimeError("the audit head row is missing; run migrations")
    index = AuditHead.objects.values_list("size", flat=True).get(pk=1) - 1
    entry = {
        "v": 1,
        "index": index,
        "time": rfc3339(now),
        "actor": actor.as_json(),
        "action": action,
        "subject": subject,
        **fields,
    }
    body = jcs(entry)
    if len(body) > MAX_ENTRY_BYTES:
        raise ValueError(f"audit entry for {action} is {len(body)} bytes; refer to large documents by sha256")
    return AuditEntry.objects.create(
        index=index,
        time=now,
        action=action,
        subject=subject,
        actor_member=actor.member,
        actor_user=actor.user,
        body=body,
    )
