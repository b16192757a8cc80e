"""The client's envelopes, keys and JCS agree byte for byte with the server's (consortium/signing.py)."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from client.consortium_client import jose
from consortium import signing

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = {
    "member": "acme",
    "ref": "weekly-47",
    "issued_at": "2026-11-21T10:00:00Z",
    "labels": ["islamic-state"],
    "note": "Zürich — 東京 \u2028 \"quoted\" \\ \x1f",
    "items": [{"kind": "pdq", "value": "f" * 64, "quality": 90}, {"kind": "md5", "value": "0" * 32, "labels": []}],
}


def test_a_signed_envelope_round_trips() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = jose.sign(PAYLOAD, key=key, typ=jose.TYP_BATCH)
    verified = jose.verify(envelope, typ=jose.TYP_BATCH, resolve_key=lambda kid, payload: key.public_key() if kid == jose.thumbprint(key) else None)
    assert verified.payload == PAYLOAD and verified.canonical == rfc8785.dumps(PAYLOAD)
    assert verified.header == {"alg": "EdDSA", "kid": jose.thumbprint(key), "typ": "consortium-batch+jws"}


def test_the_server_accepts_the_clients_envelope() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = jose.sign(PAYLOAD, key=key, typ=jose.TYP_BATCH)
    server_key = signing.public_key_from_jwk(jose.public_jwk(key))
    verified = signing.verify(envelope, typ=signing.TYP_BATCH, resolve_key=lambda kid: server_key if kid == signing.thumbprint(server_key) else None)
    assert verified.payload == PAYLOAD


def test_the_client_accepts_the_servers_envelope() -> None:
    server_key = signing.generate_private_key()
    envelope = signing.sign(PAYLOAD, key=server_key, typ=signing.TYP_RELEASE)
    public = jose.public_key_from_jwk(signing.public_jwk(server_key))
    verified = jose.verify(envelope, typ=jose.TYP_RELEASE, resolve_key=lambda kid, payload: public if kid == signing.thumbprint(server_key) else None)
    assert verified.kid == signing.thumbprint(server_key)


def test_an_independent_jose_library_verifies_the_clients_envelope_with_the_payload_put_back() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = jose.sign(PAYLOAD, key=key, typ=jose.TYP_RELEASE)
    header, _, signature = envelope["signature"].split(".")
    compact = f"{header}.{jose.b64u_encode(rfc8785.dumps(PAYLOAD))}.{signature}"
    token = jwcrypto_jws.JWS()
    token.deserialize(compact)
    token.verify(jwcrypto_jwk.JWK(**jose.public_jwk(key)), alg="EdDSA")
    assert json.loads(token.payload) == PAYLOAD


def test_the_kid_is_the_rfc_7638_thumbprint_the_server_computes() -> None:
    key = Ed25519PrivateKey.generate()
    assert jose.thumbprint(key) == signing.thumbprint(signing.public_key_from_jwk(jose.public_jwk(key)))
    assert jose.thumbprint(key) == jwcrypto_jwk.JWK(**jose.public_jwk(key)).thumbprint()


def test_a_server_private_key_file_is_read_by_the_client(tmp_path: Path) -> None:
    server_key = signing.generate_private_key()
    path = tmp_path / "acme.jwk"
    path.write_text(signing.private_key_to_json(server_key))
    assert jose.thumbprint(jose.read_private_jwk(path)) == signing.thumbprint(server_key)


@pytest.mark.parametrize(
    "value",
    [
        PAYLOAD,
        {"é": 1, "e": 2, "\U0001f600": [3], "z": {"ß": None, "a": True}},
        {"max": 2**53 - 1, "min": -(2**53) + 1, "zero": 0},
        {"s": "\u0000\u007f\u00ad\ud7ff\ue000"},
    ],
)
def test_jcs_is_byte_identical_to_rfc8785_and_the_server(value: object) -> None:
    assert jose.jcs(value) == rfc8785.dumps(value) == signing.jcs(value)


def test_floats_and_unsafe_integers_are_refused_like_the_server_refuses_them() -> None:
    with pytest.raises(ValueError, match="integers only"):
        jose.jcs({"quality": 90.5})
    for module in (jose, signing):
        with pytest.raises(ValueError, match="cannot canonicalize"):
            module.jcs({"big": 2**60})


def test_tampering_is_named_by_its_code() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = jose.sign(PAYLOAD, key=key, typ=jose.TYP_BATCH)
    resolve = lambda kid, payload: key.public_key()  # noqa: E731
    flipped = copy.deepcopy(envelope)
    flipped["payload"]["items"][0]["value"] = "e" + "f" * 63
    cases = {
        "bad_signature": flipped,
        "malformed_signature": {**envelope, "signature": envelope["signature"].replace("..", ".x.")},
        "malformed_envelope": {"signature": envelope["signature"]},
    }
    for code, bad in cases.items():
        with pytest.raises(jose.SignatureError) as caught:
            jose.verify(bad, typ=jose.TYP_BATCH, resolve_key=resolve)
        assert caught.value.code == code
    with pytest.raises(jose.SignatureError) as caught:
        jose.verify(envelope, typ=jose.TYP_RELEASE, resolve_key=resolve)
    assert caught.value.code == "wrong_typ"
    with pytest.raises(jose.SignatureError) as caught:
        jose.verify(envelope, typ=jose.TYP_BATCH, resolve_key=lambda kid, payload: None)
    assert caught.value.code == "unknown_key"


def test_keygen_writes_a_0600_key_and_prints_a_public_jwk_the_server_accepts(tmp_path: Path, cli) -> None:
    path = tmp_path / "acme.jwk"
    status, out, err = cli("keygen", "--out", str(path), remote=False)
    assert status == 0, err
    assert os.stat(path).st_mode & 0o777 == 0o600
    public = json.loads(out)
    assert set(public) == {"kty", "crv", "x", "kid"}
    server_key = signing.public_key_from_jwk({m: public[m] for m in ("kty", "crv", "x")})
    assert public["kid"] == signing.thumbprint(server_key) == jose.thumbprint(jose.read_private_jwk(path))
    status, _, err = cli("keygen", "--out", str(path), remote=False)
    assert status == 2 and "exists; pass --force" in err


def test_the_command_line_runs_without_django(tmp_path: Path) -> None:
    code = "import sys; sys.modules['django'] = None; from consortium_client.__main__ import main; sys.exit(main())"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run(
        [sys.executable, "-c", code, "keygen", "--out", str(tmp_path / "k.jwk")],
        cwd=ROOT / "client", env=env, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["crv"] == "Ed25519"
    run = subprocess.run([sys.executable, "-m", "consortium_client", "--help"], cwd=ROOT / "client", env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "keygen" in run.stdout and "bootstrap" in run.stdout
