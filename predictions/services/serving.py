"""What the scoring path reads on every request besides the transaction's history, in one query built once:
the active model version, the challenger version (services/shadow.py) and the generation of the decision
layer's lists and rules (services/decisions.py).

model_loader.active_model() makes the query. challenger_version() and policy_generation() then take what it read,
once each; called again, or without it, they query anew. Every change to any of the three takes effect on the
next request.

A light module (Django and the models only): the admin and the API import it through services/decisions.py,
and management commands must start without numpy and scikit-learn.
"""

from __future__ import annotations

import functools
import threading

from django.db import connection

from predictions.models import DecisionPolicyState, ModelVersion
from predictions.services.row_sql import fetch_all

_COLUMNS = ("id", "version", "artifact_path", "artifact_sha256", "thresholds")
_versions: dict[bool, tuple[tuple, ModelVersion]] = {}  # by is_active: the last row seen, and its ModelVersion
_this_thread = threading.local()
_UNREAD = object()


def read(rows: list[tuple] | None = None) -> ModelVersion | None:
    """The active version (None without one), keeping the challenger and the generation read with it.

    rows: statement()'s rows, when the caller has read them beside other statements (row_sql.fetch_many).
    """
    active, _this_thread.challenger, _this_thread.policy_generation = _versions_now(rows)
    return active


def statement() -> tuple[str, list]:
    """read()'s query, as (sql, params)."""
    return _sql(connection.vendor), [True, True]


def challenger_version() -> ModelVersion | None:
    """The challenger model version (load it with model_loader.model_for_version); None when there is none."""
    challenger = _this_thread.__dict__.pop("challenger", _UNREAD)
    return _versions_now()[1] if challenger is _UNREAD else challenger


def policy_generation() -> int:
    """The generation of the decision layer's lists and rules, which grows with every change to them."""
    generation = _this_thread.__dict__.pop("policy_generation", _UNREAD)
    return _versions_now()[2] if generation is _UNREAD else generation


def forget() -> None:
    """Forget the versions seen (tests, model_loader.clear_cache)."""
    _versions.clear()
    _this_thread.__dict__.clear()


def _versions_now(rows: list[tuple] | None = None) -> tuple[ModelVersion | None, ModelVersion | None, int]:
    """The active and the challenger versions and the policy's generation; each ModelVersion is rebuilt through
    the ORM only when its row differs from the last one this process saw (another version, or new thresholds)."""
    active = challenger = None
    generation = 0
    for row in fetch_all(*statement()) if rows is None else rows:
        generation, is_active, columns = row[0] or 0, row[1], row[2:]
        if is_active is None:  # no version is active nor the challenger
            continue
        cached = _versions.get(is_active)
        if cached is None or cached[0] != columns:
            cached = _versions[is_active] = (columns, ModelVersion.objects.only(*_COLUMNS).get(pk=columns[0]))
        if is_active:
            active = cached[1]
        else:
            challenger = cached[1]
    return active, challenger, generation


@functools.cache
def _sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    meta = ModelVersion._meta
    # One row at least, so that the generation is read when no version is active; the versions' columns are
    # NULL then.
    columns = ", ".join(f"mv.{quote(meta.get_field(name).column)}" for name in ("is_active", *_COLUMNS))
    state = quote(DecisionPolicyState._meta.db_table)
    return (
        f"SELECT state.{quote('generation')}, {columns} FROM (SELECT 1 AS one) AS here"
        f" LEFT JOIN {state} AS state ON state.{quote('id')} = 1"
        f" LEFT JOIN {quote(meta.db_table)} AS mv ON mv.{quote('is_active')} = %s OR mv.{quote('is_challenger')} = %s"
    )
