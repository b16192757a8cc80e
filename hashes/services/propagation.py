"""Propagation of events to members' webhook endpoints (PROTOCOL §8), Standard Webhooks style.

At least once: a delivery is retried with exponential backoff and jitter until a 2xx answer or
until WEBHOOK_RETRY_WINDOW has passed (then `failed`). Attempts are claimed with a conditional
UPDATE that moves `next_attempt` forward by a lease (WEBHOOK_TIMEOUT + WEBHOOK_LEASE_SLACK), so two workers never post the same
delivery at once, and a worker killed mid-attempt only delays it: when the lease runs out the
sweeper (beat) queues it again. The HTTP call runs outside any transaction.
"""
from __future__ import annotations

import random
import secrets
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from consortium import signing
from consortium.audit.services import rfc3339
from hashes.models import Delivery
from members.models import Endpoint
from members.ssrf import UnsafeURL, check_url

BACKOFF_BASE = 5  # seconds; doubled per attempt, capped at BACKOFF_MAX, with ±50% jitter
BACKOFF_MAX = 3600


def deliveries_create(*, event: str, data: dict[str, Any]) -> list[int]:
    """One delivery per enabled endpoint that subscribed to `event`; their attempts are queued
    when the transaction commits. Returns the new deliveries' ids."""
    endpoints = [e for e in Endpoint.objects.filter(enabled=True) if event in e.events]
    if not endpoints:
        return []
    now = timezone.now()
    body = signing.jcs({"type": event, "timestamp": rfc3339(now), "data": data})
    with transaction.atomic():
        created = Delivery.objects.bulk_create(
            [Delivery(endpoint=e, event=event, webhook_id=f"msg_{secrets.token_hex(12)}", body=body, next_attempt=now) for e in endpoints]
        )
        ids = [d.pk for d in created]
        from hashes.tasks import delivery_attempt_task

        for delivery_id in ids:
            delivery_attempt_task.delay_on_commit(delivery_id)
    return ids


def _signature(endpoint: Endpoint, webhook_id: str, sent_at: Any, body: str) -> str:
    """`v1,<base64>` for the secret, and for the previous one during a rotation's overlap."""
    signatures = [Webhook(endpoint.secret).sign(webhook_id, sent_at, body)]
    if endpoint.previous_secret and endpoint.previous_secret_expires and endpoint.previous_secret_expires > sent_at:
        signatures.append(Webhook(endpoint.previous_secret).sign(webhook_id, sent_at, body))
    return " ".join(signatures)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer other than 2xx: never followed (it could point inside our network)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def delivery_attempt(*, delivery_id: int) -> str:
    """Post the delivery once if it is due; record the outcome. Returns the resulting status,
    "not_due" when it is delivered, failed, or another attempt holds its lease, or "busy" when
    the endpoint already has WEBHOOK_MAX_IN_FLIGHT attempts running (it is queued again shortly)."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT + settings.WEBHOOK_LEASE_SLACK)
    endpoint_id = Delivery.objects.filter(pk=delivery_id).values_list("endpoint_id", flat=True).first()
    if endpoint_id is None:
        return "not_due"
    with transaction.atomic():
        # The endpoint's row lock orders claims on one endpoint, so the cap is exact.
        Endpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        in_flight = Delivery.objects.filter(
            endpoint_id=endpoint_id, status=Delivery.Status.PENDING, attempt_started__isnull=False, next_attempt__gt=now
        ).count()
        if in_flight >= settings.WEBHOOK_MAX_IN_FLIGHT:
            from hashes.tasks import delivery_attempt_task

            transaction.on_commit(lambda: delivery_attempt_task.apply_async((delivery_id,), countdown=random.uniform(1, 3)))
            return "busy"
        claimed = Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt__lte=now).update(
            next_attempt=lease, attempt_started=now
        )
    if not claimed:
        return "not_due"
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = bytes(delivery.body).decode()
    code, error, latency = None, "", None
    try:
        check_url(endpoint.url)  # again at delivery time: DNS can change
        request = urllib.request.Request(
            endpoint.url,
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "consortium-webhooks/1",
                "webhook-id": delivery.webhook_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": _signature(endpoint, delivery.webhook_id, now, body),
            },
        )
        started = time.monotonic()
        try:
            with _opener.open(request, timeout=settings.WEBHOOK_TIMEOUT) as response:
                code = response.status
        except urllib.error.HTTPError as exc:
            code, error = exc.code, f"HTTP {exc.code}"
        latency = int((time.monotonic() - started) * 1000)
    except UnsafeURL as exc:
        error = f"refused: {exc}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    return _record(delivery, code=code, error=error, latency=latency)


def _record(delivery: Delivery, *, code: int | None, error: str, latency: int | None) -> str:
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {
        "attempts": attempts, "last_status_code": code, "last_error": error, "latency_ms": latency, "attempt_started": None,
    }
    if code is not None and 200 <= code < 300:
        fields.update(status=Delivery.Status.DELIVERED, delivered=now, last_error="")
    elif now - delivery.created > timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW):
        fields.update(status=Delivery.Status.FAILED)
    else:
        delay = min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_MAX) * random.uniform(0.5, 1.5)
        fields.update(next_attempt=now + timedelta(seconds=delay))
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(**fields)
    _endpoint_health(delivery.endpoint, ok=fields.get("status") == Delivery.Status.DELIVERED, error=error or f"HTTP {code}", now=now)
    if fields.get("next_attempt"):
        from hashes.tasks import delivery_attempt_task

        delivery_attempt_task.apply_async((delivery.pk,), countdown=(fields["next_attempt"] - now).total_seconds())
    return fields.get("status", Delivery.Status.PENDING)


def _endpoint_health(endpoint: Endpoint, *, ok: bool, error: str, now: Any) -> None:
    """Track how long an endpoint has failed; disable it after WEBHOOK_DISABLE_AFTER.

    Conditional UPDATEs, so concurrent attempts agree: the first failure sets `failing_since`,
    any success clears it, and only one attempt disables (and logs) the endpoint.
    """
    from consortium.audit.services import SYSTEM, audit_append

    if ok:
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
        return
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    limit = now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER)
    reason = f"Disabled: every delivery failed since more than {settings.WEBHOOK_DISABLE_AFTER // 3600} h; last error: {error}"[:500]
    with transaction.atomic():
        if Endpoint.objects.filter(pk=endpoint.pk, enabled=True, failing_since__lte=limit).update(enabled=False, disabled_reason=reason):
            audit_append(actor=SYSTEM, action="endpoint.disabled", subject=f"endpoint:{endpoint.pk}", member=endpoint.member.slug, reason=reason)


def deliveries_due(*, limit: int = 1000) -> list[int]:
    """Pending deliveries whose attempt is due (their task is late, lost, or its worker died)."""
    return list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt__lte=timezone.now())
        .order_by("next_attempt")
        .values_list("id", flat=True)[:limit]
    )


def delivery_redeliver(*, actor: Any, delivery: Delivery) -> Delivery:
    """Send a delivery again (same `webhook-id`, so a receiver that already has it can drop it):
    back to pending, due now, with a fresh retry window. Logged as `delivery.redelivered`."""
    from consortium.audit.services import audit_append

    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.PENDING, next_attempt=now, created=now, delivered=None)
        audit_append(actor=actor, action="delivery.redelivered", subject=f"delivery:{delivery.pk}", webhook_id=delivery.webhook_id)
        from hashes.tasks import delivery_attempt_task

        delivery_attempt_task.delay_on_commit(delivery.pk)
    delivery.refresh_from_db()
    return delivery
