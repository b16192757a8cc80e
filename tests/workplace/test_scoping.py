"""A member's people never see another member's tokens, keys, endpoints, deliveries or users;
staff and auditors see everyone's. ("Bob should have no access to Globex's stuff.")"""
from __future__ import annotations

import pytest
from django.test import Client

from consortium import signing
from consortium.audit.services import SYSTEM
from members.services.keys import key_add
from members.services.tokens import token_create

pytestmark = pytest.mark.django_db


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def keys_and_tokens(cast) -> dict[str, str]:
    tokens = {name: token_create(actor=SYSTEM, user=getattr(cast, name), name=f"{name}-laptop")[0].prefix for name in ("alice", "bob", "charlie")}
    acme = key_add(actor=SYSTEM, member=cast.acme, jwk=signing.public_jwk(signing.generate_private_key()), name="acme-2026").kid
    globex = key_add(actor=SYSTEM, member=cast.globex, jwk=signing.public_jwk(signing.generate_private_key()), name="globex-2026").kid
    return {**tokens, "acme_key": acme, "globex_key": globex}


def test_an_analyst_sees_only_their_own_tokens_and_an_admin_their_members(cast, keys_and_tokens) -> None:
    bob = client_of(cast.bob).get("/admin/members/apitoken/").content.decode()
    assert keys_and_tokens["bob"] in bob and keys_and_tokens["alice"] not in bob and keys_and_tokens["charlie"] not in bob
    alice = client_of(cast.alice).get("/admin/members/apitoken/").content.decode()
    assert keys_and_tokens["bob"] in alice and keys_and_tokens["alice"] in alice and keys_and_tokens["charlie"] not in alice


def test_people_see_their_members_keys_and_users_only(cast, keys_and_tokens) -> None:
    keys = client_of(cast.bob).get("/admin/members/memberkey/").content.decode()
    assert "acme-2026" in keys and "globex-2026" not in keys
    users = client_of(cast.bob).get("/admin/members/user/").content.decode()
    assert ">alice<" in users and ">charlie<" not in users and ">gina<" not in users
    everyone = client_of(cast.audrey).get("/admin/members/memberkey/").content.decode()
    assert "acme-2026" in everyone and "globex-2026" in everyone


def test_people_see_their_members_endpoints_and_deliveries_only(cast, busy) -> None:
    bob = client_of(cast.bob)
    endpoints = bob.get("/admin/members/endpoint/").content.decode()
    assert "acme-hook" in endpoints and "globex-hook" not in endpoints
    deliveries = bob.get("/admin/hashes/delivery/").content.decode()
    assert "acme-hook" in deliveries and "globex-hook" not in deliveries
    # Another member's objects by id: "doesn't exist", as if there were none.
    for url in (f"/admin/members/endpoint/{busy.globex_endpoint.pk}/change/", f"/admin/hashes/delivery/{busy.globex_delivery.pk}/change/"):
        response = bob.get(url)
        assert response.status_code == 302 and response["Location"] == "/admin/"
    staff = client_of(cast.stan).get("/admin/hashes/delivery/").content.decode()
    assert "acme-hook" in staff and "globex-hook" in staff
    # The endpoints list links to each endpoint's deliveries; another member's endpoint id shows none.
    assert f"?endpoint__id__exact={busy.acme_endpoint.pk}" in endpoints
    own = bob.get(f"/admin/hashes/delivery/?endpoint__id__exact={busy.acme_endpoint.pk}").content.decode()
    assert "acme-hook" in own
    other = bob.get(f"/admin/hashes/delivery/?endpoint__id__exact={busy.globex_endpoint.pk}").content.decode()
    assert "globex-hook" not in other and "0 deliveries" in other
    # No member filter that would list the other members to someone who sees only their own.
    assert "By member" not in endpoints and "Globex Social" not in endpoints


def test_the_member_directory_is_shared_but_other_members_people_are_not(cast) -> None:
    page = client_of(cast.bob).get(f"/admin/members/member/{cast.globex.pk}/change/").content.decode()
    assert "Globex Social" in page and "gina" not in page
    staff = client_of(cast.audrey).get(f"/admin/members/member/{cast.globex.pk}/change/").content.decode()
    assert "gina" in staff


def test_the_review_queue_leaves_out_our_batches_and_those_we_voted_on(cast, busy) -> None:
    from hashes.services.votes import vote_cast

    vote_cast(user=cast.charlie, batch=busy.queue[1], decision="approve")  # Globex voted on the second
    page = client_of(cast.gina).get("/admin/hashes/reviewqueue/").content.decode()
    assert f">#{busy.queue[0].pk}<" in page and f">#{busy.queue[2].pk}<" in page
    assert f">#{busy.queue[1].pk}<" not in page
    ours = client_of(cast.bob).get("/admin/hashes/reviewqueue/").content.decode()  # Acme: its own batches
    assert all(f">#{batch.pk}<" not in ours for batch in busy.queue)
    # Oldest first
    assert page.index(f">#{busy.queue[0].pk}<") < page.index(f">#{busy.queue[2].pk}<")


def test_staff_see_only_fast_tracked_batches_in_their_queue(cast, busy, voting_batch) -> None:
    from hashes.models import Label
    from hashes.services.incidents import incident_declare

    incident_declare(user=cast.stan, label=Label.objects.get(slug="content-incident"), title="Attack")
    fast = voting_batch(labels=["content-incident"])
    page = client_of(cast.stan).get("/admin/hashes/reviewqueue/").content.decode()
    assert f">#{fast.pk}<" in page and f">#{busy.queue[0].pk}<" not in page
    assert "fast-track" in page
