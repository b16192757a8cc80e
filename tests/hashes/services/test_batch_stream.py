"""Batch submission on PostgreSQL: items are checked a chunk at a time while COPY streams them.

Small chunks here make every path multi-chunk: a valid batch is stored whole and in order; an
invalid item in a later chunk (after earlier chunks were already streamed) refuses the batch
with every error listed by position, and stores nothing; a failure inside the producer thread
surfaces and stores nothing.
"""
from __future__ import annotations

import pytest
from django.db import connection

from consortium.audit.models import AuditEntry
from consortium.errors import InvalidInput
from hashes.kinds import REGISTRY
from hashes.models import Batch, BatchItem
from hashes.services import batches
from hashes.services.batches import batch_submit
from tests.hashes.conftest import random_hex

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the streamed COPY is PostgreSQL's path"),
]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "ITEM_CHUNK", 3)


def nothing_stored(audit_before: int) -> None:
    assert not Batch.objects.exists() and not BatchItem.objects.exists()
    assert AuditEntry.objects.count() == audit_before


def test_a_valid_batch_of_many_chunks_is_stored_whole_and_in_order(cast, signed) -> None:
    items = [{"kind": "md5", "value": random_hex(32).upper()} for _ in range(10)]
    items[4] = {"kind": "pdq", "value": random_hex(64), "quality": 90}
    items[7] = {"kind": "url", "value": "HTTPS://Example.com/a,b\"c", "labels": ["image"]}
    batch = batch_submit(user=cast.bob, envelope=signed(items=items)).batch
    stored = list(BatchItem.objects.filter(batch=batch).order_by("position").values_list("position", "kind", "value", "labels", "quality"))
    assert [row[0] for row in stored] == list(range(10)) and batch.item_count == 10
    assert stored[0][2] == items[0]["value"].lower() and stored[0][3] == ["islamic-state"]
    assert stored[4][1:] == ("pdq", items[4]["value"], ["islamic-state"], 90)
    assert stored[7][1:] == ("url", 'https://example.com/a,b"c', ["image"], None)


def test_errors_in_later_chunks_refuse_the_batch_list_every_error_and_store_nothing(cast, signed) -> None:
    before = AuditEntry.objects.count()
    items = [{"kind": "md5", "value": random_hex(32)} for _ in range(12)]
    items[10] = {"kind": "md5", "value": "xyz"}
    items[4] = {"kind": "md5", "value": random_hex(32), "labels": ["no-such-label", "also-not"]}
    items[8] = "not an object"
    with pytest.raises(InvalidInput) as refused:
        batch_submit(user=cast.bob, envelope=signed(items=items))
    assert [(e["pointer"], e["code"]) for e in refused.value.errors] == [
        ("/payload/items/4/labels/0", "unknown_label"),
        ("/payload/items/4/labels/1", "unknown_label"),
        ("/payload/items/8", "invalid_item"),
        ("/payload/items/10/value", "invalid_length"),
    ]
    nothing_stored(before)


def test_a_failure_in_the_producer_thread_surfaces_and_stores_nothing(cast, signed, monkeypatch: pytest.MonkeyPatch) -> None:
    before = AuditEntry.objects.count()
    md5 = REGISTRY["md5"]
    calls = []
    original = type(md5).check_many

    def check_many(self, items, *, min_quality):  # noqa: ANN001, ANN202
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return original(self, items, min_quality=min_quality)

    monkeypatch.setattr(type(md5), "check_many", check_many)
    with pytest.raises(RuntimeError, match="boom"):
        batch_submit(user=cast.bob, envelope=signed(items=[{"kind": "md5", "value": random_hex(32)} for _ in range(9)]))
    nothing_stored(before)


# --- the batch reference, enforced once per statement instead of once per row (migration 0012) ---


@pytest.mark.parametrize("how", ["orm", "sql"])
def test_an_item_naming_a_missing_batch_is_refused(cast, signed, how: str) -> None:
    from django.db import IntegrityError, transaction

    batch = batch_submit(user=cast.bob, envelope=signed()).batch
    with pytest.raises(IntegrityError), transaction.atomic():
        if how == "orm":
            BatchItem.objects.bulk_create([BatchItem(batch_id=batch.pk, position=1, kind="md5", value="a" * 32),
                                           BatchItem(batch_id=batch.pk + 999, position=0, kind="md5", value="a" * 32)])
        else:
            with connection.cursor() as cursor:
                cursor.execute("UPDATE hashes_batchitem SET batch_id = %s WHERE batch_id = %s", [batch.pk + 999, batch.pk])
    assert BatchItem.objects.filter(batch=batch).count() == 1


def test_a_batch_with_items_cannot_be_deleted_behind_djangos_back(cast, signed) -> None:
    from django.db import IntegrityError, transaction

    batch = batch_submit(user=cast.bob, envelope=signed()).batch
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM hashes_batch WHERE id = %s", [batch.pk])
    assert Batch.objects.filter(pk=batch.pk).exists()
    BatchItem.objects.filter(batch=batch).delete()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM hashes_batch WHERE id = %s", [batch.pk])
    assert not Batch.objects.filter(pk=batch.pk).exists()
