"""The Celery wiring: a real worker process on the real Redis broker runs a task."""
from __future__ import annotations

import pytest

from consortium.tasks import ping


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_a_task_from_redis_against_postgresql(celery_worker) -> None:
    result = ping.delay()
    assert result.get(timeout=30) == {"pong": "ok", "database": "postgresql"}
    assert celery_worker.poll() is None  # the worker is still alive after the task
