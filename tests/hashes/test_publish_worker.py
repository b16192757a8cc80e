"""The deciding vote's commit queues publishing; the real worker publishes the release."""
from __future__ import annotations

import time

import pytest

from hashes.models import Batch, Release


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_worker_publishes_an_approved_batch(cast, api, voting_batch, ivan, celery_worker) -> None:
    batch = voting_batch()
    api(cast.gina).put(f"/api/v1/batches/{batch.pk}/vote", {"decision": "approve"}, format="json")
    response = api(ivan).put(f"/api/v1/batches/{batch.pk}/vote", {"decision": "approve"}, format="json")
    assert response.json()["status"] == "approved"
    deadline = time.monotonic() + 30
    while not Release.objects.filter(batch=batch).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    release = Release.objects.get(batch=batch)
    assert release.adds == 1 and Batch.objects.get(pk=batch.pk).status == "published"
    body = api(cast.rita).get(f"/api/v1/releases/{release.seq}").json()
    assert body["payload"]["batch"] == batch.pk
