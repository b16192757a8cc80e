from django.db import models


class ConsortiumKey(models.Model):
    """A public key the consortium signs with, kept after retirement so old signatures verify."""

    class Use(models.TextChoices):
        SIGNING = "sig", "Releases and snapshots"

    kid = models.CharField(max_length=64, primary_key=True)
    use = models.CharField(max_length=8, choices=Use.choices, default=Use.SIGNING)
    public_jwk = models.JSONField()
    created = models.DateTimeField()
    retired = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created", "kid"]
        constraints = [
            # At most one active key per use: the one the server signs with now.
            models.UniqueConstraint(
                fields=["use"], condition=models.Q(retired__isnull=True), name="%(app_label)s_%(class)s_unique_active_use"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({'retired' if self.retired else 'active'})"
