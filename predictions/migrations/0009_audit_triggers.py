"""The database refuses edits too: triggers on PostgreSQL and SQLite.

- The audit tables (requests, predictions, reviews, audit events, seals) refuse every UPDATE, and every
  DELETE unless the deleting transaction holds a row in predictions_auditpurgepermit, which only
  purge_audit's transaction writes (and removes before it commits, so no other connection sees it).
  PostgreSQL's TRUNCATE, which fires no row trigger, is refused outright.
- predictions_transaction refuses an UPDATE that changes the transaction's own fields (labels still
  change, through the label path) and every DELETE without the permit.

This is a guard against mistakes and casual edits; a database owner can drop a trigger. The digests and
seals (services/integrity.py) are what show an edit that went around it.
"""

from django.db import migrations

APPEND_ONLY = [
    "predictions_scoringrequest",
    "predictions_prediction",
    "predictions_review",
    "predictions_auditevent",
    "predictions_auditseal",
]
TRANSACTION = "predictions_transaction"
OWN_FIELDS = [
    "id",
    "transaction_id",
    "timestamp",
    "customer_id",
    "terminal_id",
    "amount",
    "currency",
    "metadata",
    "created_at",
    "digest",
]
PERMIT = "EXISTS (SELECT 1 FROM predictions_auditpurgepermit)"
REFUSED = "fraudsite: audit rows are append-only; only purge_audit deletes them"


def _sqlite(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN NOT {PERMIT} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
    ]


def _sqlite_transaction() -> list[str]:
    changed = " OR ".join(f'OLD."{field}" IS NOT NEW."{field}"' for field in OWN_FIELDS)
    return [
        f"CREATE TRIGGER {TRANSACTION}_own_fields BEFORE UPDATE ON {TRANSACTION} WHEN {changed} "
        f"BEGIN SELECT RAISE(ABORT, 'fraudsite: a transaction''s own fields cannot change, only its label'); END",
        f"CREATE TRIGGER {TRANSACTION}_no_delete BEFORE DELETE ON {TRANSACTION} WHEN NOT {PERMIT} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END",
    ]


POSTGRES_FUNCTIONS = [
    f"""
    CREATE OR REPLACE FUNCTION fraudsite_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND {PERMIT} THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '{REFUSED} (% on %)', TG_OP, TG_TABLE_NAME;
    END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION fraudsite_refuse_transaction_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND ({", ".join(f'NEW."{f}"' for f in OWN_FIELDS)})
                IS NOT DISTINCT FROM ({", ".join(f'OLD."{f}"' for f in OWN_FIELDS)}) THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'DELETE' AND {PERMIT} THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'fraudsite: a transaction''s own fields cannot change, only its label (% on %)',
            TG_OP, TG_TABLE_NAME;
    END $$
    """,
]


def _postgres(table: str, function: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION fraudsite_refuse_audit_change()",
    ]


def statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        return [sql for table in APPEND_ONLY for sql in _sqlite(table)] + _sqlite_transaction()
    if vendor == "postgresql":
        tables = [(table, "fraudsite_refuse_audit_change") for table in APPEND_ONLY]
        tables.append((TRANSACTION, "fraudsite_refuse_transaction_change"))
        return POSTGRES_FUNCTIONS + [sql for table, function in tables for sql in _postgres(table, function)]
    return []  # another backend: no triggers (the ORM's append-only guard still holds)


def drop_statements(vendor: str) -> list[str]:
    if vendor == "sqlite":
        names = [f"{table}_{suffix}" for table in APPEND_ONLY for suffix in ("no_update", "no_delete")]
        names += [f"{TRANSACTION}_own_fields", f"{TRANSACTION}_no_delete"]
        return [f"DROP TRIGGER IF EXISTS {name}" for name in names]
    if vendor == "postgresql":
        drops = [
            f"DROP TRIGGER IF EXISTS {table}_{suffix} ON {table}"
            for table in [*APPEND_ONLY, TRANSACTION]
            for suffix in ("append_only", "no_truncate")
        ]
        return drops + [
            "DROP FUNCTION IF EXISTS fraudsite_refuse_audit_change()",
            "DROP FUNCTION IF EXISTS fraudsite_refuse_transaction_change()",
        ]
    return []


def create_triggers(apps, schema_editor):
    for sql in statements(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


def drop_triggers(apps, schema_editor):
    for sql in drop_statements(schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("predictions", "0008_audit_digests_and_seals")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
