"""/api/v1/members/me/endpoints: webhook receivers, the SSRF guard, secrets shown once."""
from __future__ import annotations

import pytest

from members.models import Endpoint
from tests.conftest import assert_problem, audit_actions, audit_size

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/me/endpoints"
PUBLIC = "https://93.184.216.34/hooks/consortium"  # a public address literal: no DNS needed
EVENTS = ["release.published", "batch.decided"]


def test_an_admin_registers_an_endpoint_and_sees_the_secret_once(cast, api) -> None:
    client = api(cast.alice)
    before = audit_size()
    response = client.post(URL, {"url": PUBLIC, "events": EVENTS, "description": "prod"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["events"] == EVENTS and body["enabled"] is True
    assert audit_actions(since=before) == ["endpoint.created"]
    listed = client.get(URL).json()["results"]
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    assert "secret" not in client.get(f"{URL}/{body['id']}").json()


def test_rotation_shows_a_new_secret_and_keeps_the_old_one_for_a_day(cast, api) -> None:
    client = api(cast.alice)
    created = client.post(URL, {"url": PUBLIC, "events": EVENTS}, format="json").json()
    rotated = client.post(f"{URL}/{created['id']}/rotate-secret").json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires"].endswith("Z")
    assert Endpoint.objects.get().previous_secret == created["secret"]


def test_an_admin_changes_and_deletes_an_endpoint(cast, api) -> None:
    client = api(cast.alice)
    endpoint_id = client.post(URL, {"url": PUBLIC, "events": EVENTS}, format="json").json()["id"]
    before = audit_size()
    changed = client.patch(f"{URL}/{endpoint_id}", {"events": ["release.published"], "enabled": False}, format="json")
    assert changed.json()["events"] == ["release.published"] and changed.json()["enabled"] is False
    assert client.delete(f"{URL}/{endpoint_id}").status_code == 204
    assert audit_actions(since=before) == ["endpoint.updated", "endpoint.deleted"] and not Endpoint.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1.2.3:8080/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://172.16.0.9/hook",
        "http://192.168.1.1/hook",
        "http://[fd00::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "ftp://93.184.216.34/hook",
        "https://no-such-host.invalid/hook",
        "https://93.184.216.34:99999/hook",
        "not a url",
    ],
)
def test_urls_inside_the_servers_network_are_refused(cast, api, url: str) -> None:
    client = api(cast.alice)
    before = audit_size()
    body = assert_problem(client.post(URL, {"url": url, "events": EVENTS}, format="json"), 422)
    assert body["errors"][0]["pointer"] == "/url"
    assert not Endpoint.objects.exists() and audit_size() == before


def test_loopback_is_allowed_when_the_operator_says_so(cast, api, settings) -> None:
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    assert api(cast.alice).post(URL, {"url": "http://127.0.0.1:9999/hook", "events": EVENTS}, format="json").status_code == 201
    # ...but never private or link-local ranges.
    assert_problem(api(cast.alice).post(URL, {"url": "http://10.0.0.1/hook", "events": EVENTS}, format="json"), 422)


def test_changing_the_url_to_an_unsafe_one_is_refused(cast, api) -> None:
    client = api(cast.alice)
    endpoint_id = client.post(URL, {"url": PUBLIC, "events": EVENTS}, format="json").json()["id"]
    assert_problem(client.patch(f"{URL}/{endpoint_id}", {"url": "http://169.254.169.254/"}, format="json"), 422)
    assert Endpoint.objects.get().url == PUBLIC


@pytest.mark.parametrize("events", [[], ["release.deleted"], ["batch.decided", "batch.decided"], "release.published"])
def test_bad_event_lists_are_refused(cast, api, events: object) -> None:
    assert_problem(api(cast.alice).post(URL, {"url": PUBLIC, "events": events}, format="json"), 422)


def test_charlie_cannot_see_change_rotate_or_delete_alices_endpoints(cast, api) -> None:
    endpoint_id = api(cast.alice).post(URL, {"url": PUBLIC, "events": EVENTS}, format="json").json()["id"]
    charlie = api(cast.charlie)
    assert charlie.get(URL).json()["results"] == []
    assert_problem(charlie.get(f"{URL}/{endpoint_id}"), 404)
    assert_problem(charlie.patch(f"{URL}/{endpoint_id}", {"enabled": False}, format="json"), 404)
    assert_problem(charlie.post(f"{URL}/{endpoint_id}/rotate-secret"), 404)
    assert_problem(charlie.delete(f"{URL}/{endpoint_id}"), 404)
    assert Endpoint.objects.get().enabled is True


@pytest.mark.parametrize(("who", "get", "post"), [("alice", 200, 201), ("bob", 200, 403), ("rita", 403, 403), ("audrey", 404, 403)])
def test_each_role_gets_what_it_is_allowed(cast, api, who: str, get: int, post: int) -> None:
    client = api(getattr(cast, who))
    assert client.get(URL).status_code == get
    assert client.post(URL, {"url": PUBLIC, "events": EVENTS}, format="json").status_code == post
