"""/api/v1/members/me/tokens: list (never the secret), create (shown once), revoke."""
from __future__ import annotations

import pytest

from members.models import ApiToken
from tests.conftest import assert_problem, audit_actions, audit_size

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/me/tokens"


def test_an_admin_creates_a_token_for_a_user_and_sees_it_once(cast, api) -> None:
    client = api(cast.alice)
    before = audit_size()
    response = client.post(URL, {"user": "rita", "name": "sync job", "expires_days": 30}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("cst_") and body["user"] == "rita" and body["expires"].endswith("Z")
    assert audit_actions(since=before) == ["token.created"]
    # The secret is never shown again, and never stored.
    listed = [t for t in client.get(URL).json()["results"] if t["id"] == body["id"]][0]
    assert "token" not in listed
    assert not ApiToken.objects.filter(digest=body["token"]).exists()
    assert api(None).get("/api/v1/members/me", HTTP_AUTHORIZATION=f"Bearer {body['token']}").json()["username"] == "rita"


def test_an_admin_cannot_create_a_token_for_another_members_user(cast, api) -> None:
    body = assert_problem(api(cast.alice).post(URL, {"user": "charlie"}, format="json"), 422)
    assert body["errors"][0]["pointer"] == "/user"
    assert not ApiToken.objects.filter(user=cast.charlie).exists()


@pytest.mark.parametrize("expires_days", [0, -1, 100000, "soon"])
def test_bad_expiry_is_a_422_problem(cast, api, expires_days: object) -> None:
    assert_problem(api(cast.alice).post(URL, {"expires_days": expires_days}, format="json"), 422)


def test_an_admin_sees_the_members_tokens_and_others_only_their_own(cast, api) -> None:
    alice, bob = api(cast.alice), api(cast.bob)
    api(cast.charlie)  # a Globex token exists too
    assert {t["user"] for t in alice.get(URL).json()["results"]} == {"alice", "bob"}
    assert {t["user"] for t in bob.get(URL).json()["results"]} == {"bob"}


def test_a_user_revokes_their_own_token_and_it_stops_working_at_once(cast, api) -> None:
    bob = api(cast.bob)
    token_id = bob.get(URL).json()["results"][0]["id"]
    before = audit_size()
    response = bob.delete(f"{URL}/{token_id}")
    assert response.status_code == 200 and response.json()["revoked"]
    assert audit_actions(since=before) == ["token.revoked"]
    assert_problem(bob.get(URL), 401)


def test_charlie_cannot_see_or_revoke_alices_tokens(cast, api) -> None:
    alice = api(cast.alice)
    token_id = alice.get(URL).json()["results"][0]["id"]
    charlie = api(cast.charlie)
    assert_problem(charlie.get(f"{URL}/{token_id}"), 404)
    assert_problem(charlie.delete(f"{URL}/{token_id}"), 404)
    assert alice.get(URL).status_code == 200


def test_an_analyst_cannot_revoke_a_colleagues_token(cast, api) -> None:
    alice = api(cast.alice)
    token_id = alice.get(URL).json()["results"][0]["id"]
    assert_problem(api(cast.bob).delete(f"{URL}/{token_id}"), 404)
    assert alice.get(URL).status_code == 200


@pytest.mark.parametrize(("who", "status"), [("alice", 201), ("bob", 403), ("rita", 403), ("audrey", 403), ("stan", 403)])
def test_only_admins_create_tokens(cast, api, who: str, status: int) -> None:
    assert api(getattr(cast, who)).post(URL, {}, format="json").status_code == status
