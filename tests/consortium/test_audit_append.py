"""The audit entry: one per change, gapless, JCS bytes as hashed, in the change's transaction."""
from __future__ import annotations

import json

import pytest
import rfc8785
from django.db import transaction

from consortium.audit.models import AuditEntry
from consortium.audit.services import SYSTEM, Actor, audit_append
from members.models import Member
from members.services.members import member_create

pytestmark = pytest.mark.django_db


def test_entries_get_gapless_indexes_from_zero() -> None:
    with transaction.atomic():
        for n in range(3):
            audit_append(actor=SYSTEM, action="test.thing", subject=f"thing:{n}")
    assert list(AuditEntry.objects.values_list("index", flat=True)) == [0, 1, 2]


def test_an_entry_is_stored_as_its_exact_jcs_bytes() -> None:
    with transaction.atomic():
        entry = audit_append(actor=Actor(member="acme", user="alice"), action="test.thing", subject="thing:1", note="é ✓")
    body = bytes(AuditEntry.objects.get(index=entry.index).body)
    parsed = json.loads(body)
    assert rfc8785.dumps(parsed) == body
    assert parsed["v"] == 1 and parsed["index"] == entry.index
    assert parsed["actor"] == {"member": "acme", "user": "alice"}
    assert parsed["action"] == "test.thing" and parsed["subject"] == "thing:1" and parsed["note"] == "é ✓"
    assert parsed["time"].endswith("Z")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_appending_outside_a_transaction_is_refused() -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        audit_append(actor=SYSTEM, action="test.thing", subject="thing:1")


def test_a_change_that_rolls_back_leaves_no_entry() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        member_create(actor=SYSTEM, slug="acme", name="Acme")
        raise Boom
    assert not Member.objects.filter(slug="acme").exists()
    assert AuditEntry.objects.count() == 0
    # ...and the index handed out in the rolled-back transaction is handed out again: no gap.
    member_create(actor=SYSTEM, slug="acme", name="Acme")
    assert list(AuditEntry.objects.values_list("index", "action")) == [(0, "member.created")]


def test_an_entry_over_64_kib_is_refused() -> None:
    with pytest.raises(ValueError, match="refer to large documents"), transaction.atomic():
        audit_append(actor=SYSTEM, action="test.big", subject="big", blob="x" * 70_000)
