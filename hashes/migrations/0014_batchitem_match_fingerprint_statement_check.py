"""BatchItem.match_fingerprint: the row-level FOREIGN KEY becomes statement-level triggers.

The dedup of a 100k-item batch sets ~43k references to published fingerprints. The FOREIGN KEY
(DEFERRABLE INITIALLY DEFERRED) checked each at commit on its own: an index look-up and a
FOR KEY SHARE lock of the fingerprint row. At 10M fingerprints those are ~43k random heap pages
of hashes_fingerprint dirtied at every dedup, most of them written again to the WAL as full
pages (~300 MB of WAL per dedup): 0.7-1.0 s of checks plus the WAL at commit. These triggers
enforce the same rule with one set-based look-up per statement and no row locks:

- inserting or updating items: every fingerprint they name exists (one anti-join of the
  statement's new rows against the fingerprint primary key);
- deleting or renumbering a fingerprint that an item names is refused (the FOREIGN KEY's NO
  ACTION; Django's PROTECT refuses it first, as before).

Concurrency without the row locks: the deleting side locks hashes_batchitem in SHARE mode
before it looks for references, so it waits for every transaction still writing items (they
hold ROW EXCLUSIVE) and then sees their references; a writer that comes after it waits for
its commit and then no longer sees the fingerprint. Under READ COMMITTED (Django's default,
and what the dedup runs in) each check reads the latest committed rows. Under REPEATABLE READ
or SERIALIZABLE a statement's snapshot may be older than a concurrent delete, so there the
writing side also locks the fingerprints FOR KEY SHARE (the FOREIGN KEY's own check), and the
deleting side, which cannot see references committed after its snapshot, is refused
(SQLSTATE 55000): fingerprints are never deleted by the application.

Violations raise SQLSTATE 23503 (foreign_key_violation), an IntegrityError in Django, as before.
Items have no index on match_fingerprint_id (as before): a check on the deleting side scans
them, once per statement (the FOREIGN KEY scanned them once per deleted fingerprint).
"""
from django.db import migrations, models

POSTGRES = [
    """
    CREATE FUNCTION hashes_batchitem_match_check() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('transaction_isolation') = 'read committed' THEN
            PERFORM 1 FROM new_items AS n
            WHERE n.match_fingerprint_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM hashes_fingerprint AS f WHERE f.id = n.match_fingerprint_id)
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'insert or update on table "hashes_batchitem" violates the fingerprint reference'
                    USING ERRCODE = 'foreign_key_violation', DETAIL = 'An item names a fingerprint that does not exist.';
            END IF;
        ELSIF EXISTS (SELECT 1 FROM new_items WHERE match_fingerprint_id IS NOT NULL) THEN
            -- An older snapshot: lock what is named, as the FOREIGN KEY's check does (a
            -- fingerprint deleted since the snapshot is a serialization failure).
            IF (SELECT count(DISTINCT match_fingerprint_id) FROM new_items)
               <> (SELECT count(*) FROM (
                       SELECT f.id FROM hashes_fingerprint AS f
                       WHERE f.id IN (SELECT match_fingerprint_id FROM new_items) FOR KEY SHARE OF f
                   ) AS present) THEN
                RAISE EXCEPTION 'insert or update on table "hashes_batchitem" violates the fingerprint reference'
                    USING ERRCODE = 'foreign_key_violation', DETAIL = 'An item names a fingerprint that does not exist.';
            END IF;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER hashes_batchitem_match_insert AFTER INSERT ON hashes_batchitem
    REFERENCING NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION hashes_batchitem_match_check()
    """,
    # Transition tables cannot go with a column list (UPDATE OF match_fingerprint_id): every
    # UPDATE of items keeps its new rows for this check; rows keeping a reference are checked again.
    """
    CREATE TRIGGER hashes_batchitem_match_update AFTER UPDATE ON hashes_batchitem
    REFERENCING NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION hashes_batchitem_match_check()
    """,
    """
    CREATE FUNCTION hashes_fingerprint_items_check() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'deleting or renumbering fingerprints needs READ COMMITTED (references are checked against the latest rows)'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        -- Wait for every transaction still writing items, then see their references.
        LOCK TABLE hashes_batchitem IN SHARE MODE;
        IF EXISTS (SELECT 1 FROM hashes_batchitem WHERE match_fingerprint_id IN (SELECT id FROM gone_fingerprints)) THEN
            RAISE EXCEPTION 'update or delete on table "hashes_fingerprint" violates the fingerprint reference of "hashes_batchitem"'
                USING ERRCODE = 'foreign_key_violation', DETAIL = 'An item names the fingerprint.';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER hashes_fingerprint_delete AFTER DELETE ON hashes_fingerprint
    REFERENCING OLD TABLE AS gone_fingerprints FOR EACH STATEMENT EXECUTE FUNCTION hashes_fingerprint_items_check()
    """,
    # Renumbering (never done): per row, only when the id changes, so that the updates of
    # fingerprints (releases, opinions) keep no transition table.
    """
    CREATE FUNCTION hashes_fingerprint_items_check_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'deleting or renumbering fingerprints needs READ COMMITTED (references are checked against the latest rows)'
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        LOCK TABLE hashes_batchitem IN SHARE MODE;
        IF EXISTS (SELECT 1 FROM hashes_batchitem WHERE match_fingerprint_id = OLD.id) THEN
            RAISE EXCEPTION 'update or delete on table "hashes_fingerprint" violates the fingerprint reference of "hashes_batchitem"'
                USING ERRCODE = 'foreign_key_violation', DETAIL = 'An item names the fingerprint.';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER hashes_fingerprint_renumber AFTER UPDATE OF id ON hashes_fingerprint
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION hashes_fingerprint_items_check_row()
    """,
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS hashes_fingerprint_renumber ON hashes_fingerprint",
    "DROP TRIGGER IF EXISTS hashes_fingerprint_delete ON hashes_fingerprint",
    "DROP TRIGGER IF EXISTS hashes_batchitem_match_update ON hashes_batchitem",
    "DROP TRIGGER IF EXISTS hashes_batchitem_match_insert ON hashes_batchitem",
    "DROP FUNCTION IF EXISTS hashes_fingerprint_items_check_row()",
    "DROP FUNCTION IF EXISTS hashes_fingerprint_items_check()",
    "DROP FUNCTION IF EXISTS hashes_batchitem_match_check()",
]
# Migration 0013's triggers on SQLite, verbatim. SQLite remakes hashes_batchitem to alter the
# field (a new table, copied, renamed), which drops the triggers on it and fails on the triggers
# of hashes_batch naming it: all are dropped before and made again after (and likewise when
# reversed). A later migration that remakes hashes_batchitem must do the same with these and
# the fingerprint triggers below.
SQLITE_0013 = [
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
SQLITE_0013_DROP = [
    "DROP TRIGGER IF EXISTS hashes_batch_renumber",
    "DROP TRIGGER IF EXISTS hashes_batch_delete",
    "DROP TRIGGER IF EXISTS hashes_batchitem_batch_update",
    "DROP TRIGGER IF EXISTS hashes_batchitem_batch_insert",
]
# SQLite (the embedded default; small batches): row triggers with the same rule.
SQLITE = [
    """
    CREATE TRIGGER hashes_batchitem_match_insert BEFORE INSERT ON hashes_batchitem
    WHEN NEW.match_fingerprint_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM hashes_fingerprint WHERE id = NEW.match_fingerprint_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    """
    CREATE TRIGGER hashes_batchitem_match_update BEFORE UPDATE OF match_fingerprint_id ON hashes_batchitem
    WHEN NEW.match_fingerprint_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM hashes_fingerprint WHERE id = NEW.match_fingerprint_id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    """
    CREATE TRIGGER hashes_fingerprint_delete BEFORE DELETE ON hashes_fingerprint
    WHEN EXISTS (SELECT 1 FROM hashes_batchitem WHERE match_fingerprint_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
    """
    CREATE TRIGGER hashes_fingerprint_renumber BEFORE UPDATE OF id ON hashes_fingerprint
    WHEN OLD.id IS NOT NEW.id AND EXISTS (SELECT 1 FROM hashes_batchitem WHERE match_fingerprint_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END
    """,
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS hashes_fingerprint_renumber",
    "DROP TRIGGER IF EXISTS hashes_fingerprint_delete",
    "DROP TRIGGER IF EXISTS hashes_batchitem_match_update",
    "DROP TRIGGER IF EXISTS hashes_batchitem_match_insert",
]


def _run(statements: dict[str, list[str]]):  # noqa: ANN202
    def run(apps, schema_editor) -> None:  # noqa: ANN001
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("hashes", "0013_batchitem_batch_statement_check"),
    ]

    operations = [
        migrations.RunPython(_run({"sqlite": SQLITE_0013_DROP}), _run({"sqlite": SQLITE_0013})),
        migrations.AlterField(
            model_name="batchitem",
            name="match_fingerprint",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="+",
                to="hashes.fingerprint",
            ),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE + SQLITE_0013}),
            _run({"postgresql": POSTGRES_DROP, "sqlite": SQLITE_DROP + SQLITE_0013_DROP}),
        ),
    ]
