"""The beat task on a real Celery worker signs a checkpoint of what was committed."""
from __future__ import annotations

import pytest
from django.conf import settings
from django.db import transaction

from consortium.audit.models import Checkpoint
from consortium.audit.services import SYSTEM, audit_append
from consortium.audit.tasks import audit_checkpoint


def test_the_beat_schedule_signs_checkpoints_every_interval() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry == {"task": "consortium.audit.tasks.audit_checkpoint", "schedule": float(settings.AUDIT_CHECKPOINT_INTERVAL)}
    assert audit_checkpoint.name == entry["task"]


@pytest.mark.worker
# serialized_rollback: an earlier transactional test flushed the rows migrations made (AuditHead, CheckpointLock).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_signs_a_checkpoint_once_the_log_grew(celery_worker) -> None:
    with transaction.atomic():
        for n in range(3):
            audit_append(actor=SYSTEM, action="test.thing", subject=f"thing:{n}")
    assert audit_checkpoint.delay().get(timeout=30) == {"size": 3}
    assert audit_checkpoint.delay().get(timeout=30) == {"size": 3}  # nothing new: nothing signed
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [3]
    assert Checkpoint.objects.get().note.startswith(f"{settings.CONSORTIUM_LOG_ORIGIN}\n3\n")
