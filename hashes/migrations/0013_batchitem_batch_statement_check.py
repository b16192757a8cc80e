"""BatchItem.batch: the row-level FOREIGN KEY becomes statement-level triggers.

A FOREIGN KEY checks each inserted row on its own (one look-up and one row lock of the batch
per item): 100k checks, ~0.55 s, at the commit of a 100k-item batch. These triggers enforce
the same rule once per statement:

- inserting items: every batch they name exists; those batches are locked FOR KEY SHARE, as
  the FOREIGN KEY's check does, so a concurrent delete waits and then sees the items;
- changing an item's batch (never done; checked per row, only when it changes);
- deleting or renumbering a batch that still has items is refused (the FOREIGN KEY's NO
  ACTION; Django deletes a batch's items before the batch, as it did with the constraint).

Violations raise SQLSTATE 23503 (foreign_key_violation), an IntegrityError in Django, as before.
"""
from django.db import migrations, models

POSTGRES = [
    """
    CREATE FUNCTION hashes_batchitem_batch_check() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        wanted bigint;
        locked bigint;
    BEGIN
        SELECT count(DISTINCT batch_id) INTO wanted FROM new_items;
        SELECT count(*) INTO locked FROM (
            SELECT b.id FROM hashes_batch AS b WHERE b.id IN (SELECT batch_id FROM new_items) FOR KEY SHARE OF b
        ) AS present;
        IF locked <> wanted THEN
            RAISE EXCEPTION 'insert or update on table "hashes_batchitem" violates the batch reference'
                USING ERRCODE = 'foreign_key_violation', DETAIL = 'An item names a batch that does not exist.';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER hashes_batchitem_batch_insert AFTER INSERT ON hashes_batchitem
    REFERENCING NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION hashes_batchitem_batch_check()
    """,
    """
    CREATE FUNCTION hashes_batchitem_batch_check_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM hashes_batch WHERE id = NEW.batch_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'insert or update on table "hashes_batchitem" violates the batch reference'
                USING ERRCODE = 'foreign_key_violation', DETAIL = 'An item names a batch that does not exist.';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER hashes_batchitem_batch_update AFTER UPDATE OF batch_id ON hashes_batchitem
    FOR EACH ROW WHEN (OLD.batch_id IS DISTINCT FROM NEW.batch_id) EXECUTE FUNCTION hashes_batchitem_batch_check_row()
    """,
    """
    CREATE FUNCTION hashes_batch_items_check() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM hashes_batchitem WHERE batch_id IN (SELECT id FROM gone_batches)) THEN
            RAISE EXCEPTION 'update or delete on table "hashes_batch" violates the batch reference of "hashes_batchitem"'
                USING ERRCODE = 'foreign_key_violation', DETAIL = 'The batch still has items.';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER hashes_batch_delete AFTER DELETE ON hashes_batch
    REFERENCING OLD TABLE AS gone_batches FOR EACH STATEMENT EXECUTE FUNCTION hashes_batch_items_check()
    """,
    """
    CREATE FUNCTION hashes_batch_items_check_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM hashes_batchitem WHERE batch_id = OLD.id) THEN
            RAISE EXCEPTION 'update or delete on table "hashes_batch" violates the batch reference of "hashes_batchitem"'
                USING ERRCODE = 'foreign_key_violation', DETAIL = 'The batch still has items.';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER hashes_batch_renumber AFTER UPDATE OF id ON hashes_batch
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION hashes_batch_items_check_row()
    """,
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS hashes_batch_renumber ON hashes_batch",
    "DROP TRIGGER IF EXISTS hashes_batch_delete ON hashes_batch",
    "DROP TRIGGER IF EXISTS hashes_batchitem_batch_update ON hashes_batchitem",
    "DROP TRIGGER IF EXISTS hashes_batchitem_batch_insert ON hashes_batchitem",
    "DROP FUNCTION IF EXISTS hashes_batch_items_check_row()",
    "DROP FUNCTION IF EXISTS hashes_batch_items_check()",
    "DROP FUNCTION IF EXISTS hashes_batchitem_batch_check_row()",
    "DROP FUNCTION IF EXISTS hashes_batchitem_batch_check()",
]
# SQLite (the embedded default; small batches): row triggers with the same rule.
SQLITE = [
    """
    CREATE TRIGGER hashes_batchitem_batch_insert BEFORE INSERT ON hashes_batchitem
    WHEN NOT EXISTS (SELECT 1 FROM hashes_batch WHERE id = NEW.batch_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    """
    CREATE TRIGGER hashes_batchitem_batch_update BEFORE UPDATE OF batch_id ON hashes_batchitem
    WHEN NOT EXISTS (SELECT 1 FROM hashes_batch WHERE id = NEW.batch_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    """
    CREATE TRIGGER hashes_batch_delete BEFORE DELETE ON hashes_batch
    WHEN EXISTS (SELECT 1 FROM hashes_batchitem WHERE batch_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    """
    CREATE TRIGGER hashes_batch_renumber BEFORE UPDATE OF id ON hashes_batch
    WHEN OLD.id IS NOT NEW.id AND EXISTS (SELECT 1 FROM hashes_batchitem WHERE batch_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS hashes_batch_renumber",
    "DROP TRIGGER IF EXISTS hashes_batch_delete",
    "DROP TRIGGER IF EXISTS hashes_batchitem_batch_update",
    "DROP TRIGGER IF EXISTS hashes_batchitem_batch_insert",
]


def _run(statements: dict[str, list[str]]):  # noqa: ANN202
    def run(apps, schema_editor) -> None:  # noqa: ANN001
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("hashes", "0012_reviewqueue_submission"),
    ]

    operations = [
        migrations.AlterField(
            model_name="batchitem",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False, db_index=False, on_delete=models.deletion.CASCADE, related_name="items", to="hashes.batch"
            ),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}), _run({"postgresql": POSTGRES_DROP, "sqlite": SQLITE_DROP})
        ),
    ]
