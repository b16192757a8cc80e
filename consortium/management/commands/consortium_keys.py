from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from consortium import signing
from consortium.keys.selectors import consortium_jwks
from consortium.keys.services import consortium_key_sync


class Command(BaseCommand):
    help = "Record the configured consortium signing key as active (retiring the previous one) and list all keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--new-private-key",
            action="store_true",
            help="only print a new private Ed25519 JWK for CONSORTIUM_SIGNING_KEY, and change nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_private_key"]:
            self.stdout.write(signing.private_key_to_json(signing.generate_private_key()))
            return
        active = consortium_key_sync()
        for key in consortium_jwks()["keys"]:
            state = "active " if key["kid"] == active.kid else "retired"
            self.stdout.write(f"{state} {key['kid']} created {key['created']} retired {key['retired']}")
