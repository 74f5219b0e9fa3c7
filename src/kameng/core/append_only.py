"""Append-only tables, enforced by the database: what was recorded cannot be rewritten or removed.

The timeline, messages, evidence, reveals, order events and the ledger are the platform's word in a
dispute; triggers refuse UPDATE and DELETE whatever code or console tries it, on both databases.
Emptying whole tables stays possible for an operator's retention purge and for test databases:
PostgreSQL's TRUNCATE fires no row trigger; SQLite has no TRUNCATE, so the `flush` command lifts the
DELETE triggers inside its own transaction (`kameng.core.management.commands.flush`).
"""

from django.db import migrations

# The tables guarded from the first migrations on; a table added later is guarded by its own migration
# (`operation(tables=…)`), since the early migrations run before it exists.
FIRST_TABLES = (
    "aftersales_refundevent",
    "aftersales_refundmessage",
    "aftersales_evidence",
    "orders_orderevent",
    "inventory_revealrecord",
    "ledger_journal",
    "ledger_posting",
)
APPEND_ONLY_TABLES = (
    *FIRST_TABLES,
    "aftersales_evidenceremoval",  # a buyer's removal of an upload: the upload itself stays on file
    "catalog_productchange",  # a product's terms as they were: what a dispute shows of the page then
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kameng_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'kameng: % is append-only', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def sqlite_delete_triggers(cursor, *, create: bool, tables=APPEND_ONLY_TABLES) -> None:
    """Drop, then (when `create`) recreate, SQLite's DELETE triggers on every append-only table."""
    for table in tables:
        cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        if create:
            cursor.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'kameng: {table} is append-only'); END"
            )


def _forward(apps, schema_editor, tables=FIRST_TABLES):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for table in tables:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                cursor.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION kameng_append_only()"
                )
        elif connection.vendor == "sqlite":  # one event per trigger in SQLite
            for table in tables:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
                cursor.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'kameng: {table} is append-only'); END"
                )
            sqlite_delete_triggers(cursor, create=True, tables=tables)


def _backward(apps, schema_editor, tables=FIRST_TABLES):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            elif connection.vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
        if connection.vendor == "sqlite":
            sqlite_delete_triggers(cursor, create=False, tables=tables)


def operation(tables=FIRST_TABLES):
    """Guard `tables` (re-running it is harmless: each trigger is dropped and made again, which also
    restores them after SQLite rebuilt a table for a schema change)."""
    return migrations.RunPython(lambda apps, editor: _forward(apps, editor, tables),
                                lambda apps, editor: _backward(apps, editor, tables))
