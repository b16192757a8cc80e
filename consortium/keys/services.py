"""The consortium's own signing keys: which private key signs now, and the public history."""
from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from joserfc.jwk import OKPKey

from consortium import signing
from consortium.audit.services import SYSTEM, audit_append
from consortium.keys.models import ConsortiumKey


@lru_cache(maxsize=1)
def consortium_signing_key() -> OKPKey:
    """The private key releases and snapshots are signed with, from settings.

    Embedded default (no CONSORTIUM_SIGNING_KEY and not CONSORTIUM_REQUIRE_KEYS): generated once
    into CONSORTIUM_VAR_DIR/signing-key.jwk and reused by every process.
    """
    if settings.CONSORTIUM_SIGNING_KEY:
        return signing.private_key_from_json(settings.CONSORTIUM_SIGNING_KEY)
    return signing.load_or_create_private_key(settings.VAR_DIR / "signing-key.jwk")


def consortium_key_sync() -> ConsortiumKey:
    """Record the configured signing key as the active one and retire any other (rotation).

    Idempotent; run at deploy time (`manage.py consortium_keys`). Appends an audit entry only
    when something changed.
    """
    key = consortium_signing_key()
    kid = signing.thumbprint(key)
    with transaction.atomic():
        current = ConsortiumKey.objects.select_for_update().filter(use=ConsortiumKey.Use.SIGNING, retired__isnull=True)
        active = [row for row in current if row.kid == kid]
        if active:
            return active[0]
        now = timezone.now()
        retired = [row.kid for row in current]
        ConsortiumKey.objects.filter(kid__in=retired).update(retired=now)
        row, _ = ConsortiumKey.objects.update_or_create(
            kid=kid,
            defaults={"use": ConsortiumKey.Use.SIGNING, "public_jwk": signing.public_jwk(key), "created": now, "retired": None},
        )
        audit_append(actor=SYSTEM, action="consortium_key.activated", subject=f"consortium-key:{kid}", retired=retired)
        return row
