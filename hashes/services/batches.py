"""Batch submission and withdrawal (PROTOCOL §4)."""
from __future__ import annotations

import hashlib
import io
import queue
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from consortium import signing
from consortium.audit.services import Actor, audit_append
from consortium.errors import Conflict, InvalidInput, InvalidSignature, NotAllowed
from hashes.kinds import NAMES, REGISTRY, KindError
from hashes.models import Batch, BatchItem
from hashes.selectors import label_usable_slugs, policy_current
from hashes.services import hooks
from members.models import MemberKey, User
from members.services.keys import member_active_key

MAX_ITEMS = 100_000
MAX_LISTED_ERRORS = 1000
MAX_NOTE = 10_000
PAYLOAD_FIELDS = {"member", "ref", "issued_at", "labels", "note", "items"}
# A batch signed "in the future" beyond this clock skew is refused.
MAX_CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True)
class Submission:
    batch: Batch
    created: bool  # False: a replay of a batch already received (same ref, same payload)


class _Item(NamedTuple):  # a tuple, not a dataclass: 100k of them are made per batch
    position: int
    kind: str
    value: str
    labels: list[str]
    quality: int | None


class _Errors:
    """Collects `{pointer, code, message}` rows: all are counted, the first 1,000 are kept."""

    def __init__(self) -> None:
        self.rows: list[dict[str, str]] = []
        self.count = 0

    def add(self, pointer: str, code: str, message: str) -> None:
        self.count += 1
        if len(self.rows) < MAX_LISTED_ERRORS:
            self.rows.append({"pointer": pointer, "code": code, "message": message})

    def raise_if_any(self, what: str) -> None:
        if self.count:
            listed = "" if self.count <= MAX_LISTED_ERRORS else f" (the first {MAX_LISTED_ERRORS} are listed)"
            raise InvalidInput(
                f"The batch was refused: {self.count} invalid {what}{listed}. Nothing was stored.", errors=self.rows
            )


def batch_submit(*, user: User, envelope: Any) -> Submission:
    """Verify, validate and store a signed batch; it moves on to deduplication after commit.

    Checks, in order: the envelope's signature against the caller's member's active keys; the
    payload's `member` against the caller; a replay of an earlier `ref` (same payload: that
    batch, `created=False`; another payload: Conflict); the header fields and every item. Any
    failure stores nothing. Side effects: one Batch, its BatchItems and a `batch.submitted`
    audit entry in one transaction; the dedup task is queued on commit.
    """
    member = user.member
    if member is None:
        raise NotAllowed("Only a member's users submit batches.")
    try:
        verified = signing.verify(
            envelope, typ=signing.TYP_BATCH, resolve_key=lambda kid: member_active_key(member=member, kid=kid)
        )
    except signing.SignatureError as exc:
        raise InvalidSignature(str(exc), pointer=exc.pointer, code=exc.code) from None
    payload = verified.payload
    if payload.get("member") != member.slug:
        raise NotAllowed(
            f"The payload's member is {payload.get('member')!r} but you act for {member.slug!r}; "
            "sign batches for your own member.",
            pointer="/payload/member",
            code="wrong_member",
        )
    digest = hashlib.sha256(verified.canonical).hexdigest()
    ref = payload.get("ref")
    if isinstance(ref, str):
        replay = _replay(member_id=member.pk, ref=ref, digest=digest)
        if replay is not None:
            return replay

    header = _check_header(payload)
    check = _ItemCheck(payload, default_labels=header["labels"], usable=header["usable"])
    streamed = connection.vendor == "postgresql"
    if not streamed:
        check.run()
        check.raise_if_any()
    key = MemberKey.objects.get(member=member, kid=verified.kid)
    envelope_bytes = signing.envelope_bytes(verified.canonical, verified.signature)
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                member=member,
                ref=header["ref"],
                envelope_sha256=hashlib.sha256(envelope_bytes).hexdigest(),
                payload_sha256=digest,
                signature=verified.signature,
                key=key,
                issued_at=header["issued_at"],
                note=header["note"],
                labels=header["labels"],
                item_count=len(payload["items"]),
                submitted_by=user,
            )
            if streamed:
                # The items are checked while the COPY streams them (see _copy_items); any
                # invalid item rolls the whole transaction back: nothing is stored.
                _copy_items(batch, check)
                check.raise_if_any()
            else:
                _insert_items(batch, check.items)
            audit_append(
                actor=Actor.of(user),
                action="batch.submitted",
                subject=f"batch:{batch.pk}",
                member=member.slug,
                ref=batch.ref,
                items=len(payload["items"]),
                payload_sha256=digest,
                kid=verified.kid,
                signature=verified.signature,
                documents=[envelope_bytes],
            )
            from hashes.tasks import batch_deduplicate_task

            batch_deduplicate_task.delay_on_commit(batch.pk)
    except IntegrityError:
        # Another request stored the same ref between our replay check and our insert. Invalid
        # items are still reported first, as when they were checked before the insert.
        if not check.done:
            check.run()  # starts over
        check.raise_if_any()
        replay = _replay(member_id=member.pk, ref=header["ref"], digest=digest)
        if replay is None:
            raise
        return replay
    return Submission(batch=batch, created=True)


def _replay(*, member_id: int, ref: str, digest: str) -> Submission | None:
    existing = Batch.objects.filter(member_id=member_id, ref=ref).first()
    if existing is None:
        return None
    if existing.payload_sha256 != digest:
        raise Conflict(
            f"Your member already submitted a different batch with ref {ref!r} (batch {existing.pk}). "
            "Use a new ref for a new batch.",
            pointer="/payload/ref",
        )
    return Submission(batch=existing, created=False)


def _check_header(payload: dict[str, Any]) -> dict[str, Any]:
    errors = _Errors()
    for field in sorted(set(payload) - PAYLOAD_FIELDS):
        errors.add(f"/payload/{field}", "unknown_field", f"A batch payload has no field {field!r}.")
    ref = payload.get("ref")
    if not isinstance(ref, str) or not 1 <= len(ref) <= 128:
        errors.add("/payload/ref", "invalid_ref", "ref is a string of 1 to 128 characters, unique per member.")
    issued_at = _parse_time(payload.get("issued_at"))
    if issued_at is None:
        errors.add("/payload/issued_at", "invalid_time", "issued_at is an RFC 3339 UTC time such as 2026-11-21T10:00:00Z.")
    elif issued_at > timezone.now() + MAX_CLOCK_SKEW:
        errors.add("/payload/issued_at", "in_future", "issued_at is in the future; check the signing machine's clock.")
    note = payload.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        errors.add("/payload/note", "invalid_note", f"note is a string of at most {MAX_NOTE} characters.")
    labels = payload.get("labels", [])
    usable = label_usable_slugs()
    _check_labels(labels, "/payload/labels", usable, errors)
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        errors.add("/payload/items", "invalid_items", "items is a non-empty list of fingerprints.")
    elif len(items) > MAX_ITEMS:
        errors.add("/payload/items", "too_many_items", f"A batch has at most {MAX_ITEMS} items, not {len(items)}; split it.")
    errors.raise_if_any("fields")
    return {"ref": ref, "issued_at": issued_at, "note": note, "labels": labels, "usable": usable}


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


def _check_labels(labels: Any, pointer: str, usable: set[str], errors: _Errors) -> bool:
    if not isinstance(labels, list):
        errors.add(pointer, "invalid_labels", "labels is a list of label slugs (GET /api/v1/labels).")
        return False
    ok = True
    for index, slug in enumerate(labels):
        if slug not in usable:
            ok = False
            errors.add(
                f"{pointer}/{index}",
                "unknown_label",
                f"{slug!r} is not a label of the taxonomy (or it is retired); see GET /api/v1/labels.",
            )
    if ok and len(set(labels)) != len(labels):
        errors.add(pointer, "duplicate_label", "A label is listed twice.")
        ok = False
    return ok


ITEM_CHUNK = 10_000  # items checked (and, on PostgreSQL, streamed to the COPY) at a time


class _ItemCheck:
    """Validates and normalizes the payload's items a chunk at a time, in payload order.

    Each chunk is checked a kind at a time (`Kind.check_many`, which has bulk fast paths), then
    reassembled in payload order. Every error is collected; `raise_if_any` lists them by
    position (first 1,000). `chunks()` yields each chunk's valid items as CSV rows for COPY
    until the first invalid item, then checks the rest without producing rows.
    """

    def __init__(self, payload: dict[str, Any], *, default_labels: list[str], usable: set[str]) -> None:
        self.raw: list[Any] = payload["items"]
        self.default_labels = default_labels
        self.usable = usable
        self.min_quality = policy_current().pdq_min_quality
        self.errors: list[tuple[str, str, str]] = []
        self.items: list[_Item] = []
        self.done = False

    def run(self) -> None:
        """Check every item, keeping the valid ones as `_Item`s (the bulk_create path)."""
        self.errors, self.items = [], []
        for lo in range(0, len(self.raw), ITEM_CHUNK):
            self.items.extend(_Item(*row) for row in self._chunk(lo, min(lo + ITEM_CHUNK, len(self.raw))))
        self.done = True

    def chunks(self, batch_id: int) -> Iterator[str]:
        """CSV rows `batch_id,position,kind,value,labels,quality,pending`, a chunk at a time."""
        # CSV by hand: most fields are digits or hex and need no quoting; ~2x faster than csv.writer.
        labels_csv: dict[tuple[Any, ...], str] = {}
        prefix = f"{batch_id},"
        for lo in range(0, len(self.raw), ITEM_CHUNK):
            rows = self._chunk(lo, min(lo + ITEM_CHUNK, len(self.raw)))
            if self.errors:
                continue  # nothing will be stored: just find every error
            lines = []
            for position, kind, value, labels, quality in rows:
                key = tuple(labels)
                field = labels_csv.get(key)
                if field is None:  # most items share their batch's labels: encode once
                    field = labels_csv[key] = _csv_field(signing.jcs(labels).decode())
                if not value.isalnum():
                    value = _csv_field(value)
                lines.append(f"{prefix}{position},{kind},{value},{field},{'' if quality is None else quality},pending\n")
            yield "".join(lines)
        self.done = True

    def raise_if_any(self) -> None:
        if self.errors:
            collected = _Errors()
            for pointer, code, message in sorted(self.errors, key=lambda e: _position_of(e[0])):
                collected.add(pointer, code, message)
            collected.raise_if_any("items")

    def _chunk(self, lo: int, hi: int) -> list[tuple[int, str, str, list[str], int | None]]:
        """The valid items of positions lo..hi-1 as (position, kind, value, labels, quality), in
        position order; the errors of the others are added to `self.errors`."""
        errors = self.errors
        default_labels, usable = self.default_labels, self.usable
        raw = self.raw
        by_kind: dict[str, list[int]] = defaultdict(list)
        for position in range(lo, hi):
            item = raw[position]
            name = item.get("kind") if type(item) is dict else None
            if type(name) is str and name in REGISTRY:
                by_kind[name].append(position)
            elif type(item) is not dict:
                errors.append((f"/payload/items/{position}", "invalid_item", "An item is an object with kind, value and optional labels."))
            else:
                errors.append((f"/payload/items/{position}/kind", "unknown_kind", f"kind is one of {', '.join(NAMES)}."))
        slots: list[tuple[int, str, str, list[str], int | None] | None] = [None] * (hi - lo)
        for name, positions in by_kind.items():
            results = REGISTRY[name].check_many([raw[p] for p in positions], min_quality=self.min_quality)
            for position, result in zip(positions, results, strict=True):
                if isinstance(result, KindError):
                    errors.append((f"/payload/items/{position}/{result.field}", result.code, str(result)))
                    continue
                labels = raw[position].get("labels", default_labels)
                if labels is not default_labels and not (
                    type(labels) is list and usable.issuperset(labels) and len(set(labels)) == len(labels)
                ):
                    label_errors = _Errors()
                    _check_labels(labels, f"/payload/items/{position}/labels", usable, label_errors)
                    errors.extend((e["pointer"], e["code"], e["message"]) for e in label_errors.rows)
                    continue
                slots[position - lo] = (position, name, result.value, labels, result.extras.get("quality"))
        return [slot for slot in slots if slot is not None]


def _position_of(pointer: str) -> int:
    return int(pointer.split("/")[3])


def _insert_items(batch: Batch, items: list[_Item]) -> None:
    """Bulk insert for databases without COPY (the embedded SQLite default)."""
    BatchItem.objects.bulk_create(
        [
            BatchItem(batch=batch, position=i.position, kind=i.kind, value=i.value, labels=i.labels, quality=i.quality)
            for i in items
        ],
        batch_size=2000,
    )


class _Stream(io.RawIOBase):
    """What psycopg2's `copy_expert` reads: the chunks a producer thread puts in a queue.

    copy_expert releases the GIL while it sends each chunk, so the next chunk is checked and
    formatted meanwhile, and PostgreSQL parses and inserts the rows while Python validates:
    the two costs overlap on two cores instead of adding up.
    """

    def __init__(self, chunks: Iterator[str]) -> None:
        self.queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)
        self.failure: BaseException | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, args=(chunks,), name="batch-items", daemon=True)
        self.thread.start()

    def _produce(self, chunks: Iterator[str]) -> None:
        try:
            for chunk in chunks:
                if self.stop.is_set():
                    return
                if chunk:
                    self.queue.put(chunk.encode())
        except BaseException as exc:  # re-raised by the reading thread
            self.queue.put(exc)
            return
        self.queue.put(None)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # Whole chunks (psycopg2 sends whatever read() returns); b"" ends the COPY.
        if self.failure is not None:
            return b""
        item = self.queue.get()
        if item is None:
            self.queue.put(None)  # later reads see the end too
            return b""
        if isinstance(item, BaseException):
            self.failure = item
            return b""
        return item

    def finish(self) -> None:
        """Wait for the producer; if the COPY stopped early, unblock and stop it first."""
        self.stop.set()
        while self.thread.is_alive():
            try:
                self.queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self.thread.join()


def _copy_items(batch: Batch, check: _ItemCheck) -> None:
    """COPY the items as they are checked (one round trip for 100k rows). If an item is
    invalid, the rows stop there (and the caller rolls back after `check.raise_if_any()`)."""
    stream = _Stream(check.chunks(batch.pk))
    table = BatchItem._meta.db_table
    try:
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(
                f"COPY {table} (batch_id, position, kind, value, labels, quality, outcome) FROM STDIN WITH (FORMAT csv)",
                stream,
                size=1 << 20,
            )
    finally:
        stream.finish()
    if stream.failure is not None:
        raise stream.failure


def _csv_field(text: str) -> str:
    """A CSV field as PostgreSQL's COPY reads it: quoted, inner quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def batch_withdraw(*, user: User, batch: Batch) -> Batch:
    """The submitting member takes its batch back while it is received or voting.

    A conditional UPDATE on the old status: if a deciding vote moved the batch first, the
    withdrawal is refused (Conflict) and the decision stands.
    """
    if user.member_id != batch.member_id:
        raise NotAllowed("Only the submitting member withdraws a batch.")
    with transaction.atomic():
        now = timezone.now()
        moved = Batch.objects.filter(
            pk=batch.pk, status__in=[Batch.Status.RECEIVED, Batch.Status.VOTING]
        ).update(status=Batch.Status.WITHDRAWN, decided=now)
        if not moved:
            current = Batch.objects.values_list("status", flat=True).get(pk=batch.pk)
            raise Conflict(f"The batch is {current} and can no longer be withdrawn.", pointer="")
        audit_append(actor=Actor.of(user), action="batch.withdrawn", subject=f"batch:{batch.pk}", member=batch.member.slug)
        hooks.batch_decided(batch.pk, Batch.Status.WITHDRAWN)
    batch.refresh_from_db()
    return batch
