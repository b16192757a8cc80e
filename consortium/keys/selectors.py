from __future__ import annotations

from typing import Any

from consortium import signing
from consortium.audit.services import rfc3339
from consortium.keys.models import ConsortiumKey
from consortium.keys.services import consortium_signing_key


def consortium_jwks() -> dict[str, list[dict[str, Any]]]:
    """The JWKS of `/.well-known/jwks.json`: every consortium key, retired ones included.

    The configured key is listed even before `consortium_key_sync` recorded it (created: null).
    """
    keys = []
    rows = list(ConsortiumKey.objects.all())
    for row in rows:
        keys.append(
            {
                **row.public_jwk,
                "kid": row.kid,
                "alg": signing.ALG,
                "use": row.use,
                "created": rfc3339(row.created),
                "retired": rfc3339(row.retired) if row.retired else None,
            }
        )
    active = consortium_signing_key()
    kid = signing.thumbprint(active)
    if all(row.kid != kid for row in rows):
        keys.append({**signing.public_jwk(active), "kid": kid, "alg": signing.ALG, "use": "sig", "created": None, "retired": None})
    return {"keys": keys}
