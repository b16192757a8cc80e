"""POST /api/v1/batches: signed submission, validation, replays and refusals."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
from django.test import override_settings

from consortium import signing
from consortium.audit.services import SYSTEM
from hashes.models import Batch, BatchItem, Label
from members.models import MemberKey
from members.services.keys import key_revoke
from tests.conftest import assert_problem, audit_actions, audit_size
from tests.hashes.conftest import payload, random_hex

pytestmark = pytest.mark.django_db

URL = "/api/v1/batches"


def _nothing_stored(before: int) -> None:
    assert not Batch.objects.exists() and not BatchItem.objects.exists()
    assert audit_size() == before


def test_a_signed_batch_is_stored_with_normalized_items_and_answered_202(cast, api, signed) -> None:
    client = api(cast.bob)
    before = audit_size()
    envelope = signed(items=[
        {"kind": "md5", "value": "AB" * 16},
        {"kind": "pdq", "value": "F" * 64, "quality": 80, "labels": ["image", "glorification"]},
        {"kind": "url", "value": "HTTPS://Example.com:443/x#top"},
    ], note="from the attack livestream")
    response = client.post(URL, envelope, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"id", "status", "url"} and body["url"].endswith(f"/api/v1/batches/{body['id']}")
    batch = Batch.objects.get(pk=body["id"])
    assert batch.member == cast.acme and batch.item_count == 3 and batch.note == "from the attack livestream"
    from consortium.audit.models import AuditDocument

    stored = bytes(AuditDocument.objects.get(sha256=batch.envelope_sha256).body)
    assert stored == b'{"payload":' + signing.jcs(envelope["payload"]) + b',"signature":"' + envelope["signature"].encode() + b'"}'
    assert batch.payload_sha256 == hashlib.sha256(signing.jcs(envelope["payload"])).hexdigest()
    items = list(batch.items.order_by("position").values_list("kind", "value", "labels", "quality"))
    assert items == [
        ("md5", "ab" * 16, ["islamic-state"], None),
        ("pdq", "f" * 64, ["image", "glorification"], 80),
        ("url", "https://example.com/x", ["islamic-state"], None),
    ]
    assert audit_actions(since=before) == ["batch.submitted"]


def test_the_same_ref_and_payload_again_answers_200_with_the_same_batch(cast, api, signed) -> None:
    client = api(cast.bob)
    envelope = signed(ref="weekly-1")
    first = client.post(URL, envelope, format="json")
    before = audit_size()
    again = client.post(URL, envelope, format="json")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Batch.objects.count() == 1 and audit_size() == before


def test_the_same_ref_with_another_payload_is_a_409(cast, api, signed) -> None:
    client = api(cast.bob)
    assert client.post(URL, signed(ref="weekly-1"), format="json").status_code == 202
    body = assert_problem(client.post(URL, signed(ref="weekly-1", note="changed"), format="json"), 409)
    assert body["errors"][0]["pointer"] == "/payload/ref"
    assert Batch.objects.count() == 1


def test_another_member_may_use_the_same_ref(cast, api, signed, globex_key) -> None:
    assert api(cast.bob).post(URL, signed(ref="r1"), format="json").status_code == 202
    envelope = signed(key=globex_key, member="globex", ref="r1")
    assert api(cast.gina).post(URL, envelope, format="json").status_code == 202


def _tamper_value(envelope: dict) -> dict:
    envelope["payload"]["items"][0]["value"] = random_hex(32)
    return envelope


def _tamper_whitespace(envelope: dict) -> dict:
    envelope["payload"]["ref"] = envelope["payload"]["ref"] + " "
    return envelope


def _header(envelope: dict, **changes: object) -> dict:
    head, _, sig = envelope["signature"].split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    header.update(changes)
    header = {k: v for k, v in header.items() if v is not None}
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return {**envelope, "signature": f"{encoded}..{sig}"}


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (_tamper_value, "bad_signature"),
        (_tamper_whitespace, "bad_signature"),
        (lambda e: _header(e, alg="none"), "alg_not_allowed"),
        (lambda e: _header(e, alg="HS256"), "alg_not_allowed"),
        (lambda e: _header(e, alg=None), "alg_not_allowed"),
        (lambda e: _header(e, kid=None), "missing_kid"),
        (lambda e: _header(e, typ=None), "wrong_typ"),
        (lambda e: _header(e, typ="consortium-release+jws"), "wrong_typ"),
        (lambda e: _header(e, kid="someone-elses-kid"), "unknown_key"),
        (lambda e: {**e, "signature": e["signature"].replace("..", ".x.")}, "malformed_signature"),
        (lambda e: {"payload": e["payload"]}, "malformed_signature"),
        (lambda e: {**e, "payload": "not an object"}, "malformed_envelope"),
    ],
)
def test_a_bad_signature_refuses_the_whole_batch(cast, api, signed, tamper, code: str) -> None:
    client = api(cast.bob)
    envelope = tamper(signed())
    before = audit_size()
    body = assert_problem(client.post(URL, envelope, format="json"), 422)
    assert body["errors"][0]["code"] == code
    _nothing_stored(before)


def test_a_signature_by_an_unregistered_key_is_refused(cast, api, signed) -> None:
    client = api(cast.bob)
    before = audit_size()
    body = assert_problem(client.post(URL, signed(key=signing.generate_private_key()), format="json"), 422)
    assert body["errors"][0]["code"] == "unknown_key"
    _nothing_stored(before)


def test_a_revoked_key_signs_no_more_batches(cast, api, signed, acme_key) -> None:
    client = api(cast.bob)
    key_revoke(actor=SYSTEM, key=MemberKey.objects.get(member=cast.acme))
    before = audit_size()
    assert assert_problem(client.post(URL, signed(), format="json"), 422)["errors"][0]["code"] == "unknown_key"
    _nothing_stored(before)


def test_another_members_key_cannot_sign_for_acme(cast, api, signed, globex_key) -> None:
    client = api(cast.bob)
    before = audit_size()
    body = assert_problem(client.post(URL, signed(key=globex_key), format="json"), 422)
    assert body["errors"][0]["code"] == "unknown_key"
    _nothing_stored(before)


def test_a_payload_naming_another_member_is_refused(cast, api, globex_key) -> None:
    # Charlie (Globex) signs with Globex's key a payload that claims to be Acme's.
    envelope = signing.sign(payload("acme"), key=globex_key, typ=signing.TYP_BATCH)
    client = api(cast.charlie)
    before = audit_size()
    body = assert_problem(client.post(URL, envelope, format="json"), 403)
    assert body["errors"][0]["pointer"] == "/payload/member"
    _nothing_stored(before)


def test_every_bad_item_is_listed_with_its_pointer_and_nothing_is_stored(cast, api, signed) -> None:
    client = api(cast.bob)
    items = [
        {"kind": "md5", "value": random_hex(32)},
        {"kind": "md5", "value": "xyz"},
        {"kind": "sha1", "value": random_hex(32)},
        {"kind": "pdq", "value": random_hex(64), "quality": 10},
        {"kind": "ssdeep", "value": "3:abc"},
        {"kind": "url", "value": "ftp://example.com/"},
        {"kind": "md5", "value": random_hex(32), "labels": ["no-such-label"]},
        "not an object",
        {"kind": "md5", "value": random_hex(32), "colour": "red"},
    ]
    before = audit_size()
    body = assert_problem(client.post(URL, signed(items=items), format="json"), 422)
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
        ("/payload/items/1/value", "invalid_length"),
        ("/payload/items/2/value", "invalid_length"),
        ("/payload/items/3/quality", "low_quality"),
        ("/payload/items/4/kind", "unknown_kind"),
        ("/payload/items/5/value", "invalid_scheme"),
        ("/payload/items/6/labels/0", "unknown_label"),
        ("/payload/items/7", "invalid_item"),
        ("/payload/items/8/colour", "unknown_field"),
    ]
    _nothing_stored(before)


def test_at_most_1000_item_errors_are_listed_but_all_are_counted(cast, api, signed) -> None:
    client = api(cast.bob)
    body = assert_problem(client.post(URL, signed(items=[{"kind": "md5", "value": "x"}] * 1500), format="json"), 422)
    assert len(body["errors"]) == 1000 and "1500 invalid items" in body["detail"]


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"ref": ""}, "/payload/ref"),
        ({"ref": "x" * 129}, "/payload/ref"),
        ({"ref": 7}, "/payload/ref"),
        ({"issued_at": "yesterday"}, "/payload/issued_at"),
        ({"issued_at": "2026-11-21T10:00:00"}, "/payload/issued_at"),
        ({"issued_at": "2999-01-01T00:00:00Z"}, "/payload/issued_at"),
        ({"labels": ["no-such-label"]}, "/payload/labels/0"),
        ({"labels": "islamic-state"}, "/payload/labels"),
        ({"labels": ["image", "image"]}, "/payload/labels"),
        ({"note": 5}, "/payload/note"),
        ({"items": []}, "/payload/items"),
        ({"items": {"kind": "md5"}}, "/payload/items"),
        ({"colour": "red"}, "/payload/colour"),
    ],
)
def test_bad_header_fields_are_refused(cast, api, signed, fields: dict, pointer: str) -> None:
    client = api(cast.bob)
    before = audit_size()
    body = assert_problem(client.post(URL, signed(**fields), format="json"), 422)
    assert pointer in [e["pointer"] for e in body["errors"]]
    _nothing_stored(before)


def test_a_retired_label_is_refused_for_new_batches(cast, api, signed) -> None:
    from django.utils import timezone

    Label.objects.filter(slug="islamic-state").update(retired=timezone.now())
    body = assert_problem(api(cast.bob).post(URL, signed(), format="json"), 422)
    assert body["errors"][0]["pointer"] == "/payload/labels/0"


def test_more_than_100000_items_are_refused(cast, api, signed) -> None:
    items = [{"kind": "md5", "value": f"{n:032x}"} for n in range(100_001)]
    body = assert_problem(api(cast.bob).post(URL, signed(items=items), format="json"), 422)
    assert body["errors"][0]["code"] == "too_many_items"
    assert not Batch.objects.exists()


@override_settings(BATCH_MAX_BODY_BYTES=4096)
def test_a_body_over_the_batch_limit_is_a_413(cast, api, signed) -> None:
    client = api(cast.bob)
    items = [{"kind": "md5", "value": random_hex(32)} for _ in range(100)]
    before = audit_size()
    assert assert_problem(client.post(URL, signed(items=items), format="json"), 413)["max_bytes"] == 4096
    _nothing_stored(before)


def test_the_batch_limit_is_larger_than_the_default_api_limit(cast, api, signed) -> None:
    # ~1.3 MB: over API_MAX_BODY_BYTES (1 MiB) but within BATCH_MAX_BODY_BYTES.
    items = [{"kind": "sha256", "value": random_hex(64)} for _ in range(12_000)]
    assert api(cast.bob).post(URL, signed(items=items), format="json").status_code == 202


def test_floats_in_the_payload_are_refused(cast, api, signed, acme_key) -> None:
    envelope = signed(items=[{"kind": "pdq", "value": random_hex(64), "quality": 90}])
    envelope["payload"]["items"][0]["quality"] = 90.0
    body = assert_problem(api(cast.bob).post(URL, envelope, format="json"), 422)
    assert body["errors"][0]["code"] == "float_in_payload"


@pytest.mark.parametrize(("who", "status"), [("alice", 202), ("bob", 202), ("rita", 403), ("audrey", 403), ("stan", 403)])
def test_admins_and_analysts_submit_and_others_may_not(cast, api, signed, who: str, status: int) -> None:
    assert api(getattr(cast, who)).post(URL, signed(), format="json").status_code == status


def test_a_suspended_members_analyst_cannot_submit(cast, api, signed) -> None:
    from members.models import Member
    from members.services.members import member_set_status

    client = api(cast.bob)
    member_set_status(actor=SYSTEM, member=cast.acme, status=Member.Status.SUSPENDED)
    assert_problem(client.post(URL, signed(), format="json"), 403)
    assert not Batch.objects.exists()


@pytest.mark.parametrize("kind", [["md5"], {"k": 1}, 5, None, True])
def test_a_kind_that_is_not_a_string_is_an_item_error_not_a_crash(cast, api, signed, kind: object) -> None:
    body = assert_problem(api(cast.bob).post(URL, signed(items=[{"kind": kind, "value": "a" * 32}]), format="json"), 422)
    assert body["errors"][0]["pointer"] == "/payload/items/0/kind"
