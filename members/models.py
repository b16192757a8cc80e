from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class Member(models.Model):
    """A member company of the consortium: it submits, votes and syncs through its users."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended"]), name="%(app_label)s_%(class)s_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    ANALYST = "analyst", "Analyst"
    READER = "reader", "Reader"
    AUDITOR = "auditor", "Auditor"


class User(AbstractUser):
    """A person or machine acting for one member with one role; consortium staff are `is_staff`."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    role = models.CharField(max_length=16, choices=Role.choices, null=True, blank=True)

    class Meta:
        ordering = ["username"]
        constraints = [
            # Admins, analysts and readers act for a member; an auditor may belong to none.
            models.CheckConstraint(
                condition=models.Q(role__in=["auditor"]) | models.Q(role__isnull=True) | models.Q(member__isnull=False),
                name="%(app_label)s_%(class)s_member_role_has_member",
            ),
            models.CheckConstraint(
                condition=models.Q(role__isnull=True) | models.Q(role__in=[r.value for r in Role]),
                name="%(app_label)s_%(class)s_role_valid",
            ),
        ]


class ApiToken(models.Model):
    """A bearer token of one user. Only its SHA-256 is stored; the token is shown once."""

    PREFIX = "cst_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100, blank=True)
    # The first characters of the token, to tell tokens apart in lists; not enough to use it.
    prefix = models.CharField(max_length=16)
    # Authentication looks tokens up by this digest (unique index).
    digest = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"

    @staticmethod
    def digest_of(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def is_usable(self, now: timezone.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked is None and (self.expires is None or self.expires > now)


class MemberKey(models.Model):
    """A member's public Ed25519 signing key (RFC 8037 JWK); revoked keys stay for audit."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="keys")
    # RFC 7638 thumbprint; unique across members, so no two members can register the same key.
    kid = models.CharField(max_length=64, unique=True)
    public_jwk = models.JSONField()
    name = models.CharField(max_length=100, blank=True)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # Serves signature checks: the member's active key by kid.
            models.Index(fields=["member", "kid"], condition=models.Q(revoked__isnull=True), name="members_key_active"),
        ]

    def __str__(self) -> str:
        return f"{self.member.slug}/{self.kid}"

    @property
    def is_active(self) -> bool:
        return self.revoked is None


class Endpoint(models.Model):
    """A member's webhook receiver (PROTOCOL §8): where releases and batch events are delivered."""

    class Event(models.TextChoices):
        RELEASE_PUBLISHED = "release.published", "release.published"
        BATCH_VOTING_OPENED = "batch.voting_opened", "batch.voting_opened"
        BATCH_DECIDED = "batch.decided", "batch.decided"

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="endpoints")
    url = models.URLField(max_length=2048)
    events = models.JSONField(default=list)
    description = models.CharField(max_length=200, blank=True)
    # Standard Webhooks signing secret (`whsec_` + base64). The server must sign with it, so it is
    # kept, not hashed; the API shows it only when it is created or rotated.
    secret = models.CharField(max_length=100)
    # During a rotation's overlap both secrets sign each delivery (Standard Webhooks allows several).
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    # Since when every attempt has failed (None after a success): long enough, and it is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.member.slug}: {self.url}"
