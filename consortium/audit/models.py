from django.db import models


class AuditEntry(models.Model):
    """One append-only entry of the transparency log: the JCS bytes that are hashed, as stored."""

    # 0-based and gapless: the entry's leaf index in the RFC 6962 tree.
    index = models.BigIntegerField(primary_key=True)
    time = models.DateTimeField()
    action = models.CharField(max_length=64, db_index=True)
    subject = models.CharField(max_length=255, db_index=True)
    actor_member = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    actor_user = models.CharField(max_length=150, null=True, blank=True)
    # Exactly the bytes served by /audit/entries and hashed as the Merkle leaf.
    body = models.BinaryField()

    class Meta:
        ordering = ["index"]
        verbose_name_plural = "audit entries"
        constraints = [
            models.CheckConstraint(condition=models.Q(index__gte=0), name="%(app_label)s_%(class)s_index_gte_0"),
        ]

    def __str__(self) -> str:
        return f"#{self.index} {self.action} {self.subject}"


class AuditHead(models.Model):
    """The single row that hands out entry indexes; locking it orders appends (see services)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="%(app_label)s_%(class)s_singleton")]

    def __str__(self) -> str:
        return f"audit log of {self.size} entries"


class AuditTreeNode(models.Model):
    """The hash of one complete subtree of the log's RFC 6962 Merkle tree, written once.

    `(level, index)` covers leaves [index·2^level, (index+1)·2^level); level 0 are the leaf
    hashes. `audit_append` writes the leaf and every subtree it completes in the entry's own
    transaction, so any root or proof is a fold of at most ~2·log2(n) rows read by primary key.
    """

    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    digest = models.BinaryField(max_length=32)

    class Meta:
        ordering = ["level", "index"]

    def __str__(self) -> str:
        return f"node ({self.level}, {self.index})"


class AuditDocument(models.Model):
    """A document an audit entry refers to by SHA-256 (a batch or release envelope), stored once."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    body = models.BinaryField()
    media_type = models.CharField(max_length=100, default="application/json")
    # The first entry that referred to it: the export of a log of n entries takes documents
    # with first_index < n (index below).
    first_index = models.BigIntegerField(db_index=True)

    class Meta:
        ordering = ["first_index", "sha256"]

    def __str__(self) -> str:
        return f"document {self.sha256[:16]}… (entry #{self.first_index})"


class Checkpoint(models.Model):
    """A signed tree head: the C2SP tlog-checkpoint note the log key signed for `size` entries."""

    size = models.BigIntegerField(primary_key=True)
    root = models.BinaryField(max_length=32)
    note = models.TextField()
    created = models.DateTimeField()

    class Meta:
        ordering = ["-size"]
        get_latest_by = "size"
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gte=0), name="%(app_label)s_%(class)s_size_gte_0"),
        ]

    def __str__(self) -> str:
        return f"checkpoint of {self.size} entries"


class CheckpointLock(models.Model):
    """The single row checkpoint signers lock (SELECT … FOR UPDATE) so two never sign at once.

    Not AuditHead: locking that would stall every append while a checkpoint is signed.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="%(app_label)s_%(class)s_singleton")]

    def __str__(self) -> str:
        return "checkpoint signer lock"
