"""`mirror`: each release is verified (signature, typ, key, seq, prev) and applied whole, or refused whole."""
from __future__ import annotations

import copy
import hashlib
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.consortium_client import jose
from client.consortium_client.mirror import mirror_open, mirror_state
from tests.client.conftest import change, jwk_row

MD5 = [f"{i:032x}" for i in range(1, 10)]


def rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT kind, value, labels, fingerprint, seq FROM fingerprints ORDER BY fingerprint").fetchall()


def state(db: Path) -> tuple[int, str | None]:
    conn = mirror_open(db)
    try:
        return mirror_state(conn)
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "mirror.sqlite3"


@pytest.fixture
def two_good(fake) -> None:
    """Releases 1 (adds two) and 2 (adds one, removes one)."""
    fake.publish([change("add", MD5[0], 1), change("add", MD5[1], 2, labels=["islamic-state", "graphic-violence"])])
    fake.publish([change("add", MD5[2], 3), change("remove", MD5[0], 1)])


def test_it_applies_a_good_chain_and_records_the_last_payload_hash(fake, two_good, cli, db) -> None:
    status, out, err = cli("mirror", "--db", str(db))
    assert status == 0, err
    assert rows(db) == [
        ("md5", MD5[1], '["islamic-state","graphic-violence"]', 2, 1),
        ("md5", MD5[2], '["islamic-state"]', 3, 2),
    ]
    assert state(db) == (2, hashlib.sha256(jose.jcs(fake.releases[1]["payload"])).hexdigest())
    assert '"releases_applied": 2' in out and '"changes_applied": 4' in out


def test_running_it_again_applies_nothing_and_asks_only_for_newer_releases(fake, two_good, cli, db) -> None:
    assert cli("mirror", "--db", str(db))[0] == 0
    assert cli("mirror", "--db", str(db))[0] == 0
    assert fake.requests[-1][1] == "/api/v1/releases?after=2&limit=1000"
    fake.publish([change("add", MD5[3], 4)])
    status, out, _ = cli("mirror", "--db", str(db))
    assert status == 0 and '"releases_applied": 1' in out
    assert state(db)[0] == 3 and len(rows(db)) == 3


def test_it_follows_next_links_page_by_page(fake, cli, db) -> None:
    for i in range(5):
        fake.publish([change("add", MD5[i], i + 1)])
    status, _, err = cli("mirror", "--db", str(db), "--page-size", "2")
    assert status == 0, err
    assert state(db)[0] == 5 and len(rows(db)) == 5
    assert fake.count("/api/v1/releases") == 3
    assert fake.count("/.well-known/jwks.json") == 1


def refused(cli, db: Path, expected: str) -> str:
    """Mirror; it must exit 1 naming `expected` and keep release 1 (and only it)."""
    status, _, err = cli("mirror", "--db", str(db))
    assert status == 1, err
    assert expected in err, err
    assert state(db)[0] == 1
    assert [r[1] for r in rows(db)] == [MD5[0]]
    return err


def test_a_flipped_byte_in_a_change_is_refused_and_nothing_of_it_applied(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([change("add", MD5[1], 2), change("add", MD5[2], 3)])
    fake.releases[1]["payload"]["changes"][1]["value"] = MD5[2][:-1] + "f"
    refused(cli, db, "seq 2: signature refused (bad_signature)")


def test_a_wrong_prev_is_refused(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([change("add", MD5[1], 2)], prev="0" * 64)
    refused(cli, db, "seq 2: prev is '" + "0" * 64)


def test_a_gap_in_seq_is_refused(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([change("add", MD5[1], 2)], seq=3)
    refused(cli, db, "seq 3: gap: the mirror is at seq 1")


def test_a_repeated_seq_is_refused(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    first = fake.releases[0]
    fake.publish([change("add", MD5[1], 2)], seq=1, prev=None)
    fake.releases[0] = first
    refused(cli, db, "seq 1: repeated or out of order: the mirror is already at seq 1")


def test_a_release_signed_by_a_key_the_jwks_does_not_list_is_refused_after_fetching_it_again(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([change("add", MD5[1], 2)], key=Ed25519PrivateKey.generate())
    refused(cli, db, "seq 2: signature refused (unknown_key)")
    assert fake.count("/.well-known/jwks.json") == 2  # once, then again for the unknown kid


def test_a_key_rotated_in_after_the_first_fetch_is_learned_from_the_jwks(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    assert cli("mirror", "--db", str(db))[0] == 0
    new = Ed25519PrivateKey.generate()
    fake.publish([change("add", MD5[1], 2)], key=new)
    fake.jwks = [jwk_row(fake.key, retired="2026-11-21T11:00:00Z"), jwk_row(new)]
    status, _, err = cli("mirror", "--db", str(db))
    assert status == 0, err
    assert state(db)[0] == 2


def test_a_release_signed_by_a_key_retired_before_it_was_published_is_refused(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)], published_at="2026-11-20T09:00:00Z")
    fake.publish([change("add", MD5[1], 2)], published_at="2026-11-21T10:00:00.000001Z")
    fake.jwks = [jwk_row(fake.key, retired="2026-11-21T10:00:00Z")]
    # Release 1 predates the retirement and is good; release 2 is signed after it.
    refused(cli, db, "seq 2: signature refused (retired_key)")


def test_a_release_with_the_wrong_typ_is_refused(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([change("add", MD5[1], 2)], typ=jose.TYP_SNAPSHOT)
    refused(cli, db, "seq 2: signature refused (wrong_typ)")


def test_a_release_removing_what_the_mirror_lacks_is_refused_whole(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([change("add", MD5[1], 2), change("remove", MD5[5], 6)])
    refused(cli, db, f"seq 2: removes md5 {MD5[5]} (fingerprint 6), which the mirror does not hold")


def test_a_release_adding_what_the_mirror_holds_is_refused_whole(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([change("add", MD5[1], 2), change("add", MD5[0], 1)])
    refused(cli, db, f"seq 2: adds md5 {MD5[0]}, which the mirror already holds")


def test_a_malformed_change_is_refused(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([{**change("add", MD5[1], 2), "op": "upsert"}])
    refused(cli, db, "seq 2: /changes/0/op is 'upsert'")


def test_a_feed_that_ends_before_the_latest_seq_it_announces_is_refused(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.latest_seq = 2
    refused(cli, db, "seq 2: the feed ended at seq 1 but the server says the latest is 2")


def test_a_next_link_to_another_origin_is_not_followed(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.publish([change("add", MD5[1], 2)])
    fake.next_base = "http://evil.example"
    status, _, err = cli("mirror", "--db", str(db), "--page-size", "1")
    assert status == 3 and "outside" in err and "not following it" in err
    assert state(db)[0] == 1


def test_a_redirect_to_another_origin_is_not_followed_with_the_token(fake, cli, db) -> None:
    fake.publish([change("add", MD5[0], 1)])
    fake.answers[("GET", "/.well-known/jwks.json")] = (302, {"location": "http://127.0.0.2:9/jwks.json"})
    status, _, err = cli("mirror", "--db", str(db))
    assert status == 3 and "redirected to 'http://127.0.0.2:9/jwks.json', outside its origin" in err
    assert state(db)[0] == 0


def test_a_tampered_release_in_the_middle_keeps_the_releases_before_it(fake, cli, db) -> None:
    for i in range(4):
        fake.publish([change("add", MD5[i], i + 1)])
    tampered = copy.deepcopy(fake.releases[2])
    tampered["payload"]["published_at"] = "2026-11-21T10:00:01Z"
    fake.releases[2] = tampered
    status, _, err = cli("mirror", "--db", str(db))
    assert status == 1 and "seq 3: signature refused (bad_signature)" in err
    assert "the mirror stays at seq 2 (was 0)" in err
    assert state(db)[0] == 2 and len(rows(db)) == 2
