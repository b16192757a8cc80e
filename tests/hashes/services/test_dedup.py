"""Deduplication: exact and PDQ near-duplicates, within a batch and against published ones."""
from __future__ import annotations

import random

import pytest

from consortium import signing
from hashes.models import Batch, BatchItem, Fingerprint, Policy
from hashes.services.batches import batch_submit
from hashes.services.dedup import batch_deduplicate
from tests.conftest import audit_actions
from tests.hashes.conftest import payload, publish, random_hex

pytestmark = pytest.mark.django_db


def flip(value: str, bits: int, *, seed: int = 0) -> str:
    """`value` with `bits` distinct bits flipped."""
    number = int(value, 16)
    for bit in random.Random(seed).sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def submit(cast, key, items: list[dict]) -> Batch:
    """A received batch, stored by the service (its dedup task would run after commit; the
    tests call the dedup service themselves)."""
    envelope = signing.sign(payload(items=items), key=key, typ=signing.TYP_BATCH)
    return batch_submit(user=cast.bob, envelope=envelope).batch


def outcomes(batch: Batch) -> list[tuple]:
    return list(
        BatchItem.objects.filter(batch=batch).order_by("position").values_list(
            "outcome", "match_fingerprint_id", "match_position", "distance"
        )
    )


@pytest.mark.parametrize(("bits", "expected"), [(0, "duplicate"), (1, "near_duplicate"), (31, "near_duplicate"), (32, "new")])
def test_planted_near_duplicates_at_0_1_and_31_bits_are_found_and_32_is_not(cast, acme_key, bits: int, expected: str) -> None:
    base = random_hex(64)
    published = publish("pdq", base)
    batch = submit(cast, acme_key, [{"kind": "pdq", "value": flip(base, bits, seed=bits)}])
    batch_deduplicate(batch_id=batch.pk)
    if expected == "new":
        assert outcomes(batch) == [("new", None, None, None)]
    else:
        assert outcomes(batch) == [(expected, published.pk, None, bits)]


def test_within_the_batch_the_nearest_earlier_item_is_recorded(cast, acme_key) -> None:
    base = random_hex(64)
    batch = submit(cast, acme_key, [
        {"kind": "pdq", "value": base},
        {"kind": "pdq", "value": flip(base, 31, seed=1)},
        {"kind": "pdq", "value": flip(base, 32, seed=2)},
    ])
    batch_deduplicate(batch_id=batch.pk)
    result = outcomes(batch)
    assert result[0] == ("new", None, None, None)
    assert result[1] == ("near_duplicate", None, 0, 31)
    # Item 2 is 32 bits from item 0; it is near item 1 only if their flips overlap enough.
    distance_to_1 = (int(flip(base, 31, seed=1), 16) ^ int(flip(base, 32, seed=2), 16)).bit_count()
    assert result[2] == (("near_duplicate", None, 1, distance_to_1) if distance_to_1 <= 31 else ("new", None, None, None))


def test_exact_duplicates_within_the_batch_point_to_the_first_copy(cast, acme_key) -> None:
    md5 = random_hex(32)
    batch = submit(cast, acme_key, [
        {"kind": "md5", "value": md5},
        {"kind": "sha1", "value": random_hex(40)},
        {"kind": "md5", "value": md5.upper()},
        {"kind": "url", "value": "https://example.com/a"},
        {"kind": "url", "value": "HTTPS://EXAMPLE.com:443/a#x"},
    ])
    batch_deduplicate(batch_id=batch.pk)
    assert outcomes(batch) == [
        ("new", None, None, None),
        ("new", None, None, None),
        ("duplicate", None, 0, 0),
        ("new", None, None, None),
        ("duplicate", None, 3, 0),
    ]


def test_exact_kinds_never_match_across_kinds_or_retracted_or_unpublished_fingerprints(cast, acme_key) -> None:
    value = random_hex(32)
    publish("video_md5", value)
    retracted = random_hex(32)
    publish("md5", retracted, status="retracted", removed_seq=2)

    unpublished = random_hex(32)
    Fingerprint.objects.create(kind="md5", value=unpublished)  # not yet in any release
    batch = submit(cast, acme_key, [{"kind": "md5", "value": v} for v in (value, retracted, unpublished)])
    batch_deduplicate(batch_id=batch.pk)
    assert [o[0] for o in outcomes(batch)] == ["new", "new", "new"]


def test_dedup_opens_voting_with_counts_and_one_audit_entry_and_is_idempotent(cast, acme_key) -> None:
    md5 = random_hex(32)
    batch = submit(cast, acme_key, [{"kind": "md5", "value": md5}, {"kind": "md5", "value": md5}])
    before = audit_actions()
    first = batch_deduplicate(batch_id=batch.pk)
    second = batch_deduplicate(batch_id=batch.pk)
    assert first.status == second.status == "voting" and first.voting_opened is not None
    assert (first.new_count, first.duplicate_count, first.near_duplicate_count) == (1, 1, 0)
    assert audit_actions()[len(before):] == ["batch.voting_opened"]


def test_a_rerun_after_a_crash_overwrites_partial_outcomes(cast, acme_key) -> None:
    batch = submit(cast, acme_key, [{"kind": "md5", "value": random_hex(32)}])
    # A crash after writing outcomes but before committing cannot happen (one transaction),
    # but a half-written state from an older version must not survive a run either.
    BatchItem.objects.filter(batch=batch).update(outcome="duplicate", match_position=7, distance=0)
    batch_deduplicate(batch_id=batch.pk)
    assert outcomes(batch) == [("new", None, None, None)]


def test_near_duplicates_use_the_policy_distance(cast, acme_key) -> None:
    Policy.objects.filter(id=1).update(pdq_max_distance=10)
    base = random_hex(64)
    publish("pdq", base)
    batch = submit(cast, acme_key, [{"kind": "pdq", "value": flip(base, 10, seed=5)}, {"kind": "pdq", "value": flip(base, 11, seed=6)}])
    batch_deduplicate(batch_id=batch.pk)
    assert [o[0] for o in outcomes(batch)][0] == "near_duplicate"
    assert outcomes(batch)[1][1] is None  # 11 bits from the published one: not near it


def test_dedup_agrees_with_a_brute_force_reference_on_thousands_of_hashes(cast, acme_key) -> None:
    rng = random.Random(42)
    published_values = [f"{rng.getrandbits(256):064x}" for _ in range(2000)]
    for n, value in enumerate(published_values):
        publish("pdq", value, seq=1 + n // 500)
    items = []
    for n in range(1500):
        choice = rng.random()
        if choice < 0.3:
            value = flip(rng.choice(published_values), rng.randint(0, 40), seed=n)
        elif choice < 0.5 and items:
            value = flip(rng.choice(items), rng.randint(0, 40), seed=n)
        else:
            value = f"{rng.getrandbits(256):064x}"
        items.append(value)
    batch = submit(cast, acme_key, [{"kind": "pdq", "value": v} for v in items])
    batch_deduplicate(batch_id=batch.pk)

    ids = dict(Fingerprint.objects.values_list("value", "id"))

    def hamming(a: str, b: str) -> int:
        return (int(a, 16) ^ int(b, 16)).bit_count()

    expected = []
    first_position: dict[str, int] = {}
    for position, value in enumerate(items):
        if value in ids:
            expected.append(("duplicate", ids[value], None, 0))
        elif value in first_position:
            expected.append(("duplicate", None, first_position[value], 0))
        else:
            near_published = sorted((hamming(value, p), ids[p]) for p in published_values if hamming(value, p) <= 31)
            earlier = sorted(
                (hamming(value, items[q]), q) for q in first_position.values() if hamming(value, items[q]) <= 31
            )
            options = []
            if near_published:
                options.append((near_published[0][0], 0, ("near_duplicate", near_published[0][1], None, near_published[0][0])))
            if earlier:
                options.append((earlier[0][0], 1, ("near_duplicate", None, earlier[0][1], earlier[0][0])))
            expected.append(min(options)[2] if options else ("new", None, None, None))
        first_position.setdefault(value, position)
    assert outcomes(batch) == expected
    assert sum(1 for e in expected if e[0] == "near_duplicate") > 100  # the test plants enough of them
