"""The transparency log: tree nodes, documents, checkpoints, and append-only tables."""
from django.db import migrations, models

from client.consortium_client import merkle

APPEND_ONLY_TABLES = ["audit_auditentry", "audit_audittreenode", "audit_auditdocument", "audit_checkpoint"]


def create_lock_row(apps, schema_editor):
    apps.get_model("audit", "CheckpointLock").objects.create(id=1)


def hash_existing_entries(apps, schema_editor):
    """Write the tree nodes of entries appended before this migration, in index order."""
    entry_model = apps.get_model("audit", "AuditEntry")
    node_model = apps.get_model("audit", "AuditTreeNode")
    tree = merkle.CompactRange()
    batch = []
    for index, body in entry_model.objects.order_by("index").values_list("index", "body").iterator(chunk_size=5000):
        if index != tree.size:
            raise RuntimeError(f"the audit log has a gap before entry {index}; it cannot be hashed into a tree")
        for (level, position), digest in tree.append(merkle.leaf_hash(bytes(body))):
            batch.append(node_model(level=level, index=position, digest=digest))
        if len(batch) >= 10000:
            node_model.objects.bulk_create(batch)
            batch = []
    node_model.objects.bulk_create(batch)


def refuse_changes(apps, schema_editor):
    # PostgreSQL only: the embedded SQLite default is a demo, and Django flushes SQLite with DELETE.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        """
        CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% on % refused: the audit log is append-only', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END;
        $$
        """,
        params=None,  # the function's text holds % placeholders of its own
    )
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )


def allow_changes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in APPEND_ONLY_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditDocument',
            fields=[
                ('sha256', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('body', models.BinaryField()),
                ('media_type', models.CharField(default='application/json', max_length=100)),
                ('first_index', models.BigIntegerField(db_index=True)),
            ],
            options={
                'ordering': ['first_index', 'sha256'],
            },
        ),
        migrations.CreateModel(
            name='AuditTreeNode',
            fields=[
                ('pk', models.CompositePrimaryKey('level', 'index', blank=True, editable=False, primary_key=True, serialize=False)),
                ('level', models.PositiveSmallIntegerField()),
                ('index', models.BigIntegerField()),
                ('digest', models.BinaryField(max_length=32)),
            ],
            options={
                'ordering': ['level', 'index'],
            },
        ),
        migrations.CreateModel(
            name='Checkpoint',
            fields=[
                ('size', models.BigIntegerField(primary_key=True, serialize=False)),
                ('root', models.BinaryField(max_length=32)),
                ('note', models.TextField()),
                ('created', models.DateTimeField()),
            ],
            options={
                'ordering': ['-size'],
                'get_latest_by': 'size',
                'constraints': [models.CheckConstraint(condition=models.Q(('size__gte', 0)), name='audit_checkpoint_size_gte_0')],
            },
        ),
        migrations.CreateModel(
            name='CheckpointLock',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('id', 1)), name='audit_checkpointlock_singleton')],
            },
        ),
        migrations.RunPython(create_lock_row, migrations.RunPython.noop),
        migrations.RunPython(hash_existing_entries, migrations.RunPython.noop),
        migrations.RunPython(refuse_changes, allow_changes),
    ]
