"""Concurrent votes and withdrawals from many connections on PostgreSQL: one decision, no lost vote."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from consortium.audit.models import AuditEntry
from consortium.audit.services import SYSTEM, Actor
from consortium.errors import Conflict
from hashes.models import Batch, Vote
from hashes.services.batches import batch_withdraw
from hashes.services.policy import policy_update
from hashes.services.votes import vote_cast
from members.models import Role
from members.services.members import member_create
from members.services.users import user_create

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread (own database connection), released together."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # collected and asserted on below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def voters(n: int) -> list[Any]:
    return [
        user_create(actor=SYSTEM, username=f"voter{i}", member=member_create(actor=SYSTEM, slug=f"m{i}", name=f"M{i}"), role=Role.ANALYST)
        for i in range(n)
    ]


def test_eight_members_voting_at_once_decide_once_and_every_vote_is_recorded(cast, voting_batch) -> None:
    # A quorum of 8: only the last of the eight concurrent votes may decide, and only if none
    # of the others was lost.
    policy_update(actor=Actor.of(cast.stan), changes={"approvals_required": 8})
    batch = voting_batch()
    users = voters(8)
    results = run_at_once([lambda u=u: vote_cast(user=u, batch=batch, decision="approve") for u in users])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Vote.objects.filter(batch=batch).count() == 8
    assert Batch.objects.get(pk=batch.pk).status == "approved"
    decided = AuditEntry.objects.filter(action="batch.decided", subject=f"batch:{batch.pk}")
    assert decided.count() == 1
    assert AuditEntry.objects.filter(action="vote.cast", subject=f"batch:{batch.pk}").count() == 8


def test_votes_past_the_quorum_are_refused_not_lost(cast, voting_batch) -> None:
    batch = voting_batch()  # the default quorum: 2 approvals
    results = run_at_once([lambda u=u: vote_cast(user=u, batch=batch, decision="approve") for u in voters(6)])
    refused = [r for r in results if isinstance(r, Conflict)]
    assert Vote.objects.filter(batch=batch).count() == 2 and len(refused) == 4
    assert AuditEntry.objects.filter(action="batch.decided", subject=f"batch:{batch.pk}").count() == 1


def test_approvals_and_rejections_at_once_still_decide_once(cast, voting_batch) -> None:
    batch = voting_batch()
    users = voters(6)
    decisions = ["approve", "reject"] * 3
    results = run_at_once([lambda u=u, d=d: vote_cast(user=u, batch=batch, decision=d) for u, d in zip(users, decisions, strict=True)])
    status = Batch.objects.get(pk=batch.pk).status
    assert status in ("approved", "rejected")
    assert AuditEntry.objects.filter(action="batch.decided", subject=f"batch:{batch.pk}").count() == 1
    counted = Vote.objects.filter(batch=batch).count()
    refused = [r for r in results if isinstance(r, Conflict)]
    assert counted + len(refused) == 6  # a vote is either counted or refused after the decision, never lost


def test_a_withdrawal_racing_the_deciding_vote_leaves_exactly_one_outcome(cast, voting_batch, ivan) -> None:
    for _ in range(5):
        batch = voting_batch()
        vote_cast(user=cast.gina, batch=batch, decision="approve")
        results = run_at_once([
            lambda b=batch: vote_cast(user=ivan, batch=b, decision="approve"),
            lambda b=batch: batch_withdraw(user=cast.bob, batch=b),
        ])
        status = Batch.objects.get(pk=batch.pk).status
        assert status in ("approved", "withdrawn")
        loser = results[1] if status == "approved" else results[0]
        assert isinstance(loser, Conflict), results
        outcomes = AuditEntry.objects.filter(subject=f"batch:{batch.pk}", action__in=["batch.decided", "batch.withdrawn"])
        assert outcomes.count() == 1


def test_two_batches_approved_at_the_same_moment_get_consecutive_seqs(cast, voting_batch, ivan) -> None:
    from hashes.models import Release
    from hashes.services.releases import release_publish_batch

    batches = [voting_batch(), voting_batch()]
    for batch in batches:
        vote_cast(user=cast.gina, batch=batch, decision="approve")
        vote_cast(user=ivan, batch=batch, decision="approve")
    results = run_at_once([lambda b=b: release_publish_batch(batch_id=b.pk) for b in batches])
    assert sorted(r.seq for r in results) == [1, 2]
    first, second = Release.objects.order_by("seq")
    assert second.prev == first.payload_sha256 and first.prev is None
