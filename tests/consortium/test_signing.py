"""Signed envelopes interoperate with an independent JOSE library (jwcrypto)."""
from __future__ import annotations

import base64
import copy
import json

import pytest
import rfc8785
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from consortium import signing

PAYLOAD = {"member": "acme", "ref": "b-1", "issued_at": "2026-11-21T10:00:00Z", "items": [{"kind": "md5", "value": "0" * 32}]}


def _resolver(key: object) -> object:
    return lambda kid: key if kid == signing.thumbprint(key) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_envelope_made_here_verifies_with_jwcrypto() -> None:
    key = signing.generate_private_key()
    envelope = signing.sign(PAYLOAD, key=key, typ=signing.TYP_BATCH)
    header, empty, sig = envelope["signature"].split(".")
    assert empty == ""
    compact = f"{header}.{_b64(rfc8785.dumps(PAYLOAD))}.{sig}"
    public = jc_jwk.JWK(**signing.public_jwk(key))
    token = jc_jws.JWS()
    token.deserialize(compact)
    token.verify(public, alg="EdDSA")
    assert json.loads(token.payload) == PAYLOAD
    assert token.jose_header == {"alg": "EdDSA", "kid": signing.thumbprint(key), "typ": "consortium-batch+jws"}


def test_an_envelope_made_by_jwcrypto_verifies_here() -> None:
    private = jc_jwk.JWK.generate(kty="OKP", crv="Ed25519")
    kid = private.thumbprint()
    token = jc_jws.JWS(rfc8785.dumps(PAYLOAD))
    token.add_signature(private, alg="EdDSA", protected=json.dumps({"alg": "EdDSA", "kid": kid, "typ": signing.TYP_BATCH}))
    header, _, sig = token.serialize(compact=True).split(".")
    envelope = {"payload": PAYLOAD, "signature": f"{header}..{sig}"}
    public = signing.public_key_from_jwk(json.loads(private.export_public()))

    verified = signing.verify(envelope, typ=signing.TYP_BATCH, resolve_key=lambda k: public if k == kid else None)

    assert verified.payload == PAYLOAD and verified.kid == kid
    assert verified.canonical == rfc8785.dumps(PAYLOAD)


def test_the_kid_is_the_rfc_7638_thumbprint_as_jwcrypto_computes_it() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 public key.
    example = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert signing.thumbprint(signing.public_key_from_jwk(example)) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    key = signing.generate_private_key()
    assert signing.thumbprint(key) == jc_jwk.JWK(**signing.public_jwk(key)).thumbprint()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: e["payload"].update(ref="b-2"),
        lambda e: e["payload"]["items"][0].update(value="0" * 31 + "1"),
        lambda e: e["payload"].update(ref="b-1 "),  # whitespace inside a value is a change
        lambda e: e["payload"].update(extra=1),
    ],
)
def test_any_change_to_the_payload_breaks_the_signature(tamper: object) -> None:
    key = signing.generate_private_key()
    envelope = copy.deepcopy(signing.sign(PAYLOAD, key=key, typ=signing.TYP_BATCH))
    tamper(envelope)
    with pytest.raises(signing.SignatureError) as caught:
        signing.verify(envelope, typ=signing.TYP_BATCH, resolve_key=_resolver(key))
    assert caught.value.code == "bad_signature"


def test_a_signature_by_another_key_with_the_same_kid_fails() -> None:
    key, other = signing.generate_private_key(), signing.generate_private_key()
    envelope = signing.sign(PAYLOAD, key=other, typ=signing.TYP_BATCH, kid=signing.thumbprint(key))
    with pytest.raises(signing.SignatureError) as caught:
        signing.verify(envelope, typ=signing.TYP_BATCH, resolve_key=_resolver(key))
    assert caught.value.code == "bad_signature"


def _with_header(envelope: dict, header: dict) -> dict:
    _, _, sig = envelope["signature"].split(".")
    return {**envelope, "signature": f"{_b64(json.dumps(header).encode())}..{sig}"}


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"alg": "none", "kid": "k", "typ": signing.TYP_BATCH}, "alg_not_allowed"),
        ({"alg": "HS256", "kid": "k", "typ": signing.TYP_BATCH}, "alg_not_allowed"),
        ({"kid": "k", "typ": signing.TYP_BATCH}, "alg_not_allowed"),
        ({"alg": "EdDSA", "typ": signing.TYP_BATCH}, "missing_kid"),
        ({"alg": "EdDSA", "kid": "k", "typ": signing.TYP_RELEASE}, "wrong_typ"),
        ({"alg": "EdDSA", "kid": "k"}, "wrong_typ"),
        ({"alg": "EdDSA", "kid": "k", "typ": signing.TYP_BATCH, "crit": ["exp"]}, "malformed_signature"),
    ],
)
def test_headers_other_than_eddsa_with_kid_and_typ_are_refused(header: dict, code: str) -> None:
    key = signing.generate_private_key()
    envelope = _with_header(signing.sign(PAYLOAD, key=key, typ=signing.TYP_BATCH), header)
    with pytest.raises(signing.SignatureError) as caught:
        signing.verify(envelope, typ=signing.TYP_BATCH, resolve_key=lambda kid: key)
    assert caught.value.code == code


@pytest.mark.parametrize(
    "signature", [None, 17, "", "abc", "a.b.c", "a..b..c", "!!..!!", f"{_b64(b'[1]')}..AA"]
)
def test_malformed_signatures_are_refused_with_a_reason(signature: object) -> None:
    with pytest.raises(signing.SignatureError) as caught:
        signing.verify({"payload": PAYLOAD, "signature": signature}, typ=signing.TYP_BATCH, resolve_key=lambda kid: None)
    assert caught.value.code == "malformed_signature"


def test_an_unknown_kid_is_refused_before_checking_the_signature() -> None:
    key = signing.generate_private_key()
    envelope = signing.sign(PAYLOAD, key=key, typ=signing.TYP_BATCH)
    with pytest.raises(signing.SignatureError) as caught:
        signing.verify(envelope, typ=signing.TYP_BATCH, resolve_key=lambda kid: None)
    assert caught.value.code == "unknown_key"


def test_payloads_with_floats_are_refused() -> None:
    key = signing.generate_private_key()
    with pytest.raises(ValueError, match="integers only"):
        signing.sign({"quality": 0.5}, key=key, typ=signing.TYP_BATCH)
    envelope = signing.sign({"quality": 1}, key=key, typ=signing.TYP_BATCH)
    envelope["payload"]["quality"] = 1.0
    with pytest.raises(signing.SignatureError) as caught:
        signing.verify(envelope, typ=signing.TYP_BATCH, resolve_key=_resolver(key))
    assert caught.value.code == "float_in_payload"


@pytest.mark.parametrize(
    ("jwk", "pointer"),
    [
        ("not a dict", ""),
        ({"kty": "RSA", "n": "x", "e": "AQAB"}, "/kty"),
        ({"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}, "/kty"),
        ({"kty": "OKP", "crv": "X25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, "/crv"),
        ({"kty": "OKP", "crv": "Ed448", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, "/crv"),
        ({"kty": "OKP", "crv": "Ed25519"}, "/x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "short"}, "/x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="}, "/x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": 12}, "/x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "use": "enc"}, "/use"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "secret"}, "/d"),
    ],
)
def test_only_public_ed25519_jwks_are_accepted(jwk: object, pointer: str) -> None:
    with pytest.raises(signing.KeyFormatError) as caught:
        signing.public_key_from_jwk(jwk)
    assert caught.value.pointer == pointer
