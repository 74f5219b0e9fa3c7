"""`flush` that also works on SQLite's append-only tables.

PostgreSQL empties tables with TRUNCATE, which fires no row trigger, so its append-only triggers
never stand in the way of a flush (test teardown, an operator's purge). SQLite empties them with
DELETE, which its DELETE triggers refuse; this lifts them for the flush and puts them back in the
same transaction, so no other connection ever sees the tables unguarded.
"""

from django.core.management.commands import flush
from django.db import connections, transaction

from kameng.core.append_only import sqlite_delete_triggers


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                sqlite_delete_triggers(cursor, create=False)
            super().handle(**options)
            with connection.cursor() as cursor:
                sqlite_delete_triggers(cursor, create=True)
