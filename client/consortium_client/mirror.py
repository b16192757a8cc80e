"""A member's local SQLite mirror of the published fingerprints (PROTOCOL §6).

`mirror_sync` applies the signed delta feed (`GET /api/v1/releases?after=`) release by release;
`mirror_bootstrap` loads a signed snapshot first, so a new member does not replay history.
Nothing is taken on trust: each release must be signed (`typ` consortium-release+jws, EdDSA)
by a consortium key of the JWKS that was not retired before the release's `published_at`, carry
`seq` = the mirror's last seq + 1 and `prev` = SHA-256 of the previous release's JCS payload,
and apply cleanly (a remove of what the mirror lacks, or an add of what it holds, means the
mirror and the feed disagree). A release that fails any check is refused whole: nothing of it
is applied, and the error names its seq and the reason.

Each release's changes and its state update form one unit (a SAVEPOINT): all or nothing.
Consecutive good releases share a commit (up to COMMIT_EVERY changes), because with random
keys one commit per release rewrote most of the table each time (bench/README_client.md).

Tables: `fingerprints(kind, value, labels, fingerprint, seq)` (labels as a JSON array; the
primary key `(kind, value)` serves look-ups) and `state(last_seq, last_payload_sha256)`.
"""
from __future__ import annotations

import gc
import hashlib
import json
import operator
import re
import sqlite3
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import jose
from .progress import Progress

JWKS_PATH = "/.well-known/jwks.json"
RELEASES_PATH = "/api/v1/releases"
MANIFEST_PATH = "/api/v1/snapshot/manifest"
SNAPSHOT_PATH = "/api/v1/snapshot"
PAGE_SIZE = 1000
INSERT_CHUNK = 50_000
COMMIT_EVERY = 250_000  # changes per commit at most (a release is never split)
_VALUE = operator.itemgetter(1)
_HEX64 = re.compile(r"[0-9a-f]{64}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS fingerprints (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    labels TEXT NOT NULL,
    fingerprint INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL,
    last_payload_sha256 TEXT
);
INSERT OR IGNORE INTO state (id, last_seq, last_payload_sha256) VALUES (1, 0, NULL);
"""


class MirrorError(Exception):
    """A refused release, snapshot or answer: `seq` (None when not about one release) and why."""

    def __init__(self, seq: int | None, reason: str) -> None:
        self.seq = seq
        self.reason = reason
        super().__init__(f"seq {seq}: {reason}" if seq is not None else reason)


class Fetcher(Protocol):
    """What the mirror needs from the server (`http.Client` is one; tests may pass their own)."""

    def get_json(self, path: str) -> Any: ...

    def open(self, method: str, path: str, **kwargs: Any) -> Any: ...


# --- the consortium's keys ----------------------------------------------------------------------


def _time(text: Any) -> datetime:
    """An RFC 3339 time with a zone (`Z` or an offset); ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not an RFC 3339 time")
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment


@dataclass(frozen=True)
class ConsortiumKey:
    kid: str
    public_key: Ed25519PublicKey
    retired: datetime | None


class Keyring:
    """The consortium's signing keys from its JWKS, fetched once and again when an unknown kid
    appears (a key rotated in since). Side effect: GETs the JWKS through `fetch`."""

    def __init__(self, fetch: Callable[[], Any]) -> None:
        self._fetch = fetch
        self._keys: dict[str, ConsortiumKey] | None = None
        self._refetched_for: set[str] = set()

    def _load(self) -> dict[str, ConsortiumKey]:
        document = self._fetch()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise MirrorError(None, 'the JWKS is not {"keys": [...]}')
        keys: dict[str, ConsortiumKey] = {}
        for row in document["keys"]:
            try:
                public = jose.public_key_from_jwk(row)
                kid = row["kid"]
                retired = _time(row["retired"]) if row.get("retired") else None
            except (jose.JWKError, KeyError, TypeError, ValueError) as exc:
                raise MirrorError(None, f"the JWKS lists a key that is not an Ed25519 signing key with kid and retired: {exc}") from None
            if kid != jose.thumbprint(row):
                raise MirrorError(None, f"the JWKS lists key {kid!r} under a kid that is not its RFC 7638 thumbprint")
            if row.get("use", "sig") != "sig" or row.get("alg", jose.ALG) != jose.ALG:
                continue  # not a signing key: it may not sign releases
            keys[kid] = ConsortiumKey(kid=kid, public_key=public, retired=retired)
        return keys

    def key(self, kid: str) -> ConsortiumKey | None:
        if self._keys is None:
            self._keys = self._load()
        if kid not in self._keys and kid not in self._refetched_for:
            self._refetched_for.add(kid)
            self._keys = self._load()
        return self._keys.get(kid)

    def resolver(self, *, at: str | None) -> Callable[[str, dict[str, Any]], Ed25519PublicKey | None]:
        """A `resolve_key` for `jose.verify`: the kid's key, if it was not retired before the
        payload's time field `at` (a payload without one: the key must not be retired at all)."""

        def resolve(kid: str, payload: dict[str, Any]) -> Ed25519PublicKey | None:
            key = self.key(kid)
            if key is None:
                raise jose.SignatureError(f"signed by key {kid!r}, which the consortium's JWKS does not list", code="unknown_key")
            if key.retired is not None:
                if at is None:
                    raise jose.SignatureError(f"signed by key {kid}, retired at {key.retired.isoformat()}", code="retired_key")
                try:
                    moment = _time(payload.get(at))
                except ValueError as exc:
                    raise jose.SignatureError(f"{at}: {exc}", code="malformed_payload") from None
                if key.retired <= moment:
                    raise jose.SignatureError(
                        f"signed by key {kid}, retired at {key.retired.isoformat()}, before the {at} {payload[at]}",
                        code="retired_key",
                    )
            return key.public_key

        return resolve


# --- the database -------------------------------------------------------------------------------


def mirror_open(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the mirror database. Autocommit mode: callers open their own
    transactions (`BEGIN IMMEDIATE`). WAL and synchronous=NORMAL: a commit is one fsync-free
    append to the WAL, still atomic and durable across an application crash."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=60)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MB: the primary key's b-tree stays in memory
    conn.executescript(SCHEMA)
    return conn


def mirror_state(conn: sqlite3.Connection) -> tuple[int, str | None]:
    """(last_seq, last_payload_sha256) of the mirror."""
    return conn.execute("SELECT last_seq, last_payload_sha256 FROM state WHERE id = 1").fetchone()


# --- releases -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """A release that passed every check, with its changes as rows ready for SQLite."""

    seq: int
    payload_sha256: str
    runs: list[tuple[str, list[tuple[Any, ...]]]]  # consecutive changes of one op: ("add", rows) …
    changes: int


def _labels_text(cache: dict[tuple[str, ...], str], labels: Any, where: str) -> str:
    """Labels as stored: their JSON text. Cached by value: a feed reuses a few label sets."""
    if type(labels) is not list:
        raise ValueError(f"{where}/labels is not a list")
    key = tuple(labels)
    text = cache.get(key)
    if text is None:
        if not all(type(label) is str for label in labels):
            raise ValueError(f"{where}/labels holds a non-string")
        text = cache[key] = json.dumps(labels, separators=(",", ":"), ensure_ascii=False)
    return text


def release_check(
    envelope: Any,
    *,
    keyring: Keyring,
    last_seq: int | None,
    last_payload_sha256: str | None,
) -> Release:
    """Verify one release envelope against the mirror's state and return it ready to apply.

    Checks, in order: the signature (typ, alg, a consortium key not retired before
    `published_at`), the payload's shape, `seq` = last_seq + 1, `prev` = last_payload_sha256
    (null for seq 1). `last_seq=None` checks the signature and shape only (bootstrap).
    Raises MirrorError. No side effects beyond fetching the JWKS through the keyring.
    """
    # Until the signature holds, name the release by the seq it claims, else by the one expected.
    unverified = envelope.get("payload") if isinstance(envelope, dict) else None
    claimed = unverified.get("seq") if isinstance(unverified, dict) else None
    seq_label = claimed if type(claimed) is int else (None if last_seq is None else last_seq + 1)
    try:
        verified = jose.verify(envelope, typ=jose.TYP_RELEASE, resolve_key=keyring.resolver(at="published_at"))
    except jose.SignatureError as exc:
        raise MirrorError(seq_label, f"signature refused ({exc.code}): {exc}") from None
    payload = verified.payload
    seq = payload.get("seq")
    if type(seq) is not int or seq < 1:
        raise MirrorError(seq_label, f"the payload's seq {seq!r} is not a positive integer")
    prev = payload.get("prev")
    if not (prev is None or (isinstance(prev, str) and _HEX64.fullmatch(prev))):
        raise MirrorError(seq, f"prev {prev!r} is neither null nor a SHA-256 hex digest")
    try:
        _time(payload.get("published_at"))
    except ValueError as exc:
        raise MirrorError(seq, f"published_at: {exc}") from None
    if last_seq is not None:
        if seq <= last_seq:
            raise MirrorError(seq, f"repeated or out of order: the mirror is already at seq {last_seq}")
        if seq != last_seq + 1:
            raise MirrorError(seq, f"gap: the mirror is at seq {last_seq}, so the next release must be seq {last_seq + 1}")
        expected = None if seq == 1 else last_payload_sha256
        if seq > 1 and expected is None:
            raise MirrorError(seq, f"the mirror does not know the payload hash of seq {last_seq}, so prev cannot be checked")
        if prev != expected:
            raise MirrorError(seq, f"prev is {prev!r}, but the previous release's payload hashes to {expected!r}")
    changes = payload.get("changes")
    if type(changes) is not list:
        raise MirrorError(seq, "changes is not a list")
    try:
        runs = _rows(changes, seq)
    except ValueError as exc:
        raise MirrorError(seq, str(exc)) from None
    return Release(seq=seq, payload_sha256=hashlib.sha256(verified.canonical).hexdigest(), runs=runs, changes=len(changes))


def _rows(changes: list[Any], seq: int) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Check every change's shape and group consecutive ones by op as parameter rows.

    Hot loop (1M changes): exact type checks, a label-text cache, no per-change function calls.
    Each run is sorted by value: the changes of one run touch distinct keys, so their order
    does not matter, and inserting in key order (within each kind) walks the primary key's
    b-tree leaf after leaf instead of jumping to a random leaf per row (bench/README_client.md).
    """
    runs: list[tuple[str, list[tuple[Any, ...]]]] = []
    labels_cache: dict[tuple[str, ...], str] = {}
    op_now: str | None = None
    rows: list[tuple[Any, ...]] = []
    for i, change in enumerate(changes):
        if type(change) is not dict:
            raise ValueError(f"/changes/{i} is not an object")
        op = change.get("op")
        kind = change.get("kind")
        value = change.get("value")
        fingerprint = change.get("fingerprint")
        if type(kind) is not str or type(value) is not str or type(fingerprint) is not int:
            raise ValueError(f"/changes/{i} needs kind and value (strings) and fingerprint (an integer)")
        if op != op_now:
            if op not in ("add", "remove"):
                raise ValueError(f"/changes/{i}/op is {op!r}, not add or remove")
            if rows:
                rows.sort(key=_VALUE)
                runs.append((op_now, rows))  # type: ignore[arg-type]
            op_now, rows = op, []
        if op == "add":
            rows.append((kind, value, _labels_text(labels_cache, change.get("labels"), f"/changes/{i}"), fingerprint, seq))
        else:
            rows.append((kind, value, fingerprint))
    if rows:
        rows.sort(key=_VALUE)
        runs.append((op_now, rows))  # type: ignore[arg-type]
    return runs


def release_apply(conn: sqlite3.Connection, release: Release, *, last_seq: int) -> None:
    """Apply a checked release and advance the state, as one unit: all of it or none of it.

    Precondition: `release` came from `release_check` with this `last_seq`. Runs in a SAVEPOINT
    inside the caller's transaction if there is one (mirror_sync groups releases per commit),
    else in a transaction of its own. The state update is conditional on `last_seq`, so a second
    mirror process on the same file cannot apply a release twice. On any error the release's
    changes and state update are rolled back (the enclosing transaction keeps earlier releases)
    and the error is raised: MirrorError when the release does not fit the mirror.
    """
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    conn.execute("SAVEPOINT release")
    try:
        for op, rows in release.runs:
            before = conn.total_changes
            if op == "add":
                try:
                    conn.executemany("INSERT INTO fingerprints (kind, value, labels, fingerprint, seq) VALUES (?, ?, ?, ?, ?)", rows)
                except sqlite3.IntegrityError:
                    conn.execute("ROLLBACK TO release")
                    raise MirrorError(release.seq, _divergence(conn, rows, present=True)) from None
            else:
                conn.executemany("DELETE FROM fingerprints WHERE kind = ? AND value = ? AND fingerprint = ?", rows)
                if conn.total_changes - before != len(rows):
                    conn.execute("ROLLBACK TO release")
                    raise MirrorError(release.seq, _divergence(conn, rows, present=False))
        moved = conn.execute(
            "UPDATE state SET last_seq = ?, last_payload_sha256 = ? WHERE id = 1 AND last_seq = ?",
            (release.seq, release.payload_sha256, last_seq),
        ).rowcount
        if moved != 1:
            raise MirrorError(release.seq, f"another process moved the mirror past seq {last_seq} meanwhile")
        conn.execute("RELEASE release")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK TO release")
            conn.execute("RELEASE release")
            if own:
                conn.execute("ROLLBACK")
        raise
    if own:
        conn.execute("COMMIT")


def _divergence(conn: sqlite3.Connection, rows: list[tuple[Any, ...]], *, present: bool) -> str:
    """Name the first change that does not fit the mirror (called after the rollback)."""
    for row in rows:
        found = conn.execute("SELECT fingerprint FROM fingerprints WHERE kind = ? AND value = ?", row[:2]).fetchone()
        if present and found is not None:
            return f"adds {row[0]} {row[1]}, which the mirror already holds (fingerprint {found[0]}): the mirror and the feed disagree"
        if not present and (found is None or found[0] != row[2]):
            return f"removes {row[0]} {row[1]} (fingerprint {row[2]}), which the mirror does not hold: the mirror and the feed disagree"
    return "its changes do not fit the mirror (repeated within the release?)"


@dataclass
class SyncReport:
    first_seq: int
    last_seq: int
    releases: int = 0
    changes: int = 0


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector: a page of releases is millions of fresh, acyclic
    dicts and lists, and the collector's passes over them cost more than parsing them (9 s
    instead of 2 s of `json.loads` for 1M changes). Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def mirror_sync(
    conn: sqlite3.Connection,
    client: Fetcher,
    *,
    page_size: int = PAGE_SIZE,
    progress: Progress | None = None,
    keyring: Keyring | None = None,
    commit_every: int = COMMIT_EVERY,
) -> SyncReport:
    """Bring the mirror up to the server's latest release.

    Side effects: GETs the JWKS and the release pages (following `next`); writes the mirror.
    Each release is applied whole with its state update (a SAVEPOINT); consecutive good
    releases share a commit until `commit_every` changes are pending or the page ends, because
    one commit per release rewrites most of the table's pages each time (random keys). Stops at
    the first release that fails a check with MirrorError, after committing the good releases
    before it; nothing of the failing release is applied.
    """
    progress = progress or Progress(enabled=False)
    keyring = keyring or Keyring(lambda: client.get_json(JWKS_PATH))
    last_seq, last_sha = mirror_state(conn)
    report = SyncReport(first_seq=last_seq, last_seq=last_seq)
    url: str | None = f"{RELEASES_PATH}?after={last_seq}&limit={page_size}"
    latest = last_seq
    pending = 0
    with _without_cycle_collection():
        try:
            while url is not None:
                page = client.get_json(url)
                if not isinstance(page, dict) or not isinstance(page.get("releases"), list) or type(page.get("latest_seq")) is not int:
                    raise MirrorError(None, f"{url} did not answer {{releases, latest_seq, next}}")
                latest, releases, next_url = page["latest_seq"], page["releases"], page.get("next")
                del page
                if next_url is not None and (not isinstance(next_url, str) or not releases):
                    raise MirrorError(None, f"{url} answered no releases but a next link {next_url!r}")
                for i, envelope in enumerate(releases):
                    release = release_check(envelope, keyring=keyring, last_seq=last_seq, last_payload_sha256=last_sha)
                    releases[i] = None  # free the parsed envelope as we go
                    if not conn.in_transaction:
                        conn.execute("BEGIN IMMEDIATE")
                    release_apply(conn, release, last_seq=last_seq)
                    last_seq, last_sha = release.seq, release.payload_sha256
                    report.releases += 1
                    report.changes += release.changes
                    report.last_seq = last_seq
                    pending += release.changes
                    if pending >= commit_every:
                        conn.execute("COMMIT")
                        pending = 0
                    progress.update("mirror", last_seq - report.first_seq, max(latest - report.first_seq, 1), unit=f"releases (seq {last_seq}, {report.changes:,} changes)")
                if conn.in_transaction:
                    conn.execute("COMMIT")
                    pending = 0
                url = next_url
        finally:
            # Whatever stopped us, the releases applied so far are whole and verified: keep them.
            if conn.in_transaction:
                conn.execute("COMMIT")
    if last_seq < latest:
        raise MirrorError(last_seq + 1, f"the feed ended at seq {last_seq} but the server says the latest is {latest}")
    return report


# --- snapshot -----------------------------------------------------------------------------------


@dataclass
class BootstrapReport:
    seq: int
    count: int
    size: int
    sha256: str


def _manifest(client: Fetcher, keyring: Keyring) -> dict[str, Any]:
    envelope = client.get_json(MANIFEST_PATH)
    try:
        # The manifest has no time of its own to check a retired key against: only a current key may sign it.
        payload = jose.verify(envelope, typ=jose.TYP_SNAPSHOT, resolve_key=keyring.resolver(at=None)).payload
    except jose.SignatureError as exc:
        raise MirrorError(None, f"snapshot manifest: signature refused ({exc.code}): {exc}") from None
    for name in ("seq", "count", "size"):
        if type(payload.get(name)) is not int or payload[name] < 0:
            raise MirrorError(None, f"snapshot manifest: {name} {payload.get(name)!r} is not a whole number")
    if not isinstance(payload.get("sha256"), str) or not _HEX64.fullmatch(payload["sha256"]):
        raise MirrorError(None, f"snapshot manifest: sha256 {payload.get('sha256')!r} is not a SHA-256 hex digest")
    return payload


def _blocks(response: Any, size: int = 1 << 20) -> Iterator[bytes]:
    """The response body in blocks, inflated if the server sent it gzip-encoded."""
    encoding = (response.headers.get("Content-Encoding") or "identity").lower()
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if encoding == "gzip" else None
    while block := response.read(size):
        yield inflate.decompress(block) if inflate else block
    if inflate:
        yield inflate.flush()


def mirror_bootstrap(
    conn: sqlite3.Connection,
    client: Fetcher,
    *,
    replace: bool = False,
    progress: Progress | None = None,
    keyring: Keyring | None = None,
) -> BootstrapReport:
    """Load the consortium's signed snapshot into the mirror, as of the manifest's `seq`.

    Verifies the manifest (typ consortium-snapshot+jws, a current consortium key), fetches and
    verifies release `seq` itself to learn its payload hash (so the next release's `prev` is
    checked, not trusted), streams the snapshot computing SHA-256, size and count, and commits
    only when all three match the manifest. Refuses a mirror that already holds data unless
    `replace`. Side effects: GETs; one SQLite transaction replacing the fingerprints and state.
    """
    progress = progress or Progress(enabled=False)
    keyring = keyring or Keyring(lambda: client.get_json(JWKS_PATH))
    last_seq, _ = mirror_state(conn)
    has_rows = conn.execute("SELECT 1 FROM fingerprints LIMIT 1").fetchone() is not None
    if (last_seq or has_rows) and not replace:
        raise MirrorError(None, f"the mirror already holds data (at seq {last_seq}); run mirror to catch up, or bootstrap --replace")
    manifest = _manifest(client, keyring)
    seq = manifest["seq"]
    payload_sha256 = None
    if seq > 0:
        release = release_check(client.get_json(f"{RELEASES_PATH}/{seq}"), keyring=keyring, last_seq=None, last_payload_sha256=None)
        if release.seq != seq:
            raise MirrorError(seq, f"GET {RELEASES_PATH}/{seq} answered release {release.seq}")
        payload_sha256 = release.payload_sha256

    digest = hashlib.sha256()
    size = count = 0
    rest = b""
    labels_cache: dict[tuple[str, ...], str] = {}
    rows: list[tuple[Any, ...]] = []
    insert = "INSERT INTO fingerprints (kind, value, labels, fingerprint, seq) VALUES (?, ?, ?, ?, ?)"
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM fingerprints")
        with client.open("GET", SNAPSHOT_PATH, accept="application/jsonl, application/x-ndjson, */*") as response:
            for block in _blocks(response):
                digest.update(block)
                size += len(block)
                if size > manifest["size"]:
                    raise MirrorError(seq, f"snapshot: the body is larger than the manifest's {manifest['size']} bytes")
                lines = (rest + block).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    count += 1
                    rows.append(_snapshot_row(line, count, seq, labels_cache))
                if len(rows) >= INSERT_CHUNK:
                    _insert_snapshot_rows(conn, insert, rows, count)
                    rows = []
                progress.update("bootstrap", size, manifest["size"], unit="bytes")
        if rest.strip():
            count += 1
            rows.append(_snapshot_row(rest, count, seq, labels_cache))
        _insert_snapshot_rows(conn, insert, rows, count)
        if size != manifest["size"]:
            raise MirrorError(seq, f"snapshot: the body has {size} bytes, the manifest says {manifest['size']}")
        if digest.hexdigest() != manifest["sha256"]:
            raise MirrorError(seq, f"snapshot: the body hashes to {digest.hexdigest()}, the manifest says {manifest['sha256']}")
        if count != manifest["count"]:
            raise MirrorError(seq, f"snapshot: the body has {count} fingerprints, the manifest says {manifest['count']}")
        conn.execute("UPDATE state SET last_seq = ?, last_payload_sha256 = ? WHERE id = 1", (seq, payload_sha256))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return BootstrapReport(seq=seq, count=count, size=size, sha256=manifest["sha256"])


def _snapshot_row(line: bytes, number: int, seq: int, labels_cache: dict[tuple[str, ...], str]) -> tuple[Any, ...]:
    try:
        item = json.loads(line)
        kind, value, fingerprint, added = item["kind"], item["value"], item["fingerprint"], item["seq"]
        if type(kind) is not str or type(value) is not str or type(fingerprint) is not int or type(added) is not int:
            raise TypeError("kind and value are strings, fingerprint and seq integers")
        labels = _labels_text(labels_cache, item.get("labels"), "")
    except (ValueError, KeyError, TypeError) as exc:
        raise MirrorError(seq, f"snapshot: line {number} is not a fingerprint object: {exc}") from None
    if not 0 < added <= seq:
        raise MirrorError(seq, f"snapshot: line {number} has seq {added}, outside 1…{seq}")
    return (kind, value, labels, fingerprint, added)


def _insert_snapshot_rows(conn: sqlite3.Connection, insert: str, rows: list[tuple[Any, ...]], count: int) -> None:
    try:
        conn.executemany(insert, rows)
    except sqlite3.IntegrityError:
        raise MirrorError(None, f"snapshot: a (kind, value) appears twice (among lines ≤ {count})") from None
