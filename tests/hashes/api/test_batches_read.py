"""Reading batches and their items, the signed envelope, withdrawal, and labels."""
from __future__ import annotations

import json

import pytest
import rfc8785

from consortium import signing
from hashes.models import Batch
from members.services.keys import member_active_key
from tests.conftest import assert_problem, audit_actions, audit_size
from tests.hashes.conftest import random_hex

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch_id(cast, api, signed) -> int:
    md5 = random_hex(32)
    items = [{"kind": "md5", "value": md5}, {"kind": "md5", "value": md5}, {"kind": "sha1", "value": random_hex(40)}]
    return api(cast.bob).post("/api/v1/batches", signed(items=items, ref="b-1"), format="json").json()["id"]


def test_the_batch_shows_its_header_signature_and_dedup_counts(cast, api, batch_id) -> None:
    body = api(cast.charlie).get(f"/api/v1/batches/{batch_id}").json()
    assert body["member"] == "acme" and body["ref"] == "b-1" and body["item_count"] == 3
    # Inside a test's transaction nothing commits, so the dedup task is never queued.
    assert body["status"] == "received" and body["dedup"] is None
    assert body["signature"].count(".") == 2 and body["kid"] and len(body["payload_sha256"]) == 64


def test_the_envelope_is_served_exactly_as_signed_and_verifies(cast, api, batch_id) -> None:
    response = api(cast.charlie).get(f"/api/v1/batches/{batch_id}/envelope")
    envelope = json.loads(response.content)
    assert response.content.startswith(b'{"payload":' + rfc8785.dumps(envelope["payload"]))
    verified = signing.verify(
        envelope, typ=signing.TYP_BATCH, resolve_key=lambda kid: member_active_key(member=cast.acme, kid=kid)
    )
    assert verified.payload["ref"] == "b-1"


def test_items_page_in_position_order_and_filter_by_outcome_and_kind(cast, api, batch_id) -> None:
    from hashes.services.dedup import batch_deduplicate

    batch_deduplicate(batch_id=batch_id)
    client = api(cast.bob)
    page = client.get(f"/api/v1/batches/{batch_id}/items?limit=2").json()
    assert [i["position"] for i in page["results"]] == [0, 1]
    assert [i["position"] for i in client.get(page["next"]).json()["results"]] == [2]
    dupes = client.get(f"/api/v1/batches/{batch_id}/items?outcome=duplicate").json()["results"]
    assert [(d["position"], d["match"]) for d in dupes] == [(1, {"fingerprint": None, "value": None, "position": 0, "distance": 0})]
    assert [i["kind"] for i in client.get(f"/api/v1/batches/{batch_id}/items?kind=sha1").json()["results"]] == ["sha1"]


@pytest.mark.parametrize("query", ["outcome=maybe", "kind=ssdeep"])
def test_unknown_item_filters_are_422(cast, api, batch_id, query: str) -> None:
    assert_problem(api(cast.bob).get(f"/api/v1/batches/{batch_id}/items?{query}"), 422)


def test_batches_list_filters_by_status_and_member(cast, api, batch_id) -> None:
    client = api(cast.gina)
    assert [b["id"] for b in client.get("/api/v1/batches?member=acme").json()["results"]] == [batch_id]
    assert client.get("/api/v1/batches?member=globex").json()["results"] == []
    status = Batch.objects.get(pk=batch_id).status
    assert [b["id"] for b in client.get(f"/api/v1/batches?status={status}").json()["results"]] == [batch_id]
    assert_problem(client.get("/api/v1/batches?status=pending"), 422)


def test_an_unknown_batch_is_a_404_problem(cast, api) -> None:
    for path in ("/api/v1/batches/999999", "/api/v1/batches/999999/items", "/api/v1/batches/999999/envelope"):
        assert_problem(api(cast.bob).get(path), 404)


@pytest.mark.parametrize(("who", "status"), [("bob", 200), ("charlie", 200), ("audrey", 200), ("stan", 200), ("rita", 403)])
def test_people_read_batches_and_sync_machines_do_not(cast, api, batch_id, who: str, status: int) -> None:
    assert api(getattr(cast, who)).get(f"/api/v1/batches/{batch_id}").status_code == status


def test_the_submitter_withdraws_while_voting_and_it_is_logged(cast, api, batch_id) -> None:
    client = api(cast.alice)
    before = audit_size()
    response = client.post(f"/api/v1/batches/{batch_id}/withdraw")
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    assert audit_actions(since=before) == ["batch.withdrawn"]
    assert_problem(client.post(f"/api/v1/batches/{batch_id}/withdraw"), 409)  # once only


def test_charlie_cannot_withdraw_alices_batch(cast, api, batch_id) -> None:
    client = api(cast.charlie)
    before = audit_size()
    assert_problem(client.post(f"/api/v1/batches/{batch_id}/withdraw"), 403)
    assert Batch.objects.get(pk=batch_id).status != "withdrawn" and audit_size() == before


def test_a_decided_batch_cannot_be_withdrawn(cast, api, batch_id) -> None:
    Batch.objects.filter(pk=batch_id).update(status="approved")
    assert_problem(api(cast.alice).post(f"/api/v1/batches/{batch_id}/withdraw"), 409)
    assert Batch.objects.get(pk=batch_id).status == "approved"


def test_labels_list_by_dimension(cast, api) -> None:
    client = api(cast.rita)
    behaviours = [label["slug"] for label in client.get("/api/v1/labels?dimension=behaviour").json()["results"]]
    assert set(behaviours) == {"imminent-credible-threat", "graphic-violence", "glorification", "radicalisation"}
    dimensions = {label["dimension"] for label in client.get("/api/v1/labels?limit=100").json()["results"]}
    assert dimensions == {"producer", "content_type", "behaviour", "incident"}
    assert_problem(client.get("/api/v1/labels?dimension=colour"), 422)
