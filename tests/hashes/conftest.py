"""Signed batches for the hashes tests: Alice's member (Acme) has a registered key."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

from consortium import signing
from consortium.audit.services import SYSTEM
from hashes.models import Fingerprint
from members.services.keys import key_add


@pytest.fixture
def acme_key(cast) -> Any:
    """Acme's private signing key, registered as active."""
    key = signing.generate_private_key()
    key_add(actor=SYSTEM, member=cast.acme, jwk=signing.public_jwk(key))
    return key


@pytest.fixture
def globex_key(cast) -> Any:
    key = signing.generate_private_key()
    key_add(actor=SYSTEM, member=cast.globex, jwk=signing.public_jwk(key))
    return key


def random_hex(digits: int) -> str:
    return secrets.token_hex(digits // 2)


def payload(member: str = "acme", *, items: list[dict] | None = None, **fields: Any) -> dict[str, Any]:
    body = {
        "member": member,
        "ref": fields.pop("ref", f"ref-{secrets.token_hex(4)}"),
        "issued_at": "2026-11-21T10:00:00Z",
        "labels": ["islamic-state"],
        "items": items if items is not None else [{"kind": "md5", "value": random_hex(32)}],
    }
    body.update(fields)
    return body


@pytest.fixture
def signed(acme_key: Any) -> Callable[..., dict[str, Any]]:
    """`signed(items=[...], **payload fields)`: an envelope signed with Acme's key."""

    def make(*, key: Any = None, **kwargs: Any) -> dict[str, Any]:
        return signing.sign(payload(**kwargs), key=key or acme_key, typ=signing.TYP_BATCH)

    return make


def publish(kind: str, value: str, seq: int = 1, **extra: Any) -> Fingerprint:
    """A published fingerprint, as the release service will leave it (test data set-up)."""
    return Fingerprint.objects.create(kind=kind, value=value, added_seq=seq, **extra)




@pytest.fixture
def ivan(cast) -> Any:
    """Ivan, analyst at a third member, Initech: with Globex, enough members for a quorum of 2."""
    from members.models import Role
    from members.services.members import member_create
    from members.services.users import user_create

    initech = member_create(actor=SYSTEM, slug="initech", name="Initech Cloud")
    return user_create(actor=SYSTEM, username="ivan", member=initech, role=Role.ANALYST)


@pytest.fixture
def voting_batch(cast, signed) -> Callable[..., Any]:
    """`voting_batch(**payload fields)`: an Acme batch, submitted and deduplicated: voting."""
    from hashes.services.batches import batch_submit
    from hashes.services.dedup import batch_deduplicate

    def make(**kwargs: Any) -> Any:
        batch = batch_submit(user=cast.bob, envelope=signed(**kwargs)).batch
        return batch_deduplicate(batch_id=batch.pk)

    return make


@pytest.fixture
def approved(cast, voting_batch, ivan) -> Callable[..., Any]:
    """`approved(**payload fields)`: an Acme batch approved by Globex and Initech."""
    from hashes.services.votes import vote_cast

    def make(**kwargs: Any) -> Any:
        batch = voting_batch(**kwargs)
        vote_cast(user=cast.gina, batch=batch, decision="approve")
        vote_cast(user=ivan, batch=batch, decision="approve")
        batch.refresh_from_db()
        return batch

    return make


@pytest.fixture
def published(approved) -> Callable[..., Any]:
    """`published(**payload fields)`: the release of a newly approved Acme batch."""
    from hashes.services.releases import release_publish_batch

    return lambda **kwargs: release_publish_batch(batch_id=approved(**kwargs).pk)


def consortium_key(kid: str) -> Any:
    """The consortium's public key with this kid, as the JWKS endpoint lists it (or None)."""
    from django.test import Client

    keys = {k["kid"]: k for k in Client().get("/.well-known/jwks.json").json()["keys"]}
    return signing.public_key_from_jwk({m: keys[kid][m] for m in ("kty", "crv", "x")}) if kid in keys else None
