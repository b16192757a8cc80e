"""`bootstrap` loads a signed snapshot only when every check holds; `match` chunks and prints."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.consortium_client import jose
from tests.client.conftest import change, jwk_row

MD5 = [f"{i:032x}" for i in range(1, 10)]


def snapshot_rows() -> list[dict]:
    return [
        {"fingerprint": 1, "kind": "md5", "value": MD5[0], "labels": ["islamic-state"], "seq": 1},
        {"fingerprint": 3, "kind": "md5", "value": MD5[2], "labels": [], "seq": 2},
    ]


@pytest.fixture
def published(fake) -> None:
    """Releases 1 and 2, and a snapshot as of 2 (fingerprint 2 was added then removed)."""
    fake.publish([change("add", MD5[0], 1), change("add", MD5[1], 2)])
    fake.publish([change("add", MD5[2], 3, labels=[]), change("remove", MD5[1], 2)])
    fake.publish_snapshot(snapshot_rows(), seq=2)


def content(db: Path) -> tuple[list[tuple], tuple]:
    with sqlite3.connect(db) as conn:
        return (
            conn.execute("SELECT kind, value, fingerprint, seq FROM fingerprints ORDER BY fingerprint").fetchall(),
            conn.execute("SELECT last_seq, last_payload_sha256 FROM state").fetchone(),
        )


def test_bootstrap_loads_the_snapshot_and_learns_the_hash_of_its_release(fake, published, cli, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    status, out, err = cli("bootstrap", "--db", str(db))
    assert status == 0, err
    assert json.loads(out)["count"] == 2
    rows, state = content(db)
    assert rows == [("md5", MD5[0], 1, 1), ("md5", MD5[2], 3, 2)]
    assert state == (2, hashlib.sha256(jose.jcs(fake.releases[1]["payload"])).hexdigest())
    assert fake.count("/api/v1/releases/2") == 1
    # The next release links to release 2's payload: mirror checks it and goes on.
    fake.publish([change("add", MD5[3], 4)])
    status, _, err = cli("mirror", "--db", str(db))
    assert status == 0, err
    assert content(db)[1][0] == 3


@pytest.mark.parametrize(
    "tamper, expected",
    [
        (lambda fake: setattr(fake, "snapshot", fake.snapshot.replace(b'"seq":2', b'"seq":1')), "snapshot: the body hashes to"),
        (lambda fake: setattr(fake, "snapshot", fake.snapshot + b"\n"), "larger than the manifest's"),
        (lambda fake: setattr(fake, "snapshot", fake.snapshot[: fake.snapshot.index(b"\n") + 1]), "snapshot: the body has"),
        (lambda fake: fake.publish_snapshot(snapshot_rows(), seq=2, count=3), "the manifest says 3"),
        (lambda fake: fake.publish_snapshot(snapshot_rows(), seq=2, key=Ed25519PrivateKey.generate()), "snapshot manifest: signature refused (unknown_key)"),
        (lambda fake: setattr(fake, "jwks", [jwk_row(fake.key, retired="2026-11-21T11:00:00Z")]), "snapshot manifest: signature refused (retired_key)"),
        (lambda fake: fake.releases[1]["payload"].update(batch=5), "seq 2: signature refused (bad_signature)"),
    ],
    ids=["body-changed", "body-longer", "body-shorter", "count", "unknown-key", "retired-key", "release-tampered"],
)
def test_bootstrap_refuses_a_snapshot_that_fails_a_check_and_loads_nothing(fake, published, cli, tmp_path: Path, tamper, expected) -> None:
    db = tmp_path / "m.sqlite3"
    tamper(fake)
    status, _, err = cli("bootstrap", "--db", str(db))
    assert status == 1 and expected in err, err
    assert content(db) == ([], (0, None))


def test_bootstrap_will_not_overwrite_a_mirror_unless_told(fake, published, cli, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite3"
    assert cli("mirror", "--db", str(db))[0] == 0
    status, _, err = cli("bootstrap", "--db", str(db))
    assert status == 1 and "already holds data" in err
    status, _, err = cli("bootstrap", "--db", str(db), "--replace")
    assert status == 0, err
    assert content(db)[1][0] == 2


def test_match_sends_1000_queries_per_request_and_numbers_results_across_them(fake, cli, tmp_path: Path) -> None:
    queries = tmp_path / "q.csv"
    queries.write_text("".join(f"md5,{i:032x}\n" for i in range(2500)))
    status, out, err = cli("match", "--file", str(queries), "--json")
    assert status == 0, err
    results = json.loads(out)["results"]
    assert [r["query"] for r in results] == list(range(2500))
    assert fake.count("/api/v1/match") == 3
    status, out, _ = cli("match", "md5", "0" * 32, "sha1", "f" * 40)
    assert status == 0
    assert out.splitlines()[0] == f"md5 {'0' * 32}: 1 match"
    assert "labels islamic-state members acme seq 1" in out.splitlines()[1]
    assert out.splitlines()[2] == f"sha1 {'f' * 40}: no matches"


def test_a_refused_match_names_positions_in_the_whole_list(fake, cli, tmp_path: Path) -> None:
    fake.answers[("POST", "/api/v1/match")] = (422, {
        "title": "Invalid request", "status": 422, "detail": "1 of the queries are invalid; nothing was looked up.",
        "errors": [{"pointer": "/queries/3/value", "code": "invalid_md5", "message": "md5 is 32 hex digits."}],
    })
    queries = tmp_path / "q.csv"
    queries.write_text("".join(f"md5,{i:032x}\n" for i in range(1500)))
    status, _, err = cli("match", "--file", str(queries))
    assert status == 1 and "/queries/3/value: md5 is 32 hex digits." in err
