"""GET /api/v1/releases, /releases/{seq}, POST /api/v1/match, GET /api/v1/fingerprints/{id}."""
from __future__ import annotations

import json

import pytest

from consortium import signing
from hashes.models import Batch
from tests.conftest import assert_problem
from tests.hashes.conftest import random_hex

pytestmark = pytest.mark.django_db


def test_a_reader_pages_through_releases_and_gets_the_signed_bytes(cast, api, published) -> None:
    for _ in range(3):
        published()
    reader = api(cast.rita)
    page = reader.get("/api/v1/releases?after=0&limit=2")
    body = json.loads(page.content)
    assert body["latest_seq"] == 3 and [r["payload"]["seq"] for r in body["releases"]] == [1, 2]
    assert body["next"].endswith("/api/v1/releases?after=2&limit=2")
    rest = json.loads(reader.get(body["next"]).content)
    assert [r["payload"]["seq"] for r in rest["releases"]] == [3] and rest["next"] is None
    one = reader.get("/api/v1/releases/1")
    assert json.loads(one.content) == body["releases"][0]
    assert one.content in page.content  # the exact stored bytes, spliced into the page
    assert signing.read_header(body["releases"][0]["signature"])["typ"] == "consortium-release+jws"


def test_an_unchanged_page_answers_304(cast, api, published) -> None:
    published()
    reader = api(cast.rita)
    first = reader.get("/api/v1/releases?after=0")
    again = reader.get("/api/v1/releases?after=0", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    published()
    assert reader.get("/api/v1/releases?after=0", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=1001"])
def test_bad_release_parameters_are_422(cast, api, query: str) -> None:
    assert_problem(api(cast.rita).get(f"/api/v1/releases?{query}"), 422)


def test_an_unknown_release_is_a_404(cast, api) -> None:
    assert_problem(api(cast.rita).get("/api/v1/releases/99"), 404)


def test_match_finds_exact_values_and_pdq_neighbours_with_their_sources(cast, api, published) -> None:
    md5, pdq = random_hex(32), random_hex(64)
    published(items=[{"kind": "md5", "value": md5}, {"kind": "pdq", "value": pdq}])
    near = f"{int(pdq, 16) ^ 0b1011:064x}"
    response = api(cast.rita).post("/api/v1/match", {"queries": [
        {"kind": "md5", "value": md5.upper()},
        {"kind": "pdq", "value": near},
        {"kind": "pdq", "value": near, "max_distance": 2},
        {"kind": "sha1", "value": random_hex(40)},
    ]}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [len(r["matches"]) for r in results] == [1, 1, 0, 0]
    exact, close = results[0]["matches"][0], results[1]["matches"][0]
    assert (exact["value"], exact["distance"], exact["seq"], exact["members"], exact["labels"]) == (md5, 0, 1, ["acme"], ["islamic-state"])
    assert (close["value"], close["distance"]) == (pdq, 3)


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ({"kind": "ssdeep", "value": "x"}, "/queries/0/kind"),
        ({"kind": "md5", "value": "nothex"}, "/queries/0/value"),
        ({"kind": "pdq", "value": "a" * 64, "max_distance": 32}, "/queries/0/max_distance"),
        ({"kind": "md5", "value": "a" * 32, "max_distance": 3}, "/queries/0/max_distance"),
    ],
)
def test_bad_match_queries_are_422_with_pointers(cast, api, query: dict, pointer: str) -> None:
    body = assert_problem(api(cast.rita).post("/api/v1/match", {"queries": [query]}, format="json"), 422)
    assert [e["pointer"] for e in body["errors"]] == [pointer]


def test_more_than_1000_queries_are_refused(cast, api) -> None:
    queries = [{"kind": "md5", "value": random_hex(32)}] * 1001
    assert_problem(api(cast.rita).post("/api/v1/match", {"queries": queries}, format="json"), 422)


def test_a_fingerprint_shows_sources_opinions_and_history(cast, api, published) -> None:
    md5 = random_hex(32)
    published(items=[{"kind": "md5", "value": md5}])
    from hashes.models import Fingerprint

    fingerprint = Fingerprint.objects.get(value=md5)
    api(cast.gina).put(f"/api/v1/fingerprints/{fingerprint.pk}/opinion", {"opinion": "affirm"}, format="json")
    body = api(cast.rita).get(f"/api/v1/fingerprints/{fingerprint.pk}").json()
    assert body["sources"] == [{"member": "acme", "batch": Batch.objects.get().pk, "seq": 1}]
    assert [o["member"] for o in body["opinions"]] == ["globex"] and body["history"] == [{"op": "add", "seq": 1}]
    assert_problem(api(cast.rita).get("/api/v1/fingerprints/999999"), 404)


def test_releases_and_match_need_a_token(cast, api) -> None:
    assert_problem(api(None).get("/api/v1/releases"), 401)
    assert_problem(api(None).post("/api/v1/match", {"queries": []}, format="json"), 401)
