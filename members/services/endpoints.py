"""Members' webhook endpoints: registration with an SSRF check, changes, secret rotation."""
from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from consortium.audit.services import Actor, audit_append
from consortium.errors import InvalidInput
from members.models import Endpoint, Member
from members.ssrf import UnsafeURL, check_url

MAX_URL = 2048
ROTATION_OVERLAP = timedelta(hours=24)


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _check(url: Any, events: Any) -> None:
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise InvalidInput(f"url is an http(s) URL of at most {MAX_URL} characters.", pointer="/url")
    try:
        check_url(url)
    except UnsafeURL as exc:
        raise InvalidInput(str(exc), pointer="/url", code="unsafe_url") from None
    if not isinstance(events, list) or not events or not set(events) <= set(Endpoint.Event.values) or len(set(events)) != len(events):
        raise InvalidInput(f"events is a non-empty list of distinct events from: {', '.join(Endpoint.Event.values)}.", pointer="/events")


def endpoint_create(*, actor: Actor, member: Member, url: str, events: list[str], description: str = "") -> Endpoint:
    """Register an endpoint; its secret is returned on the row (show it once)."""
    _check(url, events)
    with transaction.atomic():
        endpoint = Endpoint.objects.create(member=member, url=url, events=events, description=description, secret=new_secret())
        audit_append(actor=actor, action="endpoint.created", subject=f"endpoint:{endpoint.pk}", member=member.slug, url=url, events=events)
    return endpoint


def endpoint_update(*, actor: Actor, endpoint: Endpoint, changes: dict[str, Any]) -> Endpoint:
    """Change url, events, description or enabled (re-enabling clears the disabled reason)."""
    url = changes.get("url", endpoint.url)
    events = changes.get("events", endpoint.events)
    _check(url, events)
    fields = {name: value for name, value in changes.items() if getattr(endpoint, name) != value}
    if not fields:
        return endpoint
    if fields.get("enabled") is True:
        fields["disabled_reason"] = ""
        fields["failing_since"] = None
    with transaction.atomic():
        Endpoint.objects.filter(pk=endpoint.pk).update(**fields)
        audit_append(
            actor=actor, action="endpoint.updated", subject=f"endpoint:{endpoint.pk}", member=endpoint.member.slug,
            changes={k: v for k, v in fields.items() if k not in ("disabled_reason", "failing_since")},
        )
    endpoint.refresh_from_db()
    return endpoint


def endpoint_rotate_secret(*, actor: Actor, endpoint: Endpoint) -> Endpoint:
    """A new secret; the old one keeps signing beside it for ROTATION_OVERLAP (both signatures
    are sent, as Standard Webhooks allows), so receivers can switch without losing deliveries."""
    with transaction.atomic():
        Endpoint.objects.filter(pk=endpoint.pk).update(
            secret=new_secret(), previous_secret=endpoint.secret, previous_secret_expires=timezone.now() + ROTATION_OVERLAP
        )
        audit_append(actor=actor, action="endpoint.secret_rotated", subject=f"endpoint:{endpoint.pk}", member=endpoint.member.slug)
    endpoint.refresh_from_db()
    return endpoint


def endpoint_delete(*, actor: Actor, endpoint: Endpoint) -> None:
    with transaction.atomic():
        audit_append(actor=actor, action="endpoint.deleted", subject=f"endpoint:{endpoint.pk}", member=endpoint.member.slug, url=endpoint.url)
        Endpoint.objects.filter(pk=endpoint.pk).delete()
