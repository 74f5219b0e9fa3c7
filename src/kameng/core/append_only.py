"""Append-only tables, enforced by the database: what was recorded cannot be rewritten.

The timeline, messages, evidence, reveals, order events and the ledger are the platform's word in a
dispute; a trigger refuses UPDATE (and, on PostgreSQL, DELETE) whatever code or console tries it.
TRUNCATE stays possible for an operator's retention purge (and for test databases).
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
        elif connection.vendor == "sqlite":
            for table in APPEND_ONLY_TABLES:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
                cursor.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'kameng: {table} is append-only'); END"
                )


def _backward(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in APPEND_ONLY_TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            elif connection.vendor == "sqlite":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")


def operation():
    return migrations.RunPython(_forward, _backward)
