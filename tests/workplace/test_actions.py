"""Every workplace action goes through the API's service and leaves the same audit entries;
a refused action changes nothing and logs nothing."""
from __future__ import annotations

import pytest
from django.test import Client

from hashes.models import Batch, Delivery, Fingerprint, Opinion, Vote
from members.models import ApiToken, Endpoint, Member
from tests.conftest import audit_actions, audit_size

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_an_analyst_votes_on_the_batch_page_as_the_api_would(cast, busy) -> None:
    batch = busy.queue[0]
    before = audit_size()
    response = client_of(cast.gina).post(
        f"/admin/hashes/batch/{batch.pk}/change/",
        {"do": "vote", "decision": "approve", "reason": "Recruitment posters", "member": "acme"},  # "member" is ignored
        follow=True,
    )
    assert "Your vote (approve) is recorded." in messages_of(response)
    vote = Vote.objects.get(batch=batch)
    assert (vote.member, vote.user, vote.reason) == (cast.globex, cast.gina, "Recruitment posters")
    assert audit_actions(since=before) == ["vote.cast"]


def test_a_rejection_needs_a_reason_and_without_one_nothing_happens(cast, busy) -> None:
    before = audit_size()
    response = client_of(cast.gina).post(f"/admin/hashes/batch/{busy.queue[0].pk}/change/", {"do": "vote", "decision": "reject", "reason": " "}, follow=True)
    assert any("needs a reason" in m for m in messages_of(response))
    assert not Vote.objects.filter(batch=busy.queue[0]).exists() and audit_size() == before


def test_a_member_cannot_vote_on_its_own_batch_from_the_page(cast, busy) -> None:
    before = audit_size()
    page = client_of(cast.bob).get(f"/admin/hashes/batch/{busy.queue[0].pk}/change/").content.decode()
    assert "your member&#x27;s batch" in page and 'id="vote-form"' not in page
    response = client_of(cast.bob).post(f"/admin/hashes/batch/{busy.queue[0].pk}/change/", {"do": "vote", "decision": "approve"}, follow=True)
    assert any("does not vote on its own batch" in m for m in messages_of(response))
    assert not Vote.objects.filter(batch=busy.queue[0]).exists() and audit_size() == before


@pytest.mark.parametrize("who", ["rita", "audrey"])
def test_readers_and_auditors_cannot_vote(cast, busy, who: str) -> None:
    before = audit_size()
    response = client_of(getattr(cast, who)).post(f"/admin/hashes/batch/{busy.queue[0].pk}/change/", {"do": "vote", "decision": "approve"})
    assert response.status_code == 403
    bulk = client_of(getattr(cast, who)).post("/admin/hashes/batch/", {"action": "approve", "_selected_action": [busy.queue[0].pk], "apply": "1"})
    # Rita may not open the list at all; Audrey may, but it offers her no vote actions.
    assert bulk.status_code == (403 if who == "rita" else 200)
    assert not Vote.objects.filter(batch=busy.queue[0]).exists() and audit_size() == before


def test_bulk_approval_asks_for_one_reason_then_votes_on_each_batch(cast, busy, ivan) -> None:
    gina = client_of(cast.gina)
    ids = [busy.queue[0].pk, busy.queue[1].pk]
    form = gina.post("/admin/hashes/reviewqueue/", {"action": "approve", "_selected_action": ids})
    assert form.status_code == 200 and 'name="reason"' in form.content.decode() and audit_size()
    from hashes.services.votes import vote_cast

    vote_cast(user=ivan, batch=busy.queue[1], decision="approve")  # the second one gets decided by Globex's vote
    before = audit_size()
    done = gina.post("/admin/hashes/reviewqueue/", {"action": "approve", "_selected_action": ids, "apply": "1", "reason": "Both checked"}, follow=True)
    assert "Voted approve on 2 batch(es); 1 of them decided by it." in messages_of(done)
    assert list(Vote.objects.filter(member=cast.globex, batch_id__in=ids).values_list("reason", flat=True)) == ["Both checked"] * 2
    assert audit_actions(since=before) == ["vote.cast", "vote.cast", "batch.decided"]
    assert Batch.objects.get(pk=ids[1]).status == Batch.Status.APPROVED


def test_bulk_rejection_without_a_reason_votes_on_nothing(cast, busy) -> None:
    before = audit_size()
    response = client_of(cast.gina).post(
        "/admin/hashes/reviewqueue/", {"action": "reject", "_selected_action": [busy.queue[0].pk], "apply": "1", "reason": ""}, follow=True
    )
    assert any("needs a reason" in m for m in messages_of(response))
    assert audit_size() == before


def test_bulk_votes_list_the_batches_that_refused_them(cast, busy) -> None:
    from hashes.services.batches import batch_withdraw

    batch_withdraw(user=cast.bob, batch=busy.queue[2])
    response = client_of(cast.stan).post(  # staff: none of these is fast-tracked
        "/admin/hashes/batch/", {"action": "reject", "_selected_action": [busy.queue[0].pk, busy.queue[2].pk], "apply": "1", "reason": "No"}, follow=True
    )
    errors = messages_of(response)
    assert any("Staff vote only on batches fast-tracked" in m for m in errors)
    assert any("is withdrawn; votes are taken only while it is voting" in m for m in errors)
    assert not Vote.objects.filter(member__isnull=True).exists()


def test_the_submitter_withdraws_from_the_batch_page_and_from_the_list(cast, busy) -> None:
    before = audit_size()
    bob = client_of(cast.bob)
    bob.post(f"/admin/hashes/batch/{busy.queue[0].pk}/change/", {"do": "withdraw"})
    bob.post("/admin/hashes/submission/", {"action": "withdraw", "_selected_action": [busy.queue[1].pk]})
    assert set(Batch.objects.filter(pk__in=[busy.queue[0].pk, busy.queue[1].pk]).values_list("status", flat=True)) == {"withdrawn"}
    assert audit_actions(since=before) == ["batch.withdrawn", "batch.withdrawn"]
    # Another member cannot withdraw it: the page refuses, nothing changes.
    response = client_of(cast.gina).post(f"/admin/hashes/batch/{busy.queue[2].pk}/change/", {"do": "withdraw"}, follow=True)
    assert any("Only the submitting member withdraws" in m for m in messages_of(response))
    assert Batch.objects.get(pk=busy.queue[2].pk).status == Batch.Status.VOTING


def test_an_analyst_disputes_from_the_fingerprint_page_and_a_reader_cannot(cast, busy) -> None:
    fingerprint = Fingerprint.objects.get(kind="pdq", value=busy.published_pdq[0])
    before = audit_size()
    client_of(cast.bob).post(f"/admin/hashes/fingerprint/{fingerprint.pk}/change/", {"do": "opinion", "opinion": "dispute", "reason": "News photo"})
    assert Opinion.objects.get(fingerprint=fingerprint, member=cast.acme).opinion == "dispute"
    assert audit_actions(since=before) == ["opinion.set"]
    for who in ("rita", "audrey"):
        response = client_of(getattr(cast, who)).post(f"/admin/hashes/fingerprint/{fingerprint.pk}/change/", {"do": "opinion", "opinion": "affirm"})
        assert response.status_code == 403
    assert audit_actions(since=before) == ["opinion.set"]


def test_staff_retract_from_the_fingerprint_page(cast, busy) -> None:
    fingerprint = Fingerprint.objects.get(kind="pdq", value=busy.published_pdq[0])
    before = audit_size()
    client_of(cast.stan).post(f"/admin/hashes/fingerprint/{fingerprint.pk}/change/", {"do": "retract", "reason": "Court order"})
    assert Fingerprint.objects.get(pk=fingerprint.pk).retraction_queued is not None
    assert audit_actions(since=before) == ["fingerprint.retraction_queued"]
    response = client_of(cast.alice).post(f"/admin/hashes/fingerprint/{busy.fingerprint.pk}/change/", {"do": "retract", "reason": "x"}, follow=True)
    assert any("Only consortium staff retract" in m for m in messages_of(response))


def test_members_redeliver_their_own_deliveries_only(cast, busy) -> None:
    Delivery.objects.update(status=Delivery.Status.FAILED)
    before = audit_size()
    bob = client_of(cast.bob)
    bob.post("/admin/hashes/delivery/", {"action": "redeliver", "_selected_action": [busy.acme_delivery.pk, busy.globex_delivery.pk]})
    assert Delivery.objects.get(pk=busy.acme_delivery.pk).status == Delivery.Status.PENDING
    assert Delivery.objects.get(pk=busy.globex_delivery.pk).status == Delivery.Status.FAILED
    assert audit_actions(since=before) == ["delivery.redelivered"]
    client_of(cast.audrey).post("/admin/hashes/delivery/", {"action": "redeliver", "_selected_action": [busy.globex_delivery.pk]})
    assert audit_actions(since=before) == ["delivery.redelivered"]  # auditors change nothing


def test_staff_redeliver_in_bulk_across_members(cast, busy) -> None:
    Delivery.objects.update(status=Delivery.Status.FAILED)
    before = audit_size()
    ids = list(Delivery.objects.values_list("pk", flat=True))
    client_of(cast.stan).post("/admin/hashes/delivery/", {"action": "redeliver", "_selected_action": ids})
    assert not Delivery.objects.filter(status=Delivery.Status.FAILED).exists()
    assert audit_actions(since=before) == ["delivery.redelivered"] * len(ids)


def test_a_member_admin_disables_an_endpoint_and_an_analyst_cannot(cast, busy) -> None:
    before = audit_size()
    client_of(cast.bob).post("/admin/members/endpoint/", {"action": "disable", "_selected_action": [busy.acme_endpoint.pk]})
    assert Endpoint.objects.get(pk=busy.acme_endpoint.pk).enabled and audit_size() == before
    client_of(cast.alice).post("/admin/members/endpoint/", {"action": "disable", "_selected_action": [busy.acme_endpoint.pk, busy.globex_endpoint.pk]})
    assert not Endpoint.objects.get(pk=busy.acme_endpoint.pk).enabled
    assert Endpoint.objects.get(pk=busy.globex_endpoint.pk).enabled
    assert audit_actions(since=before) == ["endpoint.updated"]


def test_people_revoke_their_own_tokens_and_admins_their_members(cast) -> None:
    from consortium.audit.services import SYSTEM
    from members.services.tokens import token_create

    bobs, alices, charlies = (token_create(actor=SYSTEM, user=u, name="t")[0] for u in (cast.bob, cast.alice, cast.charlie))
    before = audit_size()
    client_of(cast.bob).post("/admin/members/apitoken/", {"action": "revoke", "_selected_action": [bobs.pk, alices.pk, charlies.pk]})
    assert [ApiToken.objects.get(pk=t.pk).revoked is not None for t in (bobs, alices, charlies)] == [True, False, False]
    client_of(cast.alice).post("/admin/members/apitoken/", {"action": "revoke", "_selected_action": [alices.pk, charlies.pk]})
    assert [ApiToken.objects.get(pk=t.pk).revoked is not None for t in (alices, charlies)] == [True, False]
    assert audit_actions(since=before) == ["token.revoked", "token.revoked"]


def test_only_staff_suspend_members_edit_the_policy_and_declare_incidents(cast) -> None:
    before = audit_size()
    alice = client_of(cast.alice)
    alice.post("/admin/members/member/", {"action": "suspend", "_selected_action": [cast.globex.pk]})
    assert alice.post("/admin/hashes/policy/1/change/", {"approvals_required": 1}).status_code == 403
    assert alice.post("/admin/hashes/incident/add/", {"label": 1, "title": "x"}).status_code == 403
    assert Member.objects.get(pk=cast.globex.pk).status == "active" and audit_size() == before
    client_of(cast.stan).post("/admin/members/member/", {"action": "suspend", "_selected_action": [cast.globex.pk]})
    assert Member.objects.get(pk=cast.globex.pk).status == "suspended"
    assert audit_actions(since=before) == ["member.suspended"]


@pytest.mark.parametrize("page", ["/admin/hashes/reviewqueue/", "/admin/hashes/delivery/", "/admin/members/apitoken/"])
def test_a_forged_selection_is_refused_with_a_message_not_a_500(cast, busy, page: str) -> None:
    before = audit_size()
    action = {"/admin/hashes/reviewqueue/": "approve", "/admin/hashes/delivery/": "redeliver"}.get(page, "revoke")
    response = client_of(cast.alice).post(page, {"action": action, "_selected_action": ["abc", "1"], "apply": "1"}, follow=True)
    assert response.status_code == 200
    assert "The selection names rows that are not ids here; select them again." in messages_of(response)
    assert audit_size() == before


def test_bad_values_on_the_batch_and_fingerprint_pages_are_explained(cast, busy) -> None:
    gina = client_of(cast.gina)
    page = f"/admin/hashes/batch/{busy.queue[0].pk}/change/"
    before = audit_size()
    assert "decision is approve or reject." in messages_of(gina.post(page, {"do": "vote", "decision": "maybe"}, follow=True))
    too_long = gina.post(page, {"do": "vote", "decision": "approve", "reason": "x" * 5001}, follow=True)
    assert "reason is a text of at most 5000 characters." in messages_of(too_long)
    opinion = gina.post(f"/admin/hashes/fingerprint/{busy.fingerprint.pk}/change/", {"do": "opinion", "opinion": "meh"}, follow=True)
    assert "opinion is affirm or dispute." in messages_of(opinion)
    assert audit_size() == before
    assert gina.get("/admin/hashes/fingerprint/search/", {"q": "x" * 100_000, "distance": "-5"}).status_code == 200
