"""The workplace (admin) tests: a consortium with some history, and a headless Chromium.

`busy` builds the history through the services (submissions, dedup, votes, releases,
opinions, deliveries) and then moves some timestamps into the past days, so the dashboard's
charts have something to draw; nothing else is faked.
"""
from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from consortium.audit.services import SYSTEM
from tests.hashes.conftest import acme_key, approved, globex_key, ivan, published, random_hex, signed, voting_batch  # noqa: F401

PASSWORD = "correct horse battery staple"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("ARTIFACTS_DIR", django_settings.BASE_DIR / "artifacts")) / "screenshots"


def flip(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16)
    for bit in random.Random(bits).sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


@dataclass
class Busy:
    queue: list[Any]  # Acme batches voting, awaiting Globex's vote, oldest first
    published_pdq: list[str]
    fingerprint: Any  # a published PDQ fingerprint with opinions
    acme_endpoint: Any
    globex_endpoint: Any
    acme_delivery: Any
    globex_delivery: Any


@pytest.fixture
def busy(cast, signed, voting_batch, published, ivan, globex_key, settings) -> Busy:  # noqa: F811
    from hashes.models import Batch, Delivery, Fingerprint, Release, Vote
    from hashes.services.batches import batch_submit
    from hashes.services.dedup import batch_deduplicate
    from hashes.services.opinions import opinion_set
    from hashes.services.votes import vote_cast
    from members.services.endpoints import endpoint_create

    settings.WEBHOOK_ALLOW_LOOPBACK = True
    for user in (cast.alice, cast.bob, cast.rita, cast.charlie, cast.gina, cast.audrey, cast.stan, ivan):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    acme_endpoint = endpoint_create(actor=SYSTEM, member=cast.acme, url="http://127.0.0.1:9/acme-hook", events=["release.published"])
    globex_endpoint = endpoint_create(actor=SYSTEM, member=cast.globex, url="http://127.0.0.1:9/globex-hook", events=["release.published"])

    pdq = [random_hex(64) for _ in range(6)]
    published(labels=["islamic-state", "image", "glorification"], note="Propaganda stills from the 2026-11 campaign",
              items=[{"kind": "pdq", "value": h, "quality": 90} for h in pdq[:4]] + [{"kind": "md5", "value": random_hex(32)}])
    published(labels=["attacker", "video", "graphic-violence"],
              items=[{"kind": "video_md5", "value": random_hex(32)}, {"kind": "pdq", "value": pdq[4], "quality": 80},
                     {"kind": "url", "value": "https://files.example.net/manifesto.pdf"}])
    globex_batch = batch_submit(user=cast.gina, envelope=signed(key=globex_key, member="globex", labels=["al-shabaab", "video"],
                                                            items=[{"kind": "sha256", "value": random_hex(64)}])).batch
    batch_deduplicate(batch_id=globex_batch.pk)
    vote_cast(user=ivan, batch=globex_batch, decision="reject", reason="Not violent extremist content: a news report.")
    vote_cast(user=cast.bob, batch=globex_batch, decision="reject", reason="News footage with context; below the bar.")

    queue = [
        voting_batch(labels=["islamic-state", "image", "radicalisation"], note="Recruitment posters found on three platforms",
                     items=[{"kind": "pdq", "value": flip(pdq[0], 12), "quality": 88}, {"kind": "pdq", "value": pdq[1], "quality": 95},
                            *[{"kind": "pdq", "value": random_hex(64), "quality": 70} for _ in range(8)]]),
        voting_batch(labels=["attacker", "video"], note="Re-uploads with a watermark",
                     items=[{"kind": "video_md5", "value": random_hex(32)} for _ in range(5)]),
        voting_batch(labels=["imminent-credible-threat", "url"], items=[{"kind": "url", "value": f"https://paste.example.org/{random_hex(8)}"} for _ in range(3)]),
    ]
    from hashes.tasks import propagate_release_task

    for seq in Release.objects.values_list("seq", flat=True):
        propagate_release_task(seq)  # what the worker does after each release: one delivery per endpoint
    fingerprint = Fingerprint.objects.get(kind="pdq", value=pdq[2])
    opinion_set(user=cast.gina, fingerprint=fingerprint, opinion="affirm", reason="Matches our own removals.")
    opinion_set(user=ivan, fingerprint=fingerprint, opinion="dispute", reason="Looks like a cropped news photo.")

    # History for the charts: spread what exists over the past weeks.
    now = timezone.now()
    for n, batch in enumerate(Batch.objects.order_by("id")):
        Batch.objects.filter(pk=batch.pk).update(received=now - timedelta(days=(len(queue) + 6 - n) * 2 % 27, hours=n))
    for n, vote in enumerate(Vote.objects.order_by("id")):
        Vote.objects.filter(pk=vote.pk).update(updated=now - timedelta(days=(9 - n) % 20))
    for n, release in enumerate(Release.objects.order_by("seq")):
        Release.objects.filter(pk=release.pk).update(published_at=now - timedelta(days=12 - 5 * n))
    deliveries = list(Delivery.objects.order_by("id"))
    for n, delivery in enumerate(deliveries):
        status = Delivery.Status.DELIVERED if n % 3 else Delivery.Status.FAILED
        Delivery.objects.filter(pk=delivery.pk).update(status=status, attempts=1 + n % 4, created=now - timedelta(days=12 - 5 * (n // 2)))
    return Busy(
        queue=queue,
        published_pdq=pdq,
        fingerprint=fingerprint,
        acme_endpoint=acme_endpoint,
        globex_endpoint=globex_endpoint,
        acme_delivery=Delivery.objects.filter(endpoint=acme_endpoint).first(),
        globex_delivery=Delivery.objects.filter(endpoint=globex_endpoint).first(),
    )


@pytest.fixture
def login_client() -> Callable[[Any], Any]:
    """`login_client(user)`: a Django test client signed in through the admin's login form."""
    from django.test import Client

    def make(user: Any) -> Any:
        client = Client()
        response = client.post("/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, f"{user.username} could not sign in"
        return client

    return make


@pytest.fixture
def page(transactional_db: None) -> Iterator[Any]:
    """A page in Debian's Chromium, headless, driven by Playwright (no browser download).

    One browser per test, started after the database is set up and stopped before it is
    flushed: Playwright's sync API keeps an event loop running in this thread, under which
    Django's connection handler (an asgiref Local) hands out other connection objects, and the
    serialized rollback between transactional tests would not find its saved rows."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"The browser tests need Chromium at {CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or set CHROMIUM.")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM calls between steps are plain sync code
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )
            context = chromium.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB", timezone_id="UTC")
            context.set_default_timeout(15_000)
            yield context.new_page()
            context.close()
            chromium.close()
            from django.db import connections

            connections.close_all()  # those the test body opened under Playwright's loop
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base_url: str, user: Any) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")
