"""Incidents fast-track their label's batches; disputes retract published fingerprints."""
from __future__ import annotations

import pytest

from consortium.errors import Conflict, NotAllowed
from hashes.models import Fingerprint, Label, Opinion
from hashes.services.incidents import incident_close, incident_declare
from hashes.services.opinions import fingerprint_retract
from tests.conftest import assert_problem, audit_actions, audit_size
from tests.hashes.conftest import publish, random_hex

pytestmark = pytest.mark.django_db


def test_during_an_incident_one_approval_publishes_its_labels_batches(cast, api, voting_batch) -> None:
    before = audit_size()
    incident = incident_declare(user=cast.stan, label=Label.objects.get(slug="content-incident"), title="Attack livestream")
    assert audit_actions(since=before) == ["incident.declared"]
    fast = voting_batch(items=[{"kind": "md5", "value": random_hex(32), "labels": ["content-incident"]}])
    normal = voting_batch()
    assert (fast.approvals_required, fast.incident_id) == (1, incident.pk)
    assert (normal.approvals_required, normal.incident_id) == (2, None)
    response = api(cast.gina).put(f"/api/v1/batches/{fast.pk}/vote", {"decision": "approve"}, format="json")
    assert response.json()["status"] == "approved"
    policy = api(cast.rita).get("/api/v1/policy").json()
    assert [i["label"] for i in policy["incident"]["open"]] == ["content-incident"]


def test_staff_approval_counts_on_a_fast_tracked_batch(cast, api, voting_batch) -> None:
    incident_declare(user=cast.stan, label=Label.objects.get(slug="islamic-state"), title="Incident")
    batch = voting_batch()  # carries islamic-state as its default label
    response = api(cast.stan).put(f"/api/v1/batches/{batch.pk}/vote", {"decision": "approve", "reason": "staff"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"


def test_a_closed_incident_no_longer_fast_tracks(cast, voting_batch) -> None:
    incident = incident_declare(user=cast.stan, label=Label.objects.get(slug="islamic-state"), title="Incident")
    assert incident_close(user=cast.stan, incident=incident) is True
    assert incident_close(user=cast.stan, incident=incident) is False
    assert voting_batch().approvals_required == 2
    assert audit_actions()[-5:].count("incident.closed") == 1


def test_one_open_incident_per_label_and_only_staff_declare(cast) -> None:
    label = Label.objects.get(slug="content-incident")
    incident_declare(user=cast.stan, label=label, title="One")
    with pytest.raises(Conflict):
        incident_declare(user=cast.stan, label=label, title="Two")
    with pytest.raises(NotAllowed):
        incident_declare(user=cast.alice, label=Label.objects.get(slug="al-qaeda"), title="Mine")


def put_opinion(api, user, fingerprint, opinion: str, reason: str = "wrong hash") -> object:
    return api(user).put(f"/api/v1/fingerprints/{fingerprint.pk}/opinion", {"opinion": opinion, "reason": reason}, format="json")


def test_disputes_reaching_the_threshold_queue_a_retraction(cast, api, ivan) -> None:
    fingerprint = publish("md5", random_hex(32))
    first = put_opinion(api, cast.gina, fingerprint, "dispute")
    assert first.status_code == 200 and first.json()["retraction_queued"] is False
    put_opinion(api, cast.bob, fingerprint, "affirm", "we saw it")
    before = audit_size()
    second = put_opinion(api, ivan, fingerprint, "dispute")
    assert second.json()["retraction_queued"] is True
    assert audit_actions(since=before)[-2:] == ["opinion.set", "fingerprint.retraction_queued"]
    assert Fingerprint.objects.get(pk=fingerprint.pk).retraction_queued is not None


def test_a_changed_opinion_replaces_the_members_earlier_one(cast, api) -> None:
    fingerprint = publish("md5", random_hex(32))
    put_opinion(api, cast.gina, fingerprint, "dispute")
    put_opinion(api, cast.charlie, fingerprint, "affirm", "on reflection it is right")
    assert list(Opinion.objects.values_list("member__slug", "opinion")) == [("globex", "affirm")]


@pytest.mark.parametrize("body", [{"opinion": "hate"}, {"opinion": "dispute", "reason": ""}, {}])
def test_bad_opinions_are_422(cast, api, body: dict) -> None:
    fingerprint = publish("md5", random_hex(32))
    assert_problem(api(cast.gina).put(f"/api/v1/fingerprints/{fingerprint.pk}/opinion", body, format="json"), 422)
    assert not Opinion.objects.exists()


def test_opinions_need_a_published_fingerprint_and_a_member(cast, api) -> None:
    unpublished = Fingerprint.objects.create(kind="md5", value=random_hex(32))
    assert_problem(put_opinion(api, cast.gina, unpublished, "dispute"), 409)
    assert_problem(api(cast.gina).put("/api/v1/fingerprints/999999/opinion", {"opinion": "affirm"}, format="json"), 404)
    assert_problem(put_opinion(api, cast.rita, publish("md5", random_hex(32)), "affirm"), 403)


def test_staff_retract_directly(cast) -> None:
    fingerprint = publish("sha1", random_hex(40))
    assert fingerprint_retract(user=cast.stan, fingerprint=fingerprint, reason="court order") is True
    assert fingerprint_retract(user=cast.stan, fingerprint=fingerprint, reason="again") is False
    with pytest.raises(NotAllowed):
        fingerprint_retract(user=cast.alice, fingerprint=publish("sha1", random_hex(40)), reason="mine")
