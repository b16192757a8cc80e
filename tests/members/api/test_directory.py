"""/api/v1/members and /api/v1/members/me."""
from __future__ import annotations

import pytest

from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("who", ["alice", "bob", "rita", "charlie", "audrey", "stan"])
def test_every_role_reads_the_directory_without_secrets(cast, api, who: str) -> None:
    response = api(getattr(cast, who)).get("/api/v1/members")
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"slug": "acme", "name": "Acme Video", "status": "active", "created": cast.acme.created.isoformat().replace("+00:00", "Z")},
        {"slug": "globex", "name": "Globex Social", "status": "active", "created": cast.globex.created.isoformat().replace("+00:00", "Z")},
    ]


def test_me_names_the_callers_member_and_role(cast, api) -> None:
    body = api(cast.rita).get("/api/v1/members/me").json()
    assert body["member"]["slug"] == "acme" and body["username"] == "rita" and body["role"] == "reader"
    assert body["staff"] is False


def test_an_auditor_of_no_member_has_no_member(cast, api) -> None:
    body = api(cast.audrey).get("/api/v1/members/me").json()
    assert body["member"] is None and body["role"] == "auditor"


def test_the_directory_needs_a_token(cast, api) -> None:
    assert_problem(api(None).get("/api/v1/members"), 401)
