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
