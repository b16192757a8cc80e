from django.db import migrations


def lz4(apps, schema_editor):
    # A 100k-item batch envelope is ~11 MB: pglz compresses it in ~0.9 s, lz4 in ~0.4 s, and the
    # insert runs while the audit head lock is held. PostgreSQL 14+ only; elsewhere a no-op.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE audit_auditdocument ALTER COLUMN body SET COMPRESSION lz4")


def pglz(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE audit_auditdocument ALTER COLUMN body SET COMPRESSION pglz")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_transparency_log")]
    operations = [migrations.RunPython(lz4, pglz)]
