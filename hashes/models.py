from __future__ import annotations

from django.db import models
from django.utils import timezone

from members.models import Member, MemberKey, User


class Label(models.Model):
    """A slug of the consortium's taxonomy that fingerprints carry (PROTOCOL §3)."""

    class Dimension(models.TextChoices):
        PRODUCER = "producer", "Producer (entity or attacker behind the content)"
        CONTENT_TYPE = "content_type", "Content type"
        BEHAVIOUR = "behaviour", "Behavioural element"
        INCIDENT = "incident", "Declared content incident"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    description = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    # Retired labels stay on what carries them, but new submissions may not use them.
    retired = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dimension", "slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(dimension__in=["producer", "content_type", "behaviour", "incident"]),
                name="%(app_label)s_%(class)s_dimension_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.slug} ({self.get_dimension_display()})"


class Policy(models.Model):
    """The consortium's one voting and matching policy (the row with id 1)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    approvals_required = models.PositiveSmallIntegerField(default=2)
    rejections_required = models.PositiveSmallIntegerField(default=2)
    voting_window = models.PositiveIntegerField(default=72 * 3600, help_text="seconds")
    pdq_max_distance = models.PositiveSmallIntegerField(default=31)
    pdq_min_quality = models.PositiveSmallIntegerField(default=50)
    dispute_threshold = models.PositiveSmallIntegerField(default=2)
    incident_approvals_required = models.PositiveSmallIntegerField(default=1)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "policy"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="%(app_label)s_%(class)s_singleton"),
            models.CheckConstraint(condition=models.Q(pdq_max_distance__lte=31), name="%(app_label)s_%(class)s_pdq_distance_lte_31"),
            models.CheckConstraint(condition=models.Q(pdq_min_quality__lte=100), name="%(app_label)s_%(class)s_pdq_quality_lte_100"),
        ]

    def __str__(self) -> str:
        return "Consortium policy"


class Fingerprint(models.Model):
    """One published `(kind, value)`, stored once however many members submitted it."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETRACTED = "retracted", "Retracted"

    kind = models.CharField(max_length=32)
    value = models.CharField(max_length=2048)
    labels = models.JSONField(default=list)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Release seqs that added and removed it: the PDQ index catches up from its watermark with
    # "added_seq > w" and "removed_seq > w" (indexes below).
    added_seq = models.BigIntegerField(null=True, blank=True)
    removed_seq = models.BigIntegerField(null=True, blank=True)
    first_batch = models.ForeignKey("Batch", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    # Set when disputes reached the threshold or staff retracted it: the next release removes it.
    retraction_queued = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Serves exact dedup and exact match: (kind, value) look-ups.
            models.UniqueConstraint(fields=["kind", "value"], name="%(app_label)s_%(class)s_unique_kind_value"),
        ]
        indexes = [
            models.Index(fields=["added_seq"], name="hashes_fp_added_seq"),
            models.Index(fields=["removed_seq"], name="hashes_fp_removed_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Batch(models.Model):
    """A member's signed submission of fingerprints, from receipt to decision and release."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received (deduplicating)"
        VOTING = "voting", "Voting"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        WITHDRAWN = "withdrawn", "Withdrawn"
        PUBLISHED = "published", "Published"

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="batches")
    ref = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    # The signed document is kept once, in the audit log's documents (the export carries it):
    # `envelope_sha256` names it there. `payload_sha256` (of the JCS payload) answers replays.
    envelope_sha256 = models.CharField(max_length=64)
    payload_sha256 = models.CharField(max_length=64)
    signature = models.TextField()
    key = models.ForeignKey(MemberKey, on_delete=models.PROTECT, related_name="batches")
    issued_at = models.DateTimeField()
    note = models.TextField(blank=True)
    labels = models.JSONField(default=list)
    item_count = models.PositiveIntegerField()
    new_count = models.PositiveIntegerField(null=True, blank=True)
    duplicate_count = models.PositiveIntegerField(null=True, blank=True)
    near_duplicate_count = models.PositiveIntegerField(null=True, blank=True)
    submitted_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    received = models.DateTimeField(default=timezone.now)
    voting_opened = models.DateTimeField(null=True, blank=True)
    decided = models.DateTimeField(null=True, blank=True)
    # The quorum in force when voting opened (PROTOCOL §5): later policy edits don't apply.
    approvals_required = models.PositiveSmallIntegerField(null=True, blank=True)
    rejections_required = models.PositiveSmallIntegerField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    # The open incident whose label the batch carried when voting opened (fast-track).
    incident = models.ForeignKey("Incident", on_delete=models.PROTECT, null=True, blank=True, related_name="batches")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "batches"
        constraints = [
            # A ref names one submission of a member: replays are answered from it.
            models.UniqueConstraint(fields=["member", "ref"], name="%(app_label)s_%(class)s_unique_member_ref"),
        ]
        indexes = [
            models.Index(fields=["status", "id"], name="hashes_batch_status_id"),
            # Serves the expiry sweep: voting batches whose window has closed.
            models.Index(fields=["closes_at"], condition=models.Q(status="voting"), name="hashes_batch_voting_closes"),
        ]

    def __str__(self) -> str:
        return f"{self.member.slug}/{self.ref}"


class BatchItem(models.Model):
    """One fingerprint of a batch, normalized, with its deduplication outcome."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        NEW = "new", "New"
        DUPLICATE = "duplicate", "Duplicate"
        NEAR_DUPLICATE = "near_duplicate", "Near duplicate"

    # No index of its own: the unique (batch, position) index serves every look-up by batch, and
    # each extra index slows the COPY of a 100k-item batch. No row-level FOREIGN KEY either: its
    # check runs once per row (100k at the commit of a batch, ~0.55 s); statement-level triggers
    # enforce the same reference once per statement (migration 0012).
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items", db_index=False, db_constraint=False)
    # 0-based position in the payload's items: /payload/items/<position>.
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=32)
    value = models.CharField(max_length=2048)
    labels = models.JSONField(default=list)
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    # What it duplicates: a published fingerprint, or an earlier item of the same batch. No
    # row-level FOREIGN KEY: its check locked each named fingerprint at commit (~43k random
    # pages of the fingerprint table dirtied per 100k-item dedup); statement-level triggers
    # enforce the same reference without row locks (migration 0014).
    match_fingerprint = models.ForeignKey(
        Fingerprint, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    match_position = models.PositiveIntegerField(null=True, blank=True)
    distance = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "position"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "position"], name="%(app_label)s_%(class)s_unique_batch_position"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Vote(models.Model):
    """A member's vote on another member's batch: one per member, changeable while voting."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="votes")
    # Null for consortium staff, who vote only on fast-tracked batches (one staff vote counts).
    member = models.ForeignKey(Member, on_delete=models.PROTECT, null=True, blank=True, related_name="votes")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    reason = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "member"], name="%(app_label)s_%(class)s_unique_batch_member"),
            models.UniqueConstraint(
                fields=["batch"], condition=models.Q(member__isnull=True), name="%(app_label)s_%(class)s_unique_batch_staff"
            ),
            models.CheckConstraint(condition=models.Q(decision__in=["approve", "reject"]), name="%(app_label)s_%(class)s_decision_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.member.slug if self.member_id else 'staff'}: {self.decision} batch {self.batch_id}"


class Incident(models.Model):
    """A content incident declared by staff (e.g. an attack being streamed): batches carrying its
    label are fast-tracked while it is open."""

    label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="incidents")
    title = models.CharField(max_length=200)
    declared = models.DateTimeField(default=timezone.now)
    declared_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    closed = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-declared"]
        constraints = [
            # One open incident per label: the fast-track rule needs no tie-break.
            models.UniqueConstraint(
                fields=["label"], condition=models.Q(closed__isnull=True), name="%(app_label)s_%(class)s_unique_open_label"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({'open' if self.closed is None else 'closed'})"


class Opinion(models.Model):
    """A member's affirmation or dispute of a published fingerprint; one per member, changeable."""

    class Kind(models.TextChoices):
        AFFIRM = "affirm", "Affirm"
        DISPUTE = "dispute", "Dispute"

    fingerprint = models.ForeignKey(Fingerprint, on_delete=models.CASCADE, related_name="opinions")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="opinions")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    opinion = models.CharField(max_length=8, choices=Kind.choices)
    reason = models.TextField(blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["fingerprint", "id"]
        constraints = [
            models.UniqueConstraint(fields=["fingerprint", "member"], name="%(app_label)s_%(class)s_unique_fingerprint_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member.slug}: {self.opinion} {self.fingerprint_id}"


class ReleaseHead(models.Model):
    """The single row that hands out release seqs; its row lock orders publishing (see releases)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    # SHA-256 hex of the last release's JCS payload: the next release's `prev`.
    last_payload_sha256 = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="%(app_label)s_%(class)s_singleton")]

    def __str__(self) -> str:
        return f"release head at seq {self.seq}"


class Release(models.Model):
    """A signed delta of the published set (PROTOCOL §6). The envelope, exactly as served, is
    one of the audit log's documents (`envelope_sha256`)."""

    seq = models.BigIntegerField(primary_key=True)
    prev = models.CharField(max_length=64, null=True, blank=True)
    published_at = models.DateTimeField()
    batch = models.OneToOneField(Batch, on_delete=models.PROTECT, null=True, blank=True, related_name="release")
    payload_sha256 = models.CharField(max_length=64)
    envelope_sha256 = models.CharField(max_length=64)
    kid = models.CharField(max_length=64)
    adds = models.PositiveIntegerField(default=0)
    removes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["seq"]
        constraints = [models.CheckConstraint(condition=models.Q(seq__gte=1), name="%(app_label)s_%(class)s_seq_gte_1")]

    def __str__(self) -> str:
        return f"release {self.seq}"


class FingerprintSource(models.Model):
    """A member that submitted a fingerprint, and the batch it came in (first one per member)."""

    fingerprint = models.ForeignKey(Fingerprint, on_delete=models.CASCADE, related_name="sources")
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()

    class Meta:
        ordering = ["fingerprint", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["fingerprint", "member"], name="%(app_label)s_%(class)s_unique_fingerprint_member"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} → {self.fingerprint_id}"


class Snapshot(models.Model):
    """The full active set as of a release `seq`, as JSON Lines in chunks, with its signed manifest."""

    seq = models.BigIntegerField(unique=True)
    count = models.BigIntegerField()
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    # The manifest envelope exactly as served (typ consortium-snapshot+jws).
    manifest = models.BinaryField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"snapshot at seq {self.seq} ({self.count} fingerprints)"


class SnapshotChunk(models.Model):
    """A piece of a snapshot's body: kept in the database so any web process can stream it."""

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="chunks", db_index=False)
    number = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        ordering = ["snapshot", "number"]
        constraints = [models.UniqueConstraint(fields=["snapshot", "number"], name="%(app_label)s_%(class)s_unique_snapshot_number")]

    def __str__(self) -> str:
        return f"chunk {self.number} of {self.snapshot_id}"


class Delivery(models.Model):
    """One event for one member endpoint (PROTOCOL §8), retried until delivered or given up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey("members.Endpoint", on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    # `webhook-id`: stable across retries, so receivers drop duplicates.
    webhook_id = models.CharField(max_length=64, unique=True)
    # The body exactly as sent: {"type", "timestamp", "data"} (JCS).
    body = models.BinaryField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due; while an attempt runs, the end of its lease.
    next_attempt = models.DateTimeField(default=timezone.now)
    # Set while an attempt holds the lease: counts against the endpoint's concurrency cap.
    attempt_started = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    delivered = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # Serves the sweeper: pending deliveries that are due.
            models.Index(fields=["next_attempt"], condition=models.Q(status="pending"), name="hashes_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class ReviewQueue(Batch):
    """The admin's review queue: batches awaiting the viewer's member's vote (a view of Batch)."""

    class Meta:
        proxy = True
        verbose_name = "batch awaiting our vote"
        verbose_name_plural = "review queue"


class Submission(Batch):
    """The admin's "our submissions": the viewer's member's own batches (a view of Batch)."""

    class Meta:
        proxy = True
        verbose_name = "our submission"
        verbose_name_plural = "our submissions"
