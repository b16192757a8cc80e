"""Snapshots: the full active set as of a release, for members to bootstrap from (PROTOCOL §6)."""
from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, connection, transaction

from consortium import signing
from consortium.keys.services import consortium_key_sync, consortium_signing_key
from hashes.models import Fingerprint, ReleaseHead, Snapshot, SnapshotChunk

CHUNK_BYTES = 4 * 1024 * 1024
KEEP = 2


def snapshot_build() -> Snapshot | None:
    """Write the snapshot of the latest release seq, unless it exists; prune older ones.

    Reads the head seq and the active set in one REPEATABLE READ transaction (PostgreSQL), so
    both describe the same moment while publishing goes on. Memory stays flat: rows are read
    with a server-side cursor and written out in 4 MiB chunks. Returns None before any release.
    """
    try:
        snapshot = _build()
    except IntegrityError:  # another worker built the same seq at the same time
        return Snapshot.objects.order_by("-seq").first()
    if snapshot is None:
        return None
    stale = list(Snapshot.objects.order_by("-seq").values_list("id", flat=True)[KEEP:])
    if stale:
        Snapshot.objects.filter(id__in=stale).delete()
    return snapshot


def _build() -> Snapshot | None:
    outermost = not connection.in_atomic_block  # inside another transaction its snapshot rules
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        seq = ReleaseHead.objects.values_list("seq", flat=True).get(pk=1)
        if seq == 0:
            return None
        existing = Snapshot.objects.filter(seq=seq).first()
        if existing is not None:
            return existing
        snapshot = Snapshot.objects.create(seq=seq, count=0, size=0, sha256="", manifest=b"")
        digest, size, count, number = hashlib.sha256(), 0, 0, 0
        buffer: list[bytes] = []
        buffered = 0
        rows = (
            Fingerprint.objects.filter(status=Fingerprint.Status.ACTIVE, added_seq__isnull=False, added_seq__lte=seq)
            .order_by("id")
            .values_list("id", "kind", "value", "labels", "added_seq")
        )
        for fid, kind, value, labels, added in rows.iterator(chunk_size=20_000):
            line = signing.jcs({"fingerprint": fid, "kind": kind, "labels": labels, "seq": added, "value": value}) + b"\n"
            buffer.append(line)
            buffered += len(line)
            count += 1
            if buffered >= CHUNK_BYTES:
                number = _write_chunk(snapshot, number, buffer, digest)
                size += buffered
                buffer, buffered = [], 0
        if buffer:
            _write_chunk(snapshot, number, buffer, digest)
            size += buffered
        payload = {"seq": seq, "count": count, "sha256": digest.hexdigest(), "size": size}
        consortium_key_sync()
        envelope = signing.sign(payload, key=consortium_signing_key(), typ=signing.TYP_SNAPSHOT)
        manifest = signing.envelope_bytes(signing.jcs(payload), envelope["signature"])
        Snapshot.objects.filter(pk=snapshot.pk).update(count=count, size=size, sha256=payload["sha256"], manifest=manifest)
    snapshot.refresh_from_db()
    return snapshot


def _write_chunk(snapshot: Snapshot, number: int, buffer: list[bytes], digest: Any) -> int:
    data = b"".join(buffer)
    digest.update(data)
    SnapshotChunk.objects.create(snapshot=snapshot, number=number, data=data)
    return number + 1


