"""Publishing releases: gapless seq, prev chain, consortium signature, adds, sources, removals."""
from __future__ import annotations

import hashlib
import json

import pytest
import rfc8785

from consortium import signing
from consortium.audit.models import AuditDocument, AuditEntry
from hashes.models import Batch, Fingerprint, FingerprintSource, Release
from hashes.services.opinions import fingerprint_retract
from hashes.services.releases import release_publish_batch, release_publish_retractions
from hashes.services.votes import vote_cast
from tests.hashes.conftest import consortium_key, random_hex

pytestmark = pytest.mark.django_db


def envelope_of(release: Release) -> dict:
    return json.loads(bytes(AuditDocument.objects.get(sha256=release.envelope_sha256).body))


def test_an_approved_batch_becomes_release_1_signed_by_the_consortium(cast, approved) -> None:
    md5, pdq = random_hex(32), random_hex(64)
    batch = approved(items=[{"kind": "md5", "value": md5}, {"kind": "pdq", "value": pdq, "quality": 90}])
    release = release_publish_batch(batch_id=batch.pk)
    assert (release.seq, release.prev, release.adds, release.removes) == (1, None, 2, 0)
    envelope = envelope_of(release)
    verified = signing.verify(envelope, typ=signing.TYP_RELEASE, resolve_key=consortium_key)
    payload = verified.payload
    assert payload["seq"] == 1 and payload["prev"] is None and payload["batch"] == batch.pk
    assert [(c["op"], c["kind"], c["value"], c["labels"]) for c in payload["changes"]] == [
        ("add", "md5", md5, ["islamic-state"]), ("add", "pdq", pdq, ["islamic-state"])
    ]
    assert Batch.objects.get(pk=batch.pk).status == "published"
    assert set(Fingerprint.objects.values_list("added_seq", flat=True)) == {1}
    assert FingerprintSource.objects.filter(member=cast.acme).count() == 2
    entry = json.loads(bytes(AuditEntry.objects.get(action="release.published").body))
    assert entry["payload_sha256"] == hashlib.sha256(rfc8785.dumps(payload)).hexdigest()
    assert entry["documents"] == [release.envelope_sha256]


def test_publishing_is_idempotent_and_needs_an_approved_batch(cast, approved, voting_batch) -> None:
    batch = approved()
    first = release_publish_batch(batch_id=batch.pk)
    assert release_publish_batch(batch_id=batch.pk).seq == first.seq
    assert Release.objects.count() == 1
    assert release_publish_batch(batch_id=voting_batch().pk) is None


def test_each_release_links_to_the_previous_payload(cast, approved) -> None:
    one = release_publish_batch(batch_id=approved().pk)
    two = release_publish_batch(batch_id=approved().pk)
    assert two.seq == 2 and two.prev == one.payload_sha256
    assert envelope_of(two)["payload"]["prev"] == hashlib.sha256(rfc8785.dumps(envelope_of(one)["payload"])).hexdigest()


def test_duplicates_add_the_member_as_a_source_only(cast, approved, globex_key, signed, ivan) -> None:
    md5 = random_hex(32)
    release_publish_batch(batch_id=approved(items=[{"kind": "md5", "value": md5}]).pk)
    from hashes.services.batches import batch_submit
    from hashes.services.dedup import batch_deduplicate

    batch = batch_submit(user=cast.gina, envelope=signed(key=globex_key, member="globex", items=[{"kind": "md5", "value": md5}])).batch
    batch_deduplicate(batch_id=batch.pk)
    vote_cast(user=cast.bob, batch=batch, decision="approve")
    vote_cast(user=ivan, batch=batch, decision="approve")
    release = release_publish_batch(batch_id=batch.pk)
    assert release.adds == 0 and envelope_of(release)["payload"]["changes"] == []
    fingerprint = Fingerprint.objects.get(value=md5)
    assert sorted(fingerprint.sources.values_list("member__slug", flat=True)) == ["acme", "globex"]


def test_retractions_publish_a_remove_release_and_a_resubmission_comes_back(cast, approved) -> None:
    md5 = random_hex(32)
    release_publish_batch(batch_id=approved(items=[{"kind": "md5", "value": md5}]).pk)
    fingerprint = Fingerprint.objects.get(value=md5)
    fingerprint_retract(user=cast.stan, fingerprint=fingerprint, reason="court order")
    removal = release_publish_retractions()
    assert removal.seq == 2 and removal.removes == 1
    assert envelope_of(removal)["payload"]["changes"] == [
        {"op": "remove", "kind": "md5", "value": md5, "labels": ["islamic-state"], "fingerprint": fingerprint.pk}
    ]
    assert Fingerprint.objects.get(pk=fingerprint.pk).status == "retracted"
    assert release_publish_retractions() is None
    again = release_publish_batch(batch_id=approved(items=[{"kind": "md5", "value": md5}]).pk)
    assert again.adds == 1 and Fingerprint.objects.get(pk=fingerprint.pk).status == "active"
