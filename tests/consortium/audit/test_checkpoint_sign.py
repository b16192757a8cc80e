"""checkpoint_sign: signed C2SP checkpoints, idempotent, never two inconsistent ones."""
from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test import override_settings

from client.consortium_client import merkle, note
from consortium.audit.logkey import log_signing_key, log_vkey
from consortium.audit.models import AuditEntry, Checkpoint
from consortium.audit.services import SYSTEM, LogInconsistent, audit_append, checkpoint_sign

pytestmark = pytest.mark.django_db


def append(n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            audit_append(actor=SYSTEM, action="test.thing", subject=f"thing:{i}")


def test_it_signs_a_checkpoint_of_the_log_with_the_log_key() -> None:
    append(5)
    checkpoint = checkpoint_sign()
    bodies = [bytes(b) for b in AuditEntry.objects.order_by("index").values_list("body", flat=True)]
    opened = note.open_checkpoint(checkpoint.note, note.parse_vkey(log_vkey()))
    assert (opened.origin, opened.size, opened.root) == ("consortium.example/audit", 5, merkle.MemoryTree(bodies).root())
    assert checkpoint.note.startswith("consortium.example/audit\n5\n")
    assert "\n\n\u2014 consortium.example/audit " in checkpoint.note


def test_it_signs_nothing_new_when_the_log_did_not_grow() -> None:
    append(2)
    first = checkpoint_sign()
    assert checkpoint_sign() == first
    append(1)
    assert checkpoint_sign().size == 3
    assert Checkpoint.objects.count() == 2


def test_an_empty_log_gets_a_checkpoint_of_size_zero() -> None:
    checkpoint = checkpoint_sign()
    assert checkpoint.size == 0 and bytes(checkpoint.root) == merkle.EMPTY_ROOT


def test_it_refuses_to_sign_a_tree_that_does_not_extend_the_last_checkpoint() -> None:
    append(3)
    # A checkpoint whose root is not the stored tree's: as if history had been rewritten since.
    Checkpoint.objects.create(size=2, root=b"\x07" * 32, note="forged", created="2026-01-01T00:00:00Z")
    append(1)
    with pytest.raises(LogInconsistent, match="does not extend the checkpoint of 2"):
        checkpoint_sign()
    assert Checkpoint.objects.count() == 1


def test_the_origin_and_key_come_from_settings() -> None:
    append(1)
    seed = "42" * 32
    log_signing_key.cache_clear()
    try:
        with override_settings(CONSORTIUM_LOG_ORIGIN="audit.acme.test/log", CONSORTIUM_LOG_KEY=seed):
            checkpoint = checkpoint_sign()
            vkey = log_vkey()
    finally:
        log_signing_key.cache_clear()
    assert vkey.startswith("audit.acme.test/log+")
    assert note.open_checkpoint(checkpoint.note, note.parse_vkey(vkey)).origin == "audit.acme.test/log"


# serialized_rollback: an earlier transactional test flushed the rows migrations made (AuditHead, CheckpointLock).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_signers_at_once_sign_one_checkpoint() -> None:
    append(4)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def sign() -> None:
        try:
            barrier.wait()
            results.append(checkpoint_sign().size)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [4, 4]
    assert list(Checkpoint.objects.values_list("size", flat=True)) == [4]
