from django.db import migrations, models


class Migration(migrations.Migration):
    """The signed batch envelope moves to the audit log's documents (stored once, exported)."""

    dependencies = [("hashes", "0003_payload_lz4"), ("audit", "0002_transparency_log")]

    operations = [
        migrations.RemoveField(model_name="batch", name="payload_jcs"),
        migrations.AddField(
            model_name="batch", name="envelope_sha256", field=models.CharField(max_length=64, default=""), preserve_default=False
        ),
    ]
