from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from consortium.celery import app


class Command(BaseCommand):
    help = (
        "Run every periodic task of the beat schedule once, in this process (or every --every "
        "seconds). For the embedded demo, which has no beat; production runs `celery beat`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=int, default=0, help="repeat every N seconds until interrupted")

    def handle(self, *args: Any, **options: Any) -> None:
        app.loader.import_default_modules()
        while True:
            for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
                result = app.tasks[entry["task"]].apply()
                self.stdout.write(f"{name}: {result.status} {result.result!r}")
            if not options["every"]:
                return
            time.sleep(options["every"])
