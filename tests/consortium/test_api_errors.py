"""Every error is an RFC 9457 problem document; health, readiness and the schema answer."""
from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings

from tests.conftest import assert_problem, audit_size

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_is_a_404_problem(cast, api) -> None:
    body = assert_problem(api(cast.alice).get("/api/v1/nothing-here"), 404)
    assert "/api/v1/nothing-here" in body["detail"]


def test_a_method_the_endpoint_lacks_is_a_405_problem(cast, api) -> None:
    assert_problem(api(cast.alice).put("/api/v1/members", {}, format="json"), 405)


def test_a_body_that_is_not_json_is_a_415_problem(cast, api) -> None:
    response = api(cast.alice).post("/api/v1/members/me/keys", "kty=OKP", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415)


def test_malformed_json_is_a_400_problem_and_changes_nothing(cast, api) -> None:
    client = api(cast.alice)
    before = audit_size()
    response = client.post("/api/v1/members/me/keys", '{"kty": "OKP",', content_type="application/json")
    body = assert_problem(response, 400)
    assert body["type"] == "/problems/malformed-body"
    assert audit_size() == before


def test_a_deeply_nested_body_is_a_400_not_a_crash(cast, api) -> None:
    client = api(cast.bob)
    body = "[" * 200_000 + "]" * 200_000
    assert_problem(client.post("/api/v1/match", body, content_type="application/json"), 400)


def test_a_body_repeating_a_key_is_refused(cast, api) -> None:
    response = api(cast.alice).post(
        "/api/v1/members/me/keys", '{"kty": "OKP", "kty": "RSA"}', content_type="application/json"
    )
    assert "repeats the key 'kty'" in assert_problem(response, 400)["detail"]


@override_settings(API_MAX_BODY_BYTES=2048)
def test_an_oversized_body_is_a_413_problem_before_it_is_read(cast, api) -> None:
    client = api(cast.alice)
    before = audit_size()
    big = json.dumps({"kty": "OKP", "crv": "Ed25519", "x": "A" * 5000})
    body = assert_problem(client.post("/api/v1/members/me/keys", big, content_type="application/json"), 413)
    assert body["max_bytes"] == 2048
    assert audit_size() == before


def test_a_chunked_body_without_content_length_is_refused_with_411(cast, api) -> None:
    client = api(cast.alice)
    before = audit_size()
    response = client.generic(
        "POST", "/api/v1/members/me/keys", b"{}", content_type="application/json",
        CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
    )
    assert_problem(response, 411)
    assert audit_size() == before


def test_validation_errors_carry_json_pointers(cast, api) -> None:
    response = api(cast.alice).post("/api/v1/members/me/tokens", {"expires_days": "soon", "name": 5 * "x" * 30}, format="json")
    body = assert_problem(response, 422)
    pointers = {error["pointer"] for error in body["errors"]}
    assert pointers == {"/expires_days", "/name"}
    assert all(error["code"] and error["message"] for error in body["errors"])


@pytest.mark.parametrize("query", ["limit=0", "limit=100000", "limit=ten", "cursor=bogus"])
def test_bad_pagination_parameters_are_422_problems(cast, api, query: str) -> None:
    assert_problem(api(cast.alice).get(f"/api/v1/members?{query}"), 422)


def test_lists_page_with_a_cursor_in_a_stable_total_order(cast, api) -> None:
    client = api(cast.alice)
    first = client.get("/api/v1/members?limit=1").json()
    assert [m["slug"] for m in first["results"]] == ["acme"]
    second = client.get(first["next"]).json()
    assert [m["slug"] for m in second["results"]] == ["globex"]
    assert second["next"] is None


def test_a_member_over_its_rate_limit_gets_429_with_retry_after(cast, api, monkeypatch) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"member": "2/min"})
    alice, bob = api(cast.alice), api(cast.bob)
    assert alice.get("/api/v1/members").status_code == 200
    assert bob.get("/api/v1/members").status_code == 200  # same member: same budget
    response = alice.get("/api/v1/members")
    assert_problem(response, 429)
    assert int(response["Retry-After"]) >= 1
    assert api(cast.charlie).get("/api/v1/members").status_code == 200  # another member's budget


def test_healthz_answers_without_authentication() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "broker": "ok"}


def test_readyz_is_a_503_problem_when_the_broker_is_unreachable(monkeypatch) -> None:
    from consortium.celery import app

    monkeypatch.setattr(app.conf, "broker_write_url", "redis://127.0.0.1:1/0")  # nothing listens on port 1
    body = assert_problem(Client().get("/readyz"), 503)
    assert set(body["checks"]) == {"broker"}


def test_the_openapi_schema_and_docs_are_served() -> None:
    schema = Client().get("/api/v1/schema?format=json")
    assert schema.status_code == 200
    document = json.loads(schema.content)
    assert document["openapi"].startswith("3.")
    assert "/api/v1/members/me/keys" in document["paths"]
    docs = Client().get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
    assert b"cdn" not in docs.content.lower()  # assets are served from the sidecar package


def test_requests_without_a_token_are_401_problems_with_a_challenge() -> None:
    response = Client().get("/api/v1/members")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
