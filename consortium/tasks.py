from __future__ import annotations

from celery import shared_task
from django.db import connection


@shared_task(acks_late=True)
def ping() -> dict[str, str]:
    """Proves the wiring: a worker received this from the broker and reached the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"pong": "ok", "database": connection.vendor}
