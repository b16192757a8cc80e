from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from hashes.pdq_index import warm_up


class Command(BaseCommand):
    help = (
        "Compile the PDQ index's numba kernels into numba's cache (NUMBA_CACHE_DIR), so the first "
        "dedup or match after a deploy does not wait for the compilation. Safe to run again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Compiling the PDQ kernels (or loading them from the cache)…")
        seconds = warm_up()
        self.stdout.write(f"done in {seconds:.1f} s" if seconds else "numba is not available: the numpy engine needs no compiling")
