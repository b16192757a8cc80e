"""Staff see the checkpoint status in the admin; checkpoints are read-only there."""
from __future__ import annotations

import pytest
from django.db import transaction

from consortium.audit.services import SYSTEM, audit_append, checkpoint_sign

pytestmark = pytest.mark.django_db


def test_the_audit_log_admin_shows_how_far_the_checkpoint_trails(staff_client) -> None:
    checkpoint = checkpoint_sign()
    with transaction.atomic():
        audit_append(actor=SYSTEM, action="test.thing", subject="later")
    page = staff_client.get("/admin/audit/auditentry/").content.decode()
    assert f"latest checkpoint: {checkpoint.size} entries" in page and "1 entries not yet in a checkpoint" in page


def test_the_checkpoint_admin_lists_signed_checkpoints_read_only(staff_client) -> None:
    checkpoint = checkpoint_sign()
    assert staff_client.get("/admin/audit/checkpoint/").status_code == 200
    detail = staff_client.get(f"/admin/audit/checkpoint/{checkpoint.size}/change/")
    assert detail.status_code == 200 and "consortium.example/audit" in detail.content.decode()
    assert staff_client.get("/admin/audit/checkpoint/add/").status_code == 403
