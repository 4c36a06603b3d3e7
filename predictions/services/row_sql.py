"""Single-row SQL for the scoring path, built once per process instead of compiled by the ORM per call.

A scoring request inserts three rows. Through Model.save() the ORM compiles each INSERT anew, which
took longer than running it (bench/RESULTS.md, issue 13). insert_row writes the same values as
save(force_insert=True): it prepares each field with the ORM's own pre_save and get_db_prep_save.

Both run on the database driver's own cursor, inside Django's error wrapper (so a failure is still
django.db's IntegrityError or OperationalError), not through Django's cursor wrapper: its layers
(the wrapper, execute wrappers, %s -> ? on SQLite per call) cost about 6 % of a request's CPU on
SQLite (bench/RESULTS.md, issue 13). Django's query log (DEBUG) does not list these statements.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection, models


def insert_row(obj: models.Model) -> None:
    """Insert obj as save(force_insert=True) would, without signals; sets its primary key."""
    sql, fields = _insert_sql(type(obj), connection.vendor)
    params = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    with connection.wrap_database_errors:
        cursor = _driver_connection().execute(sql, params)
        obj.pk = cursor.fetchone()[0] if connection.vendor == "postgresql" else cursor.lastrowid
    obj._state.adding = False
    obj._state.db = connection.alias


def fetch_all(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of sql, written with %s placeholders as for Django's cursors."""
    with connection.wrap_database_errors:
        return _driver_connection().execute(_in_driver_style(sql, connection.vendor), params).fetchall()


def _driver_connection() -> Any:
    connection.ensure_connection()
    return connection.connection


@functools.cache
def _in_driver_style(sql: str, vendor: str) -> str:
    # sqlite3 takes ? placeholders (Django's SQLite cursor rewrites %s per call); psycopg takes %s.
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


@functools.cache
def _insert_sql(model: type[models.Model], vendor: str) -> tuple[str, tuple[models.Field, ...]]:
    # Every concrete column but a generated primary key, as the ORM's insert lists them. The new key comes from
    # RETURNING on PostgreSQL and from the cursor's lastrowid on SQLite.
    meta = model._meta
    fields = tuple(field for field in meta.concrete_fields if not field.generated and field is not meta.auto_field)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["?" if vendor == "sqlite" else "%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
    if vendor == "postgresql":
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, fields
