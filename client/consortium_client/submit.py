"""Building, signing and uploading a batch (PROTOCOL §4).

Input files: CSV with columns `kind,value[,labels][,quality]` (labels separated by `;`; an
optional header row naming the columns, in any order) or JSON Lines, one item object per line.
The payload is `{"member","ref","issued_at","labels","items"}` (and `note` if given), signed
as a detached JWS over its JCS form with `typ` consortium-batch+jws, and POSTed to
`/api/v1/batches`.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import jose
from .http import Client
from .progress import Progress

BATCHES_PATH = "/api/v1/batches"
MAX_ITEMS = 100_000
CSV_COLUMNS = ("kind", "value", "labels", "quality")


class InputError(ValueError):
    """The input file cannot become a batch; the message names the line."""


def _refuse_float(text: str) -> Any:
    raise ValueError(f"{text} is not an integer (payloads carry integers only)")


def now_rfc3339() -> str:
    """The current time, RFC 3339 UTC with a `Z`, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _split_labels(text: str) -> list[str]:
    return [label.strip() for label in text.split(";") if label.strip()]


def _csv_items(lines: Iterable[str], progress: Progress) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    columns: tuple[str, ...] = CSV_COLUMNS
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        cells = [cell.strip() for cell in row]
        names = [cell.lower() for cell in cells]
        if number == 1 and "kind" in names:
            unknown = [name for name in names if name not in CSV_COLUMNS]
            if unknown or "value" not in names or len(set(names)) != len(names):
                raise InputError(f"line 1: a header names each of the columns {', '.join(CSV_COLUMNS)} at most once, kind and value included")
            columns = tuple(names)
            continue
        if len(cells) > len(columns):
            raise InputError(f"line {number}: {len(cells)} columns; expected at most {len(columns)} ({', '.join(columns)})")
        fields = dict(zip(columns, cells, strict=False))
        if not fields.get("kind") or not fields.get("value"):
            raise InputError(f"line {number}: kind and value are required")
        item: dict[str, Any] = {"kind": fields["kind"], "value": fields["value"]}
        if fields.get("labels"):
            item["labels"] = _split_labels(fields["labels"])
        if fields.get("quality"):
            try:
                item["quality"] = int(fields["quality"])
            except ValueError:
                raise InputError(f"line {number}: quality {fields['quality']!r} is not a whole number") from None
        items.append(item)
        _check_count(items, number)
        if len(items) % 1000 == 0:
            progress.update("reading", len(items), unit="items")
    return items


def _jsonl_items(lines: Iterable[str], progress: Progress) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_float)
    items: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = decoder.decode(line)
        except ValueError as exc:
            raise InputError(f"line {number}: not a JSON object: {exc}") from None
        if not isinstance(item, dict):
            raise InputError(f"line {number}: an item is a JSON object, not {type(item).__name__}")
        items.append(item)
        _check_count(items, number)
        if len(items) % 1000 == 0:
            progress.update("reading", len(items), unit="items")
    return items


def _check_count(items: list[Any], number: int) -> None:
    if len(items) > MAX_ITEMS:
        raise InputError(f"line {number}: a batch holds at most {MAX_ITEMS:,} items; split the file")


def read_items(path: str | Path | IO[str], *, progress: Progress | None = None) -> list[dict[str, Any]]:
    """The items of a CSV or JSON Lines file (by extension `.csv` / `.jsonl` `.ndjson` `.json`,
    else by whether the first non-blank character is `{`). Raises InputError naming the line.
    Side effect: reads the file; reports progress."""
    progress = progress or Progress(enabled=False)
    if hasattr(path, "read"):
        text = path.read()  # type: ignore[union-attr]
        suffix = ""
    else:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {path}: {exc}") from None
        suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json") or (suffix != ".csv" and text.lstrip().startswith("{")):
        items = _jsonl_items(io.StringIO(text), progress)
    else:
        items = _csv_items(io.StringIO(text, newline=""), progress)
    if not items:
        raise InputError("the file holds no items")
    progress.done("reading", f"{len(items):,} items")
    return items


def build_payload(
    *,
    member: str,
    ref: str,
    items: list[dict[str, Any]],
    labels: list[str] | None = None,
    note: str | None = None,
    issued_at: str | None = None,
) -> dict[str, Any]:
    """The batch payload of PROTOCOL §4 (`issued_at` defaults to now)."""
    payload: dict[str, Any] = {
        "member": member,
        "ref": ref,
        "issued_at": issued_at or now_rfc3339(),
        "labels": list(labels or []),
        "items": items,
    }
    if note:
        payload["note"] = note
    return payload


def envelope_body(payload: dict[str, Any], *, key: Ed25519PrivateKey) -> bytes:
    """The signed envelope as the request body: `{"payload":<JCS>,"signature":"…"}`.

    The payload is written as its JCS bytes (canonicalized once, for signing and sending).
    """
    canonical = jose.jcs(payload)
    signature = jose.sign(payload, key=key, typ=jose.TYP_BATCH, canonical=canonical)["signature"]
    return b'{"payload":' + canonical + b',"signature":"' + signature.encode("ascii") + b'"}'


class _UploadReader(io.RawIOBase):
    """A body that reports how much of it http.client has sent."""

    def __init__(self, body: bytes, progress: Progress) -> None:
        self._view = memoryview(body)
        self._offset = 0
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:  # a retry after 429 starts over
        self._offset = offset
        return offset

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._offset + max(size, 256 * 1024))
        chunk = bytes(self._view[self._offset:end])
        self._offset = end
        self._progress.update("uploading", self._offset, len(self._view), unit="bytes")
        return chunk


def batch_submit(
    client: Client,
    payload: dict[str, Any],
    *,
    key: Ed25519PrivateKey,
    progress: Progress | None = None,
) -> tuple[int, Any]:
    """Sign `payload` and POST it; (status, the server's answer). Raises http.ProblemError on a
    refusal. Side effect: the server stores the batch (202), or finds the same `ref` (200)."""
    progress = progress or Progress(enabled=False)
    progress.update("signing", 0, force=True)
    body = envelope_body(payload, key=key)
    progress.done("signing", f"{len(payload['items']):,} items, key {jose.thumbprint(key)}, {len(body):,} bytes")
    status, answer = client.post_bytes(BATCHES_PATH, _UploadReader(body, progress), length=len(body))  # type: ignore[arg-type]
    progress.done("uploading", f"{len(body):,} bytes, HTTP {status}")
    return status, answer
