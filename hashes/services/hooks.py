"""What happens after a batch is decided, registered by the parts that care.

`batch_decided` runs its listeners after the deciding transaction commits, with the batch id
and the decision; listeners should only enqueue work (a Celery task), never change state
themselves. The releases code registers publishing here and propagation registers the
`batch.decided` event, so the voting code does not import either.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

log = logging.getLogger(__name__)

BatchDecidedListener = Callable[[int, str], None]
_listeners: list[BatchDecidedListener] = []


def on_batch_decided(listener: BatchDecidedListener) -> BatchDecidedListener:
    """Register `listener(batch_id, decision)`; usable as a decorator. Registering twice is a no-op."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def remove_batch_decided_listener(listener: BatchDecidedListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def batch_decided(batch_id: int, decision: str) -> None:
    """Call inside the deciding transaction: listeners run once it has committed."""

    def notify() -> None:
        for listener in list(_listeners):
            try:
                listener(batch_id, decision)
            except Exception:  # one failing listener must not keep the others from their work
                log.exception("batch_decided listener %r failed for batch %s", listener, batch_id)

    transaction.on_commit(notify)
