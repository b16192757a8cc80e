"""A submitted batch is deduplicated by the real Celery worker and opens for voting."""
from __future__ import annotations

import time

import pytest

from consortium import signing
from hashes.models import Batch, BatchItem
from tests.hashes.conftest import payload, publish, random_hex


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_worker_deduplicates_a_submitted_batch(cast, api, acme_key, celery_worker) -> None:
    base = random_hex(64)
    published = publish("pdq", base)
    near = f"{int(base, 16) ^ 0b111:064x}"  # 3 bits away
    md5 = random_hex(32)
    items = [
        {"kind": "pdq", "value": near},
        {"kind": "md5", "value": md5},
        {"kind": "md5", "value": md5},
    ]
    envelope = signing.sign(payload(items=items), key=acme_key, typ=signing.TYP_BATCH)
    response = api(cast.bob).post("/api/v1/batches", envelope, format="json")
    assert response.status_code == 202 and response.json()["status"] == "received"
    batch_id = response.json()["id"]
    deadline = time.monotonic() + 30
    while Batch.objects.get(pk=batch_id).status == "received" and time.monotonic() < deadline:
        time.sleep(0.1)
    batch = Batch.objects.get(pk=batch_id)
    assert batch.status == "voting"
    assert (batch.new_count, batch.duplicate_count, batch.near_duplicate_count) == (1, 1, 1)
    assert list(BatchItem.objects.filter(batch=batch).order_by("position").values_list("outcome", "match_fingerprint_id", "distance")) == [
        ("near_duplicate", published.pk, 3), ("new", None, None), ("duplicate", None, 0),
    ]
