"""Signed envelopes (PROTOCOL §2) on the member's side: Ed25519 keys as JWKs, RFC 7638
thumbprints, RFC 8785 (JCS) canonical JSON and detached JWS. Needs only `cryptography` and
`rfc8785`; byte for byte what the server's `consortium/signing.py` writes and reads.

An envelope is `{"payload": {...}, "signature": "<b64u(header)>..<b64u(sig)>"}`; the signing
input is `b64u(header) + "." + b64u(JCS(payload))`. Nothing here does I/O except
`write_private_jwk` and `read_private_jwk`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

ALG = "EdDSA"
TYP_BATCH = "consortium-batch+jws"
TYP_RELEASE = "consortium-release+jws"
TYP_SNAPSHOT = "consortium-snapshot+jws"
MAX_SAFE_INTEGER = 2**53 - 1


class JWKError(ValueError):
    """A JWK that is not an Ed25519 key in RFC 8037 form (or not the private one that was needed)."""


class SignatureError(ValueError):
    """An envelope that does not verify. `code` says why: malformed_envelope, malformed_signature,
    alg_not_allowed, wrong_typ, missing_kid, unknown_key, float_in_payload, bad_signature."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: Any) -> bytes:
    """Strict base64url without padding: refuses `=`, `+`, `/`, whitespace and non-strings."""
    if not isinstance(text, str) or any(c in text for c in "=+/ \n\r\t"):
        raise binascii.Error("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- JCS ----------------------------------------------------------------------------------------


def _is_plain(value: Any) -> bool:
    """True when `json.dumps(sort_keys=True)` writes `value` exactly as RFC 8785 would; raises on a float.

    They agree on strings (same escapes), integers in the IEEE 754 safe range and literals, and
    on key order for ASCII keys (RFC 8785 sorts by UTF-16 code units). One pass without
    recursion and with exact type checks: it runs over every change of a 1M-change feed.
    """
    plain = True
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            try:
                if not "".join(item).isascii():
                    plain = False
            except TypeError:
                return False  # a non-string key: rfc8785 refuses it with its own message
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            children = (item,)
        for child in children:
            kind = type(child)
            if kind is str or kind is bool or child is None:
                continue
            if kind is dict or kind is list:
                stack.append(child)
            elif kind is int:
                if not -MAX_SAFE_INTEGER <= child <= MAX_SAFE_INTEGER:
                    plain = False
            elif isinstance(child, float):
                raise ValueError(f"payloads carry integers only, not {child!r}")
            else:
                plain = False
    return plain


def jcs(payload: Any) -> bytes:
    """RFC 8785 canonical JSON of `payload`; ValueError for floats (the protocol has none) and
    for what JCS cannot represent.

    Fast path, as on the server: for ASCII keys and safe integers the standard library's sorted,
    compact dump is byte-identical to RFC 8785 and several times faster than the `rfc8785`
    package, which matters for releases of 100k+ changes. Anything else goes to `rfc8785`.
    """
    if isinstance(payload, float):
        raise ValueError(f"payloads carry integers only, not {payload!r}")
    if _is_plain(payload):
        try:
            return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 refuses it
    try:
        return rfc8785.dumps(payload)
    except rfc8785.CanonicalizationError as exc:
        raise ValueError(f"cannot canonicalize the payload: {exc}") from None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- keys ---------------------------------------------------------------------------------------


def public_jwk(key: Ed25519PublicKey | Ed25519PrivateKey) -> dict[str, str]:
    """The RFC 8037 public JWK `{"kty","crv","x"}` of a key (private keys give their public half)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw))}


def thumbprint(jwk: dict[str, Any] | Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an OKP key: the protocol's `kid`.

    The hash input is the required members crv, kty, x in that order, without whitespace.
    """
    data = jwk if isinstance(jwk, dict) else public_jwk(jwk)
    members = {"crv": data["crv"], "kty": data["kty"], "x": data["x"]}
    return b64u_encode(hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest())


def public_key_from_jwk(jwk: Any) -> Ed25519PublicKey:
    """Parse a public Ed25519 JWK (RFC 8037); a `d` member, if any, is ignored."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise JWKError('not an Ed25519 JWK (needs "kty": "OKP" and "crv": "Ed25519")')
    try:
        raw = b64u_decode(jwk.get("x"))
    except (binascii.Error, ValueError):
        raise JWKError('"x" is not base64url without padding') from None
    if len(raw) != 32:
        raise JWKError(f'"x" must encode 32 bytes, not {len(raw)}')
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_from_jwk(jwk: Any) -> Ed25519PrivateKey:
    """Parse a private Ed25519 JWK (with `d`); refuses one whose `x` is not `d`'s public key."""
    public = public_key_from_jwk(jwk)
    try:
        raw = b64u_decode(jwk.get("d"))
    except (binascii.Error, ValueError):
        raise JWKError('a private JWK needs "d", base64url without padding') from None
    if len(raw) != 32:
        raise JWKError(f'"d" must encode 32 bytes, not {len(raw)}')
    key = Ed25519PrivateKey.from_private_bytes(raw)
    if public_jwk(key)["x"] != public_jwk(public)["x"]:
        raise JWKError('"x" is not the public key of "d"')
    return key


def private_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    """`{"kty","crv","x","d","kid"}`: what `keygen` writes and `read_private_jwk` reads."""
    d = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    jwk = {**public_jwk(key), "d": b64u_encode(d)}
    return {**jwk, "kid": thumbprint(jwk)}


def write_private_jwk(path: Path, key: Ed25519PrivateKey, *, overwrite: bool = False) -> None:
    """Write `key` as a private JWK file created with mode 0600 (FileExistsError unless `overwrite`).

    Side effect: creates (or, with `overwrite`, replaces) the file at `path`.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # an overwritten file keeps its old mode otherwise
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(private_jwk(key), sort_keys=True) + "\n")


def read_private_jwk(path: Path) -> Ed25519PrivateKey:
    """Read a private Ed25519 JWK file (ours, or one written by the server's demo or joserfc)."""
    try:
        data = json.loads(Path(path).read_text())
    except ValueError as exc:
        raise JWKError(f"{path} is not JSON: {exc}") from None
    return private_key_from_jwk(data)


# --- envelopes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """An envelope whose signature checked out: the payload, its JCS bytes and the JWS header."""

    payload: dict[str, Any]
    canonical: bytes
    header: dict[str, Any]
    kid: str


def sign(payload: dict[str, Any], *, key: Ed25519PrivateKey, typ: str, canonical: bytes | None = None) -> dict[str, Any]:
    """Wrap `payload` in an envelope signed by `key` (kid: its thumbprint). Pass `canonical`
    when the caller already holds `jcs(payload)`, to skip canonicalizing twice."""
    header = {"alg": ALG, "kid": thumbprint(key), "typ": typ}
    protected = b64u_encode(json.dumps(header, separators=(",", ":")).encode())
    body = canonical if canonical is not None else jcs(payload)
    signature = key.sign(protected.encode() + b"." + base64.urlsafe_b64encode(body).rstrip(b"="))
    return {"payload": payload, "signature": f"{protected}..{b64u_encode(signature)}"}


def read_header(signature: Any) -> tuple[dict[str, Any], str, bytes]:
    """Split a detached JWS into (header, protected part, raw signature) and check the header's
    shape: `alg` EdDSA, a `kid`, no `crit` or `b64`. Verifies nothing else."""
    if not isinstance(signature, str):
        raise SignatureError("the signature is not a detached JWS string", code="malformed_signature")
    parts = signature.split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SignatureError('the signature is not a detached JWS "<header>..<signature>"', code="malformed_signature")
    try:
        header = json.loads(b64u_decode(parts[0]))
        raw = b64u_decode(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise SignatureError("the JWS header or signature is not base64url JSON", code="malformed_signature") from None
    if not isinstance(header, dict):
        raise SignatureError("the JWS header is not a JSON object", code="malformed_signature")
    if header.get("alg") != ALG:
        raise SignatureError(f'the JWS "alg" is {header.get("alg")!r}, not "{ALG}"', code="alg_not_allowed")
    if "crit" in header or "b64" in header:
        raise SignatureError('the JWS header uses "crit" or "b64"', code="malformed_signature")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise SignatureError('the JWS header names no key in "kid"', code="missing_kid")
    return header, parts[0], raw


def verify(
    envelope: Any,
    *,
    typ: str,
    resolve_key: Callable[[str, dict[str, Any]], Ed25519PublicKey | None],
) -> Verified:
    """Check an envelope's shape, header (`typ` must be `typ`) and Ed25519 signature.

    `resolve_key(kid, payload)` returns the public key that may sign this document, or None;
    it may raise SignatureError itself to say why a known key may not (retired, wrong use).
    Raises SignatureError with a code; returns the payload with its JCS bytes.
    """
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), dict):
        raise SignatureError('an envelope is {"payload": {…}, "signature": "…"}', code="malformed_envelope")
    payload = envelope["payload"]
    header, protected, raw = read_header(envelope.get("signature"))
    if header.get("typ") != typ:
        raise SignatureError(f'the JWS "typ" is {header.get("typ")!r}, not "{typ}"', code="wrong_typ")
    key = resolve_key(header["kid"], payload)
    if key is None:
        raise SignatureError(f"signed by key {header['kid']!r}, which is not a key of the signer", code="unknown_key")
    try:
        canonical = jcs(payload)
    except ValueError as exc:
        raise SignatureError(str(exc), code="float_in_payload") from None
    try:
        key.verify(raw, protected.encode() + b"." + base64.urlsafe_b64encode(canonical).rstrip(b"="))
    except InvalidSignature:
        raise SignatureError(f"the signature by key {header['kid']} does not match the payload", code="bad_signature") from None
    return Verified(payload=payload, canonical=canonical, header=header, kid=header["kid"])
