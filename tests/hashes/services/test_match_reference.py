"""BatchItem.match_fingerprint: the reference to a published fingerprint, enforced once per
statement by triggers instead of a row-level FOREIGN KEY (migration 0014)."""
from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from hashes.models import BatchItem, Fingerprint
from hashes.services.batches import batch_submit
from hashes.services.dedup import batch_deduplicate
from tests.hashes.conftest import publish, random_hex

pytestmark = pytest.mark.django_db


def a_batch(cast, signed, values: list[str]):  # noqa: ANN201
    return batch_submit(user=cast.bob, envelope=signed(items=[{"kind": "md5", "value": v} for v in values])).batch


def missing_fingerprint_id() -> int:
    return (Fingerprint.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


@pytest.mark.parametrize("how", ["orm", "sql"])
def test_an_item_naming_a_missing_fingerprint_is_refused(cast, signed, how: str) -> None:
    present = publish("md5", random_hex(32))
    batch = a_batch(cast, signed, [random_hex(32), random_hex(32)])
    with pytest.raises(IntegrityError), transaction.atomic():
        if how == "orm":
            BatchItem.objects.filter(batch=batch, position=0).update(outcome="duplicate", match_fingerprint_id=present.pk)
            BatchItem.objects.filter(batch=batch).update(outcome="duplicate", match_fingerprint_id=missing_fingerprint_id())
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE hashes_batchitem SET match_fingerprint_id = CASE position WHEN 0 THEN %s ELSE %s END WHERE batch_id = %s",
                    [present.pk, missing_fingerprint_id(), batch.pk],
                )
    assert list(BatchItem.objects.filter(batch=batch).values_list("match_fingerprint_id", flat=True)) == [None, None]


def test_an_item_inserted_with_a_missing_fingerprint_is_refused(cast, signed) -> None:
    present = publish("md5", random_hex(32))
    batch = a_batch(cast, signed, [random_hex(32)])
    with pytest.raises(IntegrityError), transaction.atomic():
        BatchItem.objects.bulk_create([
            BatchItem(batch=batch, position=1, kind="md5", value=random_hex(32), match_fingerprint_id=present.pk),
            BatchItem(batch=batch, position=2, kind="md5", value=random_hex(32), match_fingerprint_id=missing_fingerprint_id()),
        ])
    BatchItem.objects.bulk_create([BatchItem(batch=batch, position=1, kind="md5", value=random_hex(32), match_fingerprint_id=present.pk)])
    assert BatchItem.objects.filter(batch=batch).count() == 2


def test_a_referenced_fingerprint_cannot_be_deleted_or_renumbered_behind_djangos_back(cast, signed) -> None:
    value = random_hex(32)
    referenced = publish("md5", value)
    unreferenced = publish("md5", random_hex(32))
    batch = a_batch(cast, signed, [value])
    batch_deduplicate(batch_id=batch.pk)
    assert BatchItem.objects.get(batch=batch).match_fingerprint_id == referenced.pk
    for sql, params in (
        ("DELETE FROM hashes_fingerprint WHERE id IN (%s, %s)", [referenced.pk, unreferenced.pk]),
        ("UPDATE hashes_fingerprint SET id = %s WHERE id = %s", [missing_fingerprint_id(), referenced.pk]),
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    assert Fingerprint.objects.filter(pk__in=[referenced.pk, unreferenced.pk]).count() == 2
    with transaction.atomic(), connection.cursor() as cursor:  # unreferenced ones go, as before
        cursor.execute("DELETE FROM hashes_fingerprint WHERE id = %s", [unreferenced.pk])
    assert not Fingerprint.objects.filter(pk=unreferenced.pk).exists()


def test_dedup_still_records_published_matches_and_overwrites_them(cast, signed) -> None:
    value = random_hex(32)
    referenced = publish("md5", value)
    batch = a_batch(cast, signed, [value, random_hex(32), value])
    # A crashed earlier run left a stale reference and outcome behind.
    BatchItem.objects.filter(batch=batch, position=1).update(outcome="duplicate", match_fingerprint_id=referenced.pk, distance=0)
    batch_deduplicate(batch_id=batch.pk)
    assert list(BatchItem.objects.filter(batch=batch).order_by("position").values_list(
        "outcome", "match_fingerprint_id", "match_position", "distance"
    )) == [("duplicate", referenced.pk, None, 0), ("new", None, None, None), ("duplicate", referenced.pk, None, 0)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL isolation levels")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_deleting_fingerprints_outside_read_committed_is_refused(cast, signed) -> None:
    # Its snapshot may predate a reference committed since: it could not see it.
    unreferenced = publish("md5", random_hex(32))
    with pytest.raises(DatabaseError, match="READ COMMITTED"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("DELETE FROM hashes_fingerprint WHERE id = %s", [unreferenced.pk])
    assert Fingerprint.objects.filter(pk=unreferenced.pk).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL row locks")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_delete_waits_for_a_transaction_still_writing_a_reference_then_sees_it(cast, signed) -> None:
    value = random_hex(32)
    referenced = publish("md5", value)
    batch = a_batch(cast, signed, [value])
    written, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                BatchItem.objects.filter(batch=batch).update(outcome="duplicate", match_fingerprint_id=referenced.pk)
                written.set()
                release.wait(10)
        except BaseException as exc:  # asserted on below
            failures.append(exc)
        finally:
            written.set()
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(10)
        # The reference is not committed yet (the writer took no row lock on the fingerprint):
        # the delete waits for the writer rather than deleting under it.
        with pytest.raises(DatabaseError, match="lock timeout"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '300ms'")
            cursor.execute("DELETE FROM hashes_fingerprint WHERE id = %s", [referenced.pk])
    finally:
        release.set()
        thread.join()
    assert not failures
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM hashes_fingerprint WHERE id = %s", [referenced.pk])
    assert BatchItem.objects.get(batch=batch).match_fingerprint_id == referenced.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL isolation levels")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_under_repeatable_read_references_are_checked_and_locked(cast, signed) -> None:
    present = publish("md5", random_hex(32))
    batch = a_batch(cast, signed, [random_hex(32)])
    for fingerprint_id in (missing_fingerprint_id(), present.pk):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            update = BatchItem.objects.filter(batch=batch).update
            if fingerprint_id == present.pk:
                update(match_fingerprint_id=fingerprint_id)
                continue
            with pytest.raises(IntegrityError), transaction.atomic():
                update(match_fingerprint_id=fingerprint_id)
    assert BatchItem.objects.get(batch=batch).match_fingerprint_id == present.pk
