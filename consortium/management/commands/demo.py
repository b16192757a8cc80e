from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from consortium import signing
from consortium.audit.services import SYSTEM
from consortium.keys.services import consortium_key_sync
from members.models import Member, MemberKey, Role, User
from members.services.keys import key_add
from members.services.members import member_create
from members.services.tokens import token_create
from members.services.users import user_create

DEMO_MEMBERS = [("acme", "Acme Video"), ("globex", "Globex Social"), ("initech", "Initech Cloud")]
DEMO_ROLES = [("admin", Role.ADMIN), ("analyst", Role.ANALYST), ("sync", Role.READER)]


class Command(BaseCommand):
    help = (
        "Set up the embedded demo (migrate, consortium key, three members with users, keys and "
        "tokens, a staff login) and run the development server. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="set up and print, but do not start the server")

    def handle(self, *args: Any, **options: Any) -> None:
        say = self.stdout.write
        say("[1/4] Applying database migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        say("[2/4] Consortium signing key…")
        active = consortium_key_sync()
        say(f"      kid {active.kid} (public keys: /.well-known/jwks.json)")
        say("[3/4] Demo members, users and member signing keys…")
        key_dir = settings.VAR_DIR / "demo-keys"
        tokens: list[tuple[str, str, str, str]] = []
        for slug, name in DEMO_MEMBERS:
            member = Member.objects.filter(slug=slug).first() or member_create(actor=SYSTEM, slug=slug, name=name)
            private = signing.load_or_create_private_key(key_dir / f"{slug}.jwk")
            if not MemberKey.objects.filter(kid=signing.thumbprint(private)).exists():
                key_add(actor=SYSTEM, member=member, jwk=signing.public_jwk(private), name="demo key")
            say(f"      {slug:8} private key {key_dir / f'{slug}.jwk'} (kid {signing.thumbprint(private)})")
            for suffix, role in DEMO_ROLES:
                username = f"{slug}-{suffix}"
                user = User.objects.filter(username=username).first() or user_create(
                    actor=SYSTEM, username=username, member=member, role=role
                )
                tokens.append((slug, username, role, token_create(actor=SYSTEM, user=user, name="demo")[1]))
        auditor = User.objects.filter(username="auditor").first() or user_create(
            actor=SYSTEM, username="auditor", member=None, role=Role.AUDITOR
        )
        tokens.append(("-", auditor.username, Role.AUDITOR, token_create(actor=SYSTEM, user=auditor, name="demo")[1]))

        say("[4/4] Staff login for the admin…")
        password = secrets.token_urlsafe(12)
        staff = User.objects.filter(username="staff").first() or user_create(
            actor=SYSTEM, username="staff", member=None, role=None, is_staff=True
        )
        staff.is_superuser = True
        staff.set_password(password)
        staff.save(update_fields=["is_superuser", "password"])

        say("")
        say(f"{'member':8} {'user':16} {'role':8} API token (new on every run; older ones stay valid)")
        for slug, username, role, secret in tokens:
            say(f"{slug:8} {username:16} {role:8} {secret}")
        host = options["addrport"] if ":" in options["addrport"] else f"127.0.0.1:{options['addrport']}"
        say("")
        say(f"Admin:    http://{host}/admin/   user staff, password {password}")
        say(f"API docs: http://{host}/api/v1/docs")
        say(f"Try:      curl -H 'Authorization: Bearer {tokens[0][3]}' http://{host}/api/v1/members/me")
        if not options["no_serve"]:
            call_command("runserver", options["addrport"], use_reloader=False)
