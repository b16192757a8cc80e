"""The decision rule at every edge of the policy, without a database."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hashes.rules import Decision, Quorum, decide, disputes_retract, is_open

OPENED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CLOSES = OPENED + timedelta(hours=72)
DURING = OPENED + timedelta(hours=1)


def q(approvals: int = 2, rejections: int = 2) -> Quorum:
    return Quorum(approvals_required=approvals, rejections_required=rejections, closes_at=CLOSES)


@pytest.mark.parametrize(
    ("approvals", "rejections", "quorum", "expected"),
    [
        (0, 0, q(), None),
        (1, 0, q(), None),
        (2, 0, q(), Decision.APPROVED),  # exactly the quorum
        (3, 0, q(), Decision.APPROVED),
        (1, 1, q(), None),
        (0, 2, q(), Decision.REJECTED),
        (1, 2, q(), Decision.REJECTED),
        (2, 2, q(), Decision.REJECTED),  # both reached at once: rejection wins
        (1, 1, q(1, 1), Decision.REJECTED),
        (5, 0, q(2, 0), Decision.APPROVED),
        (0, 9, q(2, 0), None),  # zero-rejection policy: votes cannot reject
        (9, 0, q(0, 2), None),  # zero-approval policy: votes cannot approve
        (0, 2, q(0, 2), Decision.REJECTED),
    ],
)
def test_the_quorum_decides(approvals: int, rejections: int, quorum: Quorum, expected: Decision | None) -> None:
    assert decide(approvals=approvals, rejections=rejections, quorum=quorum, now=DURING) == expected


def test_the_window_closes_at_its_instant() -> None:
    just_before = CLOSES - timedelta(microseconds=1)
    assert decide(approvals=1, rejections=1, quorum=q(), now=just_before) is None
    assert is_open(quorum=q(), now=just_before)
    assert decide(approvals=1, rejections=1, quorum=q(), now=CLOSES) == Decision.EXPIRED
    assert not is_open(quorum=q(), now=CLOSES)


def test_a_quorum_reached_beats_the_closed_window() -> None:
    assert decide(approvals=2, rejections=0, quorum=q(), now=CLOSES + timedelta(days=1)) == Decision.APPROVED
    assert decide(approvals=0, rejections=2, quorum=q(), now=CLOSES) == Decision.REJECTED


def test_a_zero_rejection_zero_approval_policy_only_expires() -> None:
    assert decide(approvals=9, rejections=9, quorum=q(0, 0), now=DURING) is None
    assert decide(approvals=9, rejections=9, quorum=q(0, 0), now=CLOSES) == Decision.EXPIRED


@pytest.mark.parametrize(("disputes", "threshold", "expected"), [(0, 2, False), (1, 2, False), (2, 2, True), (3, 2, True), (5, 0, False), (1, 1, True)])
def test_disputes_retract_at_the_threshold(disputes: int, threshold: int, expected: bool) -> None:
    assert disputes_retract(disputes=disputes, threshold=threshold) is expected
