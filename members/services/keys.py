"""Members' public signing keys: registration, revocation, and lookup for signature checks."""
from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from joserfc.jwk import OKPKey

from consortium import signing
from consortium.audit.services import Actor, audit_append
from consortium.errors import Conflict, InvalidInput
from members.models import Member, MemberKey, User


def key_add(
    *,
    actor: Actor,
    member: Member,
    jwk: Any,
    name: str = "",
    created_by: User | None = None,
    kid: str | None = None,
) -> MemberKey:
    """Register a public Ed25519 JWK for `member`; its kid is the RFC 7638 thumbprint.

    Raises InvalidInput for a malformed or non-Ed25519 JWK, Conflict when the key is registered
    already (by this member or another: a key identifies one signer). A `kid` sent along must
    be that thumbprint.
    """
    try:
        key = signing.public_key_from_jwk(jwk)
    except signing.KeyFormatError as exc:
        raise InvalidInput(str(exc), pointer=exc.pointer, code=exc.code) from None
    thumbprint = signing.thumbprint(key)
    if kid is not None and kid != thumbprint:
        raise InvalidInput(
            f"kid {kid!r} is not this key's RFC 7638 thumbprint {thumbprint!r}; omit kid or send that one.",
            pointer="/kid",
        )
    kid = thumbprint
    try:
        with transaction.atomic():
            row = MemberKey.objects.create(
                member=member, kid=kid, public_jwk=signing.public_jwk(key), name=name, created_by=created_by
            )
            audit_append(actor=actor, action="key.added", subject=f"key:{kid}", member=member.slug, jwk=row.public_jwk)
    except IntegrityError:
        raise Conflict(f"The key {kid} is registered already; keys cannot be registered twice.", pointer="") from None
    return row


def key_revoke(*, actor: Actor, key: MemberKey) -> bool:
    """Revoke: new signatures by it are refused; what it signed before stays verifiable."""
    now = timezone.now()
    with transaction.atomic():
        moved = MemberKey.objects.filter(pk=key.pk, revoked__isnull=True).update(revoked=now)
        if moved:
            audit_append(actor=actor, action="key.revoked", subject=f"key:{key.kid}", member=key.member.slug)
            key.revoked = now
    return bool(moved)


def member_active_key(*, member: Member, kid: str) -> OKPKey | None:
    """The member's active public key with this kid, or None (unknown, revoked, or another's)."""
    row = MemberKey.objects.filter(member=member, kid=kid, revoked__isnull=True).only("public_jwk").first()
    return signing.public_key_from_jwk(row.public_jwk) if row else None
