"""Deliveries to real HTTP receivers on 127.0.0.1, verified with the standardwebhooks library."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from consortium.audit.services import SYSTEM
from hashes.models import Delivery
from hashes.services.propagation import deliveries_create, delivery_attempt
from members.models import Endpoint
from members.services.endpoints import endpoint_create, endpoint_rotate_secret

pytestmark = pytest.mark.django_db


class Receiver:
    """A member's webhook receiver: verifies every request, answers from a script of codes."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.answers: list[int] = []
        self.received: list[dict[str, Any]] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = any(_verifies(secret, body, headers) for secret in receiver.secrets)
                receiver.received.append({"headers": headers, "body": body, "verified": verified})
                time.sleep(receiver.delay)
                code = receiver.answers.pop(0) if receiver.answers else (200 if verified else 400)
                self.send_response(code)
                if code in (301, 302, 307):
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_TIMEOUT = 1
    r = Receiver()
    yield r
    r.server.shutdown()


def register(cast: Any, receiver: Receiver, events: list[str] | None = None) -> Endpoint:
    endpoint = endpoint_create(actor=SYSTEM, member=cast.acme, url=receiver.url, events=events or ["batch.decided"])
    receiver.secrets.append(endpoint.secret)
    return endpoint


def due_now(delivery_id: int) -> None:
    Delivery.objects.filter(pk=delivery_id).update(next_attempt=timezone.now())


def test_a_delivery_is_signed_verified_and_retried_with_a_stable_webhook_id(cast, receiver) -> None:
    register(cast, receiver)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 7, "decision": "approved"})
    receiver.answers = [500]
    assert delivery_attempt(delivery_id=delivery_id) == "pending"
    failed = Delivery.objects.get(pk=delivery_id)
    assert (failed.attempts, failed.last_status_code) == (1, 500) and failed.next_attempt > timezone.now()
    assert delivery_attempt(delivery_id=delivery_id) == "not_due"  # backing off
    due_now(delivery_id)
    assert delivery_attempt(delivery_id=delivery_id) == "delivered"
    first, second = receiver.received
    assert first["verified"] and second["verified"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == failed.webhook_id
    body = json.loads(second["body"])
    assert body["type"] == "batch.decided" and body["data"] == {"batch": 7, "decision": "approved"} and body["timestamp"].endswith("Z")
    assert Delivery.objects.get(pk=delivery_id).latency_ms is not None
    assert delivery_attempt(delivery_id=delivery_id) == "not_due"  # delivered once, never again


def test_a_tampered_delivery_does_not_verify(cast, receiver) -> None:
    register(cast, receiver)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "rejected"})
    delivery_attempt(delivery_id=delivery_id)
    sent = receiver.received[0]
    assert sent["verified"]
    tampered = sent["body"].replace(b"rejected", b"approved")
    assert not _verifies(receiver.secrets[0], tampered, sent["headers"])


def test_during_a_rotation_both_secrets_sign(cast, receiver) -> None:
    endpoint = register(cast, receiver)
    old = endpoint.secret
    endpoint_rotate_secret(actor=SYSTEM, endpoint=endpoint)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
    delivery_attempt(delivery_id=delivery_id)
    sent = receiver.received[0]
    assert _verifies(old, sent["body"], sent["headers"])
    assert _verifies(Endpoint.objects.get().secret, sent["body"], sent["headers"])


def test_only_subscribed_enabled_endpoints_get_an_event(cast, receiver) -> None:
    register(cast, receiver, events=["release.published"])
    disabled = register(cast, receiver)
    Endpoint.objects.filter(pk=disabled.pk).update(enabled=False)
    assert deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"}) == []


def test_a_redirect_is_not_followed_and_counts_as_a_failure(cast, receiver) -> None:
    register(cast, receiver)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
    receiver.answers = [302]
    assert delivery_attempt(delivery_id=delivery_id) == "pending"
    assert Delivery.objects.get(pk=delivery_id).last_status_code == 302
    assert len(receiver.received) == 1  # the metadata address was never called


def test_a_hanging_receiver_times_out_without_holding_up_others(cast, receiver) -> None:
    slow = Receiver()
    try:
        slow.delay = 3
        endpoint_create(actor=SYSTEM, member=cast.globex, url=slow.url, events=["batch.decided"])
        register(cast, receiver)
        ids = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
        outcomes = {Delivery.objects.get(pk=i).endpoint.url: delivery_attempt(delivery_id=i) for i in ids}
    finally:
        slow.server.shutdown()
    assert outcomes == {slow.url: "pending", receiver.url: "delivered"}
    assert "timed out" in Delivery.objects.get(endpoint__url=slow.url).last_error.lower()


def test_an_endpoint_that_now_resolves_inside_the_network_is_refused_at_delivery(cast, receiver, settings) -> None:
    register(cast, receiver)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
    settings.WEBHOOK_ALLOW_LOOPBACK = False  # as if the name now pointed to loopback
    assert delivery_attempt(delivery_id=delivery_id) == "pending"
    assert Delivery.objects.get(pk=delivery_id).last_error.startswith("refused")
    assert receiver.received == []


def test_after_the_retry_window_a_delivery_fails(cast, receiver) -> None:
    register(cast, receiver)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
    Delivery.objects.filter(pk=delivery_id).update(created=timezone.now() - timedelta(days=2))
    receiver.answers = [503]
    assert delivery_attempt(delivery_id=delivery_id) == "failed"


def test_a_member_lists_and_redelivers_its_deliveries_and_not_others(cast, api, receiver) -> None:
    from tests.conftest import assert_problem, audit_actions

    register(cast, receiver)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
    delivery_attempt(delivery_id=delivery_id)
    alice = api(cast.alice)
    listed = alice.get("/api/v1/members/me/deliveries?status=delivered").json()["results"]
    assert [d["id"] for d in listed] == [delivery_id] and listed[0]["status"] == "delivered"
    again = alice.post(f"/api/v1/members/me/deliveries/{delivery_id}/redeliver")
    assert again.status_code == 200 and again.json()["status"] == "pending"
    assert audit_actions()[-1] == "delivery.redelivered"
    assert delivery_attempt(delivery_id=delivery_id) == "delivered"
    assert receiver.received[0]["headers"]["webhook-id"] == receiver.received[1]["headers"]["webhook-id"]
    charlie = api(cast.charlie)
    assert charlie.get("/api/v1/members/me/deliveries").json()["results"] == []
    assert_problem(charlie.post(f"/api/v1/members/me/deliveries/{delivery_id}/redeliver"), 404)
    assert_problem(api(cast.rita).get("/api/v1/members/me/deliveries"), 403)
    assert_problem(api(cast.rita).post(f"/api/v1/members/me/deliveries/{delivery_id}/redeliver"), 403)
    assert api(cast.bob).post(f"/api/v1/members/me/deliveries/{delivery_id}/redeliver").status_code == 200  # analysts too
    assert_problem(alice.get("/api/v1/members/me/deliveries?status=lost"), 422)


def test_staff_redeliver_from_the_admin(cast, receiver, staff_client) -> None:
    register(cast, receiver)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
    Delivery.objects.filter(pk=delivery_id).update(status="failed")
    assert staff_client.get("/admin/hashes/delivery/").status_code == 200
    staff_client.post("/admin/hashes/delivery/", {"action": "redeliver", "_selected_action": [delivery_id]})
    assert Delivery.objects.get(pk=delivery_id).status == "pending"


def test_an_endpoint_failing_for_days_is_disabled_and_its_admins_see_why(cast, api, receiver, settings) -> None:
    from tests.conftest import audit_actions

    endpoint = register(cast, receiver)
    (first,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
    receiver.answers = [500, 500]
    delivery_attempt(delivery_id=first)
    assert Endpoint.objects.get().failing_since is not None and Endpoint.objects.get().enabled
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=4))
    due_now(first)
    delivery_attempt(delivery_id=first)
    assert audit_actions()[-1] == "endpoint.disabled"
    shown = api(cast.alice).get(f"/api/v1/members/me/endpoints/{endpoint.pk}").json()
    assert shown["enabled"] is False and "HTTP 500" in shown["disabled_reason"]
    assert deliveries_create(event="batch.decided", data={"batch": 2, "decision": "approved"}) == []
    # Re-enabled by its admin, it starts with a clean record.
    api(cast.alice).patch(f"/api/v1/members/me/endpoints/{endpoint.pk}", {"enabled": True}, format="json")
    assert Endpoint.objects.get().failing_since is None


def test_a_success_clears_the_failing_record(cast, receiver) -> None:
    register(cast, receiver)
    (delivery_id,) = deliveries_create(event="batch.decided", data={"batch": 1, "decision": "approved"})
    receiver.answers = [500]
    delivery_attempt(delivery_id=delivery_id)
    due_now(delivery_id)
    delivery_attempt(delivery_id=delivery_id)
    assert Endpoint.objects.get().failing_since is None


def test_at_most_the_cap_of_attempts_run_at_once_per_endpoint(cast, receiver, settings) -> None:
    settings.WEBHOOK_MAX_IN_FLIGHT = 1
    register(cast, receiver)
    first, second = (deliveries_create(event="batch.decided", data={"batch": n, "decision": "approved"})[0] for n in (1, 2))
    # The first is being attempted right now by another worker (its claim is live).
    Delivery.objects.filter(pk=first).update(attempt_started=timezone.now(), next_attempt=timezone.now() + timedelta(seconds=30))
    assert delivery_attempt(delivery_id=second) == "busy"
    assert receiver.received == [] and Delivery.objects.get(pk=second).attempts == 0
    # When that attempt ends (or its claim runs out), the next one goes.
    Delivery.objects.filter(pk=first).update(attempt_started=None)
    assert delivery_attempt(delivery_id=second) == "delivered"
    assert Delivery.objects.get(pk=second).attempt_started is None


def test_a_release_goes_inline_or_as_its_seq_and_public_url_when_large(cast, receiver, settings, published) -> None:
    from hashes.tasks import propagate_release_task
    from tests.hashes.conftest import random_hex

    register(cast, receiver, events=["release.published"])
    small = published()
    assert propagate_release_task(small.seq) == 1
    inline = json.loads(bytes(Delivery.objects.get().body))["data"]
    assert inline["seq"] == small.seq and inline["envelope"]["signature"]
    Delivery.objects.all().delete()

    settings.WEBHOOK_INLINE_MAX_BYTES, settings.PUBLIC_URL = 1024, "https://consortium.example.org"
    large = published(items=[{"kind": "md5", "value": random_hex(32)} for _ in range(40)])
    assert propagate_release_task(large.seq) == 1
    assert json.loads(bytes(Delivery.objects.get().body))["data"] == {
        "seq": large.seq, "url": f"https://consortium.example.org/api/v1/releases/{large.seq}"
    }
