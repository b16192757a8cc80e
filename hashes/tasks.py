"""Celery tasks of the hashes app: each takes ids, calls one service, and is safe to run twice."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from hashes.models import Batch
from hashes.services.dedup import batch_deduplicate
from hashes.services.releases import release_publish_batch, release_publish_retractions
from hashes.services.snapshots import snapshot_build
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


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, retry_backoff_max=300, max_retries=20)
def release_publish_batch_task(batch_id: int) -> int | None:
    """Publish an approved batch (queued when the deciding vote commits; idempotent)."""
    release = release_publish_batch(batch_id=batch_id)
    return release.seq if release else None


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def release_publish_retractions_task() -> int | None:
    """Publish the queued retractions as one release (queued by disputes and staff; beat too)."""
    release = release_publish_retractions()
    return release.seq if release else None


@shared_task(acks_late=True)
def release_sweep_approved() -> int:
    """Beat: publish approved batches whose task was lost (broker restart, killed worker)."""
    stale = timezone.now() - timedelta(minutes=2)
    ids = list(Batch.objects.filter(status=Batch.Status.APPROVED, decided__lt=stale).values_list("id", flat=True)[:100])
    for batch_id in ids:
        release_publish_batch_task.delay(batch_id)
    return len(ids)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def snapshot_build_task() -> int | None:
    """Beat: a snapshot of the latest release, if it has none yet (idempotent)."""
    snapshot = snapshot_build()
    return snapshot.seq if snapshot else None


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def propagate_event_task(event: str, data: dict) -> int:
    """Create the deliveries of one event (queued by the hooks after their change committed)."""
    from hashes.services.propagation import deliveries_create

    return len(deliveries_create(event=event, data=data))


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def delivery_attempt_task(delivery_id: int) -> str:
    """One attempt of one delivery (idempotent: a delivery not due is left alone)."""
    from hashes.services.propagation import delivery_attempt

    return delivery_attempt(delivery_id=delivery_id)


@shared_task(acks_late=True)
def delivery_sweep_task() -> int:
    """Beat: queue the attempts of due deliveries whose task vanished (worker killed, broker
    restarted); an attempt that is merely late finds the delivery claimed or done."""
    from hashes.services.propagation import deliveries_due

    due = deliveries_due()
    for delivery_id in due:
        delivery_attempt_task.delay(delivery_id)
    return len(due)


@shared_task(acks_late=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def propagate_release_task(seq: int) -> int:
    """`release.published` to subscribed endpoints: the envelope inline up to
    WEBHOOK_INLINE_MAX_BYTES, else its seq and URL (members fetch it from the feed)."""
    import json

    from django.conf import settings

    from consortium.audit.models import AuditDocument
    from hashes.models import Release
    from hashes.services.propagation import deliveries_create

    release = Release.objects.get(seq=seq)
    document = bytes(AuditDocument.objects.get(sha256=release.envelope_sha256).body)
    data: dict = {"seq": seq, "url": f"{settings.PUBLIC_URL}/api/v1/releases/{seq}"}
    if len(document) <= settings.WEBHOOK_INLINE_MAX_BYTES:
        data = {"seq": seq, "envelope": json.loads(document)}
    return len(deliveries_create(event="release.published", data=data))
