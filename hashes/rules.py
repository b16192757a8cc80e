"""Pure rules of the consortium's process: no ORM, no clock reads, easy to test at every edge."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Quorum:
    """What a batch needs, fixed when it opened for voting (later policy edits don't apply)."""

    approvals_required: int
    rejections_required: int
    closes_at: datetime


def decide(*, approvals: int, rejections: int, quorum: Quorum, now: datetime) -> Decision | None:
    """The decision on a batch with these tallies at `now`, or None while voting goes on.

    - Rejections reaching `rejections_required` reject; this is checked first, so when both
      tallies reach their quorum at once (possible only with quorums of 1 or a policy edit)
      the batch is rejected: publishing contested fingerprints costs more than waiting.
    - Approvals reaching `approvals_required` approve.
    - A required count of 0 never decides by itself: `rejections_required = 0` means votes
      cannot reject (only expiry ends an unapproved batch); `approvals_required = 0` likewise.
    - The window is closed from `closes_at` on (inclusive): a vote at that instant is late.
    """
    if quorum.rejections_required > 0 and rejections >= quorum.rejections_required:
        return Decision.REJECTED
    if quorum.approvals_required > 0 and approvals >= quorum.approvals_required:
        return Decision.APPROVED
    if now >= quorum.closes_at:
        return Decision.EXPIRED
    return None


def is_open(*, quorum: Quorum, now: datetime) -> bool:
    """Whether votes are still taken at `now`."""
    return now < quorum.closes_at


def disputes_retract(*, disputes: int, threshold: int) -> bool:
    """A published fingerprint is retracted when disputes reach the policy's threshold.

    Affirmations are recorded and shown but do not offset disputes: one member's evidence that
    a hash is wrong is not outweighed by others not having seen a problem. A threshold of 0
    disables retraction by disputes (staff can still retract).
    """
    return threshold > 0 and disputes >= threshold
