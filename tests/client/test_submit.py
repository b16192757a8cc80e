"""`submit`: CSV and JSON Lines become a signed batch the server can verify; refusals are shown."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from client.consortium_client import jose
from client.consortium_client.submit import MAX_ITEMS, InputError, read_items
from consortium import signing


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme.jwk"
    jose.write_private_jwk(path, Ed25519PrivateKey.generate())
    return path


def test_csv_rows_become_items_with_labels_and_quality() -> None:
    text = "pdq," + "A" * 64 + ",islamic-state;graphic-violence,90\nmd5,d41d8cd98f00b204e9800998ecf8427e\n\nurl,https://example.com/x,,\n"
    assert read_items(io.StringIO(text)) == [
        {"kind": "pdq", "value": "A" * 64, "labels": ["islamic-state", "graphic-violence"], "quality": 90},
        {"kind": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"},
        {"kind": "url", "value": "https://example.com/x"},
    ]


def test_a_csv_header_may_name_the_columns_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("value,kind,quality\n" + "b" * 64 + ",pdq,70\n")
    assert read_items(path) == [{"kind": "pdq", "value": "b" * 64, "quality": 70}]


def test_json_lines_are_read_as_items_and_floats_refused(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"kind": "md5", "value": "' + "0" * 32 + '", "labels": ["islamic-state"]}\n\n{"kind": "pdq", "value": "' + "1" * 64 + '", "quality": 80}\n')
    assert [item["kind"] for item in read_items(path)] == ["md5", "pdq"]
    path.write_text('{"kind": "pdq", "value": "' + "1" * 64 + '", "quality": 80.5}\n')
    with pytest.raises(InputError, match="line 1: .*integers only"):
        read_items(path)


def test_bad_lines_are_named() -> None:
    with pytest.raises(InputError, match="line 2: quality 'high' is not a whole number"):
        read_items(io.StringIO("md5," + "0" * 32 + "\npdq," + "1" * 64 + ",,high\n"))
    with pytest.raises(InputError, match="line 1: kind and value are required"):
        read_items(io.StringIO("md5,\n"))


def test_more_than_100000_items_are_refused_before_signing() -> None:
    text = "".join(f"md5,{i:032x}\n" for i in range(MAX_ITEMS + 1))
    with pytest.raises(InputError, match="at most 100,000 items"):
        read_items(io.StringIO(text))


def test_submit_posts_an_envelope_the_servers_verifier_accepts(fake, cli, key_file: Path, tmp_path: Path) -> None:
    items = tmp_path / "items.csv"
    items.write_text("md5," + "0" * 32 + "\npdq," + "1" * 64 + ",graphic-violence,90\n")
    status, out, err = cli("submit", "--key", str(key_file), "--member", "acme", "--ref", "weekly-47", "--labels", "islamic-state", str(items))
    assert status == 0, err
    assert json.loads(out)["status"] == "received"
    assert "signing: 2 items" in err and "uploading:" in err and "HTTP 202" in err
    method, path, headers, body = fake.requests[-1]
    assert (method, path) == ("POST", "/api/v1/batches")
    assert headers["Authorization"] == "Bearer cst_test" and headers["Content-Length"] == str(len(body))
    envelope = json.loads(body)
    public = signing.public_key_from_jwk(jose.public_jwk(jose.read_private_jwk(key_file)))
    verified = signing.verify(envelope, typ=signing.TYP_BATCH, resolve_key=lambda kid: public if kid == signing.thumbprint(public) else None)
    payload = verified.payload
    assert body.startswith(b'{"payload":' + verified.canonical)
    assert (payload["member"], payload["ref"], payload["labels"]) == ("acme", "weekly-47", ["islamic-state"])
    assert payload["issued_at"].endswith("Z") and len(payload["items"]) == 2
    assert payload["items"][1] == {"kind": "pdq", "value": "1" * 64, "labels": ["graphic-violence"], "quality": 90}


def test_a_refusal_prints_the_title_detail_and_pointers_and_exits_1(fake, cli, key_file: Path, tmp_path: Path) -> None:
    fake.answers[("POST", "/api/v1/batches")] = (422, {
        "type": "/problems/validation-error", "title": "Invalid request", "status": 422,
        "detail": "12 of the items are invalid; the batch was not stored.",
        "errors": [{"pointer": f"/payload/items/{i}/value", "code": "invalid_md5", "message": "md5 is 32 hex digits."} for i in range(12)],
    })
    items = tmp_path / "items.csv"
    items.write_text("md5,nothex\n")
    status, out, err = cli("submit", "--key", str(key_file), "--member", "acme", "--ref", "r1", str(items))
    assert status == 1 and out == ""
    assert "422 Invalid request: 12 of the items are invalid; the batch was not stored." in err
    assert "/payload/items/0/value: md5 is 32 hex digits. [invalid_md5]" in err
    assert "/payload/items/9/value" in err and "/payload/items/10/value" not in err
    assert "and 2 more errors" in err


def test_an_unreachable_server_exits_3(cli, key_file: Path, tmp_path: Path) -> None:
    from client.consortium_client.__main__ import main

    items = tmp_path / "items.csv"
    items.write_text("md5," + "0" * 32 + "\n")
    status = main(["submit", "--server", "http://127.0.0.1:9", "--token", "t", "--key", str(key_file), "--member", "acme", "--ref", "r", "-q", str(items)])
    assert status == 3
