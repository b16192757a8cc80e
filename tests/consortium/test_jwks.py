"""The consortium's public keys at /.well-known/jwks.json and /api/v1/keys."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.test import Client

from consortium import signing
from consortium.keys.services import consortium_key_sync, consortium_signing_key
from tests.conftest import audit_actions

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured_key(settings) -> Iterator[Callable[[], object]]:
    """Point the settings at a fresh consortium key (as an operator's rotation would)."""

    def configure() -> object:
        key = signing.generate_private_key()
        settings.CONSORTIUM_SIGNING_KEY = signing.private_key_to_json(key)
        consortium_signing_key.cache_clear()
        return key

    yield configure
    consortium_signing_key.cache_clear()


def test_both_paths_serve_the_active_key_without_authentication(configured_key) -> None:
    key = configured_key()
    consortium_key_sync()
    for path in ("/.well-known/jwks.json", "/api/v1/keys"):
        (listed,) = Client().get(path).json()["keys"]
        assert listed["kid"] == signing.thumbprint(key) and listed["x"] == signing.public_jwk(key)["x"]
        assert listed["use"] == "sig" and listed["retired"] is None and listed["created"].endswith("Z")
        assert "d" not in listed


def test_a_rotated_key_stays_listed_as_retired(configured_key) -> None:
    old = configured_key()
    consortium_key_sync()
    new = configured_key()
    consortium_key_sync()
    consortium_key_sync()  # idempotent
    keys = {k["kid"]: k for k in Client().get("/.well-known/jwks.json").json()["keys"]}
    assert keys[signing.thumbprint(old)]["retired"] is not None
    assert keys[signing.thumbprint(new)]["retired"] is None
    assert audit_actions() == ["consortium_key.activated", "consortium_key.activated"]
