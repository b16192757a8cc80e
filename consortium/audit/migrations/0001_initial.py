from django.db import migrations, models


def create_head(apps, schema_editor):
    apps.get_model("audit", "AuditHead").objects.create(id=1, size=0)


class Migration(migrations.Migration):
    initial = True
    dependencies: list = []

    operations = [
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                ("index", models.BigIntegerField(primary_key=True, serialize=False)),
                ("time", models.DateTimeField()),
                ("action", models.CharField(db_index=True, max_length=64)),
                ("subject", models.CharField(db_index=True, max_length=255)),
                ("actor_member", models.CharField(blank=True, db_index=True, max_length=64, null=True)),
                ("actor_user", models.CharField(blank=True, max_length=150, null=True)),
                ("body", models.BinaryField()),
            ],
            options={"ordering": ["index"], "verbose_name_plural": "audit entries"},
        ),
        migrations.AddConstraint(
            model_name="auditentry",
            constraint=models.CheckConstraint(condition=models.Q(index__gte=0), name="audit_auditentry_index_gte_0"),
        ),
        migrations.CreateModel(
            name="AuditHead",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("size", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.AddConstraint(
            model_name="audithead",
            constraint=models.CheckConstraint(condition=models.Q(id=1), name="audit_audithead_singleton"),
        ),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]
