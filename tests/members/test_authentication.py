"""Bearer and Token headers; revoked, expired and suspended callers."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from consortium.audit.services import SYSTEM
from members.models import ApiToken, Member
from members.services.members import member_set_status
from members.services.tokens import token_create, token_revoke
from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db

ME = "/api/v1/members/me"


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer"])
def test_both_bearer_and_token_schemes_authenticate(cast, scheme: str) -> None:
    _, secret = token_create(actor=SYSTEM, user=cast.bob, name="t")
    response = Client().get(ME, HTTP_AUTHORIZATION=f"{scheme} {secret}")
    assert response.status_code == 200 and response.json()["username"] == "bob"


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer cst_unknown", "Token "])
def test_malformed_or_unknown_tokens_get_401(cast, header: str) -> None:
    assert_problem(Client().get(ME, HTTP_AUTHORIZATION=header), 401)


def test_a_revoked_token_gets_401(cast) -> None:
    token, secret = token_create(actor=SYSTEM, user=cast.bob)
    token_revoke(actor=SYSTEM, token=token)
    assert "revoked" in assert_problem(Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}"), 401)["detail"]


def test_an_expired_token_gets_401(cast) -> None:
    token, secret = token_create(actor=SYSTEM, user=cast.bob, expires_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires=timezone.now() - timedelta(seconds=1))
    assert "expired" in assert_problem(Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}"), 401)["detail"]


def test_a_suspended_members_tokens_get_403_at_once_and_work_again_after_reactivation(cast) -> None:
    _, secret = token_create(actor=SYSTEM, user=cast.bob)
    member_set_status(actor=SYSTEM, member=cast.acme, status=Member.Status.SUSPENDED)
    assert "suspended" in assert_problem(Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}"), 403)["detail"]
    assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 403
    member_set_status(actor=SYSTEM, member=cast.acme, status=Member.Status.ACTIVE)
    assert Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200


def test_tokens_are_stored_only_as_their_sha256(cast) -> None:
    token, secret = token_create(actor=SYSTEM, user=cast.bob)
    row = ApiToken.objects.get(pk=token.pk)
    assert secret not in (row.digest, row.prefix) and row.digest == ApiToken.digest_of(secret)
    assert len(row.prefix) < len(secret) // 2


def test_use_records_last_used(cast) -> None:
    token, secret = token_create(actor=SYSTEM, user=cast.bob)
    assert token.last_used is None
    Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert ApiToken.objects.get(pk=token.pk).last_used is not None
