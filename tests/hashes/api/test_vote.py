"""PUT /api/v1/batches/{id}/vote and the decisions it triggers."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from consortium.audit.services import SYSTEM, Actor
from hashes.models import Batch, Vote
from hashes.services.policy import policy_update
from members.models import Member
from members.services.members import member_set_status
from tests.conftest import assert_problem, audit_actions, audit_size

pytestmark = pytest.mark.django_db


def vote(api, user, batch, decision: str = "approve", reason: str = "seen it") -> object:
    return api(user).put(f"/api/v1/batches/{batch.pk}/vote", {"decision": decision, "reason": reason}, format="json")


def test_two_approvals_from_other_members_approve_the_batch(cast, api, voting_batch, ivan) -> None:
    batch = voting_batch()
    assert (batch.status, batch.approvals_required, batch.rejections_required) == ("voting", 2, 2)
    before = audit_size()
    first = vote(api, cast.gina, batch)
    assert first.status_code == 200 and first.json()["status"] == "voting"
    assert first.json()["tallies"] == {"approve": 1, "reject": 0}
    assert first.json()["your_vote"] == {"decision": "approve", "reason": "seen it"}
    second = vote(api, ivan, batch)
    assert second.json()["status"] == "approved" and second.json()["decided"]
    assert audit_actions(since=before) == ["token.created", "vote.cast", "token.created", "vote.cast", "batch.decided"]


def test_two_rejections_reject_it(cast, api, voting_batch, ivan) -> None:
    batch = voting_batch()
    vote(api, cast.gina, batch, "reject", "not terrorist content")
    assert vote(api, ivan, batch, "reject", "satire").json()["status"] == "rejected"


def test_a_member_does_not_vote_on_its_own_batch(cast, api, voting_batch) -> None:
    batch = voting_batch()
    client = api(cast.alice)
    before = audit_size()
    assert_problem(vote(lambda u: client, cast.alice, batch), 403)
    assert not Vote.objects.exists() and audit_size() == before


def test_voting_twice_the_same_changes_nothing_and_a_change_is_logged(cast, api, voting_batch) -> None:
    batch = voting_batch()
    gina = api(cast.gina)
    vote(lambda u: gina, cast.gina, batch, "approve", "a")
    before = audit_size()
    assert vote(lambda u: gina, cast.gina, batch, "approve", "a").status_code == 200
    assert audit_size() == before
    changed = vote(lambda u: gina, cast.gina, batch, "reject", "on second look")
    assert changed.json()["tallies"] == {"approve": 0, "reject": 1}
    assert audit_actions(since=before) == ["vote.changed"]
    assert Vote.objects.get().decision == "reject"


def test_charlie_and_gina_share_globexs_one_vote(cast, api, voting_batch) -> None:
    batch = voting_batch()
    vote(api, cast.gina, batch, "approve")
    response = vote(api, cast.charlie, batch, "reject", "I disagree with Gina")
    assert response.json()["tallies"] == {"approve": 0, "reject": 1}
    assert Vote.objects.count() == 1


def test_a_vote_after_the_decision_is_a_409(cast, api, voting_batch, ivan) -> None:
    batch = voting_batch()
    vote(api, cast.gina, batch)
    vote(api, ivan, batch)
    client = api(cast.charlie)
    before = audit_size()
    assert_problem(vote(lambda u: client, cast.charlie, batch, "reject"), 409)
    assert audit_size() == before


def test_a_vote_after_the_window_closed_expires_the_batch_and_is_refused(cast, api, voting_batch) -> None:
    batch = voting_batch()
    Batch.objects.filter(pk=batch.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    client = api(cast.gina)
    before = audit_size()
    assert_problem(vote(lambda u: client, cast.gina, batch), 409)
    assert Batch.objects.get(pk=batch.pk).status == "expired"
    assert audit_actions(since=before) == ["batch.decided"] and not Vote.objects.exists()


def test_voting_on_a_received_or_withdrawn_batch_is_a_409(cast, api, signed) -> None:
    from hashes.services.batches import batch_submit

    batch = batch_submit(user=cast.bob, envelope=signed()).batch
    assert_problem(vote(api, cast.gina, batch), 409)


@pytest.mark.parametrize("who", ["rita", "audrey"])
def test_readers_and_auditors_do_not_vote(cast, api, voting_batch, who: str) -> None:
    batch = voting_batch()
    assert_problem(vote(api, getattr(cast, who), batch), 403)
    assert not Vote.objects.exists()


def test_staff_vote_only_on_fast_tracked_batches(cast, api, voting_batch) -> None:
    assert_problem(vote(api, cast.stan, voting_batch()), 403)


def test_voting_on_a_suspended_members_batch_is_paused(cast, api, voting_batch) -> None:
    batch = voting_batch()
    client = api(cast.gina)
    member_set_status(actor=SYSTEM, member=cast.acme, status=Member.Status.SUSPENDED)
    assert "suspended" in assert_problem(vote(lambda u: client, cast.gina, batch), 409)["detail"]
    assert not Vote.objects.exists()


def test_a_suspended_members_analyst_cannot_vote(cast, api, voting_batch) -> None:
    batch = voting_batch()
    client = api(cast.gina)
    member_set_status(actor=SYSTEM, member=cast.globex, status=Member.Status.SUSPENDED)
    assert_problem(vote(lambda u: client, cast.gina, batch), 403)


@pytest.mark.parametrize("body", [{"decision": "maybe"}, {}, {"decision": "approve", "reason": "x" * 5001}, {"decision": ["approve"]}])
def test_bad_votes_are_422_problems(cast, api, voting_batch, body: dict) -> None:
    batch = voting_batch()
    assert_problem(api(cast.gina).put(f"/api/v1/batches/{batch.pk}/vote", body, format="json"), 422)
    assert not Vote.objects.exists()


def test_an_unknown_batch_is_a_404(cast, api) -> None:
    assert_problem(api(cast.gina).put("/api/v1/batches/999999/vote", {"decision": "approve"}, format="json"), 404)


def test_a_policy_edit_does_not_change_the_quorum_of_a_batch_already_voting(cast, api, voting_batch, ivan) -> None:
    batch = voting_batch()
    policy_update(actor=Actor.of(cast.stan), changes={"approvals_required": 1})
    assert vote(api, cast.gina, batch).json()["status"] == "voting"  # still needs 2
    assert voting_batch().approvals_required == 1  # a new batch takes the new policy


def test_the_policy_is_served_with_the_incident_rule(cast, api) -> None:
    body = api(cast.rita).get("/api/v1/policy").json()
    assert body["approvals_required"] == 2 and body["pdq_max_distance"] == 31 and body["pdq_min_quality"] == 50
    assert body["voting_window"] == 72 * 3600 and body["incident"]["approvals_required"] == 1


def test_policy_changes_are_audited_with_old_and_new(cast) -> None:
    import json

    from consortium.audit.models import AuditEntry

    policy_update(actor=Actor.of(cast.stan), changes={"pdq_max_distance": 20, "voting_window": 3600})
    entry = json.loads(bytes(AuditEntry.objects.order_by("-index").first().body))
    assert entry["action"] == "policy.changed"
    assert entry["old"] == {"pdq_max_distance": 31, "voting_window": 259200}
    assert entry["new"] == {"pdq_max_distance": 20, "voting_window": 3600}
