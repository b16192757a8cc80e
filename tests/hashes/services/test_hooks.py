"""Listeners of batch decisions run after the deciding transaction commits, once."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from hashes.services import hooks
from hashes.services.batches import batch_withdraw
from hashes.services.votes import vote_cast

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[list[tuple[int, str]]]:
    calls: list[tuple[int, str]] = []

    def listener(batch_id: int, decision: str) -> None:
        calls.append((batch_id, decision))

    hooks.on_batch_decided(listener)
    yield calls
    hooks.remove_batch_decided_listener(listener)


def test_a_decision_is_announced_after_commit(cast, voting_batch, ivan, heard, django_capture_on_commit_callbacks) -> None:
    batch = voting_batch()
    with django_capture_on_commit_callbacks(execute=True):
        vote_cast(user=cast.gina, batch=batch, decision="approve")
    assert heard == []
    with django_capture_on_commit_callbacks(execute=False) as pending:
        vote_cast(user=ivan, batch=batch, decision="approve")
    assert heard == []  # not before the commit
    for callback in pending:
        callback()
    assert heard == [(batch.pk, "approved")]


def test_a_withdrawal_is_announced_too(cast, voting_batch, heard, django_capture_on_commit_callbacks) -> None:
    batch = voting_batch()
    with django_capture_on_commit_callbacks(execute=True):
        batch_withdraw(user=cast.bob, batch=batch)
    assert heard == [(batch.pk, "withdrawn")]


def test_a_failing_listener_does_not_stop_the_ones_after_it(cast, voting_batch, django_capture_on_commit_callbacks) -> None:
    calls: list[int] = []

    def broken(batch_id: int, decision: str) -> None:
        raise RuntimeError("listener bug")

    def after(batch_id: int, decision: str) -> None:
        calls.append(batch_id)

    hooks.on_batch_decided(broken)
    hooks.on_batch_decided(after)
    try:
        batch = voting_batch()
        with django_capture_on_commit_callbacks(execute=True):
            batch_withdraw(user=cast.bob, batch=batch)
    finally:
        hooks.remove_batch_decided_listener(broken)
        hooks.remove_batch_decided_listener(after)
    assert calls == [batch.pk]


def test_opening_for_voting_is_announced_after_commit(cast, signed, django_capture_on_commit_callbacks) -> None:
    from hashes.services.batches import batch_submit
    from hashes.services.dedup import batch_deduplicate

    opened: list[int] = []
    hooks.on_batch_voting_opened(opened.append)
    try:
        batch = batch_submit(user=cast.bob, envelope=signed()).batch
        with django_capture_on_commit_callbacks(execute=False) as pending:
            batch_deduplicate(batch_id=batch.pk)
            batch_deduplicate(batch_id=batch.pk)  # idempotent: announced once
        assert opened == []
        for callback in pending:
            callback()
    finally:
        hooks.remove_batch_voting_opened_listener(opened.append)
    assert opened == [batch.pk]
