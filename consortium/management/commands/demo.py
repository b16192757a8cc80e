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
        "tokens, workplace logins, a first release and batches awaiting votes) and run the "
        "development server. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-serve", action="store_true", help="set up and print, but do not start the server")
        parser.add_argument("--no-samples", action="store_true", help="do not submit the sample batches")

    def handle(self, *args: Any, **options: Any) -> None:
        say = self.stdout.write
        say("[1/5] Applying database migrations…")
        call_command("migrate", interactive=False, verbosity=0)
        say("[2/5] Consortium signing key…")
        active = consortium_key_sync()
        say(f"      kid {active.kid} (public keys: /.well-known/jwks.json)")
        say("[3/5] Demo members, users and member signing keys…")
        key_dir = settings.VAR_DIR / "demo-keys"
        tokens: list[tuple[str, str, str, str]] = []
        keys: dict[str, Any] = {}
        for slug, name in DEMO_MEMBERS:
            member = Member.objects.filter(slug=slug).first() or member_create(actor=SYSTEM, slug=slug, name=name)
            private = keys[slug] = signing.load_or_create_private_key(key_dir / f"{slug}.jwk")
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

        say("[4/5] Workplace logins (one password for every demo user, new on every run)…")
        password = secrets.token_urlsafe(12)
        staff = User.objects.filter(username="staff").first() or user_create(
            actor=SYSTEM, username="staff", member=None, role=None, is_staff=True
        )
        staff.is_superuser = True
        staff.save(update_fields=["is_superuser"])
        for user in User.objects.filter(username__in=[t[1] for t in tokens] + ["staff"]):
            user.set_password(password)
            user.save(update_fields=["password"])
        say("[5/5] Sample batches…")
        if options["no_samples"]:
            say("      skipped (--no-samples)")
        elif samples_submit(keys):
            say("      a first release from acme, and batches from globex and initech awaiting votes")
        else:
            say("      there are batches already; none added")

        say("")
        say(f"{'member':8} {'user':16} {'role':8} API token (new on every run; older ones stay valid)")
        for slug, username, role, secret in tokens:
            say(f"{slug:8} {username:16} {role:8} {secret}")
        host = options["addrport"] if ":" in options["addrport"] else f"127.0.0.1:{options['addrport']}"
        say("")
        say(f"Workplace: http://{host}/admin/   users staff, auditor, <member>-admin, <member>-analyst; password {password}")
        say(f"API docs: http://{host}/api/v1/docs")
        say(f"Try:      curl -H 'Authorization: Bearer {tokens[0][3]}' http://{host}/api/v1/members/me")
        if not options["no_serve"]:
            call_command("runserver", options["addrport"], use_reloader=False)


def samples_submit(keys: dict[str, Any]) -> bool:
    """A little history for the workplace: Acme's batch published, then batches of Globex (with
    near-duplicates of Acme's) and Initech voting. Through the services, as members would. False
    if any batch exists."""
    import random

    from hashes.models import Batch
    from hashes.services.batches import batch_submit
    from hashes.services.dedup import batch_deduplicate
    from hashes.services.releases import release_publish_batch
    from hashes.services.votes import vote_cast

    if Batch.objects.exists():
        return False
    rng = random.Random(2019)
    pdq = [f"{rng.getrandbits(256):064x}" for _ in range(20)]

    def near(value: str, bits: int) -> str:
        number = int(value, 16)
        for bit in rng.sample(range(256), bits):
            number ^= 1 << bit
        return f"{number:064x}"

    def submit(slug: str, ref: str, labels: list[str], items: list[dict[str, Any]], note: str) -> Batch:
        user = User.objects.get(username=f"{slug}-analyst")
        payload = {"member": slug, "ref": ref, "issued_at": "2026-11-20T09:00:00Z", "labels": labels, "note": note, "items": items}
        batch = batch_submit(user=user, envelope=signing.sign(payload, key=keys[slug], typ=signing.TYP_BATCH)).batch
        return batch_deduplicate(batch_id=batch.pk)

    first = submit("acme", "demo-propaganda-1", ["islamic-state", "image", "glorification"],
                   [{"kind": "pdq", "value": v, "quality": 90} for v in pdq]
                   + [{"kind": "md5", "value": f"{rng.getrandbits(128):032x}"} for _ in range(5)],
                   "Propaganda stills removed from our platform this week")
    for voter in ("globex-analyst", "initech-analyst"):
        vote_cast(user=User.objects.get(username=voter), batch=first, decision="approve", reason="Checked a sample")
    release_publish_batch(batch_id=first.pk)
    submit("globex", "demo-reuploads-1", ["islamic-state", "image", "radicalisation"],
           [{"kind": "pdq", "value": near(v, rng.randint(4, 24)), "quality": 80} for v in pdq[:6]]
           + [{"kind": "pdq", "value": f"{rng.getrandbits(256):064x}", "quality": 75} for _ in range(10)],
           "Re-uploads with overlays and crops")
    submit("initech", "demo-attack-video-1", ["attacker", "video", "graphic-violence"],
           [{"kind": "video_md5", "value": f"{rng.getrandbits(128):032x}"} for _ in range(4)]
           + [{"kind": "url", "value": "https://files.example.net/manifesto.pdf"}],
           "Attack footage and the attacker's manifesto")
    return True
