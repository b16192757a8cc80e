"""Celery tasks of the hashes app: each takes ids, calls one service, and is safe to run twice."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from hashes.models import Batch
from hashes.services.dedup import batch_deduplicate
from hashes.services.votes import batch_expire_due

# Database hiccups are worth retrying; anything else is a bug and should be seen.
TRANSIENT = (OperationalError, InterfaceError)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300, max_retries=20)
def batch_deduplicate_task(batch_id: int) -> str | None:
    batch = batch_deduplicate(batch_id=batch_id)
    return batch.status if batch else None


@shared_task(acks_late=True)
def batch_sweep_received() -> int:
    """Re-queue dedup for batches still `received` after a while: their task was lost (broker
    restarted, worker killed before it acknowledged) or failed for good. Deduplication is
    idempotent, so a batch whose task is merely slow is not harmed."""
    stale = timezone.now() - timedelta(minutes=5)
    ids = list(Batch.objects.filter(status=Batch.Status.RECEIVED, received__lt=stale).values_list("id", flat=True)[:1000])
    for batch_id in ids:
        batch_deduplicate_task.delay(batch_id)
    return len(ids)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def batch_expire_due_task() -> int:
    """Beat: expire batches whose voting window closed (idempotent: conditional updates)."""
    return batch_expire_due()
