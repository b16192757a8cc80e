"""A batch submitted through the API is in the auditor's export and verifies offline."""
from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from client.consortium_client.audit_verify import verify_export
from hashes.models import Batch

pytestmark = pytest.mark.django_db


def test_the_signed_batch_is_exported_as_a_document_and_its_signature_verifies(cast, api, signed) -> None:
    response = api(cast.bob).post("/api/v1/batches", signed(ref="exported"), format="json")
    batch = Batch.objects.get(pk=response.json()["id"])
    served = api(cast.charlie).get(f"/api/v1/batches/{batch.pk}/envelope").content
    assert hashlib.sha256(served).hexdigest() == batch.envelope_sha256

    archive = b"".join(api(cast.audrey).get("/api/v1/audit/export").streaming_content)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = tar.getnames()
        assert f"documents/{batch.envelope_sha256}" in names
        assert tar.extractfile(f"documents/{batch.envelope_sha256}").read() == served
    said: list[str] = []
    verify_export(io.BytesIO(archive), say=said.append)
    report = "\n".join(said)
    assert "1 present" in report and "0 unsigned" in report, report
