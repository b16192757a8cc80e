"""The hashes admin: batches, items, labels, policy, incidents, fingerprints (staff)."""
from __future__ import annotations

import pytest

from hashes.models import Fingerprint, Incident, Label, Policy
from tests.conftest import audit_actions, audit_size
from tests.hashes.conftest import publish, random_hex

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "page",
    ["/admin/hashes/batch/", "/admin/hashes/batchitem/", "/admin/hashes/label/", "/admin/hashes/policy/1/change/",
     "/admin/hashes/incident/", "/admin/hashes/incident/add/", "/admin/hashes/fingerprint/", "/admin/hashes/vote/",
     "/admin/hashes/batchitem/?outcome__exact=duplicate", "/admin/hashes/batch/?status__exact=voting"],
)
def test_staff_open_every_hashes_page(staff_client, voting_batch, page: str) -> None:
    voting_batch()
    assert staff_client.get(page).status_code == 200


def test_the_batch_page_links_to_its_items_with_their_outcomes(staff_client, voting_batch) -> None:
    batch = voting_batch(items=[{"kind": "md5", "value": "a" * 32}, {"kind": "md5", "value": "a" * 32}])
    page = staff_client.get(f"/admin/hashes/batch/{batch.pk}/change/").content.decode()
    assert "item 0 of this batch" in page and "Duplicate" in page
    items = staff_client.get(f"/admin/hashes/batchitem/?batch__id__exact={batch.pk}").content.decode()
    assert "item 0 of this batch" in items and "Duplicate" in items


def test_editing_the_policy_in_the_admin_is_audited(staff_client) -> None:
    before = audit_size()
    form = {"approvals_required": 3, "rejections_required": 2, "voting_window": 3600, "pdq_max_distance": 25,
            "pdq_min_quality": 50, "dispute_threshold": 2, "incident_approvals_required": 1}
    response = staff_client.post("/admin/hashes/policy/1/change/", form)
    assert response.status_code == 302
    policy = Policy.objects.get()
    assert (policy.approvals_required, policy.voting_window, policy.pdq_max_distance) == (3, 3600, 25)
    assert audit_actions(since=before) == ["policy.changed"]


def test_declaring_and_closing_an_incident_in_the_admin(staff_client) -> None:
    label = Label.objects.get(slug="content-incident")
    before = audit_size()
    assert staff_client.post("/admin/hashes/incident/add/", {"label": label.pk, "title": "Attack"}).status_code == 302
    incident = Incident.objects.get()
    staff_client.post("/admin/hashes/incident/", {"action": "close", "_selected_action": [incident.pk]})
    assert Incident.objects.get().closed is not None
    assert audit_actions(since=before) == ["incident.declared", "incident.closed"]


def test_labels_are_created_and_retired_through_audited_services(staff_client) -> None:
    before = audit_size()
    staff_client.post("/admin/hashes/label/add/", {"slug": "new-group", "name": "New group", "dimension": "producer", "description": ""})
    label = Label.objects.get(slug="new-group")
    staff_client.post("/admin/hashes/label/", {"action": "retire", "_selected_action": [label.pk]})
    assert Label.objects.get(pk=label.pk).retired is not None
    assert audit_actions(since=before) == ["label.created", "label.retired"]


def test_staff_retract_a_fingerprint_from_the_admin(staff_client) -> None:
    fingerprint = publish("md5", random_hex(32))
    staff_client.post("/admin/hashes/fingerprint/", {"action": "retract", "_selected_action": [fingerprint.pk]})
    assert Fingerprint.objects.get(pk=fingerprint.pk).retraction_queued is not None
    assert audit_actions()[-1] == "fingerprint.retraction_queued"
