"""Helpers of the transparency-log tests: a log with signed documents, and exports to tamper with."""
from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from consortium import signing
from consortium.audit.services import SYSTEM, Actor, audit_append
from consortium.keys.services import consortium_key_sync, consortium_signing_key
from members.services.keys import key_add


def batch_envelope(key: Any, member: str, ref: str) -> bytes:
    """A made-up batch envelope signed by a member key, as bytes (what the lead's batches will log)."""
    payload = {"member": member, "ref": ref, "issued_at": "2026-01-01T00:00:00Z", "labels": [], "items": [{"kind": "md5", "value": "0" * 32}]}
    return signing.jcs(signing.sign(payload, key=key, typ=signing.TYP_BATCH))


def release_envelope(seq: int) -> bytes:
    payload = {"seq": seq, "prev": None, "published_at": "2026-01-01T00:00:00Z", "batch": None, "changes": []}
    return signing.jcs(signing.sign(payload, key=consortium_signing_key(), typ=signing.TYP_RELEASE))


@pytest.fixture
def logged_documents(cast, ed25519) -> dict[str, Any]:
    """Acme registers a key, submits two signed batches and the consortium publishes a release."""
    consortium_key_sync()
    private = ed25519()
    key_add(actor=Actor.of(cast.alice), member=cast.acme, jwk=signing.public_jwk(private), created_by=cast.alice)
    batches = [batch_envelope(private, "acme", f"ref-{n}") for n in range(2)]
    with transaction.atomic():
        audit_append(actor=Actor.of(cast.bob), action="batch.submitted", subject="batch:1", documents=[batches[0]])
    with transaction.atomic():
        audit_append(actor=Actor.of(cast.bob), action="batch.submitted", subject="batch:2", documents=[batches[1]])
    release = release_envelope(1)
    with transaction.atomic():
        audit_append(actor=SYSTEM, action="release.published", subject="release:1", documents=[release, batches[0]])
    return {"private": private, "batches": batches, "release": release}


@pytest.fixture
def export_of(api) -> Callable[[Any], bytes]:
    def fetch(user: Any) -> bytes:
        response = api(user).get("/api/v1/audit/export")
        assert response.status_code == 200, response.content
        return b"".join(response.streaming_content)

    return fetch


def unpack(archive: bytes) -> dict[str, bytes]:
    """The members of an export, in order."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar:
            handle = tar.extractfile(member)
            files[member.name] = handle.read() if handle else b""
    return files


def repack(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
