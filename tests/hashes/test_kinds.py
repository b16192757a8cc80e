"""Every fingerprint kind: valid values, invalid values, normalization."""
from __future__ import annotations

import pytest

from hashes.kinds import NAMES, REGISTRY, KindError, get_kind


def test_the_registry_finds_every_kind_of_the_protocol() -> None:
    assert set(NAMES) >= {"pdq", "md5", "sha1", "sha256", "video_md5", "url"}
    assert get_kind("nope") is None and get_kind(None) is None and get_kind(["md5"]) is None


@pytest.mark.parametrize(("kind", "digits"), [("md5", 32), ("sha1", 40), ("sha256", 64), ("video_md5", 32), ("pdq", 64)])
def test_hex_kinds_lowercase_and_check_length_and_digits(kind: str, digits: int) -> None:
    k = REGISTRY[kind]
    assert k.normalize("AB" * (digits // 2)) == "ab" * (digits // 2)
    assert k.normalize(" " + "0f" * (digits // 2) + "\n") == "0f" * (digits // 2)
    for bad, code in [("a" * (digits - 1), "invalid_length"), ("a" * (digits + 1), "invalid_length"),
                      ("g" * digits, "invalid_hex"), ("", "invalid_length"), (None, "invalid_type"),
                      (123, "invalid_type"), ("0x" + "a" * (digits - 2), "invalid_hex")]:
        with pytest.raises(KindError) as caught:
            k.normalize(bad)
        assert caught.value.code == code, bad


@pytest.mark.parametrize(
    ("quality", "code"), [(49, "low_quality"), (-1, "invalid_quality"), (101, "invalid_quality"), ("90", "invalid_quality"), (True, "invalid_quality"), (90.0, "invalid_quality")]
)
def test_pdq_quality_is_checked_against_the_policy(quality: object, code: str) -> None:
    with pytest.raises(KindError) as caught:
        REGISTRY["pdq"].check({"kind": "pdq", "value": "a" * 64, "quality": quality}, min_quality=50)
    assert (caught.value.code, caught.value.field) == (code, "quality")


def test_pdq_quality_at_the_minimum_is_kept() -> None:
    assert REGISTRY["pdq"].check({"kind": "pdq", "value": "A" * 64, "quality": 50}, min_quality=50).extras == {"quality": 50}


def test_fields_a_kind_does_not_know_are_refused() -> None:
    with pytest.raises(KindError) as caught:
        REGISTRY["md5"].check({"kind": "md5", "value": "a" * 32, "quality": 90}, min_quality=50)
    assert caught.value.field == "quality"


def test_pdq_distance_is_the_hamming_distance() -> None:
    pdq = REGISTRY["pdq"]
    assert pdq.distance("0" * 64, "0" * 64) == 0
    assert pdq.distance("0" * 64, "f" * 64) == 256
    assert pdq.distance("0" * 63 + "7", "0" * 64) == 3


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("HTTP://Example.COM/Path", "http://example.com/Path"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80", "http://example.com/"),
        ("http://example.com:8080/a?b=C#frag", "http://example.com:8080/a?b=C"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com/%7euser/%2f%2F", "https://example.com/~user/%2F%2F"),
        ("https://bücher.example/ü", "https://xn--bcher-kva.example/%C3%BC"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("https://user:pw@Example.com/", "https://user:pw@example.com/"),
    ],
)
def test_urls_are_normalized_so_one_page_has_one_value(raw: str, normalized: str) -> None:
    assert REGISTRY["url"].normalize(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    ["ftp://example.com/", "example.com/path", "/relative", "https://", "http://exa mple.com/",
     "https://example.com:99999/", "javascript:alert(1)", "https://example.com/" + "a" * 2048, 42, None],
)
def test_bad_urls_are_refused(raw: object) -> None:
    with pytest.raises(KindError):
        REGISTRY["url"].normalize(raw)


@pytest.mark.parametrize("kind", ["md5", "sha1", "sha256", "video_md5", "pdq"])
def test_whitespace_inside_a_hex_value_is_refused_one_by_one_and_in_bulk(kind: str) -> None:
    k = REGISTRY[kind]
    digits = k.hex_digits
    sneaky = "ab " * ((digits - 2) // 2)  # what bytes.fromhex would accept
    sneaky = (sneaky.replace(" ", "") + "  ")[:digits]
    sneaky = sneaky[:4] + "  " + sneaky[4 : digits - 2]
    assert len(sneaky) == digits
    with pytest.raises(KindError):
        k.normalize(sneaky)
    good = {"kind": kind, "value": "ab" * (digits // 2)}
    results = k.check_many([good, {"kind": kind, "value": sneaky}, good], min_quality=50)
    assert [type(r).__name__ for r in results] == ["Checked", "KindError", "Checked"]
