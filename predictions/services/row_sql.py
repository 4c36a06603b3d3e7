"""Single-row SQL for the scoring path, built once per process instead of compiled by the ORM per call.

A scoring request inserts three rows. Through Model.save() the ORM compiles each INSERT anew, which
took longer than running it (bench/RESULTS.md, issue 13). insert_row writes the same values as
save(force_insert=True): it prepares each field with the ORM's own pre_save and get_db_prep_save, except the
plain text, number and boolean fields (and foreign keys), whose value is the attribute itself (a number through
int() or float(), as their get_prep_value does): for those the ORM's calls were a third of the insert's cost.

Both run on the database driver's own cursor, inside Django's error wrapper (so a failure is still
django.db's IntegrityError or OperationalError), not through Django's cursor wrapper: its layers
(the wrapper, execute wrappers, %s -> ? on SQLite per call) cost about 6 % of a request's CPU on
SQLite (bench/RESULTS.md, issue 13). Django's query log (DEBUG) does not list these statements.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections, models


def insert_row(obj: models.Model) -> None:
    """Insert obj as save(force_insert=True) would, without signals; sets its primary key."""
    db = connections[DEFAULT_DB_ALIAS]
    sql, preparers = _insert_sql(type(obj), db.vendor)
    params = [prepare(obj, db) for prepare in preparers]
    with db.wrap_database_errors:
        cursor = _driver(db).execute(sql, params)
        obj.pk = cursor.fetchone()[0] if db.vendor == "postgresql" else cursor.lastrowid
    obj._state.adding = False
    obj._state.db = db.alias


def pk_statement(models_: Sequence[type[models.Model]]) -> tuple[str, list]:
    """PostgreSQL: the statement (for fetch_many) whose one row is the next key of each model's table, in order.

    For rows that must know one another's keys before they are inserted (a digest names them), and that are then
    inserted with insert_together. A key drawn and not used leaves a gap in its sequence, as a failed insert does.
    """
    return _reserve_sql(tuple(models_)), []


def pks_assigned(objs: Sequence[models.Model], keys: Sequence[int]) -> None:
    """Give objs the keys that pk_statement drew for their models, in order (a key left over is not used)."""
    if len(objs) > len(keys):
        raise ValueError(f"{len(objs)} rows for {len(keys)} drawn keys")
    for obj, key in zip(objs, keys, strict=False):
        obj.pk = key


def insert_together(objs: Sequence[models.Model]) -> None:
    """PostgreSQL: insert rows whose primary keys are set (pk_statement), in this order, as one statement.

    `WITH w1 AS (INSERT ...), w2 AS (INSERT ...) INSERT ...` is one round trip, and atomic by itself in autocommit,
    where BEGIN, an INSERT each and COMMIT were five (bench/RESULTS.md, issue 13). The foreign keys between the rows
    are checked when it ends (Django makes them DEFERRABLE INITIALLY DEFERRED). Inside a caller's transaction it
    is one statement of that transaction.
    """
    db = connections[DEFAULT_DB_ALIAS]
    statements, params = [], []
    for obj in objs:
        sql, preparers = _insert_sql(type(obj), db.vendor, with_pk=True)
        statements.append(sql)
        params += [prepare(obj, db) for prepare in preparers]
    *first, last = statements
    sql = "".join(f"{'WITH' if i == 0 else ','} w{i} AS ({statement}) " for i, statement in enumerate(first)) + last
    with db.wrap_database_errors:
        _driver(db).execute(sql, params)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db.alias


def fetch_all(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of sql, written with %s placeholders as for Django's cursors."""
    db = connections[DEFAULT_DB_ALIAS]
    with db.wrap_database_errors:
        return _driver(db).execute(_in_driver_style(sql, db.vendor), params).fetchall()


def fetch_many(statements: Sequence[tuple[str, list[Any]]]) -> list[list[tuple[Any, ...]]]:
    """The rows of each (sql, params), as fetch_all's. On PostgreSQL the statements go in one round trip (psycopg's
    pipeline mode: sent together, answered together), not one each.

    On PostgreSQL, when these are the request's first statements, they are also its connection health check:
    instead of Django's `SELECT 1` first (a round trip of its own), a kept connection that the server has closed
    fails these reads, and they run again, once, on a new connection. Reads are safe to repeat; a key drawn on the
    lost connection is a gap in its sequence.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        with db.wrap_database_errors:
            driver = _driver(db)
            return [driver.execute(_in_driver_style(sql, db.vendor), params).fetchall() for sql, params in statements]
    unchecked = db.connection is not None and db.health_check_enabled and not db.health_check_done
    if unchecked and not db.in_atomic_block:
        db.health_check_done = True
        try:
            return _pipelined(db, statements)
        except (OperationalError, InterfaceError):
            if db.connection is not None and not db.connection.broken:
                raise  # the connection is sound: the error is the statements'
            db.close()
    return _pipelined(db, statements)


def _pipelined(db: Any, statements: Sequence[tuple[str, list[Any]]]) -> list[list[tuple[Any, ...]]]:
    with db.wrap_database_errors:
        driver = _driver(db)
        with driver.pipeline():
            cursors = [driver.execute(sql, params) for sql, params in statements]
        return [cursor.fetchall() for cursor in cursors]


def _driver(db: Any) -> Any:
    # What Django's cursor() does first: the connection health check (CONN_HEALTH_CHECKS, once a request), so a
    # connection the database server closed is replaced here, not failed on.
    db.close_if_health_check_failed()
    db.ensure_connection()
    return db.connection


@functools.cache
def _in_driver_style(sql: str, vendor: str) -> str:
    # sqlite3 takes ? placeholders (Django's SQLite cursor rewrites %s per call); psycopg takes %s.
    return sql.replace("%s", "?") if vendor == "sqlite" else sql


Preparer = Callable[[models.Model, Any], Any]


@functools.cache
def _reserve_sql(models_: tuple[type[models.Model], ...]) -> str:
    quote = connection.ops.quote_name
    keys = (f"nextval(pg_get_serial_sequence('{quote(m._meta.db_table)}', '{m._meta.pk.column}'))" for m in models_)
    return f"SELECT {', '.join(keys)}"


@functools.cache
def _insert_sql(model: type[models.Model], vendor: str, *, with_pk: bool = False) -> tuple[str, tuple[Preparer, ...]]:
    # Every concrete column but a generated primary key, as the ORM's insert lists them, unless with_pk: then the
    # key is set. A generated key comes from RETURNING on PostgreSQL and from the cursor's lastrowid on SQLite.
    meta = model._meta
    fields = tuple(
        field for field in meta.concrete_fields if not field.generated and (with_pk or field is not meta.auto_field)
    )
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["?" if vendor == "sqlite" else "%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
    if vendor == "postgresql" and not with_pk:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, tuple(_preparer(field) for field in fields)


# Fields whose get_db_prep_save gives the attribute itself (text, booleans, foreign keys), or int() or float() of it,
# on both databases. Subclasses are left to the ORM: they may prepare differently.
_AS_IS = (models.CharField, models.TextField, models.BooleanField, models.ForeignKey)
_NUMBERS = {
    models.FloatField: float,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.SmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.PositiveBigIntegerField: int,
}


def _preparer(field: models.Field) -> Preparer:
    attname = field.attname
    if type(field) in _AS_IS:
        return lambda obj, db: getattr(obj, attname)
    number = _NUMBERS.get(type(field))
    if number is not None and not field.null:
        return lambda obj, db: number(getattr(obj, attname))
    return lambda obj, db: field.get_db_prep_save(field.pre_save(obj, add=True), db)
