"""The auditor's export: one streamed .tar.gz of the log up to its latest checkpoint (PROTOCOL §9).

Members, in this order (the bundled verifier reads the archive as a stream, in one pass):
`checkpoint` (the signed note), `log.vkey`, `keys.json`, `entries.jsonl` (every entry's leaf
bytes and a newline, index 0 to size-1) and `documents/<sha256>` (the envelopes entries refer to).
The tar and gzip framing are written here chunk by chunk, so memory stays flat whatever the
log's size: only entries.jsonl's length must be known up front (for its tar header), and it
is one SUM over the same immutable rows that are then streamed.
"""
from __future__ import annotations

import json
import tarfile
import time
import zlib
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Length

from consortium.audit.logkey import log_vkey
from consortium.audit.models import AuditDocument, AuditEntry, Checkpoint
from consortium.audit.selectors import audit_entry_bodies
from consortium.audit.services import rfc3339
from consortium.keys.selectors import consortium_jwks
from members.models import MemberKey

BLOCK = 512
RECORD = 20 * BLOCK
# Level 6 (gzip's default) compresses entries ~6x; the export is CPU-bound on it, see bench/.
GZIP_LEVEL = 6
FLUSH_AT = 256 * 1024


class _GzipTar:
    """Tar members framed by hand and gzip-compressed as they come; `take()` hands out output."""

    def __init__(self, mtime: int) -> None:
        self.mtime = mtime
        self._zip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self._out: list[bytes] = []
        self._pending = 0
        self._written = 0

    def _write(self, data: bytes) -> None:
        self._written += len(data)
        compressed = self._zip.compress(data)
        if compressed:
            self._out.append(compressed)
            self._pending += len(compressed)

    def header(self, name: str, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self.mtime
        info.mode = 0o644
        info.uname = info.gname = "consortium"
        self._write(info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="strict"))

    def data(self, chunk: bytes) -> None:
        self._write(chunk)

    def pad(self) -> None:
        remainder = self._written % BLOCK
        if remainder:
            self._write(bytes(BLOCK - remainder))

    def file(self, name: str, content: bytes) -> None:
        self.header(name, len(content))
        self.data(content)
        self.pad()

    def ready(self) -> bool:
        return self._pending >= FLUSH_AT

    def take(self) -> bytes:
        chunk = b"".join(self._out)
        self._out, self._pending = [], 0
        return chunk

    def close(self) -> bytes:
        self._write(bytes(2 * BLOCK))
        remainder = self._written % RECORD
        if remainder:
            self._write(bytes(RECORD - remainder))
        self._out.append(self._zip.flush())
        return self.take()


def export_keys() -> dict[str, list[dict[str, Any]]]:
    """keys.json: every consortium key and every member key (revoked ones too) with its validity."""
    members = [
        {
            **row.public_jwk,
            "kid": row.kid,
            "member": row.member.slug,
            "created": rfc3339(row.created),
            "revoked": rfc3339(row.revoked) if row.revoked else None,
        }
        for row in MemberKey.objects.select_related("member").order_by("id")
    ]
    return {"consortium": consortium_jwks()["keys"], "members": members}


def audit_export_stream(checkpoint: Checkpoint) -> Iterator[bytes]:
    """The .tar.gz of the log as of `checkpoint`, in chunks. Iterate it to the end or close it."""
    # Inside an outer transaction (a test's), the isolation level is already fixed.
    outer = connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and not outer:
            # One snapshot for the keys, the length and the rows. Entries below the checkpoint are
            # immutable anyway; the snapshot keeps keys.json and documents from the same instant.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield from _export(checkpoint)


def _export(checkpoint: Checkpoint) -> Iterator[bytes]:
    size = checkpoint.size
    tar = _GzipTar(mtime=int(time.time()))
    tar.file("checkpoint", checkpoint.note.encode())
    tar.file("log.vkey", (log_vkey() + "\n").encode())
    tar.file("keys.json", json.dumps(export_keys(), indent=1, sort_keys=True).encode() + b"\n")

    totals = AuditEntry.objects.filter(index__lt=size).aggregate(count=Count("index"), length=Sum(Length("body")))
    if totals["count"] != size:
        raise RuntimeError(f"the audit log has {totals['count']} entries below its checkpoint of {size}")
    announced = (totals["length"] or 0) + size
    tar.header("entries.jsonl", announced)
    written = 0
    lines: list[bytes] = []
    for body in audit_entry_bodies(0, size):
        lines.append(body)
        if len(lines) >= 2000:
            block = b"\n".join(lines) + b"\n"
            written += len(block)
            tar.data(block)
            lines = []
            if tar.ready():
                yield tar.take()
    if lines:
        block = b"\n".join(lines) + b"\n"
        written += len(block)
        tar.data(block)
    if written != announced:
        # Never hand out an archive whose tar framing lies; the client sees a broken download.
        raise RuntimeError(f"entries.jsonl was announced as {announced} bytes but {written} were read")
    tar.pad()
    yield tar.take()

    documents = AuditDocument.objects.filter(first_index__lt=size).order_by("first_index", "sha256")
    for sha256, body in documents.values_list("sha256", "body").iterator(chunk_size=16):
        tar.file(f"documents/{sha256}", bytes(body))
        if tar.ready():
            yield tar.take()
    yield tar.close()
