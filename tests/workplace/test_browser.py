"""The workplace in headless Chromium: what an analyst and staff do in a day, with screenshots
of the main pages saved as artifacts (artifacts/screenshots, or $ARTIFACTS_DIR/screenshots)."""
from __future__ import annotations

import pytest

from hashes.models import Batch, Incident, Vote
from tests.workplace.conftest import screenshot, sign_in

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_an_analyst_finds_a_batch_in_the_queue_votes_and_the_batch_is_decided(live_server, page, busy, cast, ivan) -> None:
    oldest = busy.queue[0]
    from hashes.services.votes import vote_cast

    vote_cast(user=ivan, batch=oldest, decision="approve", reason="Known IS recruitment material.")  # one of two approvals
    sign_in(page, live_server.url, cast.gina)
    screenshot(page, "dashboard")
    assert page.locator("#backlog").get_by_text("awaiting our vote").is_visible()

    page.get_by_role("link", name="Review queue").first.click()
    page.wait_for_url("**/admin/hashes/reviewqueue/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == len(busy.queue)
    assert f"#{oldest.pk}" in rows.first.inner_text()  # oldest first
    screenshot(page, "review-queue")

    rows.first.get_by_role("link", name=f"#{oldest.pk}").click()
    page.wait_for_url(f"**/admin/hashes/batch/{oldest.pk}/change/")
    assert page.locator("#batch-status").inner_text() == "Voting"
    assert "near" in page.locator(".facts").inner_text()
    screenshot(page, "batch-page")

    page.fill("#reason", "Checked all ten: recruitment posters, matches our removals.")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_selector(".messagelist")
    assert "The batch is now approved" in page.locator(".messagelist").inner_text()
    assert page.locator("#batch-status").inner_text() == "Approved"

    oldest.refresh_from_db()
    assert oldest.status == Batch.Status.APPROVED
    assert Vote.objects.get(batch=oldest, member=cast.globex).reason.startswith("Checked all ten")


def test_an_analyst_searches_for_a_near_duplicate_and_disputes_it(live_server, page, busy, cast) -> None:
    from tests.workplace.conftest import flip

    sign_in(page, live_server.url, cast.gina)
    page.get_by_role("link", name="Search fingerprints").first.click()
    page.wait_for_url("**/admin/hashes/fingerprint/search/")
    page.fill("#q", flip(busy.published_pdq[2], 9))
    page.locator("#distance").fill("20")
    page.click("#fingerprint-search input[type=submit]")
    page.wait_for_selector("#search-results")
    results = page.locator("#search-results tbody tr")
    assert results.count() == 1 and results.first.locator("td").first.inner_text() == "9"
    screenshot(page, "search")

    results.first.locator("a").click()
    page.wait_for_url(f"**/admin/hashes/fingerprint/{busy.fingerprint.pk}/change/")
    page.fill("#reason", "Cropped from a news agency photo; not propaganda.")
    page.get_by_role("button", name="Dispute").click()
    page.wait_for_selector(".messagelist")
    assert "opinion is recorded" in page.locator(".messagelist").inner_text()
    screenshot(page, "fingerprint-page")
    assert busy.fingerprint.opinions.get(member=cast.globex).opinion == "dispute"


def test_staff_declare_an_incident_and_see_it_on_the_dashboard(live_server, page, busy, cast) -> None:
    sign_in(page, live_server.url, cast.stan)
    page.goto(f"{live_server.url}/admin/hashes/incident/add/")
    page.select_option("#id_label", label="content-incident (Declared content incident)")
    page.fill("#id_title", "Livestreamed attack, 2026-11-22")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/hashes/incident/")
    incident = Incident.objects.get()
    assert incident.closed is None and incident.declared_by == cast.stan

    page.goto(f"{live_server.url}/admin/")
    assert "Livestreamed attack" in page.locator("#open-incident").inner_text()
    screenshot(page, "dashboard-staff-incident")
