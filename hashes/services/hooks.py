"""What happens after a batch changes state, registered by the parts that care.

Two events, each announced from inside the transaction that made the change and delivered to
listeners once it has committed (never for a change that rolled back):
- `batch_voting_opened(batch_id)`: dedup finished and the batch opened for voting;
- `batch_decided(batch_id, decision)`: approved, rejected, expired or withdrawn;
- `release_published(seq)`: a release was published.
Listeners should only enqueue work (a Celery task), never change state themselves. Publishing
registers on `batch_decided` (hashes/apps.py); propagation to member endpoints registers on both,
so the voting code imports neither.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

BatchDecidedListener = Callable[[int, str], None]
BatchVotingOpenedListener = Callable[[int], None]
ReleasePublishedListener = Callable[[int], None]
_decided: list[BatchDecidedListener] = []
_voting_opened: list[BatchVotingOpenedListener] = []
_published: list[ReleasePublishedListener] = []


def on_batch_decided(listener: BatchDecidedListener) -> BatchDecidedListener:
    """Register `listener(batch_id, decision)`; usable as a decorator. Registering twice is a no-op."""
    if listener not in _decided:
        _decided.append(listener)
    return listener


def remove_batch_decided_listener(listener: BatchDecidedListener) -> None:
    if listener in _decided:
        _decided.remove(listener)


def on_batch_voting_opened(listener: BatchVotingOpenedListener) -> BatchVotingOpenedListener:
    """Register `listener(batch_id)`; usable as a decorator. Registering twice is a no-op."""
    if listener not in _voting_opened:
        _voting_opened.append(listener)
    return listener


def remove_batch_voting_opened_listener(listener: BatchVotingOpenedListener) -> None:
    if listener in _voting_opened:
        _voting_opened.remove(listener)


def on_release_published(listener: ReleasePublishedListener) -> ReleasePublishedListener:
    """Register `listener(seq)`; usable as a decorator. Registering twice is a no-op."""
    if listener not in _published:
        _published.append(listener)
    return listener


def _after_commit(listeners: list, *args: object) -> None:
    def notify() -> None:
        for listener in list(listeners):
            try:
                listener(*args)
            except Exception:  # one failing listener must not keep the others from their work
                log.exception("listener %r failed for %r", listener, args)

    transaction.on_commit(notify)


def batch_decided(batch_id: int, decision: str) -> None:
    """Call inside the deciding transaction: listeners run once it has committed."""
    _after_commit(_decided, batch_id, decision)


def batch_voting_opened(batch_id: int) -> None:
    """Call inside the transaction that opened voting: listeners run once it has committed."""
    _after_commit(_voting_opened, batch_id)


def release_published(seq: int) -> None:
    """Call inside the publishing transaction: listeners run once it has committed."""
    _after_commit(_published, seq)
