"""The transparency log's own Ed25519 key, which signs checkpoints (and nothing else).

It is not the consortium's release key: a checkpoint key is named after the log's origin and
verified by C2SP tools through its vkey, and rotating one must not disturb the other.
"""
from __future__ import annotations

import re
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from client.consortium_client import note
from consortium import signing


def parse_log_key(text: str, *, origin: str) -> Ed25519PrivateKey:
    """CONSORTIUM_LOG_KEY as a private Ed25519 JWK, a note signer key, or a 64-hex-digit seed."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return signing.private_key_from_json(text).private_key
        except signing.KeyFormatError as exc:
            raise ImproperlyConfigured(f"CONSORTIUM_LOG_KEY: {exc}") from None
    if text.startswith("PRIVATE+KEY+"):
        try:
            name, key = note.parse_skey(text)
        except note.NoteError as exc:
            raise ImproperlyConfigured(f"CONSORTIUM_LOG_KEY: {exc}") from None
        if name != origin:
            raise ImproperlyConfigured(
                f"CONSORTIUM_LOG_KEY is a signer key named {name!r}; the log's key is named after "
                f"CONSORTIUM_LOG_ORIGIN {origin!r}."
            )
        return key
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    raise ImproperlyConfigured(
        "CONSORTIUM_LOG_KEY must be a private Ed25519 JWK, a PRIVATE+KEY+… note signer key, or a 64-hex-digit seed."
    )


@lru_cache(maxsize=1)
def log_signing_key() -> Ed25519PrivateKey:
    """The checkpoint key from settings; embedded default: generated into VAR_DIR/log-key.jwk once."""
    if settings.CONSORTIUM_LOG_KEY:
        return parse_log_key(settings.CONSORTIUM_LOG_KEY, origin=settings.CONSORTIUM_LOG_ORIGIN)
    return signing.load_or_create_private_key(settings.VAR_DIR / "log-key.jwk").private_key


def log_vkey() -> str:
    """The verifier key `<origin>+<hex key ID>+<base64>` that checks this log's checkpoints."""
    return note.vkey(settings.CONSORTIUM_LOG_ORIGIN, log_signing_key().public_key())
