from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consortium.audit.services import SYSTEM
from consortium.errors import DomainError
from members.models import User
from members.services.tokens import token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it as the last line (it is shown once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--expires-days", type=int, default=None, help="lifetime in days (default: no expiry)")
        parser.add_argument("--name", default="created by token_create", help="a label to tell tokens apart")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.select_related("member").filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}. Create it with member_create or in the admin.")
        try:
            token, secret = token_create(actor=SYSTEM, user=user, name=options["name"], expires_days=options["expires_days"])
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        expiry = f"expires {token.expires:%Y-%m-%d %H:%M} UTC" if token.expires else "never expires"
        self.stdout.write(f"Token {token.prefix}… for {user.username} ({expiry}); shown once:")
        self.stdout.write(secret)
