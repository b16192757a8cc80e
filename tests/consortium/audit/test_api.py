"""The audit API: checkpoint, vkey, entries and proofs; who may read them; bad parameters."""
from __future__ import annotations

import base64

import pytest
from django.db import transaction

from client.consortium_client import merkle, note
from consortium.audit.models import AuditEntry, Checkpoint
from consortium.audit.services import SYSTEM, audit_append, checkpoint_sign
from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db

READ_PATHS = [
    "/api/v1/audit/checkpoint",
    "/api/v1/audit/vkey",
    "/api/v1/audit/entries?start=0&end=1",
    "/api/v1/audit/proof/inclusion?index=0&size=1",
    "/api/v1/audit/proof/consistency?old=0&new=1",
]


def bodies() -> list[bytes]:
    return [bytes(b) for b in AuditEntry.objects.order_by("index").values_list("body", flat=True)]


def b64(values: list[bytes]) -> list[str]:
    return [base64.b64encode(v).decode() for v in values]


@pytest.mark.parametrize("path", READ_PATHS)
@pytest.mark.parametrize("who", ["alice", "bob", "rita", "charlie", "audrey", "stan"])
def test_every_role_may_read_the_log_and_its_proofs(api, cast, path: str, who: str) -> None:
    assert api(getattr(cast, who)).get(path).status_code == 200


@pytest.mark.parametrize("path", [*READ_PATHS, "/api/v1/audit/export"])
def test_anonymous_callers_are_refused(api, cast, path: str) -> None:
    assert_problem(api(None).get(path), 401)


@pytest.mark.parametrize("who", ["alice", "bob", "rita", "charlie"])
def test_only_auditors_and_staff_may_export(api, cast, who: str) -> None:
    body = assert_problem(api(getattr(cast, who)).get("/api/v1/audit/export"), 403)
    assert "auditor" in body["detail"] and "staff" in body["detail"]


def test_a_member_of_a_suspended_member_is_refused(api, cast) -> None:
    from members.services.members import member_set_status

    client = api(cast.charlie)
    member_set_status(actor=SYSTEM, member=cast.globex, status="suspended")
    assert_problem(client.get("/api/v1/audit/checkpoint"), 403)


def test_the_checkpoint_is_the_latest_signed_note_and_verifies_with_the_vkey(api, cast) -> None:
    client = api(cast.rita)
    first = client.get("/api/v1/audit/checkpoint")
    assert first["Content-Type"] == "text/plain; charset=utf-8"
    vkey = client.get("/api/v1/audit/vkey").content.decode()
    checkpoint = note.open_checkpoint(first.content.decode(), note.parse_vkey(vkey))
    assert checkpoint.size == Checkpoint.objects.get().size
    # Signed on demand once; later requests serve the stored note until the beat task signs again.
    assert client.get("/api/v1/audit/checkpoint").content == first.content


def test_the_checkpoint_answers_text_whatever_the_client_accepts(api, cast) -> None:
    response = api(cast.rita).get("/api/v1/audit/checkpoint", HTTP_ACCEPT="text/plain")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")


def test_entries_are_the_exact_leaf_bytes_one_per_line(api, cast) -> None:
    response = api(cast.bob).get("/api/v1/audit/entries?start=2&end=5")
    assert response["Content-Type"] == "application/jsonl"
    content = b"".join(response.streaming_content)
    assert content == b"".join(body + b"\n" for body in bodies()[2:5])


def test_entries_default_to_the_start_and_the_end_of_the_log(api, cast) -> None:
    content = b"".join(api(cast.bob).get("/api/v1/audit/entries").streaming_content)
    assert content.count(b"\n") == AuditEntry.objects.count()
    assert b"".join(api(cast.bob).get("/api/v1/audit/entries?start=3&end=3").streaming_content) == b""


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("start=x&end=2", "invalid_start"),
        ("start=-1&end=2", "invalid_start"),
        ("start=1.5", "invalid_start"),
        ("start=0&end=99999999999999999999999", "invalid_end"),
        ("start=3&end=2", "invalid_range"),
        ("start=0&end=1000", "beyond_log"),
    ],
)
def test_bad_entry_ranges_are_422_problems(api, cast, query: str, code: str) -> None:
    body = assert_problem(api(cast.bob).get(f"/api/v1/audit/entries?{query}"), 422)
    assert body["errors"][0]["code"] == code and body["errors"][0]["pointer"] == ""


def test_an_entry_range_over_ten_thousand_is_refused_with_the_way_forward(api, cast) -> None:
    from consortium.audit.models import AuditHead

    client = api(cast.bob)
    # The check reads the head's size only: pretend the log is long instead of writing 10,001 entries.
    AuditHead.objects.filter(pk=1).update(size=20_000)
    body = assert_problem(client.get("/api/v1/audit/entries?start=0&end=10001"), 422)
    assert body["errors"][0]["code"] == "range_too_large" and "[0, 10000)" in body["detail"]


def test_an_inclusion_proof_verifies_against_the_signed_checkpoint(api, cast) -> None:
    client = api(cast.rita)
    checkpoint = note.open_checkpoint(
        client.get("/api/v1/audit/checkpoint").content.decode(), note.parse_vkey(client.get("/api/v1/audit/vkey").content.decode())
    )
    leaves = bodies()
    for index in (0, 3, checkpoint.size - 1):
        proof = client.get(f"/api/v1/audit/proof/inclusion?index={index}&size={checkpoint.size}").json()
        assert proof["index"] == index and proof["size"] == checkpoint.size
        assert base64.b64decode(proof["root"]) == checkpoint.root
        assert base64.b64decode(proof["leaf_hash"]) == merkle.leaf_hash(leaves[index])
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        merkle.verify_inclusion(index, checkpoint.size, merkle.leaf_hash(leaves[index]), hashes, checkpoint.root)


def test_a_consistency_proof_links_an_old_checkpoint_to_a_new_one(api, cast) -> None:
    old = checkpoint_sign()
    with transaction.atomic():
        for n in range(5):
            audit_append(actor=SYSTEM, action="test.thing", subject=f"thing:{n}")
    new = checkpoint_sign()
    proof = api(cast.bob).get(f"/api/v1/audit/proof/consistency?old={old.size}&new={new.size}").json()
    assert proof["old"] == old.size and base64.b64decode(proof["old_root"]) == bytes(old.root)
    merkle.verify_consistency(old.size, new.size, bytes(old.root), bytes(new.root), [base64.b64decode(h) for h in proof["hashes"]])
    assert proof["hashes"] == b64(merkle.MemoryTree(bodies()).consistency_proof(old.size, new.size))


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "missing_index"),
        ("index=0", "missing_size"),
        ("index=a&size=1", "invalid_index"),
        ("index=1&size=1", "index_out_of_range"),
        ("index=0&size=0", "index_out_of_range"),
        ("index=0&size=100000", "beyond_log"),
    ],
)
def test_bad_inclusion_parameters_are_422_problems(api, cast, query: str, code: str) -> None:
    body = assert_problem(api(cast.bob).get(f"/api/v1/audit/proof/inclusion?{query}"), 422)
    assert body["errors"][0]["code"] == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("new=1", "missing_old"),
        ("old=1", "missing_new"),
        ("old=1&new=%20", "invalid_new"),
        ("old=3&new=2", "invalid_range"),
        ("old=1&new=100000", "beyond_log"),
    ],
)
def test_bad_consistency_parameters_are_422_problems(api, cast, query: str, code: str) -> None:
    body = assert_problem(api(cast.bob).get(f"/api/v1/audit/proof/consistency?{query}"), 422)
    assert body["errors"][0]["code"] == code


def test_trivial_consistency_proofs_are_empty(api, cast) -> None:
    client = api(cast.bob)
    assert client.get("/api/v1/audit/proof/consistency?old=0&new=4").json()["hashes"] == []
    assert client.get("/api/v1/audit/proof/consistency?old=4&new=4").json()["hashes"] == []


def test_the_audit_endpoints_refuse_writes(api, cast) -> None:
    assert_problem(api(cast.stan).post("/api/v1/audit/checkpoint", {}, format="json"), 405)
