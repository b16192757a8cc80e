"""Signed envelopes (PROTOCOL §2): Ed25519 detached JWS over the JCS form of a payload.

An envelope is `{"payload": {...}, "signature": "<b64u(header)>..<b64u(sig)>"}`; the signing
input is `b64u(header) + "." + b64u(JCS(payload))`. JCS is RFC 8785 (the `rfc8785` library);
JWS and JWK handling is `joserfc`. Nothing here touches the database: callers resolve a `kid`
to a public key through the `resolve_key` callable they pass in.
"""
from __future__ import annotations

import binascii
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.util import to_bytes

from client.consortium_client import jose as _client_jose

# RFC 9864 deprecates the polymorphic "EdDSA" in favour of "Ed25519"; the protocol fixes "EdDSA"
# (what every deployed verifier accepts), so the library's warning says nothing new to us.
warnings.filterwarnings("ignore", message="EdDSA is deprecated")

ALG = "EdDSA"
TYP_BATCH = "consortium-batch+jws"
TYP_RELEASE = "consortium-release+jws"
TYP_SNAPSHOT = "consortium-snapshot+jws"

PUBLIC_JWK_MEMBERS = ("kty", "crv", "x")


class KeyFormatError(ValueError):
    """A JWK that is not a public Ed25519 key in RFC 8037 form. `pointer` names the bad member."""

    def __init__(self, message: str, *, pointer: str = "", code: str = "invalid_jwk") -> None:
        super().__init__(message)
        self.pointer = pointer
        self.code = code


class SignatureError(ValueError):
    """An envelope whose signature does not verify. `code` says why, for the problem document."""

    def __init__(self, message: str, *, code: str, pointer: str = "/signature") -> None:
        super().__init__(message)
        self.code = code
        self.pointer = pointer


# Strict base64url (no padding, no stray characters) and JCS have one home, shared with the
# member-side client.
b64u_encode = _client_jose.b64u_encode
b64u_decode = _client_jose.b64u_decode

# JCS has one home, shared with the member-side client so both write the same bytes: an RFC
# 8785 fast path (stdlib dump where it is byte-identical) with `rfc8785` for everything else.
# It is property-tested against `rfc8785` in tests/consortium/test_jcs.py.
jcs = _client_jose.jcs


# --- keys ---------------------------------------------------------------------------------------


def public_key_from_jwk(jwk: Any) -> OKPKey:
    """Parse a public Ed25519 JWK (RFC 8037). Refuses private keys, other curves and junk."""
    if not isinstance(jwk, dict):
        raise KeyFormatError("A JWK is a JSON object.", pointer="")
    if jwk.get("kty") != "OKP":
        raise KeyFormatError('Only Ed25519 keys are accepted: "kty" must be "OKP".', pointer="/kty")
    if jwk.get("crv") != "Ed25519":
        raise KeyFormatError('Only Ed25519 keys are accepted: "crv" must be "Ed25519".', pointer="/crv")
    if "d" in jwk:
        raise KeyFormatError(
            "This is a private key. Send only the public part (kty, crv, x); keep d secret.",
            pointer="/d",
            code="private_key",
        )
    x = jwk.get("x")
    try:
        raw = b64u_decode(x)
    except (binascii.Error, ValueError):
        raise KeyFormatError('"x" must be base64url without padding.', pointer="/x") from None
    if len(raw) != 32:
        raise KeyFormatError(f'"x" must encode 32 bytes, not {len(raw)}.', pointer="/x")
    for member in ("use", "alg", "key_ops"):
        if member in jwk and not _usage_is_signing(member, jwk[member]):
            raise KeyFormatError(f'"{member}" does not allow signing with EdDSA.', pointer=f"/{member}")
    return OKPKey.import_key({name: jwk[name] for name in PUBLIC_JWK_MEMBERS})


def _usage_is_signing(member: str, value: Any) -> bool:
    if member == "use":
        return value == "sig"
    if member == "alg":
        return value in (ALG, "Ed25519")
    return isinstance(value, list) and "verify" in value


def public_jwk(key: OKPKey) -> dict[str, str]:
    """The public members of `key` (kty, crv, x), whatever `key` holds."""
    data = key.as_dict(private=False)
    return {name: data[name] for name in PUBLIC_JWK_MEMBERS}


def thumbprint(key: OKPKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the key's `kid`."""
    return key.thumbprint()


def generate_private_key() -> OKPKey:
    return OKPKey.generate_key("Ed25519", private=True)


def private_key_from_json(text: str) -> OKPKey:
    try:
        data = json.loads(text)
        key = OKPKey.import_key(data)
    except (ValueError, JoseError) as exc:
        raise KeyFormatError(f"Not an Ed25519 private JWK: {exc}") from exc
    if not key.is_private or data.get("crv") != "Ed25519":
        raise KeyFormatError("Not an Ed25519 private JWK (needs kty OKP, crv Ed25519, x and d).")
    return key


def private_key_to_json(key: OKPKey) -> str:
    return json.dumps(key.as_dict(private=True), sort_keys=True)


def load_or_create_private_key(path: Path) -> OKPKey:
    """Read a private JWK file, creating it (mode 0600) on first use. Safe against a racing start."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(private_key_to_json(generate_private_key()))
    return private_key_from_json(path.read_text())


# --- envelopes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """An envelope whose signature checked out: the payload, its JCS bytes and the header."""

    payload: dict[str, Any]
    canonical: bytes
    header: dict[str, Any]
    kid: str
    signature: str


def sign(payload: dict[str, Any], *, key: OKPKey, typ: str, kid: str | None = None) -> dict[str, Any]:
    """Wrap `payload` in a signed envelope. `kid` defaults to the key's RFC 7638 thumbprint."""
    header = {"alg": ALG, "kid": kid or thumbprint(key), "typ": typ}
    compact = jws.serialize_compact(header, jcs(payload), key, algorithms=[ALG])
    return {"payload": payload, "signature": jws.detach_content(compact)}


def envelope_bytes(canonical: bytes, signature: str) -> bytes:
    """An envelope as stored and served: `{"payload":<JCS bytes>,"signature":"…"}` (itself JCS)."""
    return b'{"payload":' + canonical + b',"signature":' + jcs(signature) + b"}"


def read_header(signature: Any) -> dict[str, Any]:
    """Decode and check the protected header of a detached JWS, without verifying anything else."""
    if not isinstance(signature, str):
        raise SignatureError("The signature must be a detached JWS string.", code="malformed_signature")
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureError(
            'The signature must be a detached JWS: "<header>..<signature>" with an empty middle part.',
            code="malformed_signature",
        )
    try:
        header = json.loads(b64u_decode(parts[0]))
        b64u_decode(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise SignatureError("The JWS header or signature is not base64url JSON.", code="malformed_signature") from None
    if not isinstance(header, dict):
        raise SignatureError("The JWS header must be a JSON object.", code="malformed_signature")
    if header.get("alg") != ALG:
        raise SignatureError(f'The JWS "alg" must be "{ALG}", not {header.get("alg")!r}.', code="alg_not_allowed")
    if "crit" in header or header.get("b64") is False:
        raise SignatureError('The JWS header may not use "crit" or "b64".', code="malformed_signature")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise SignatureError('The JWS header must name the signing key in "kid".', code="missing_kid")
    return header


def verify(
    envelope: Any,
    *,
    typ: str,
    resolve_key: Callable[[str], OKPKey | None],
) -> Verified:
    """Check an envelope's shape, header and signature.

    `resolve_key(kid)` returns the public key that may sign this document type now, or None
    when the kid is unknown, revoked or belongs to someone else; the caller decides which.
    Raises SignatureError (with a code) or ValueError for a malformed envelope.
    """
    if not isinstance(envelope, dict):
        raise SignatureError("An envelope is a JSON object with payload and signature.", code="malformed_envelope", pointer="")
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise SignatureError('"payload" must be a JSON object.', code="malformed_envelope", pointer="/payload")
    header = read_header(envelope.get("signature"))
    if header.get("typ") != typ:
        raise SignatureError(f'The JWS "typ" must be "{typ}", not {header.get("typ")!r}.', code="wrong_typ")
    key = resolve_key(header["kid"])
    if key is None:
        raise SignatureError(
            f'The key {header["kid"]!r} is not an active key of the signer. Register it first or sign with an active key.',
            code="unknown_key",
        )
    try:
        canonical = jcs(payload)
    except ValueError as exc:
        raise SignatureError(str(exc), code="float_in_payload", pointer="/payload") from None
    try:
        jws.deserialize_compact(to_bytes(envelope["signature"]), key, payload=canonical, algorithms=[ALG])
    except (JoseError, ValueError):
        raise SignatureError(
            "The signature does not match the payload. Sign the RFC 8785 (JCS) form of the payload exactly as sent.",
            code="bad_signature",
        ) from None
    return Verified(payload=payload, canonical=canonical, header=header, kid=header["kid"], signature=envelope["signature"])
