"""Publishing releases: the signed, gapless, hash-chained delta feed (PROTOCOL §6).

Every release takes the ReleaseHead row lock for the rest of its transaction. That makes `seq`
gapless and `prev` exact under concurrency, and it makes releases commit in `seq` order, which
the PDQ index's catch-up relies on (hashes/pdq_published.py).
"""
from __future__ import annotations

import hashlib
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from consortium import signing
from consortium.audit.services import SYSTEM, audit_append, rfc3339
from consortium.keys.services import consortium_key_sync, consortium_signing_key
from hashes.models import Batch, BatchItem, Fingerprint, FingerprintSource, Release, ReleaseHead
from hashes.services import hooks

PUBLISHED_OUTCOMES = (BatchItem.Outcome.NEW, BatchItem.Outcome.NEAR_DUPLICATE)


def release_publish_batch(*, batch_id: int) -> Release | None:
    """Publish an approved batch as the next release; idempotent.

    New and near-duplicate items become fingerprints (a retracted one with the same value is
    re-activated); exact duplicates only add the member as a source. An item that dedup found
    new but that another release published meanwhile is a duplicate by now and is not added
    twice. Returns the batch's release (the existing one if published before), or None if the
    batch is not approved. Side effects, in one transaction: fingerprints, sources, the release,
    the batch's `published` status, and a `release.published` audit entry carrying the envelope.
    """
    with transaction.atomic():
        head = ReleaseHead.objects.select_for_update().get(pk=1)
        batch = Batch.objects.select_for_update(of=("self",)).select_related("member").get(pk=batch_id)
        if batch.status == Batch.Status.PUBLISHED:
            return Release.objects.get(batch=batch)
        if batch.status != Batch.Status.APPROVED:
            return None
        seq = head.seq + 1
        now = timezone.now()
        added = _add_fingerprints(batch, seq=seq, now=now)
        _add_sources(batch, seq=seq)
        changes = [
            {"op": "add", "kind": kind, "value": value, "labels": labels, "fingerprint": fid}
            for fid, kind, value, labels in added
        ]
        release = _publish(head, seq=seq, now=now, batch=batch, changes=changes)
        Batch.objects.filter(pk=batch.pk, status=Batch.Status.APPROVED).update(status=Batch.Status.PUBLISHED)
    return release


def release_publish_retractions(*, limit: int = 100_000) -> Release | None:
    """Publish one release removing the fingerprints queued for retraction (None if none are)."""
    with transaction.atomic():
        head = ReleaseHead.objects.select_for_update().get(pk=1)
        queued = list(
            Fingerprint.objects.filter(retraction_queued__isnull=False, status=Fingerprint.Status.ACTIVE)
            .order_by("id")
            .values_list("id", "kind", "value", "labels")[:limit]
        )
        if not queued:
            return None
        seq = head.seq + 1
        Fingerprint.objects.filter(id__in=[row[0] for row in queued]).update(
            status=Fingerprint.Status.RETRACTED, removed_seq=seq
        )
        changes = [
            {"op": "remove", "kind": kind, "value": value, "labels": labels, "fingerprint": fid}
            for fid, kind, value, labels in queued
        ]
        return _publish(head, seq=seq, now=timezone.now(), batch=None, changes=changes)


def _add_fingerprints(batch: Batch, *, seq: int, now: Any) -> list[tuple[int, str, str, list[str]]]:
    """INSERT … SELECT from the batch's items, one statement whatever the batch's size. New
    fingerprints get ids in the items' order (dedup's updates move item rows around the heap,
    so without ORDER BY the order would be the table's)."""
    table, items = Fingerprint._meta.db_table, BatchItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (kind, value, labels, quality, status, added_seq, first_batch_id, created)
            SELECT kind, value, labels, quality, %s, %s, batch_id, %s FROM {items}
            WHERE batch_id = %s AND outcome IN (%s, %s)
            ORDER BY position  -- ids, and so the release's changes, follow the batch's order
            ON CONFLICT (kind, value) DO UPDATE
                SET status = EXCLUDED.status, added_seq = EXCLUDED.added_seq, removed_seq = NULL,
                    retraction_queued = NULL, labels = EXCLUDED.labels, first_batch_id = EXCLUDED.first_batch_id
                WHERE {table}.status = %s
            RETURNING id, kind, value, labels
            """,
            [Fingerprint.Status.ACTIVE, seq, now, batch.pk, *PUBLISHED_OUTCOMES, Fingerprint.Status.RETRACTED],
        )
        rows = cursor.fetchall()
    field = Fingerprint._meta.get_field("labels")
    return sorted((fid, kind, value, field.from_db_value(labels, None, connection)) for fid, kind, value, labels in rows)


def _add_sources(batch: Batch, *, seq: int) -> None:
    """The submitting member becomes a source of every active fingerprint its batch carries."""
    table, items, fingerprints = FingerprintSource._meta.db_table, BatchItem._meta.db_table, Fingerprint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (fingerprint_id, member_id, batch_id, seq)
            SELECT DISTINCT f.id, %s, %s, %s FROM {items} i
            JOIN {fingerprints} f ON f.kind = i.kind AND f.value = i.value
            WHERE i.batch_id = %s AND f.status = %s
            ON CONFLICT (fingerprint_id, member_id) DO NOTHING
            """,
            [batch.member_id, batch.pk, seq, batch.pk, Fingerprint.Status.ACTIVE],
        )


def _publish(head: ReleaseHead, *, seq: int, now: Any, batch: Batch | None, changes: list[dict[str, Any]]) -> Release:
    """Sign and store release `seq`; advance the head. Precondition: `head` is locked."""
    key = consortium_signing_key()
    consortium_key_sync()  # keys.json of the audit export must list the key that signs this
    payload = {
        "seq": seq,
        "prev": head.last_payload_sha256,
        "published_at": rfc3339(now),
        "batch": batch.pk if batch else None,
        "changes": changes,
    }
    envelope = signing.sign(payload, key=key, typ=signing.TYP_RELEASE)
    canonical = signing.jcs(payload)
    payload_sha256 = hashlib.sha256(canonical).hexdigest()
    document = signing.envelope_bytes(canonical, envelope["signature"])
    adds = sum(1 for change in changes if change["op"] == "add")
    release = Release.objects.create(
        seq=seq,
        prev=head.last_payload_sha256,
        published_at=now,
        batch=batch,
        payload_sha256=payload_sha256,
        envelope_sha256=hashlib.sha256(document).hexdigest(),
        kid=signing.thumbprint(key),
        adds=adds,
        removes=len(changes) - adds,
    )
    ReleaseHead.objects.filter(pk=head.pk).update(seq=seq, last_payload_sha256=payload_sha256)
    audit_append(
        actor=SYSTEM,
        action="release.published",
        subject=f"release:{seq}",
        batch=batch.pk if batch else None,
        payload_sha256=payload_sha256,
        adds=release.adds,
        removes=release.removes,
        kid=release.kid,
        documents=[document],
    )
    hooks.release_published(seq)
    return release
