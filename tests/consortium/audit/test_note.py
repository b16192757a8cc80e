"""C2SP signed notes and checkpoints, against golang.org/x/mod/sumdb/note's own test vectors."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured

from client.consortium_client import note
from consortium.audit.logkey import parse_log_key
from consortium.signing import generate_private_key, private_key_to_json

# From sumdb/note's note_test.go / example_test.go.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_it_signs_the_go_note_vector_byte_for_byte() -> None:
    name, key = note.parse_skey(GO_SKEY)
    assert note.sign(GO_TEXT, name=name, private_key=key) == GO_NOTE


def test_it_computes_the_go_verifier_key_and_key_id() -> None:
    name, key = note.parse_skey(GO_SKEY)
    assert note.vkey(name, key.public_key()) == GO_VKEY
    assert note.parse_vkey(GO_VKEY).key_id.hex() == "c74f20a3"


def test_it_opens_the_go_note_vector() -> None:
    assert note.open_note(GO_NOTE, note.parse_vkey(GO_VKEY)) == GO_TEXT


def test_a_changed_note_text_fails_its_signature() -> None:
    with pytest.raises(note.NoteError, match="does not match"):
        note.open_note(GO_NOTE.replace("problem,", "problem!"), note.parse_vkey(GO_VKEY))


def test_a_note_signed_by_another_key_of_the_same_name_is_refused() -> None:
    other = note.sign(GO_TEXT, name="PeterNeumann", private_key=Ed25519PrivateKey.generate())
    with pytest.raises(note.NoteError, match="no signature by PeterNeumann"):
        note.open_note(other, note.parse_vkey(GO_VKEY))


@pytest.mark.parametrize(
    "bad",
    [
        GO_VKEY[:-1],
        GO_VKEY.replace("c74f20a3", "c74f20a4"),
        GO_VKEY.replace("PeterNeumann", "PeterNeuman"),
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
    ],
)
def test_a_mangled_verifier_key_is_refused(bad: str) -> None:
    with pytest.raises(note.NoteError):
        note.parse_vkey(bad)


def test_a_checkpoint_round_trips_with_its_three_lines() -> None:
    key = Ed25519PrivateKey.generate()
    root = bytes(range(32))
    text = note.checkpoint_text("example.com/log", 42, root)
    assert text == f"example.com/log\n42\n{base64.b64encode(root).decode()}\n"
    signed = note.sign(text, name="example.com/log", private_key=key)
    checkpoint = note.open_checkpoint(signed, note.parse_vkey(note.vkey("example.com/log", key.public_key())))
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == ("example.com/log", 42, root)


@pytest.mark.parametrize("size", ["-1", "01", "4x", ""])
def test_a_checkpoint_with_a_bad_size_line_is_refused(size: str) -> None:
    with pytest.raises(note.NoteError):
        note.parse_checkpoint(f"o\n{size}\n{base64.b64encode(bytes(32)).decode()}\n")


def test_the_log_key_can_be_a_jwk_a_note_signer_key_or_a_hex_seed() -> None:
    jwk = generate_private_key()
    from_jwk = parse_log_key(private_key_to_json(jwk), origin="o")
    assert note.public_bytes(from_jwk.public_key()) == note.public_bytes(jwk.public_key)
    _, go_key = note.parse_skey(GO_SKEY)
    assert note.public_bytes(parse_log_key(GO_SKEY, origin="PeterNeumann").public_key()) == note.public_bytes(go_key.public_key())
    seed = "11" * 32
    assert parse_log_key(seed, origin="o").private_bytes_raw() == bytes.fromhex(seed)


def test_a_note_signer_key_named_otherwise_than_the_origin_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="named after"):
        parse_log_key(GO_SKEY, origin="consortium.example/audit")
