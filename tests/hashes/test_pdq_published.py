"""The per-process index of published PDQ fingerprints: snapshot, catch-up, refresh."""
from __future__ import annotations

import pytest

from hashes import pdq_published
from hashes.models import Fingerprint
from tests.hashes.conftest import publish, random_hex

pytestmark = pytest.mark.django_db


def near(value: str, bits: int = 3) -> str:
    return f"{int(value, 16) ^ ((1 << bits) - 1):064x}"


def test_a_new_process_maps_the_snapshot_and_catches_up_from_its_seq(settings) -> None:
    first = publish("pdq", random_hex(64), seq=1)
    index = pdq_published.published_pdq_index()
    assert index.watermark == 1 and len(index) == 1
    assert (settings.PDQ_INDEX_DIR / "published").exists()

    second = publish("pdq", random_hex(64), seq=2)
    pdq_published.published_pdq_index_reset()  # another process starting now
    index = pdq_published.published_pdq_index()
    assert index.watermark == 2
    assert index.nearest(near(second.value))[0] == second.pk
    assert index.nearest(near(first.value))[0] == first.pk


def test_removals_and_other_kinds_are_applied(settings) -> None:
    kept = publish("pdq", random_hex(64), seq=1)
    gone = publish("pdq", random_hex(64), seq=1)
    publish("md5", random_hex(32), seq=1)
    assert len(pdq_published.published_pdq_index()) == 2
    Fingerprint.objects.filter(pk=gone.pk).update(status="retracted", removed_seq=2)
    index = pdq_published.published_pdq_index()
    assert index.nearest(gone.value) is None and index.nearest(kept.value)[0] == kept.pk
    unpublished = Fingerprint.objects.create(kind="pdq", value=random_hex(64))
    assert pdq_published.published_pdq_index().nearest(unpublished.value) is None


def test_after_many_changes_the_process_writes_and_maps_a_fresh_snapshot(settings) -> None:
    settings.PDQ_INDEX_SNAPSHOT_EVERY = 3
    publish("pdq", random_hex(64), seq=1)
    pdq_published.published_pdq_index()
    for seq in range(2, 6):
        publish("pdq", random_hex(64), seq=seq)
    index = pdq_published.published_pdq_index()
    assert index.watermark == 5 and len(index) == 5
    pdq_published.published_pdq_index_reset()
    # The snapshot on disk is the fresh one: a new process needs no catch-up.
    from hashes.pdq_index import PDQIndex

    assert PDQIndex.load(settings.PDQ_INDEX_DIR / "published").watermark == 5


def test_a_database_that_went_back_is_rebuilt_from_scratch(settings) -> None:
    old = publish("pdq", random_hex(64), seq=7)
    pdq_published.published_pdq_index()
    Fingerprint.objects.filter(pk=old.pk).delete()
    new = publish("pdq", random_hex(64), seq=2)
    index = pdq_published.published_pdq_index()
    assert index.watermark == 2 and index.nearest(old.value) is None and index.nearest(new.value)[0] == new.pk


def test_an_unreadable_snapshot_is_rebuilt(settings) -> None:
    first = publish("pdq", random_hex(64), seq=1)
    pdq_published.published_pdq_index()
    target = (settings.PDQ_INDEX_DIR / "published").resolve()
    for file in target.iterdir():
        file.write_bytes(b"garbage")
    pdq_published.published_pdq_index_reset()
    assert pdq_published.published_pdq_index().nearest(first.value)[0] == first.pk
