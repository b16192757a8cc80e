from __future__ import annotations

from celery import shared_task

from consortium.audit.services import checkpoint_sign


@shared_task(acks_late=True)
def audit_checkpoint() -> dict[str, int]:
    """Beat, every AUDIT_CHECKPOINT_INTERVAL seconds: sign a checkpoint if the log grew (idempotent)."""
    checkpoint = checkpoint_sign()
    return {"size": checkpoint.size}
