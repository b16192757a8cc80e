from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from consortium.audit.services import SYSTEM
from consortium.errors import DomainError
from members.models import Role
from members.services.members import member_create
from members.services.tokens import token_create
from members.services.users import user_create


class Command(BaseCommand):
    help = "Create a member with its first admin user, and print that admin's API token as the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="short lowercase identifier, e.g. acme")
        parser.add_argument("--name", required=True, help="the company's display name")
        parser.add_argument("--admin", required=True, metavar="USERNAME", help="username of the member's first admin")
        parser.add_argument("--expires-days", type=int, default=None, help="token lifetime (default: no expiry)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                member = member_create(actor=SYSTEM, slug=options["slug"], name=options["name"])
                admin = user_create(actor=SYSTEM, username=options["admin"], member=member, role=Role.ADMIN)
                _, secret = token_create(actor=SYSTEM, user=admin, name="created by member_create", expires_days=options["expires_days"])
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Created member {member.slug} ({member.name}) with admin {admin.username}.")
        self.stdout.write("The admin's API token (shown once, store it now):")
        self.stdout.write(secret)
