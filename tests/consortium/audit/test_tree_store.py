"""audit_append writes the Merkle tree as it goes; roots and proofs come from stored nodes."""
from __future__ import annotations

import hashlib

import pytest
from django.db import IntegrityError, connection, transaction

from client.consortium_client import merkle
from consortium.audit.models import AuditDocument, AuditEntry, AuditTreeNode, Checkpoint
from consortium.audit.selectors import audit_consistency_proof, audit_inclusion_proof, audit_root
from consortium.audit.services import SYSTEM, audit_append, checkpoint_sign

pytestmark = pytest.mark.django_db


def append(n: int) -> list[bytes]:
    with transaction.atomic():
        return [bytes(audit_append(actor=SYSTEM, action="test.thing", subject=f"thing:{i}").body) for i in range(n)]


def test_every_append_stores_its_leaf_and_the_subtrees_it_completes() -> None:
    bodies = append(11)
    reference = merkle.MemoryTree(bodies)
    stored = {(n.level, n.index): bytes(n.digest) for n in AuditTreeNode.objects.all()}
    assert stored == reference.nodes
    assert len(stored) == 11 + 5 + 2 + 1  # leaves, then complete pairs, quads and eights


def test_roots_and_proofs_from_the_store_match_a_tree_built_in_memory() -> None:
    bodies = append(23)
    reference = merkle.MemoryTree(bodies)
    for size in (0, 1, 7, 8, 16, 23):
        assert audit_root(size) == reference.root(size)
    for index, size in [(0, 1), (5, 8), (22, 23), (13, 17)]:
        assert audit_inclusion_proof(index, size) == reference.inclusion_proof(index, size)
    for old, new in [(1, 23), (8, 16), (7, 23), (23, 23)]:
        assert audit_consistency_proof(old, new) == reference.consistency_proof(old, new)


def test_a_root_costs_a_handful_of_reads_however_long_the_log(django_assert_max_num_queries) -> None:
    append(40)
    with django_assert_max_num_queries(1):
        audit_root(37)
    with django_assert_max_num_queries(1):
        audit_inclusion_proof(3, 37)


def test_documents_are_stored_once_by_sha256_and_listed_in_the_entry() -> None:
    first, second = b'{"payload":{"a":1},"signature":"x..y"}', b'{"other":true}'
    with transaction.atomic():
        entry = audit_append(actor=SYSTEM, action="test.docs", subject="doc", documents=[first, second])
    with transaction.atomic():
        audit_append(actor=SYSTEM, action="test.docs", subject="again", documents=[first])
    digests = [hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()]
    assert b'"documents":["%s","%s"]' % (digests[0].encode(), digests[1].encode()) in bytes(entry.body)
    assert AuditDocument.objects.count() == 2
    stored = AuditDocument.objects.get(sha256=digests[0])
    assert bytes(stored.body) == first and stored.first_index == entry.index


def test_documents_keep_every_byte_and_one_listed_twice_is_stored_once() -> None:
    every_byte = bytes(range(256)) * 4096 + b"\x00"  # a megabyte, NULs and all: binary COPY on PostgreSQL
    with transaction.atomic():
        entry = audit_append(actor=SYSTEM, action="test.docs", subject="bytes", documents=[every_byte, every_byte])
    stored = AuditDocument.objects.get()
    assert bytes(stored.body) == every_byte and stored.first_index == entry.index
    assert stored.media_type == "application/json"


def test_a_rolled_back_append_leaves_no_node_and_no_document() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        audit_append(actor=SYSTEM, action="test.docs", subject="doc", documents=[b"{}"])
        raise Boom
    assert not AuditTreeNode.objects.exists() and not AuditDocument.objects.exists()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditentry SET action = 'forged'",
        "DELETE FROM audit_auditentry",
        "UPDATE audit_audittreenode SET digest = '\\x00'",
        "DELETE FROM audit_audittreenode",
        "UPDATE audit_auditdocument SET body = '\\x00'",
        "DELETE FROM audit_auditdocument",
        "UPDATE audit_checkpoint SET size = 0",
        "DELETE FROM audit_checkpoint",
    ],
)
def test_postgresql_refuses_to_update_or_delete_the_log(statement: str) -> None:
    assert connection.vendor == "postgresql"
    with transaction.atomic():
        audit_append(actor=SYSTEM, action="test.docs", subject="doc", documents=[b"{}"])
    checkpoint_sign()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEntry.objects.filter(action="test.docs").count() == 1
    assert Checkpoint.objects.count() == 1


def test_the_orm_cannot_edit_an_entry_either() -> None:
    entry = append(1)
    row = AuditEntry.objects.get(index=0)
    row.action = "forged"
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()
    assert bytes(AuditEntry.objects.get(index=0).body) == entry[0]
