"""Append-only tables, enforced by the database: what was recorded cannot be rewritten or removed.

The timeline, messages, evidence, reveals, order events and the ledger are the platform's word in a
dispute; triggers refuse UPDATE and DELETE whatever code or console tries it, on both databases.
Emptying whole tables stays possible for an operator's retention purge and for test databases:
PostgreSQL's TRUNCATE fires no row trigger; SQLite has no TRUNCATE, so the `flush` command lifts the
DELETE triggers inside its own transaction (`kameng.core.management.commands.flush`).
"""

from django.db import migrations

APPEND_ONLY_TABLES = (
    "aftersales_refundevent",
    "aftersales_refundmessage",
    "aftersales_evidence",
    "orders_orderevent",
    "inventory_revealrecord",
    "ledger_journal",
    "ledger_posting",
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kameng_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'kameng: % is append-only', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""


def sqlite_delete_triggers(cursor, *, create: bool) -> None:
    """Drop, then (when `create`) recreate, SQLite's DELETE triggers on every append-only table."""
    for table in APPEND_ONLY_TABLES:
        cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        if create:
            cursor.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'kameng: {table} is append-only'); END"
            )


def _forward(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for table in APPEND_ONLY_TABLES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                cursor.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION kameng_append_only()"
                )
        elif connection.vendor == "sqlite":  # one event per trigger in SQLite
            for table in APPEND_ONLY_TABLES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
                cursor.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'kameng: {table} is append-only'); END"
                )
            sqlite_delete_triggers(cursor, create=True)


def _backward(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in APPEND_ONLY_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            elif connection.vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
        if connection.vendor == "sqlite":
            sqlite_delete_triggers(cursor, create=False)


def operation():
    return migrations.RunPython(_forward, _backward)
