"""The snapshot job and GET /api/v1/snapshot, /api/v1/snapshot/manifest."""
from __future__ import annotations

import hashlib
import json

import pytest

from consortium import signing
from hashes.models import Fingerprint, Snapshot
from hashes.services import snapshots
from hashes.services.opinions import fingerprint_retract
from hashes.services.releases import release_publish_retractions
from hashes.services.snapshots import snapshot_build
from tests.conftest import assert_problem
from tests.hashes.conftest import consortium_key, random_hex

pytestmark = pytest.mark.django_db


def test_the_snapshot_holds_the_active_set_and_its_manifest_verifies(cast, api, published, monkeypatch) -> None:
    monkeypatch.setattr(snapshots, "CHUNK_BYTES", 300)  # several chunks even for a few lines
    values = [random_hex(32) for _ in range(10)]
    published(items=[{"kind": "md5", "value": v} for v in values])
    gone = Fingerprint.objects.get(value=values[0])
    fingerprint_retract(user=cast.stan, fingerprint=gone, reason="wrong")
    release_publish_retractions()
    snapshot = snapshot_build()
    assert (snapshot.seq, snapshot.count) == (2, 9) and snapshot.chunks.count() > 1

    reader = api(cast.rita)
    manifest = json.loads(reader.get("/api/v1/snapshot/manifest").content)
    verified = signing.verify(manifest, typ=signing.TYP_SNAPSHOT, resolve_key=consortium_key)
    response = reader.get("/api/v1/snapshot")
    body = b"".join(response.streaming_content)
    assert response["Content-Type"] == "application/jsonl" and response["X-Snapshot-Seq"] == "2"
    assert verified.payload == {"seq": 2, "count": 9, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    lines = [json.loads(line) for line in body.splitlines()]
    assert sorted(line["value"] for line in lines) == sorted(values[1:])
    assert set(lines[0]) == {"fingerprint", "kind", "labels", "seq", "value"}
    assert reader.get("/api/v1/snapshot", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_building_again_changes_nothing_and_old_snapshots_are_pruned(cast, published) -> None:
    published()
    first = snapshot_build()
    assert snapshot_build().pk == first.pk
    published()
    snapshot_build()
    published()
    snapshot_build()
    assert list(Snapshot.objects.values_list("seq", flat=True)) == [3, 2]


def test_before_any_release_there_is_no_snapshot(cast, api) -> None:
    assert snapshot_build() is None
    assert_problem(api(cast.rita).get("/api/v1/snapshot"), 404)
    assert_problem(api(cast.rita).get("/api/v1/snapshot/manifest"), 404)
