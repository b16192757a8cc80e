"""member_create and token_create print the new token as their last line, for scripts."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tests.conftest import audit_actions

pytestmark = pytest.mark.django_db


def _run(*args: str) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_member_create_makes_a_member_with_an_admin_and_prints_a_working_token() -> None:
    lines = _run("member_create", "acme", "--name", "Acme Video", "--admin", "alice")
    response = Client().get("/api/v1/members/me", HTTP_AUTHORIZATION=f"Bearer {lines[-1]}")
    assert response.json()["member"]["slug"] == "acme" and response.json()["role"] == "admin"
    assert audit_actions() == ["member.created", "user.created", "token.created"]


def test_member_create_refuses_a_taken_slug_and_changes_nothing() -> None:
    _run("member_create", "acme", "--name", "Acme Video", "--admin", "alice")
    with pytest.raises(CommandError, match="exists already"):
        _run("member_create", "acme", "--name", "Other", "--admin", "other")
    assert audit_actions() == ["member.created", "user.created", "token.created"]


def test_token_create_prints_a_working_token_that_expires(cast) -> None:
    lines = _run("token_create", "bob", "--expires-days", "7")
    assert "expires" in lines[0]
    assert Client().get("/api/v1/members/me", HTTP_AUTHORIZATION=f"Token {lines[-1]}").json()["username"] == "bob"


def test_token_create_names_an_unknown_user() -> None:
    with pytest.raises(CommandError, match="No user 'nobody'"):
        _run("token_create", "nobody")


def test_the_demo_sets_up_members_keys_and_tokens_and_can_run_twice(settings, tmp_path) -> None:
    settings.VAR_DIR = tmp_path
    first = _run("demo", "--no-serve")
    second = _run("demo", "--no-serve")
    token = next(line.split()[-1] for line in second if line.startswith("acme     acme-admin"))
    body = Client().get("/api/v1/members/me/keys", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert len(body["results"]) == 1  # the second run reused the demo key
    assert any("Workplace:" in line for line in first)
    assert any("a first release from acme" in line for line in first)
    assert any("there are batches already" in line for line in second)
    assert (tmp_path / "demo-keys" / "acme.jwk").stat().st_mode & 0o777 == 0o600


def test_periodic_runs_every_beat_task_once_in_process(settings) -> None:
    lines = _run("periodic")
    assert {line.split(":")[0] for line in lines} == set(settings.CELERY_BEAT_SCHEDULE)
    assert all("SUCCESS" in line for line in lines), lines
