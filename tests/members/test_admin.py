"""The admin for members, users, tokens, keys and the audit log (staff; roles in tests/workplace)."""
from __future__ import annotations

import pytest

from consortium import signing
from consortium.audit.services import SYSTEM
from members.models import ApiToken, Member, MemberKey
from members.services.keys import key_add
from members.services.tokens import token_create
from tests.conftest import audit_actions, audit_size

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/",
    "/admin/members/member/",
    "/admin/members/user/",
    "/admin/members/apitoken/",
    "/admin/members/memberkey/",
    "/admin/members/endpoint/",
    "/admin/audit/auditentry/",
    "/admin/consortium_keys/consortiumkey/",
]


@pytest.mark.parametrize("page", PAGES)
def test_staff_can_open_every_admin_page(staff_client, page: str) -> None:
    assert staff_client.get(page).status_code == 200


def test_detail_pages_never_show_a_token_secret(cast, staff_client) -> None:
    token, secret = token_create(actor=SYSTEM, user=cast.bob)
    page = staff_client.get(f"/admin/members/apitoken/{token.pk}/change/").content.decode()
    assert token.prefix in page and secret not in page and token.digest not in page


def test_the_audit_entry_page_shows_the_entry(cast, staff_client) -> None:
    page = staff_client.get("/admin/audit/auditentry/0/change/").content.decode()
    assert "member.created" in page and "&quot;index&quot;: 0" in page


def test_suspending_in_the_admin_goes_through_the_service_and_is_logged(cast, staff_client) -> None:
    before = audit_size()
    response = staff_client.post(
        "/admin/members/member/", {"action": "suspend", "_selected_action": [cast.acme.pk]}, follow=True
    )
    assert response.status_code == 200 and "Suspended 1 member" in response.content.decode()
    assert Member.objects.get(pk=cast.acme.pk).status == "suspended"
    assert audit_actions(since=before) == ["member.suspended"]
    assert audit_actions()[-1:] == ["member.suspended"]


def test_revoking_tokens_and_keys_in_the_admin_is_logged(cast, staff_client) -> None:
    token, _ = token_create(actor=SYSTEM, user=cast.bob)
    key = key_add(actor=SYSTEM, member=cast.acme, jwk=signing.public_jwk(signing.generate_private_key()))
    before = audit_size()
    staff_client.post("/admin/members/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    staff_client.post("/admin/members/memberkey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked and MemberKey.objects.get(pk=key.pk).revoked
    assert audit_actions(since=before) == ["token.revoked", "key.revoked"]


def test_creating_a_member_in_the_admin_is_logged(staff_client) -> None:
    response = staff_client.post("/admin/members/member/add/", {"slug": "initech", "name": "Initech Cloud",
        "users-TOTAL_FORMS": 0, "users-INITIAL_FORMS": 0, "keys-TOTAL_FORMS": 0, "keys-INITIAL_FORMS": 0})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Member.objects.filter(slug="initech").exists()
    assert audit_actions()[-1] == "member.created"
