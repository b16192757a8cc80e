"""C2SP signed notes (Ed25519) and tlog-checkpoint v1.0.0 bodies. Needs only `cryptography`.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
`— <key name> <base64(key ID ‖ signature)>` (an em dash, U+2014). The key ID is the first four
bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key) and the verifier key is
`<name>+<hex key ID>+<base64(0x01 ‖ public key)>`: byte for byte what golang.org/x/mod/sumdb/note
writes, so `note.Open` and every C2SP tool read our checkpoints. A checkpoint's text is three
lines: the log's origin, the tree size in decimal, and the base64 root hash.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # "— "
_SIZE_LINE = re.compile(r"0|[1-9][0-9]{0,19}")


class NoteError(ValueError):
    """A malformed note, key or checkpoint, or a signature that does not verify."""


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{text[:40]!r} is not standard base64") from None


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"a key name has no spaces, newlines or '+': {name!r}")


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID of an Ed25519 note key (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key `<name>+<hex key ID>+<base64(0x01 ‖ key)>`."""
    _check_name(name)
    raw = public_bytes(public_key)
    return f"{name}+{key_id(name, raw).hex()}+{base64.b64encode(bytes([ALG_ED25519]) + raw).decode()}"


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


def parse_vkey(text: str) -> Verifier:
    """Parse a verifier key; refuses other algorithms and a key ID that does not match the key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key is <name>+<hex key ID>+<base64 key>")
    name, hex_id, encoded = parts
    _check_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteError("the key ID of a verifier key is 8 lowercase hex digits")
    raw = _b64decode(encoded)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
    if key_id(name, raw[1:]) != bytes.fromhex(hex_id):
        raise NoteError("the verifier key's ID does not match its name and key")
    return Verifier(name=name, key_id=bytes.fromhex(hex_id), public_key=Ed25519PublicKey.from_public_bytes(raw[1:]))


def parse_skey(text: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a note signer key `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`."""
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("a signer key is PRIVATE+KEY+<name>+<hex key ID>+<base64 seed>")
    name, hex_id, encoded = parts[2:]
    raw = _b64decode(encoded)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("only Ed25519 signer keys (type 0x01, 32-byte seed) are supported")
    private = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if key_id(name, public_bytes(private.public_key())).hex() != hex_id:
        raise NoteError("the signer key's ID does not match its name and key")
    return name, private


def sign(text: str, *, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: `text` (which must end in a newline), a blank line, one signature line."""
    _check_name(name)
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text ends in a newline and has no blank line")
    raw_id = key_id(name, public_bytes(private_key.public_key()))
    signature = private_key.sign(text.encode())
    return f"{text}\n{SIGNATURE_PREFIX}{name} {base64.b64encode(raw_id + signature).decode()}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of `note` once a signature by `verifier` checks out; NoteError otherwise.

    Signatures by other keys are ignored (a checkpoint may carry witnesses' cosignatures).
    """
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("a signed note is text, a blank line, and signature lines each ending in a newline")
    text += "\n"
    found = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"not a signature line: {line[:60]!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
        blob = _b64decode(encoded)
        if len(blob) < 5:
            raise NoteError("a signature line carries a key ID and a signature")
        if name != verifier.name or blob[:4] != verifier.key_id:
            continue
        try:
            verifier.public_key.verify(blob[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature by {name} does not match the note's text") from None
        found = True
    if not found:
        raise NoteError(f"the note carries no signature by {verifier.name}+{verifier.key_id.hex()}")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint's text (the part a signature covers)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint is at least three lines, each ending in a newline")
    origin, size, root, *extensions = lines[:-1]
    if not origin:
        raise NoteError("the checkpoint's origin line is empty")
    if not _SIZE_LINE.fullmatch(size):
        raise NoteError(f"the checkpoint's tree size {size!r} is not a decimal number")
    raw_root = _b64decode(root)
    if len(raw_root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(origin=origin, size=int(size), root=raw_root, extensions=tuple(extensions))


def open_checkpoint(note: str, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint and parse it; its origin must be the key's name (or `origin`)."""
    checkpoint = parse_checkpoint(open_note(note, verifier))
    expected = origin or verifier.name
    if checkpoint.origin != expected:
        raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not {expected!r}")
    return checkpoint
