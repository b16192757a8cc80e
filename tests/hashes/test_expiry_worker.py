"""Batches whose window closed are expired by celery beat and a real worker."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from consortium.audit.models import AuditEntry
from hashes.models import Batch


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_beat_expires_a_batch_whose_window_closed(cast, voting_batch, celery_beat) -> None:
    batch = voting_batch()
    still_open = voting_batch()
    Batch.objects.filter(pk=batch.pk).update(closes_at=timezone.now() + timedelta(seconds=2))
    deadline = time.monotonic() + 40
    while Batch.objects.get(pk=batch.pk).status == "voting" and time.monotonic() < deadline:
        time.sleep(0.25)
    assert Batch.objects.get(pk=batch.pk).status == "expired"
    assert Batch.objects.get(pk=still_open.pk).status == "voting"
    entry = AuditEntry.objects.get(action="batch.decided", subject=f"batch:{batch.pk}")
    assert entry.actor_user is None  # the server itself
