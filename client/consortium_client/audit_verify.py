"""Verify an audit-log export offline: `python -m consortium_client.audit_verify EXPORT.tar.gz`.

Needs only the standard library, `cryptography` and `rfc8785`. It checks, in one streaming pass:
the checkpoint's signature by log.vkey (and, given `--vkey`, that log.vkey is the one you
trust); that entries.jsonl holds entries 0…size-1 in order, each canonical RFC 8785 JSON; that
they hash to the checkpoint's RFC 6962 root; that every file in documents/ hashes to its name
and is referred to by an entry, and every referred document is there; that every signed
envelope among them verifies with a key of keys.json valid at the time of the entry that
logged it; and, given `--previous-checkpoint`, that the older checkpoint is signed by the same
key and is a prefix of this log (its root recomputed from the entries). Exit status 0 when all
holds, 1 with a message naming the first problem otherwise.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import queue
import re
import sys
import tarfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import merkle, note

TYP_BATCH = "consortium-batch+jws"
CONSORTIUM_TYPS = ("consortium-release+jws", "consortium-snapshot+jws")
ORDER = ("checkpoint", "log.vkey", "keys.json", "entries.jsonl")
_SHA256_NAME = re.compile(r"documents/([0-9a-f]{64})")


class VerificationError(Exception):
    """The export fails a check; the message names which and where."""


@dataclass
class Report:
    origin: str = ""
    size: int = 0
    root: bytes = b""
    entries: int = 0
    documents: int = 0
    member_signatures: int = 0
    consortium_signatures: int = 0
    unsigned_documents: int = 0
    previous_size: int | None = None
    keys: int = 0
    lines: list[str] = field(default_factory=list)


def _refuse(value: str) -> Any:
    raise ValueError(f"{value} is not an integer (entries carry integers only)")


class _LongInteger(ValueError):
    """An integer of 16+ digits: JCS (ES6 numbers) may write it otherwise than Python; check slowly."""


def _integer(text: str) -> int:
    if len(text) > 15:
        raise _LongInteger(text)
    return int(text)


_DECODER = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse, parse_int=_integer)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
_loads = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse).decode
# The C scanner and encoder, made once: json.loads/dumps build a new encoder on every call, which
# costs more than encoding a small entry. Both fall back to the pure-Python ones elsewhere.
_scan = getattr(json.scanner, "c_make_scanner", None)
_scan = _scan(_DECODER) if _scan else _DECODER.scan_once
_c_encoder = getattr(json.encoder, "c_make_encoder", None)
if _c_encoder is not None:
    _encode_parts = _c_encoder(None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False, False)

    def _encode(value: Any) -> str:
        return "".join(_encode_parts(value, 0))
else:  # pragma: no cover - CPython always has the C encoder
    _encode = _ENCODER.encode


def is_canonical(body: bytes, parsed: Any) -> bool:
    """True when `body` is exactly the RFC 8785 (JCS) form of `parsed` (compared with rfc8785 itself)."""
    try:
        return rfc8785.dumps(parsed) == body
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        return False


def parse_entry(body: bytes) -> tuple[Any, bool]:
    """(the parsed entry, whether `body` is its canonical JCS form); ValueError if not one JSON value.

    Fast path: for ASCII bodies with integers below 16 digits, Python's C encoder with sorted
    keys and no spaces writes exactly what JCS writes (same escapes, same key order, same
    integers), so one re-encoding decides. Anything else is left to the rfc8785 library.
    """
    text = body.decode()
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("not a JSON value") from None
    except _LongInteger:
        value = _loads(text)
        return value, is_canonical(body, value)
    if end != len(text):
        raise ValueError(f"extra data after the JSON value at character {end}")
    if body.isascii():
        return value, _encode(value) == text
    return value, is_canonical(body, value)


def _time(text: Any, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise VerificationError(f"{where}: {text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise VerificationError(f"{where}: {text!r} has no time zone")
    return moment


def _b64u(text: Any) -> bytes:
    if not isinstance(text, str) or any(c in text for c in "=+/ \n"):
        raise binascii.Error("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Key:
    kid: str
    owner: str  # "consortium" or the member's slug
    public_key: Ed25519PublicKey
    created: datetime | None
    ended: datetime | None  # revoked (member) or retired (consortium)

    def valid_at(self, moment: datetime) -> bool:
        return (self.created is None or self.created <= moment) and (self.ended is None or moment < self.ended)


def load_keys(data: bytes) -> dict[str, Key]:
    try:
        document = json.loads(data)
        keys: dict[str, Key] = {}
        for owner_field, end_field, rows in (
            (None, "retired", document["consortium"]),
            ("member", "revoked", document["members"]),
        ):
            for row in rows:
                if row.get("kty") != "OKP" or row.get("crv") != "Ed25519":
                    raise VerificationError(f"keys.json: key {row.get('kid')!r} is not an Ed25519 key")
                where = f"keys.json: key {row['kid']}"
                keys[row["kid"]] = Key(
                    kid=row["kid"],
                    owner="consortium" if owner_field is None else row[owner_field],
                    public_key=Ed25519PublicKey.from_public_bytes(_b64u(row["x"])),
                    created=_time(row["created"], where) if row.get("created") else None,
                    ended=_time(row[end_field], where) if row.get(end_field) else None,
                )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise VerificationError(f"keys.json is not a key list of this log's export: {exc}") from None
    return keys


def check_envelope(document: Any, keys: dict[str, Key], moment: datetime, name: str) -> str | None:
    """Verify a signed envelope; returns its typ, or None if `document` is no envelope."""
    if not (isinstance(document, dict) and set(document) == {"payload", "signature"}):
        return None
    payload, signature = document["payload"], document["signature"]
    try:
        protected, middle, encoded_signature = signature.split(".")
        header = json.loads(_b64u(protected))
        raw_signature = _b64u(encoded_signature)
    except (AttributeError, ValueError, binascii.Error):
        raise VerificationError(f"{name}: the signature is not a detached JWS") from None
    if middle or not isinstance(header, dict) or header.get("alg") != "EdDSA" or "crit" in header:
        raise VerificationError(f"{name}: the JWS header must be EdDSA, detached, without crit")
    typ, kid = header.get("typ"), header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise VerificationError(f"{name}: signed by key {kid!r}, which keys.json does not list")
    if typ == TYP_BATCH:
        if key.owner == "consortium":
            raise VerificationError(f"{name}: a batch must be signed by a member's key, not the consortium's")
        if isinstance(payload, dict) and "member" in payload and payload["member"] != key.owner:
            raise VerificationError(f"{name}: batch of member {payload['member']!r} signed by a key of {key.owner!r}")
    elif typ in CONSORTIUM_TYPS:
        if key.owner != "consortium":
            raise VerificationError(f"{name}: a {typ} must be signed by the consortium, not by member {key.owner!r}")
    else:
        raise VerificationError(f"{name}: unknown document type {typ!r}")
    if not key.valid_at(moment):
        raise VerificationError(f"{name}: key {kid} was not valid at {moment.isoformat()}, when the entry logged it")
    try:
        signing_input = protected.encode() + b"." + base64.urlsafe_b64encode(rfc8785.dumps(payload)).rstrip(b"=")
        key.public_key.verify(raw_signature, signing_input)
    except (InvalidSignature, rfc8785.CanonicalizationError, ValueError, TypeError):
        raise VerificationError(f"{name}: the {typ} signature by key {kid} does not verify") from None
    return typ


def _blocks(handle: IO[bytes], size: int = 4 << 20) -> Iterator[bytes]:
    """`handle`'s content in big blocks, read ahead by a thread: zlib releases the GIL while it
    inflates, so decompression overlaps the per-entry checks on a second core."""
    ahead: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=4)

    def read() -> None:
        try:
            while block := handle.read(size):
                ahead.put(block)
            ahead.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            ahead.put(exc)

    reader = threading.Thread(target=read, name="export-reader", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # A consumer that stopped early (a failed check) lets the reader finish or fail on its own.
        while reader.is_alive():
            try:
                ahead.get(timeout=0.1)
            except queue.Empty:
                pass
        reader.join()


def _read_small(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int = 64 * 1024 * 1024) -> bytes:
    if member.size > limit:
        raise VerificationError(f"{member.name} is larger than {limit} bytes")
    handle = tar.extractfile(member)
    if handle is None:
        raise VerificationError(f"{member.name} is not a regular file")
    return handle.read()


def verify_export(
    export: str | Path | IO[bytes],
    *,
    previous_checkpoint: str | None = None,
    trusted_vkey: str | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> Report:
    """Run every check on an export (a path or a binary stream); raise VerificationError on the first failure."""
    report = Report()
    opened = export if hasattr(export, "read") else open(export, "rb")  # noqa: SIM115 - closed below
    try:
        with tarfile.open(fileobj=opened, mode="r|gz") as tar:
            _verify_stream(tar, report, previous_checkpoint, trusted_vkey, say)
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise VerificationError(f"the export is not a readable .tar.gz: {exc}") from None
    finally:
        if opened is not export:
            opened.close()
    return report


def _verify_stream(
    tar: tarfile.TarFile,
    report: Report,
    previous_checkpoint: str | None,
    trusted_vkey: str | None,
    say: Callable[[str], None],
) -> None:
    files: dict[str, bytes] = {}
    checkpoint: note.Checkpoint | None = None
    verifier: note.Verifier | None = None
    keys: dict[str, Key] = {}
    previous: note.Checkpoint | None = None
    references: dict[str, tuple[int, datetime]] = {}
    seen_documents: set[str] = set()
    entries_done = False

    for member in tar:
        name = member.name
        if name in ORDER:
            expected = ORDER[len(files)] if len(files) < len(ORDER) else None
            if name != expected:
                raise VerificationError(f"{name} is out of place: the export holds {', '.join(ORDER)} in that order, then documents/")
        if name in ("checkpoint", "log.vkey", "keys.json"):
            files[name] = _read_small(tar, member)
            if name == "keys.json":
                verifier, checkpoint, previous = _check_head(files, report, previous_checkpoint, trusted_vkey, say)
                keys = load_keys(files["keys.json"])
                report.keys = len(keys)
            continue
        if name == "entries.jsonl":
            files[name] = b""
            handle = tar.extractfile(member)
            if handle is None or checkpoint is None:
                raise VerificationError("entries.jsonl is not a regular file")
            _check_entries(handle, checkpoint, previous, references, report, say)
            entries_done = True
            continue
        match = _SHA256_NAME.fullmatch(name)
        if member.isdir() and name.rstrip("/") == "documents":
            continue
        if not match:
            raise VerificationError(f"{name}: the export holds no such file (documents are documents/<sha256 hex>)")
        if not entries_done:
            raise VerificationError(f"{name} comes before entries.jsonl; documents follow the entries")
        digest = match.group(1)
        content = _read_small(tar, member)
        if hashlib.sha256(content).hexdigest() != digest:
            raise VerificationError(f"{name}: its content does not hash to its name (SHA-256 {hashlib.sha256(content).hexdigest()})")
        if digest not in references:
            raise VerificationError(f"{name}: no entry refers to this document")
        if digest in seen_documents:
            raise VerificationError(f"{name} appears twice")
        seen_documents.add(digest)
        index, moment = references[digest]
        try:
            parsed = json.loads(content)
        except ValueError:
            parsed = None
        typ = check_envelope(parsed, keys, moment, f"{name} (logged by entry {index})")
        if typ == TYP_BATCH:
            report.member_signatures += 1
        elif typ is None:
            report.unsigned_documents += 1
        else:
            report.consortium_signatures += 1
        report.documents += 1

    if not entries_done:
        missing = [name for name in ORDER if name not in files]
        raise VerificationError(f"the export lacks {', '.join(missing)}")
    absent = sorted(set(references) - seen_documents)
    if absent:
        index = references[absent[0]][0]
        raise VerificationError(
            f"entry {index} refers to document {absent[0]}, which documents/ lacks ({len(absent)} missing in all)"
        )
    say(
        f"documents: {report.documents} present, each referred to and hashing to its name; "
        f"{report.member_signatures} member batch signatures and {report.consortium_signatures} consortium "
        f"signatures verified against {report.keys} keys valid at their entry's time; {report.unsigned_documents} unsigned"
    )


def _check_head(
    files: dict[str, bytes],
    report: Report,
    previous_checkpoint: str | None,
    trusted_vkey: str | None,
    say: Callable[[str], None],
) -> tuple[note.Verifier, note.Checkpoint, note.Checkpoint | None]:
    vkey_text = files["log.vkey"].decode().strip()
    try:
        verifier = note.parse_vkey(vkey_text)
    except note.NoteError as exc:
        raise VerificationError(f"log.vkey: {exc}") from None
    if trusted_vkey is not None and trusted_vkey.strip() != vkey_text:
        raise VerificationError(f"log.vkey is {vkey_text}, not the key you trust ({trusted_vkey.strip()})")
    try:
        checkpoint = note.open_checkpoint(files["checkpoint"].decode(), verifier)
    except note.NoteError as exc:
        raise VerificationError(f"checkpoint: {exc}") from None
    report.origin, report.size, report.root = checkpoint.origin, checkpoint.size, checkpoint.root
    say(f"checkpoint: {checkpoint.origin}, {checkpoint.size} entries, root {base64.b64encode(checkpoint.root).decode()}; signature by {vkey_text} verified")
    previous = None
    if previous_checkpoint is not None:
        try:
            previous = note.open_checkpoint(previous_checkpoint, verifier)
        except note.NoteError as exc:
            raise VerificationError(f"previous checkpoint: {exc}") from None
        if previous.size > checkpoint.size:
            raise VerificationError(
                f"previous checkpoint: it has {previous.size} entries, more than this export's {checkpoint.size}: the log shrank"
            )
        report.previous_size = previous.size
    return verifier, checkpoint, previous


# Logs at least this large have their entries checked by a pool of processes, chunk by chunk,
# while this process hashes them in order: the JSON checks are ~2/3 of the work per entry.
PARALLEL_FROM = 200_000
CHUNK_LINES = 20_000
POOL_WINDOW = 4  # chunks in flight: bounds memory whatever the log's size


def _check_chunk(start: int, chunk: bytes) -> tuple[str | None, list[tuple[str, int, datetime]]]:
    """Check the entries of `chunk` (newline-separated, the first at index `start`).

    Returns the first problem found (as the message to report) or None, and the documents the
    entries refer to with the index and time of each reference. Pure: runs in pool workers.
    """
    scan, encode = _scan, _encode
    references: list[tuple[str, int, datetime]] = []
    index = start
    for body in chunk.split(b"\n"):
        try:
            text = body.decode()
            entry, end = scan(text, 0)
            if end != len(text) or not body.isascii():
                raise ValueError
            canonical = encode(entry) == text
        except (ValueError, StopIteration):
            try:
                entry, canonical = parse_entry(body)
            except (ValueError, UnicodeDecodeError) as exc:
                return f"entries.jsonl: line {index + 1} is not one JSON value: {exc}", references
        if type(entry) is not dict:
            return f"entries.jsonl: line {index + 1} is not a JSON object", references
        if entry.get("index") != index:
            return (
                f"entries.jsonl: line {index + 1} holds index {entry.get('index')!r} where index {index} belongs: "
                "an entry is missing, duplicated or out of order"
            ), references
        if not canonical:
            return f"entry {index} is not canonical RFC 8785 (JCS) JSON", references
        if entry.get("v") != 1:
            return f"entry {index}: unknown version {entry.get('v')!r}", references
        documents = entry.get("documents")
        if documents:
            try:
                moment = _time(entry.get("time"), f"entry {index}")
            except VerificationError as exc:
                return str(exc), references
            for digest in documents:
                if not isinstance(digest, str):
                    return f"entry {index}: documents lists {digest!r}, not a SHA-256 hex digest", references
                references.append((digest, index, moment))
        index += 1
    return None, references


def _check_entries(
    handle: IO[bytes],
    checkpoint: note.Checkpoint,
    previous: note.Checkpoint | None,
    references: dict[str, tuple[int, datetime]],
    report: Report,
    say: Callable[[str], None],
) -> None:
    """Hash every entry in order (the tree's right edge, inlined: one hash per set bit of the
    size) and check each entry, in this process or, for large logs, in a pool of processes."""
    pool = None
    if checkpoint.size >= PARALLEL_FROM:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork"))
    pending: deque[Any] = deque()

    def settle(result: tuple[str | None, list[tuple[str, int, datetime]]]) -> None:
        problem, found = result
        for digest, at, moment in found:
            references.setdefault(digest, (at, moment))
        if problem is not None:
            raise VerificationError(problem)

    def check(start: int, lines: list[bytes]) -> None:
        chunk = b"\n".join(lines)
        if pool is None:
            settle(_check_chunk(start, chunk))
            return
        pending.append(pool.submit(_check_chunk, start, chunk))
        while len(pending) > POOL_WINDOW:
            settle(pending.popleft().result())

    stack: list[bytes] = []
    sha256 = hashlib.sha256
    previous_root: bytes | None = merkle.EMPTY_ROOT if previous is not None and previous.size == 0 else None
    index = 0
    carry = b""
    batch: list[bytes] = []
    batch_start = 0
    try:
        for block in _blocks(handle):
            lines = (carry + block).split(b"\n")
            carry = lines.pop()
            for body in lines:
                digest = sha256(b"\x00" + body).digest()
                position = index
                while position & 1:
                    digest = sha256(b"\x01" + stack.pop() + digest).digest()
                    position >>= 1
                stack.append(digest)
                index += 1
                if previous is not None and index == previous.size:
                    previous_root = merkle.fold(stack)
            batch.extend(lines)
            if len(batch) >= CHUNK_LINES:
                check(batch_start, batch)
                batch_start, batch = index, []
        if batch:
            check(batch_start, batch)
        while pending:
            settle(pending.popleft().result())
    finally:
        if pool is not None:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
    if carry:
        raise VerificationError(f"entries.jsonl: line {index + 1} does not end in a newline")
    tree = merkle.CompactRange(index, stack)
    report.entries = index
    if index != checkpoint.size:
        raise VerificationError(f"entries.jsonl holds {index} entries; the checkpoint says the log has {checkpoint.size}")
    root = tree.root()
    if root != checkpoint.root:
        raise VerificationError(
            f"the root of the {index} entries ({base64.b64encode(root).decode()}) is not the checkpoint's root "
            f"({base64.b64encode(checkpoint.root).decode()}): an entry was changed"
        )
    say(f"entries: {index} in sequence from 0, each canonical JCS; their RFC 6962 root matches the checkpoint")
    if previous is not None:
        if previous_root != previous.root:
            raise VerificationError(
                f"previous checkpoint: the first {previous.size} entries hash to "
                f"{base64.b64encode(previous_root or b'').decode()}, not to its root: the two checkpoints are inconsistent"
            )
        say(f"previous checkpoint: {previous.size} entries, a prefix of this log (consistent)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m consortium_client.audit_verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("export", help="the .tar.gz from GET /api/v1/audit/export")
    parser.add_argument("--previous-checkpoint", metavar="FILE", help="an older checkpoint you kept: check the log only grew")
    parser.add_argument("--vkey", metavar="VKEY", help="the log's verifier key you trust (the text, or a file holding it)")
    args = parser.parse_args(argv)
    try:
        previous = Path(args.previous_checkpoint).read_text() if args.previous_checkpoint else None
        trusted = args.vkey
        if trusted is not None and Path(trusted).is_file():
            trusted = Path(trusted).read_text()
    except OSError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 2
    try:
        verify_export(args.export, previous_checkpoint=previous, trusted_vkey=trusted, say=print)
    except VerificationError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 2
    print("OK: the export verifies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
