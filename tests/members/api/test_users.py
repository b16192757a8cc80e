"""/api/v1/members/me/users: an admin manages its member's users and roles."""
from __future__ import annotations

import pytest

from members.models import User
from tests.conftest import assert_problem, audit_actions, audit_size

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/me/users"


def test_an_admin_adds_a_user_and_changes_its_role(cast, api) -> None:
    alice = api(cast.alice)
    before = audit_size()
    assert alice.post(URL, {"username": "dora", "role": "analyst"}, format="json").status_code == 201
    response = alice.patch(f"{URL}/dora", {"role": "reader"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "reader"
    assert alice.patch(f"{URL}/dora", {"role": "reader"}, format="json").status_code == 200  # no change
    assert audit_actions(since=before) == ["user.created", "user.role_changed"]
    assert User.objects.get(username="dora").member == cast.acme


def test_a_deactivated_users_tokens_stop_working(cast, api) -> None:
    bob, alice = api(cast.bob), api(cast.alice)
    before = audit_size()
    assert alice.patch(f"{URL}/bob", {"is_active": False}, format="json").status_code == 200
    assert audit_actions(since=before) == ["user.deactivated"]
    assert_problem(bob.get("/api/v1/members/me"), 401)


def test_an_admin_cannot_demote_themself(cast, api) -> None:
    assert_problem(api(cast.alice).patch(f"{URL}/alice", {"role": "reader"}, format="json"), 422)
    assert User.objects.get(username="alice").role == "admin"


@pytest.mark.parametrize(
    "body", [{"username": "bad name!", "role": "analyst"}, {"username": "x", "role": "auditor"}, {"username": "x"}, {"role": "x"}]
)
def test_bad_users_are_422_problems(cast, api, body: dict) -> None:
    assert_problem(api(cast.alice).post(URL, body, format="json"), 422)
    assert not User.objects.filter(username="x").exists()


def test_a_taken_username_is_a_409_problem(cast, api) -> None:
    assert_problem(api(cast.alice).post(URL, {"username": "charlie", "role": "reader"}, format="json"), 409)


def test_charlie_cannot_see_or_change_alices_users(cast, api) -> None:
    charlie = api(cast.charlie)
    assert {u["username"] for u in charlie.get(URL).json()["results"]} == {"charlie", "gina"}
    assert_problem(charlie.get(f"{URL}/bob"), 404)
    assert_problem(charlie.patch(f"{URL}/bob", {"role": "reader"}, format="json"), 404)
    assert User.objects.get(username="bob").role == "analyst"


@pytest.mark.parametrize(("who", "get", "post"), [("alice", 200, 201), ("bob", 200, 403), ("rita", 403, 403), ("audrey", 404, 403)])
def test_each_role_gets_what_it_is_allowed(cast, api, who: str, get: int, post: int) -> None:
    client = api(getattr(cast, who))
    assert client.get(URL).status_code == get
    assert client.post(URL, {"username": "newbie", "role": "reader"}, format="json").status_code == post
