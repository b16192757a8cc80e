"""The client against the real server (pytest-django's live_server): keygen, register the key,
submit a CSV, two votes, publish, mirror; two disputes retract one, mirror again; bootstrap a
fresh mirror from the snapshot and follow the feed from there."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from client.consortium_client.__main__ import main
from client.consortium_client.http import Client
from consortium.audit.services import SYSTEM
from hashes.models import Batch, Fingerprint
from hashes.services.dedup import batch_deduplicate
from hashes.services.opinions import fingerprint_retract, opinion_set
from hashes.services.releases import release_publish_batch, release_publish_retractions
from hashes.services.snapshots import snapshot_build
from hashes.services.votes import vote_cast
from members.models import Role, User
from members.services.members import member_create
from members.services.tokens import token_create
from members.services.users import user_create

MD5 = "d41d8cd98f00b204e9800998ecf8427e"
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture
def ivan(cast) -> User:
    """Ivan, analyst at a third member (Initech): with Gina (Globex), a quorum of two approvals."""
    initech = member_create(actor=SYSTEM, slug="initech", name="Initech Cloud")
    return user_create(actor=SYSTEM, username="ivan", member=initech, role=Role.ANALYST)


def token(user) -> str:
    return token_create(actor=SYSTEM, user=user, name="client test")[1]


def mirrored(db: Path) -> tuple[set[tuple[str, str]], int]:
    with sqlite3.connect(db) as conn:
        rows = {tuple(row) for row in conn.execute("SELECT kind, value FROM fingerprints")}
        return rows, conn.execute("SELECT last_seq FROM state").fetchone()[0]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_member_submits_with_the_client_and_mirrors_the_published_set(live_server, cast, ivan, tmp_path: Path, capsys) -> None:
    server = live_server.url
    key_file, items, db = tmp_path / "acme.jwk", tmp_path / "items.csv", tmp_path / "mirror.sqlite3"

    assert main(["keygen", "--out", str(key_file), "--name", "sync job"]) == 0
    public = json.loads(capsys.readouterr().out)
    status, answer = Client(server, token(cast.alice)).post_json("/api/v1/members/me/keys", public)
    assert status == 201 and answer["kid"] == public["kid"]

    bob = ["--server", server, "--token", token(cast.bob)]
    items.write_text(f"md5,{MD5}\npdq,{PDQ.upper()},islamic-state;graphic-violence,90\nmd5,nothex\n")
    assert main(["submit", *bob, "--key", str(key_file), "--member", "acme", "--ref", "week-47", "--labels", "islamic-state", "-q", str(items)]) == 1
    err = capsys.readouterr().err
    assert "422" in err and "/payload/items/2/value" in err and Batch.objects.count() == 0

    items.write_text(f"md5,{MD5}\npdq,{PDQ.upper()},islamic-state;graphic-violence,90\n")
    assert main(["submit", *bob, "--key", str(key_file), "--member", "acme", "--ref", "week-47", "--labels", "islamic-state", "-q", str(items)]) == 0
    batch = Batch.objects.get(pk=json.loads(capsys.readouterr().out)["id"])
    batch_deduplicate(batch_id=batch.pk)
    vote_cast(user=cast.gina, batch=batch, decision="approve")
    vote_cast(user=ivan, batch=batch, decision="approve")
    assert release_publish_batch(batch_id=batch.pk).seq == 1

    rita = ["--server", server, "--token", token(cast.rita)]  # Acme's reader: sync and match only
    assert main(["mirror", *rita, "--db", str(db), "-q"]) == 0, capsys.readouterr().err
    assert mirrored(db) == ({("md5", MD5), ("pdq", PDQ)}, 1)
    with sqlite3.connect(db) as conn:
        assert json.loads(conn.execute("SELECT labels FROM fingerprints WHERE kind = 'pdq'").fetchone()[0]) == ["islamic-state", "graphic-violence"]

    capsys.readouterr()
    assert main(["match", *rita, "--json", "md5", MD5.upper(), "sha1", "0" * 40]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [len(r["matches"]) for r in results] == [1, 0] and results[0]["matches"][0]["members"] == ["acme"]

    # Two members dispute the md5 (the policy's threshold): it is queued, and retracted in release 2.
    disputed = Fingerprint.objects.get(kind="md5", value=MD5)
    for user in (cast.gina, ivan):
        opinion_set(user=user, fingerprint=disputed, opinion="dispute", reason="this is a news report")
    assert release_publish_retractions().seq == 2
    assert main(["mirror", *rita, "--db", str(db), "-q"]) == 0, capsys.readouterr().err
    assert mirrored(db) == ({("pdq", PDQ)}, 2)

    # A new member machine bootstraps from the snapshot instead, and then follows the feed.
    snapshot_build()
    fresh = tmp_path / "bootstrapped.sqlite3"
    assert main(["bootstrap", *rita, "--db", str(fresh), "-q"]) == 0, capsys.readouterr().err
    assert mirrored(fresh) == ({("pdq", PDQ)}, 2)
    fingerprint_retract(user=cast.stan, fingerprint=Fingerprint.objects.get(kind="pdq", value=PDQ), reason="court order")
    assert release_publish_retractions().seq == 3
    assert main(["mirror", *rita, "--db", str(fresh), "-q"]) == 0, capsys.readouterr().err
    assert mirrored(fresh) == (set(), 3)
