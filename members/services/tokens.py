"""API tokens: created with the secret shown once, revoked, and checked on every request."""
from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from consortium.audit.services import Actor, audit_append, rfc3339
from consortium.errors import InvalidInput
from members.models import ApiToken, User

MAX_EXPIRY_DAYS = 3650


def token_create(*, actor: Actor, user: User, name: str = "", expires_days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token for `user`. Returns the row and the token text, which is never stored."""
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(f"expires_days must be 1 to {MAX_EXPIRY_DAYS}.", pointer="/expires_days")
    secret = ApiToken.PREFIX + secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=secret[:12], digest=ApiToken.digest_of(secret), expires=expires
        )
        audit_append(
            actor=actor,
            action="token.created",
            subject=f"token:{token.pk}",
            user=user.username,
            member=user.member.slug if user.member_id else None,
            expires=rfc3339(expires) if expires else None,
        )
    return token, secret


def token_revoke(*, actor: Actor, token: ApiToken) -> bool:
    """Revoke; requests with it get 401 from now on. False (nothing logged) if already revoked."""
    now = timezone.now()
    with transaction.atomic():
        moved = ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=now)
        if moved:
            audit_append(actor=actor, action="token.revoked", subject=f"token:{token.pk}", user=token.user.username)
            token.revoked = now
    return bool(moved)


def token_authenticate(secret: str) -> ApiToken | None:
    """The usable token with this text, or None. Records its last use, at most once a minute
    (TOKEN_LAST_USED_RESOLUTION) so that busy sync clients don't write on every request."""
    token = (
        ApiToken.objects.select_related("user", "user__member")
        .filter(digest=ApiToken.digest_of(secret))
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.is_usable(now):
        stale = now - timedelta(seconds=settings.TOKEN_LAST_USED_RESOLUTION)
        if token.last_used is None or token.last_used < stale:
            # Bookkeeping, not a change of state: no audit entry.
            ApiToken.objects.filter(pk=token.pk).update(last_used=now)
            token.last_used = now
    return token
