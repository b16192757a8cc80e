"""The auditor's export and the verifier: what it checks, and every tampering it catches."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command
from django.db import transaction

from client.consortium_client import note
from client.consortium_client.audit_verify import VerificationError, verify_export
from consortium.audit.models import AuditEntry
from consortium.audit.services import SYSTEM, audit_append, checkpoint_sign
from members.models import MemberKey
from members.services.keys import key_revoke
from tests.consortium.audit.conftest import repack, unpack

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True, params=["sequential", "parallel"])
def checking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every export test runs twice: entries checked in this process, and by the process pool
    (forced for these small logs, two entries a chunk) that large logs use."""
    from client.consortium_client import audit_verify

    if request.param == "parallel":
        monkeypatch.setattr(audit_verify, "PARALLEL_FROM", 0)
        monkeypatch.setattr(audit_verify, "CHUNK_LINES", 2)
    return request.param


def verify(archive: bytes, **options: object) -> list[str]:
    import io

    said: list[str] = []
    verify_export(io.BytesIO(archive), say=said.append, **options)
    return said


def refused(archive: bytes, match: str, **options: object) -> None:
    import io

    with pytest.raises(VerificationError, match=match):
        verify_export(io.BytesIO(archive), **options)


def entries_of(files: dict[str, bytes]) -> list[bytes]:
    return files["entries.jsonl"].splitlines()


def with_entries(files: dict[str, bytes], lines: list[bytes]) -> bytes:
    return repack({**files, "entries.jsonl": b"".join(line + b"\n" for line in lines)})


def test_the_export_holds_the_checkpoint_vkey_keys_entries_and_documents(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    names = list(files)
    assert names[:4] == ["checkpoint", "log.vkey", "keys.json", "entries.jsonl"]
    size = AuditEntry.objects.count()
    assert note.parse_checkpoint(files["checkpoint"].decode().split("\n\n")[0] + "\n").size == size
    assert len(entries_of(files)) == size
    expected = {hashlib.sha256(d).hexdigest() for d in [*logged_documents["batches"], logged_documents["release"]]}
    assert {name.removeprefix("documents/") for name in names[4:]} == expected
    keys = json.loads(files["keys.json"])
    assert [k["member"] for k in keys["members"]] == ["acme"] and keys["members"][0]["revoked"] is None
    assert len(keys["consortium"]) == 1 and keys["consortium"][0]["retired"] is None


def test_staff_may_export_too(export_of, cast) -> None:
    assert unpack(export_of(cast.stan))["log.vkey"]


def test_a_fresh_export_verifies_and_says_what_it_checked(export_of, cast, logged_documents) -> None:
    said = verify(export_of(cast.audrey))
    size = AuditEntry.objects.count()
    assert any(line.startswith(f"entries: {size} in sequence") for line in said)
    assert any("3 present" in line and "2 member batch signatures and 1 consortium" in line for line in said)


def test_a_batch_signed_before_its_key_was_revoked_still_verifies(export_of, cast, logged_documents) -> None:
    key_revoke(actor=SYSTEM, key=MemberKey.objects.get())
    verify(export_of(cast.audrey))


def test_a_batch_logged_after_its_key_was_revoked_is_reported(export_of, cast, logged_documents) -> None:
    from tests.consortium.audit.conftest import batch_envelope

    key_revoke(actor=SYSTEM, key=MemberKey.objects.get())
    late = batch_envelope(logged_documents["private"], "acme", "late")
    with transaction.atomic():
        audit_append(actor=SYSTEM, action="batch.submitted", subject="batch:9", documents=[late])
    refused(export_of(cast.audrey), "was not valid at")


def test_a_batch_signed_by_another_members_key_is_reported(export_of, cast, logged_documents) -> None:
    from tests.consortium.audit.conftest import batch_envelope

    forged = batch_envelope(logged_documents["private"], "globex", "forged")
    with transaction.atomic():
        audit_append(actor=SYSTEM, action="batch.submitted", subject="batch:9", documents=[forged])
    refused(export_of(cast.audrey), "batch of member 'globex' signed by a key of 'acme'")


def test_one_changed_byte_in_an_entry_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    lines = entries_of(files)
    lines[2] = lines[2].replace(b'"acme"', b'"acmf"', 1)
    assert lines[2] != entries_of(files)[2]
    refused(with_entries(files, lines), "root of the .* entries .* is not the checkpoint's root")


def test_a_changed_byte_that_breaks_canonical_form_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    lines = entries_of(files)
    lines[1] = lines[1].replace(b'{"action"', b'{ "action"', 1)
    refused(with_entries(files, lines), "entry 1 is not canonical")


def test_a_dropped_entry_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    lines = entries_of(files)
    del lines[3]
    refused(with_entries(files, lines), "line 4 holds index 4 where index 3 belongs")


def test_a_dropped_last_entry_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    refused(with_entries(files, entries_of(files)[:-1]), "the checkpoint says the log has")


def test_two_swapped_entries_are_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    lines = entries_of(files)
    lines[4], lines[5] = lines[5], lines[4]
    refused(with_entries(files, lines), "line 5 holds index 5 where index 4 belongs")


def test_a_changed_checkpoint_size_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    text = files["checkpoint"].decode()
    size = text.split("\n")[1]
    files["checkpoint"] = text.replace(f"\n{size}\n", f"\n{int(size) - 1}\n", 1).encode()
    refused(repack(files), "checkpoint: the signature .* does not match")


def test_a_changed_checkpoint_root_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    lines = files["checkpoint"].decode().split("\n")
    lines[2] = base64.b64encode(bytes(32)).decode()
    files["checkpoint"] = "\n".join(lines).encode()
    refused(repack(files), "checkpoint: the signature .* does not match")


def test_a_checkpoint_signed_with_another_key_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    text = files["checkpoint"].decode().split("\n\n")[0] + "\n"
    files["checkpoint"] = note.sign(text, name="consortium.example/audit", private_key=Ed25519PrivateKey.generate()).encode()
    refused(repack(files), "checkpoint: the note carries no signature by consortium.example/audit")


def test_a_replaced_vkey_is_caught_by_the_key_the_auditor_trusts(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    trusted = files["log.vkey"].decode()
    other = Ed25519PrivateKey.generate()
    text = files["checkpoint"].decode().split("\n\n")[0] + "\n"
    files["checkpoint"] = note.sign(text, name="consortium.example/audit", private_key=other).encode()
    files["log.vkey"] = note.vkey("consortium.example/audit", other.public_key()).encode()
    verify(repack(files))  # consistent in itself...
    refused(repack(files), "not the key you trust", trusted_vkey=trusted)  # ...but not the log's key


def test_a_changed_document_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    name = next(n for n in files if n.startswith("documents/"))
    files[name] = files[name].replace(b"acme", b"acmf")
    refused(repack(files), "does not hash to its name")


def test_a_document_no_entry_refers_to_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    extra = b'{"stray":true}'
    files[f"documents/{hashlib.sha256(extra).hexdigest()}"] = extra
    refused(repack(files), "no entry refers to this document")


def test_a_missing_document_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    del files[next(n for n in files if n.startswith("documents/"))]
    refused(repack(files), "which documents/ lacks")


def test_a_document_with_a_forged_signature_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    name = f"documents/{hashlib.sha256(logged_documents['batches'][1]).hexdigest()}"
    envelope = json.loads(files[name])
    envelope["payload"]["ref"] = "changed"
    forged = json.dumps(envelope).encode()
    digest = hashlib.sha256(forged).hexdigest()
    # Rewrite consistently: the entry refers to the forged document (so only the signature can tell).
    del files[name]
    files[f"documents/{digest}"] = forged
    lines = [line.replace(name.removeprefix("documents/").encode(), digest.encode()) for line in entries_of(files)]
    with pytest.raises(VerificationError):
        verify(with_entries(files, lines))
    refused(with_entries(files, lines), "root of the")  # the entry change shows in the root first...
    # ...and the signature check alone catches it when the entries are left as they were.
    files_only_doc = unpack(export_of(cast.audrey))
    files_only_doc[name] = forged
    refused(repack(files_only_doc), "does not hash to its name")


def test_an_older_checkpoint_is_checked_for_consistency(export_of, cast, logged_documents) -> None:
    old = checkpoint_sign()
    with transaction.atomic():
        audit_append(actor=SYSTEM, action="test.thing", subject="later")
    archive = export_of(cast.audrey)
    said = verify(archive, previous_checkpoint=old.note)
    assert any(f"previous checkpoint: {old.size} entries" in line for line in said)


def test_an_older_checkpoint_of_another_history_is_reported(export_of, cast, logged_documents) -> None:
    files = unpack(export_of(cast.audrey))
    key_text = files["log.vkey"].decode().strip()
    from consortium.audit.logkey import log_signing_key

    forged = note.sign(note.checkpoint_text("consortium.example/audit", 2, bytes(32)), name="consortium.example/audit", private_key=log_signing_key())
    refused(repack(files), "the two checkpoints are inconsistent", previous_checkpoint=forged)
    larger = note.sign(note.checkpoint_text("consortium.example/audit", 10**6, bytes(32)), name="consortium.example/audit", private_key=log_signing_key())
    refused(repack(files), "the log shrank", previous_checkpoint=larger, trusted_vkey=key_text)


def test_garbage_is_reported_as_an_unreadable_export() -> None:
    refused(b"not a tarball", "not a readable .tar.gz")


def test_the_management_command_verifies_and_fails_loudly(export_of, cast, logged_documents, tmp_path, capsys) -> None:
    archive = tmp_path / "export.tar.gz"
    archive.write_bytes(export_of(cast.audrey))
    call_command("audit_verify", str(archive))
    assert "OK: the export verifies" in capsys.readouterr().out
    files = unpack(archive.read_bytes())
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(with_entries(files, entries_of(files)[:-1]))
    with pytest.raises(CommandError, match="FAILED: entries.jsonl holds"):
        call_command("audit_verify", str(bad))


def test_the_client_verifier_runs_without_django(export_of, cast, logged_documents, tmp_path) -> None:
    archive = tmp_path / "export.tar.gz"
    archive.write_bytes(export_of(cast.audrey))
    previous = tmp_path / "old.checkpoint"
    previous.write_text(checkpoint_sign().note)
    # Django is made unimportable: the client must need only cryptography and rfc8785.
    code = "import sys; sys.modules['django'] = None; from consortium_client.audit_verify import main; sys.exit(main())"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run(
        [sys.executable, "-c", code, str(archive), "--previous-checkpoint", str(previous)],
        cwd=ROOT / "client", env=env, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "OK: the export verifies" in run.stdout
    files = unpack(archive.read_bytes())
    lines = entries_of(files)
    lines[0], lines[1] = lines[1], lines[0]
    archive.write_bytes(with_entries(files, lines))
    run = subprocess.run([sys.executable, "-c", code, str(archive)], cwd=ROOT / "client", env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "FAILED: entries.jsonl: line 1 holds index 1" in run.stderr
