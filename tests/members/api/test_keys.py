"""/api/v1/members/me/keys: register, list, revoke a member's public signing keys."""
from __future__ import annotations

import pytest

from consortium import signing
from members.models import MemberKey
from tests.conftest import assert_problem, audit_actions, audit_size

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/me/keys"


def _jwk() -> dict[str, str]:
    return signing.public_jwk(signing.generate_private_key())


def test_an_admin_registers_a_key_whose_kid_is_its_thumbprint(cast, api) -> None:
    client = api(cast.alice)
    jwk = _jwk()
    before = audit_size()
    response = client.post(URL, {**jwk, "name": "release signer"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kid"] == signing.thumbprint(signing.public_key_from_jwk(jwk))
    assert body["jwk"] == {**jwk, "kid": body["kid"], "alg": "EdDSA", "use": "sig"}
    assert body["member"] == "acme" and body["active"] is True and body["name"] == "release signer"
    assert audit_actions(since=before) == ["key.added"]


def test_a_member_may_hold_several_active_keys(cast, api) -> None:
    client = api(cast.alice)
    for _ in range(2):
        assert client.post(URL, _jwk(), format="json").status_code == 201
    assert [k["active"] for k in client.get(URL).json()["results"]] == [True, True]


def test_a_matching_kid_is_accepted_and_a_wrong_one_refused(cast, api) -> None:
    client = api(cast.alice)
    jwk = _jwk()
    kid = signing.thumbprint(signing.public_key_from_jwk(jwk))
    assert_problem(client.post(URL, {**jwk, "kid": "not-the-thumbprint"}, format="json"), 422)
    assert not MemberKey.objects.exists()
    assert client.post(URL, {**jwk, "kid": kid}, format="json").status_code == 201


def test_revoking_keeps_the_key_listed_with_its_revocation_time(cast, api) -> None:
    client = api(cast.alice)
    kid = client.post(URL, _jwk(), format="json").json()["kid"]
    before = audit_size()
    response = client.delete(f"{URL}/{kid}")
    assert response.status_code == 200 and response.json()["active"] is False
    assert response.json()["revoked"].endswith("Z")
    assert client.get(f"{URL}/{kid}").json()["revoked"] == response.json()["revoked"]
    assert client.delete(f"{URL}/{kid}").status_code == 200  # again: nothing more to do
    assert audit_actions(since=before) == ["key.revoked"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "/kty"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "/kty"),
        ({"kty": "OKP", "crv": "X25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, "/crv"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "tooshort"}, "/x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": None}, "/x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "c2VjcmV0"}, "/d"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "name": 7}, "/name"),
        ([1, 2, 3], ""),
    ],
)
def test_malformed_or_non_ed25519_keys_are_422_problems_and_store_nothing(cast, api, body: object, pointer: str) -> None:
    client = api(cast.alice)
    before = audit_size()
    problem = assert_problem(client.post(URL, body, format="json"), 422)
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert not MemberKey.objects.exists() and audit_size() == before


def test_a_key_registered_twice_is_a_409_even_by_another_member(cast, api) -> None:
    jwk = _jwk()
    assert api(cast.alice).post(URL, jwk, format="json").status_code == 201
    assert_problem(api(cast.alice).post(URL, jwk, format="json"), 409)
    assert_problem(api(cast.charlie).post(URL, jwk, format="json"), 409)
    assert MemberKey.objects.count() == 1


def test_an_unknown_kid_is_a_404_problem(cast, api) -> None:
    assert_problem(api(cast.alice).delete(f"{URL}/no-such-kid"), 404)


def test_charlie_cannot_see_or_revoke_alices_keys(cast, api) -> None:
    kid = api(cast.alice).post(URL, _jwk(), format="json").json()["kid"]
    charlie = api(cast.charlie)
    assert charlie.get(URL).json()["results"] == []
    assert_problem(charlie.get(f"{URL}/{kid}"), 404)
    assert_problem(charlie.delete(f"{URL}/{kid}"), 404)
    assert MemberKey.objects.get(kid=kid).revoked is None


@pytest.mark.parametrize(
    ("who", "get", "post", "delete"),
    [
        ("alice", 200, 201, 200),  # admin
        ("bob", 200, 403, 403),  # analyst reads
        ("rita", 403, 403, 403),  # reader: sync and match only
        ("audrey", 404, 403, 403),  # auditor of no member: there is no "me"
        ("stan", 404, 403, 403),  # staff without a member
    ],
)
def test_each_role_gets_what_it_is_allowed(cast, api, who: str, get: int, post: int, delete: int) -> None:
    kid = api(cast.alice).post(URL, _jwk(), format="json").json()["kid"]
    client = api(getattr(cast, who))
    assert client.get(URL).status_code == get
    assert client.post(URL, _jwk(), format="json").status_code == post
    assert client.delete(f"{URL}/{kid}").status_code == delete


def test_anonymous_callers_get_401(cast, api) -> None:
    assert_problem(api(None).get(URL), 401)
    assert_problem(api(None).post(URL, _jwk(), format="json"), 401)
