"""Who opens which workplace page: member admin (Alice), analyst (Bob), reader (Rita), auditor
(Audrey) and staff (Stan, not a superuser: staff rights come from being staff). Refused pages
answer 403; someone without a role is sent to the login page."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from consortium.audit.services import SYSTEM
from members.services.users import user_create

pytestmark = pytest.mark.django_db

ALL = "alice bob rita audrey stan"
PEOPLE = "alice bob audrey stan"
VOTERS = "alice bob stan"

# (page, who may open it); `{x}` are filled from the busy consortium.
PAGES: list[tuple[str, str]] = [
    ("/admin/", ALL),
    ("/admin/hashes/reviewqueue/", VOTERS),
    ("/admin/hashes/submission/", "alice bob"),
    ("/admin/hashes/batch/", PEOPLE),
    ("/admin/hashes/batch/?status__exact=voting", PEOPLE),
    ("/admin/hashes/batch/{globex_batch}/change/", PEOPLE),
    ("/admin/hashes/batch/{acme_batch}/change/", PEOPLE),
    ("/admin/hashes/batch/{acme_batch}/change/?outcome=near_duplicate&page=1", PEOPLE),
    ("/admin/hashes/batchitem/", PEOPLE),
    ("/admin/hashes/vote/", PEOPLE),
    ("/admin/hashes/fingerprint/", ALL),
    ("/admin/hashes/fingerprint/search/", ALL),
    ("/admin/hashes/fingerprint/search/?q={pdq}&distance=31", ALL),
    ("/admin/hashes/fingerprint/{fingerprint}/change/", ALL),
    ("/admin/hashes/label/", ALL),
    ("/admin/hashes/label/add/", "stan"),
    ("/admin/hashes/policy/1/change/", ALL),
    ("/admin/hashes/incident/", ALL),
    ("/admin/hashes/incident/add/", "stan"),
    ("/admin/hashes/delivery/", PEOPLE),
    ("/admin/hashes/delivery/?status__exact=failed", PEOPLE),
    ("/admin/members/member/", ALL),
    ("/admin/members/member/add/", "stan"),
    ("/admin/members/user/", PEOPLE),
    ("/admin/members/user/add/", "stan"),
    ("/admin/members/apitoken/", ALL),
    ("/admin/members/memberkey/", PEOPLE),
    ("/admin/members/endpoint/", PEOPLE),
    ("/admin/members/endpoint/{acme_endpoint}/change/", PEOPLE),
    ("/admin/audit/auditentry/", "audrey stan"),
    ("/admin/audit/auditentry/0/change/", "audrey stan"),
    ("/admin/audit/checkpoint/", "audrey stan"),
    ("/admin/consortium_keys/consortiumkey/", PEOPLE),
]


@pytest.fixture
def urls(busy, cast) -> dict[str, Any]:
    from hashes.models import Batch

    return {
        "globex_batch": Batch.objects.filter(member=cast.globex).first().pk,
        "acme_batch": busy.queue[0].pk,
        "pdq": busy.published_pdq[0],
        "fingerprint": busy.fingerprint.pk,
        "acme_endpoint": busy.acme_endpoint.pk,
    }


@pytest.mark.parametrize("who", ALL.split())
def test_each_role_opens_exactly_its_pages(cast, urls, who: str) -> None:
    client = Client()
    client.force_login(getattr(cast, who))
    wrong = []
    for page, allowed in PAGES:
        url = page.format(**urls)
        status = client.get(url).status_code
        expected = 200 if who in allowed.split() else 403
        if status != expected:
            wrong.append(f"{url}: {status}, expected {expected}")
    assert wrong == []


def test_the_app_list_shows_each_role_only_what_it_may_open(cast, urls) -> None:
    rita = Client()
    rita.force_login(cast.rita)
    page = rita.get("/admin/").content.decode()
    assert "/admin/hashes/fingerprint/" in page and "/admin/hashes/reviewqueue/" not in page
    assert "/admin/members/endpoint/" not in page and "/admin/audit/auditentry/" not in page


@pytest.mark.parametrize("page", ["/admin/", "/admin/hashes/batch/", "/admin/hashes/fingerprint/search/"])
def test_someone_without_a_role_is_sent_to_the_login_page(db, page: str) -> None:
    nobody = user_create(actor=SYSTEM, username="nobody", member=None, role=None)
    client = Client()
    client.force_login(nobody)
    response = client.get(page)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_members_sign_in_with_their_password_and_staff_too(busy, cast, login_client: Callable[[Any], Client]) -> None:
    for user in (cast.bob, cast.rita, cast.audrey, cast.stan):
        assert login_client(user).get("/admin/").status_code == 200


def test_a_suspended_members_people_are_told_why_they_cannot_sign_in(busy, cast) -> None:
    from members.models import Member
    from members.services.members import member_set_status
    from tests.workplace.conftest import PASSWORD

    member_set_status(actor=SYSTEM, member=cast.acme, status=Member.Status.SUSPENDED)
    response = Client().post("/admin/login/", {"username": "bob", "password": PASSWORD})
    assert response.status_code == 200 and "is suspended" in response.content.decode()

    signed_in = Client()
    signed_in.force_login(cast.bob)  # a session from before the suspension
    assert signed_in.get("/admin/hashes/batch/").status_code == 302


def test_someone_without_a_role_is_told_to_ask_for_one(db) -> None:
    from tests.workplace.conftest import PASSWORD

    nobody = user_create(actor=SYSTEM, username="nobody", member=None, role=None, password=PASSWORD)
    response = Client().post("/admin/login/", {"username": nobody.username, "password": PASSWORD})
    assert response.status_code == 200 and "has no role" in response.content.decode()


# (list, action, who is offered it); the others are not offered it, or may not open the list.
ACTIONS: list[tuple[str, str, str]] = [
    ("/admin/hashes/reviewqueue/", "approve", VOTERS),
    ("/admin/hashes/reviewqueue/", "reject", VOTERS),
    ("/admin/hashes/batch/", "approve", VOTERS),
    ("/admin/hashes/batch/", "reject", VOTERS),
    ("/admin/hashes/submission/", "withdraw", "alice bob"),
    ("/admin/hashes/fingerprint/", "retract", "stan"),
    ("/admin/hashes/label/", "retire", "stan"),
    ("/admin/hashes/label/", "restore", "stan"),
    ("/admin/hashes/incident/", "close", "stan"),
    ("/admin/hashes/delivery/", "redeliver", VOTERS),
    ("/admin/members/member/", "suspend", "stan"),
    ("/admin/members/member/", "reactivate", "stan"),
    ("/admin/members/apitoken/", "revoke", ALL),
    ("/admin/members/memberkey/", "revoke", "alice stan"),
    ("/admin/members/endpoint/", "enable", "alice stan"),
    ("/admin/members/endpoint/", "disable", "alice stan"),
]


@pytest.mark.parametrize("who", ALL.split())
def test_each_role_is_offered_exactly_its_actions(cast, busy, voting_batch, signed, globex_key, who: str) -> None:
    # The admin offers actions only on lists with rows: give every role's queue something.
    from hashes.models import Label
    from hashes.services.batches import batch_submit
    from hashes.services.dedup import batch_deduplicate
    from hashes.services.incidents import incident_declare

    incident_declare(user=cast.stan, label=Label.objects.get(slug="content-incident"), title="Attack")
    voting_batch(labels=["content-incident"])
    batch_deduplicate(batch_id=batch_submit(user=cast.gina, envelope=signed(key=globex_key, member="globex")).batch.pk)
    from members.services.tokens import token_create

    token_create(actor=SYSTEM, user=getattr(cast, who), name="laptop")
    client = Client()
    client.force_login(getattr(cast, who))
    pages: dict[str, str] = {}
    wrong = []
    for page, action, allowed in ACTIONS:
        if page not in pages:
            response = client.get(page)
            pages[page] = response.content.decode() if response.status_code == 200 else ""
        offered = f'<option value="{action}">' in pages[page]
        if offered != (who in allowed.split()):
            wrong.append(f"{page} {action}: {'offered' if offered else 'not offered'}")
    assert wrong == []
