from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from client.consortium_client.audit_verify import VerificationError, verify_export


class Command(BaseCommand):
    help = (
        "Verify an audit-log export (.tar.gz from /api/v1/audit/export) offline: checkpoint signature, "
        "every entry, the Merkle root, documents and their signatures. Same as "
        "`python -m consortium_client.audit_verify` in client/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("export", help="the .tar.gz file")
        parser.add_argument("--previous-checkpoint", metavar="FILE", help="an older checkpoint: check the log only grew")
        parser.add_argument("--vkey", metavar="VKEY", help="the log's verifier key you trust")

    def handle(self, *args: Any, **options: Any) -> None:
        previous = None
        if options["previous_checkpoint"]:
            try:
                previous = Path(options["previous_checkpoint"]).read_text()
            except OSError as exc:
                raise CommandError(str(exc)) from None
        try:
            verify_export(
                options["export"],
                previous_checkpoint=previous,
                trusted_vkey=options["vkey"],
                say=self.stdout.write,
            )
        except (VerificationError, OSError) as exc:
            raise CommandError(f"FAILED: {exc}") from None
        self.stdout.write("OK: the export verifies")
