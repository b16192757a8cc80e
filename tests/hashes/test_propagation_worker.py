"""End to end with the real worker: the deciding vote's commit leads to a published release,
which reaches the member's receiver, signed, with the release envelope inline."""
from __future__ import annotations

import json
import time

import pytest

from consortium import signing
from consortium.audit.services import SYSTEM
from hashes.models import Delivery, Release
from members.services.endpoints import endpoint_create
from tests.hashes.conftest import consortium_key
from tests.hashes.services.test_propagation import Receiver


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_published_release_reaches_the_members_endpoint(cast, api, voting_batch, ivan, celery_worker, settings) -> None:
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    receiver = Receiver()
    try:
        endpoint = endpoint_create(actor=SYSTEM, member=cast.globex, url=receiver.url, events=["release.published", "batch.decided"])
        receiver.secrets.append(endpoint.secret)
        batch = voting_batch()
        api(cast.gina).put(f"/api/v1/batches/{batch.pk}/vote", {"decision": "approve"}, format="json")
        api(ivan).put(f"/api/v1/batches/{batch.pk}/vote", {"decision": "approve"}, format="json")
        deadline = time.monotonic() + 40
        while Delivery.objects.filter(status="delivered").count() < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        receiver.server.shutdown()
    assert sorted(Delivery.objects.values_list("event", "status")) == [("batch.decided", "delivered"), ("release.published", "delivered")]
    assert all(request["verified"] for request in receiver.received)
    release_body = next(json.loads(r["body"]) for r in receiver.received if json.loads(r["body"])["type"] == "release.published")
    release = Release.objects.get(batch=batch)
    assert release_body["data"]["seq"] == release.seq
    verified = signing.verify(release_body["data"]["envelope"], typ=signing.TYP_RELEASE, resolve_key=consortium_key)
    assert verified.payload["batch"] == batch.pk
