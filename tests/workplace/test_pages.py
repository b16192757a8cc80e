"""What the workplace pages show: the dashboard, the search, the batch and fingerprint pages."""
from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.hashes.conftest import random_hex
from tests.workplace.conftest import flip

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def card(page: str, what: str) -> int:
    match = re.search(r'<div class="n">(\d+)</div><div class="what">' + re.escape(what), page)
    assert match, f"no card {what!r}"
    return int(match.group(1))


def test_the_dashboard_counts_the_backlog_and_draws_four_charts(cast, busy) -> None:
    page = client_of(cast.gina).get("/admin/").content.decode()
    assert card(page, "awaiting our vote") == 3
    assert card(page, "batches voting (all members)") == 3
    assert card(page, "deliveries failed") == 1  # Globex's own (one of its two failed in the history)
    assert page.count("<svg viewBox") == 4
    assert "Fingerprints published" in page and "added (8)" in page
    preview = page[page.index('id="queue-preview"'):]
    first, last = (f"<strong>#{batch.pk}</strong>" for batch in (busy.queue[0], busy.queue[2]))
    assert preview.index(first) < preview.index(last)  # oldest first


def test_readers_get_a_dashboard_without_the_queue_or_deliveries(cast, busy) -> None:
    page = client_of(cast.rita).get("/admin/").content.decode()
    assert 'id="queue-preview"' not in page and "awaiting our vote" not in page and "deliveries failed" not in page
    assert card(page, "retractions queued") == 0


def test_the_dashboard_shows_the_open_incident(cast, busy) -> None:
    from hashes.models import Label
    from hashes.services.incidents import incident_declare

    incident_declare(user=cast.stan, label=Label.objects.get(slug="content-incident"), title="Livestreamed attack")
    page = client_of(cast.bob).get("/admin/").content.decode()
    assert 'id="open-incident"' in page and "Livestreamed attack" in page


def test_staff_and_auditors_see_every_members_delivery_health_and_the_checkpoint_lag(cast, busy) -> None:
    page = client_of(cast.audrey).get("/admin/").content.decode()
    assert card(page, "deliveries failed") == 2
    assert card(page, "log entries not yet in a signed checkpoint") > 0


def test_the_search_finds_exact_values_of_any_kind(cast, busy) -> None:
    from hashes.models import Fingerprint

    md5 = Fingerprint.objects.filter(kind="md5").first()
    page = client_of(cast.rita).get("/admin/hashes/fingerprint/search/", {"q": md5.value.upper()}).content.decode()
    assert "Read as md5, video_md5" in page and f"/admin/hashes/fingerprint/{md5.pk}/change/" in page
    url = client_of(cast.rita).get("/admin/hashes/fingerprint/search/", {"q": "https://FILES.example.net/manifesto.pdf"}).content.decode()
    assert "manifesto.pdf" in url and "1 published fingerprint found" in url


def test_the_pdq_search_finds_near_matches_within_the_chosen_distance_only(cast, busy) -> None:
    query = flip(busy.published_pdq[3], 14)
    near = client_of(cast.bob).get("/admin/hashes/fingerprint/search/", {"q": query, "distance": 14}).content.decode()
    assert "1 published fingerprint found" in near and "<td>14</td>" in near
    far = client_of(cast.bob).get("/admin/hashes/fingerprint/search/", {"q": query, "distance": 13}).content.decode()
    assert "0 published fingerprints found" in far


@pytest.mark.parametrize("value", ["not a hash", "z" * 64, "ftp://example.com/x"])
def test_the_search_explains_a_value_no_kind_accepts(cast, value: str) -> None:
    response = client_of(cast.bob).get("/admin/hashes/fingerprint/search/", {"q": value, "distance": "lots"})
    assert response.status_code == 200 and "No fingerprint kind accepts this value" in response.content.decode()


def test_the_batch_page_lists_items_with_outcomes_and_nearest_matches(cast, busy) -> None:
    batch = busy.queue[0]
    page = client_of(cast.gina).get(f"/admin/hashes/batch/{batch.pk}/change/").content.decode()
    assert "Near duplicate" in page and "at distance 12" in page and "Duplicate" in page
    assert 'id="vote-form"' in page
    near = client_of(cast.gina).get(f"/admin/hashes/batch/{batch.pk}/change/", {"outcome": "near_duplicate"}).content.decode()
    assert near.count('<span class="pill pill-near_duplicate">') == 1


def test_the_batch_page_pages_through_large_batches(cast, voting_batch) -> None:
    batch = voting_batch(items=[{"kind": "md5", "value": random_hex(32)} for _ in range(150)])
    bob = client_of(cast.bob)
    first = bob.get(f"/admin/hashes/batch/{batch.pk}/change/").content.decode()
    assert "page 1 of 2" in first and first.count("<td>md5</td>") == 100
    second = bob.get(f"/admin/hashes/batch/{batch.pk}/change/", {"page": 2}).content.decode()
    assert second.count("<td>md5</td>") == 50
    assert bob.get(f"/admin/hashes/batch/{batch.pk}/change/", {"page": "x", "outcome": "bogus"}).status_code == 200


def test_the_fingerprint_page_shows_sources_opinions_releases_and_history(cast, busy) -> None:
    page = client_of(cast.bob).get(f"/admin/hashes/fingerprint/{busy.fingerprint.pk}/change/").content.decode()
    assert "Matches our own removals." in page and "Looks like a cropped news photo." in page
    assert "acme (<a" in page and "/api/v1/releases/1" in page
    assert page.count("opinion.set") == 2
    assert 'id="opinion-form"' in page


def test_unknown_objects_are_reported_not_crashed_on(cast) -> None:
    bob = client_of(cast.bob)
    for url in ("/admin/hashes/batch/999999/change/", "/admin/hashes/fingerprint/999999/change/", "/admin/hashes/fingerprint/abc/change/"):
        response = bob.get(url)
        assert response.status_code == 302 and response["Location"] == "/admin/"
