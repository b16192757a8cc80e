"""Nothing lost: a worker killed with SIGKILL in the middle of deliveries, a receiver that is
down for a while, and after a restart and the sweeper every delivery arrives, exactly once per
webhook-id after the receiver drops duplicates."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consortium.audit.services import SYSTEM
from hashes.models import Delivery
from hashes.services.propagation import deliveries_create, deliveries_due
from members.services.endpoints import endpoint_create
from tests.conftest import ROOT, _celery_env
from tests.hashes.services.test_propagation import Receiver

QUEUE = "sigkill-test"


def start_worker(log: Path) -> subprocess.Popen:
    env = {**_celery_env(), "CELERY_TASK_DEFAULT_QUEUE": QUEUE, "WEBHOOK_TIMEOUT": "2", "WEBHOOK_LEASE_SLACK": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "consortium", "worker", "-Q", QUEUE, "--concurrency=1",
         "--loglevel=INFO", "--without-gossip", "--without-mingle", f"--hostname=sigkill-{time.monotonic_ns()}@%h"],
        cwd=ROOT, env=env, stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True,  # noqa: SIM115
    )


def wait_for(condition, seconds: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_killed_worker_and_a_receiver_outage_lose_no_delivery(cast, settings, tmp_path: Path) -> None:
    from consortium.celery import app

    settings.WEBHOOK_ALLOW_LOOPBACK = True
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = QUEUE  # our own workers only: the session's worker reads another
    receiver = Receiver()
    receiver.delay = 0.3  # slow enough to be killed mid-delivery
    endpoint = endpoint_create(actor=SYSTEM, member=cast.acme, url=receiver.url, events=["batch.decided"])
    receiver.secrets.append(endpoint.secret)
    workers: list[subprocess.Popen] = []
    try:
        ids = [deliveries_create(event="batch.decided", data={"batch": n, "decision": "approved"})[0] for n in range(20)]
        workers.append(start_worker(tmp_path / "worker.log"))
        assert wait_for(lambda: len(receiver.received) >= 3, 60), "the first worker delivered nothing"
        os.killpg(workers[0].pid, signal.SIGKILL)  # the worker and its pool child, mid-delivery
        workers[0].wait()

        receiver.answers = [503] * 5  # the receiver is down for a while
        workers.append(start_worker(tmp_path / "worker.log"))

        def everything_delivered() -> bool:
            # The beat sweeper's job, done here: queue what is due (lost with the killed worker,
            # or waiting out its backoff after the outage).
            for delivery_id in deliveries_due():
                from hashes.tasks import delivery_attempt_task

                delivery_attempt_task.delay(delivery_id)
            return Delivery.objects.filter(pk__in=ids, status="delivered").count() == len(ids)

        assert wait_for(everything_delivered, 120), list(Delivery.objects.values_list("status", "attempts", "last_error"))
    finally:
        app.conf.task_default_queue = default_queue
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)
        receiver.server.shutdown()
    accepted = [r for r in receiver.received if r["verified"]]
    assert all(r["verified"] for r in receiver.received)
    unique = {r["headers"]["webhook-id"] for r in accepted}
    assert unique == set(Delivery.objects.filter(pk__in=ids).values_list("webhook_id", flat=True))
