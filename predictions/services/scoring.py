"""Scoring transactions: features from the stored history, the active model, one atomic write.

Reads (the idempotency lookup, the history queries, the model) happen before the write block:
on SQLite the atomic block takes the database's write lock at BEGIN, so it is held only for
the inserts. A result is returned only after the Transaction, its Prediction and the request's
ScoringRequest are committed together, so no score ever leaves the service unstored.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

import numpy as np
from django.db import IntegrityError, connection, models, transaction

from model_package.features import FEATURE_NAMES, history_window, transaction_features
from model_package.predict import Model
from predictions.models import Label, ModelVersion, Prediction, ScoringRequest, ShadowPrediction, Transaction
from predictions.services import serving
from predictions.services.audit import RequestAudit
from predictions.services.integrity import audit_rows_counted, signed
from predictions.services.model_loader import active_model
from predictions.services.records import (
    REASONS,
    DuplicateTransaction,
    ScoringResult,
    TransactionInput,
    first_predictions,
    prediction_row,
    replay_problem,
    scoring_request_create,
    scoring_request_row,
    scoring_result,
    stored_pk_statement,
    stored_result,
    stored_transactions,
    transaction_row,
    transactions_with_pks,
)
from predictions.services.row_sql import fetch_many, insert_row, insert_together, pk_statement, pks_assigned
from predictions.services.shadow import shadow_score, shadow_store, shadows_linked

# The statuses the API answers with; stored on the request's audit row.
STATUS_CREATED = 201
STATUS_REPLAYED = 200

# The rows a new transaction stores, in the order their keys are drawn on PostgreSQL (the shadow's with a challenger).
SCORED_ROWS = (Transaction, ScoringRequest, Prediction, ShadowPrediction)


class BatchItemResult(ScoringResult):
    replayed: bool


class BatchResult(TypedDict):
    request_id: str
    created: int
    replayed: int
    results: list[BatchItemResult]


@dataclass(frozen=True)
class ScoreOutcome:
    result: ScoringResult
    replayed: bool


@dataclass(frozen=True)
class BatchOutcome:
    result: BatchResult

    @property
    def all_replayed(self) -> bool:
        return self.result["created"] == 0


def transaction_score(*, transaction_input: TransactionInput, audit: RequestAudit) -> ScoreOutcome:
    """Score one transaction and store it, or return the stored result of an identical earlier request.

    Whether it is stored, its history and the serving versions (services/serving.py) are read together: one
    round trip on PostgreSQL, which also draws the keys of the rows a new transaction stores (_insert_at_once).
    A replay uses none of the versions, so it needs no model (and leaves a gap in the key sequences).
    """
    lookup = stored_pk_statement(transaction_input.transaction_id)
    keys = [pk_statement(SCORED_ROWS)] if connection.vendor == "postgresql" else []
    history, (found, versions, *drawn) = StoredHistory.fetch_beside(
        [transaction_input], [lookup, serving.statement(), *keys]
    )
    if found:
        stored = transactions_with_pks([found[0][0]])[transaction_input.transaction_id]
        return _replay(stored=stored, incoming=transaction_input, audit=audit)
    try:
        return _score_new(
            transaction_input=transaction_input,
            audit=audit,
            history=history,
            versions=versions,
            keys=drawn[0][0] if drawn else None,
        )
    except IntegrityError:
        # A concurrent request stored the same transaction_id between our lookup and our insert.
        stored = stored_transactions([transaction_input.transaction_id]).get(transaction_input.transaction_id)
        if stored is None:
            raise
        return _replay(stored=stored, incoming=transaction_input, audit=audit)


def transactions_score_batch(*, transactions: Sequence[TransactionInput], audit: RequestAudit) -> BatchOutcome:
    """Score a batch (ids unique within it) in one atomic write; stored identical items are replayed."""
    # A concurrent request may store some of these ids between our lookup and our insert: then the
    # attempt rolls back and the next one replays them (or refuses them as conflicts). Each failed
    # attempt found at least one more id stored, so there are at most as many as there are items.
    for _ in range(len(transactions)):
        try:
            return _score_batch_once(transactions=transactions, audit=audit)
        except IntegrityError:
            continue
    return _score_batch_once(transactions=transactions, audit=audit)


# --- one transaction ----------------------------------------------------------------------


def _score_new(
    *,
    transaction_input: TransactionInput,
    audit: RequestAudit,
    history: StoredHistory,
    versions: list[tuple],
    keys: Sequence[int] | None,
) -> ScoreOutcome:
    """keys: the rows' keys drawn beside the read (PostgreSQL, SCORED_ROWS' order); None where the insert sets them."""
    model_version, model = active_model(versions)
    started = time.perf_counter()
    features = transaction_features_from_history(transaction_input, stored=history, names=model.feature_names)
    scored = model.score_many(features[np.newaxis, :], explain=REASONS)[0]
    latency_ms = (time.perf_counter() - started) * 1000.0
    tx = transaction_row(transaction_input)
    prediction = prediction_row(
        tx, model_version=model_version, model=model, features=features, scored=scored, latency_ms=latency_ms
    )
    result = scoring_result(
        prediction, transaction_id=tx.transaction_id, model_version=model_version.version, request_id=audit.request_id
    )
    shadows = shadow_score(
        predictions=[prediction],
        champion_names=model.feature_names,
        recompute=lambda names: transaction_features_from_history(transaction_input, stored=history, names=names)[
            np.newaxis, :
        ],
    )
    request = scoring_request_row(audit=audit, status_code=STATUS_CREATED, response=result)
    if keys is not None:
        _insert_at_once([tx, request, prediction, *shadows], keys)
    else:
        with _write_block():
            insert_row(signed(tx))
            insert_row(signed(request))
            prediction.transaction, prediction.request = tx, request  # their primary keys, now that they have them
            insert_row(signed(prediction))
            shadow_store(shadows, predictions=[prediction])
    audit.recorded = True
    return ScoreOutcome(result=result, replayed=False)


def _insert_at_once(rows: list[models.Model], keys: Sequence[int]) -> None:
    """PostgreSQL: a scored transaction's rows (transaction, request, prediction, its shadows) in one statement
    (row_sql.insert_together), with the keys drawn in the read before: the prediction's digest names the
    transaction's and the request's. One round trip where BEGIN, three INSERTs and COMMIT were five.

    Inside a caller's transaction, under a savepoint, so that a failure (the id stored meanwhile) leaves it usable.
    """
    tx, request, prediction, *shadows = rows
    pks_assigned(rows, keys)
    prediction.transaction, prediction.request = tx, request
    for row in (tx, request, prediction):
        signed(row, counted=False)
    if shadows:
        shadows_linked(shadows, predictions=[prediction], counted=False)
    with transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext():
        insert_together(rows)
    audit_rows_counted(rows)


def transaction_features_from_history(
    transaction_input: TransactionInput,
    *,
    earlier_in_batch: Iterable[TransactionInput] = (),
    stored: StoredHistory | None = None,
    names: Sequence[str] = FEATURE_NAMES,
) -> np.ndarray:
    """The model's feature vector for a transaction, from the history stored now (plus earlier batch items).

    stored: the batch's history fetched once (StoredHistory.fetch); without it, two queries.
    """
    window = history_window(transaction_input.timestamp)
    if stored is None:
        stored = StoredHistory.fetch([transaction_input])
    customer_history = stored.customer_rows(
        transaction_input.customer_id, after=window.customer_since, until=transaction_input.timestamp
    )
    terminal_history = stored.terminal_rows(
        transaction_input.terminal_id, since=window.terminal_since, before=window.terminal_until
    )
    for earlier in earlier_in_batch:
        # Not stored yet, so the queries cannot see them; their labels are not known yet either.
        if earlier.customer_id == transaction_input.customer_id:
            customer_history.append((earlier.timestamp, float(earlier.amount)))
        if earlier.terminal_id == transaction_input.terminal_id:
            terminal_history.append((earlier.timestamp, False))
    return transaction_features(
        timestamp=transaction_input.timestamp,
        amount=float(transaction_input.amount),
        customer_history=customer_history,
        terminal_history=terminal_history,
        names=names,
    )


@dataclass
class StoredHistory:
    """The stored history rows of some customers and terminals, in time order: what the features of a set of
    transactions (one, or a batch) read, fetched with two queries per customer and terminal, not per item."""

    customers: dict[str, tuple[list[datetime], list[float]]]  # timestamps, amounts
    terminals: dict[str, tuple[list[datetime], list[bool]]]  # timestamps, is fraud

    @classmethod
    def fetch(cls, items: Sequence[TransactionInput]) -> StoredHistory:
        return cls.fetch_beside(items, [])[0]

    @classmethod
    def fetch_beside(
        cls, items: Sequence[TransactionInput], others: Sequence[tuple[str, list]]
    ) -> tuple[StoredHistory, list[list[tuple]]]:
        """The history of items, and the rows of other statements, all in one round trip (row_sql.fetch_many)."""
        customer_sql, terminal_sql = _history_sql(connection.vendor)
        adapt = connection.ops.adapt_datetimefield_value
        windows = [(item, history_window(item.timestamp)) for item in items]
        customer_ids = list(dict.fromkeys(item.customer_id for item in items))
        terminal_ids = list(dict.fromkeys(item.terminal_id for item in items))
        statements = list(others)
        for customer_id in customer_ids:
            mine = [(item, window) for item, window in windows if item.customer_id == customer_id]
            since = min(window.customer_since for _, window in mine)
            until = max(item.timestamp for item, _ in mine)
            statements.append((customer_sql, [customer_id, adapt(since), adapt(until)]))
        for terminal_id in terminal_ids:
            mine = [window for item, window in windows if item.terminal_id == terminal_id]
            since = min(window.terminal_since for window in mine)
            until = max(window.terminal_until for window in mine)
            statements.append((terminal_sql, [terminal_id, adapt(since), adapt(until)]))
        results = fetch_many(statements)
        histories = iter(results[len(others) :])
        customers: dict[str, tuple[list[datetime], list[float]]] = {}
        for customer_id in customer_ids:
            rows = next(histories)
            customers[customer_id] = ([datetime.fromisoformat(ts) for ts, _ in rows], [amount for _, amount in rows])
        terminals: dict[str, tuple[list[datetime], list[bool]]] = {}
        for terminal_id in terminal_ids:
            rows = next(histories)
            frauds = [label == Label.FRAUD for _, label in rows]
            terminals[terminal_id] = ([datetime.fromisoformat(ts) for ts, _ in rows], frauds)
        return cls(customers=customers, terminals=terminals), results[: len(others)]

    def customer_rows(self, customer_id: str, *, after: datetime, until: datetime) -> list[tuple[datetime, float]]:
        """(timestamp, amount) with after < timestamp <= until, as the customer query selects them."""
        times, amounts = self.customers[customer_id]
        first, last = bisect.bisect_right(times, after), bisect.bisect_right(times, until)
        return list(zip(times[first:last], amounts[first:last], strict=True))

    def terminal_rows(self, terminal_id: str, *, since: datetime, before: datetime) -> list[tuple[datetime, bool]]:
        """(timestamp, is fraud) with since <= timestamp < before, as the terminal query selects them."""
        times, frauds = self.terminals[terminal_id]
        first, last = bisect.bisect_left(times, since), bisect.bisect_left(times, before)
        return list(zip(times[first:last], frauds[first:last], strict=True))


# On SQLite, threads of one process take turns on this lock before BEGIN IMMEDIATE: they then queue
# in order, instead of polling the database's write lock with SQLite's growing busy-timeout sleeps.
_sqlite_writer = threading.Lock()


@contextlib.contextmanager
def _write_block() -> Iterator[None]:
    """transaction.atomic(), serialised per process on SQLite (one writer at a time anyway)."""
    if connection.vendor != "sqlite":
        with transaction.atomic():
            yield
        return
    with _sqlite_writer, transaction.atomic():
        yield


@functools.cache
def _history_sql(vendor: str) -> tuple[str, str]:
    """The two history queries of features.history_window, as SQL built once per process.

    They run on every scoring request, and compiling them through the ORM cost more than running
    them. The predicates are the ORM's (and the parameters are adapted by the backend as the ORM
    does), so the covering indexes tx_customer_history and tx_terminal_history serve them, in time
    order (no sort step).

    The rows' timestamps come as ISO text with its UTC offset, parsed by datetime.fromisoformat into
    datetimes of one tzinfo object (the features' comparisons between them are then a memcmp), and the
    amounts as floats. The drivers' own conversions were a third of the rows' cost on SQLite (Django's
    converter, a Python function per value) and 16 % of a whole request on PostgreSQL (Django's timestamptz
    loader, in Python); bench/RESULTS.md, issue 13.
    """
    quote = connection.ops.quote_name
    meta = Transaction._meta
    table = quote(meta.db_table)
    ts, amount, label, customer, terminal = (
        quote(meta.get_field(name).column) for name in ("timestamp", "amount", "label", "customer_id", "terminal_id")
    )
    if vendor == "postgresql":
        # to_char's pattern, not ::text, whose format follows the session's DateStyle.
        when, money = f"""to_char({ts} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""", f"{amount}::float8"
    else:
        when, money = f"{ts} || '+00:00'", f"CAST({amount} AS REAL)"  # stored as naive UTC text, as Django writes it
    return (
        f"SELECT {when}, {money} FROM {table} WHERE {customer} = %s AND {ts} > %s AND {ts} <= %s ORDER BY {ts}",
        f"SELECT {when}, {label} FROM {table} WHERE {terminal} = %s AND {ts} >= %s AND {ts} < %s ORDER BY {ts}",
    )


# --- a batch ------------------------------------------------------------------------------


def _score_batch_once(*, transactions: Sequence[TransactionInput], audit: RequestAudit) -> BatchOutcome:
    stored = stored_transactions([t.transaction_id for t in transactions])
    replays = _batch_replays(transactions=transactions, stored=stored)
    new = [(index, t) for index, t in enumerate(transactions) if t.transaction_id not in stored]
    results: dict[int, BatchItemResult] = {index: {**result, "replayed": True} for index, result in replays.items()}
    tx_rows: list[Transaction] = []
    predictions: list[Prediction] = []
    shadows: list[ShadowPrediction] = []
    if new:
        model_version, model = active_model()
        tx_rows, predictions = _batch_predictions(new=new, model_version=model_version, model=model)
        shadows = shadow_score(
            predictions=predictions,
            champion_names=model.feature_names,
            recompute=lambda names: _batch_features(new, names=names),
        )
        for (index, _), prediction in zip(new, predictions, strict=True):
            result = scoring_result(
                prediction,
                transaction_id=prediction.transaction.transaction_id,
                model_version=model_version.version,
                request_id=audit.request_id,
            )
            results[index] = {**result, "replayed": False}
    body: BatchResult = {
        "request_id": str(audit.request_id),
        "created": len(new),
        "replayed": len(replays),
        "results": [results[index] for index in range(len(transactions))],
    }
    status = STATUS_CREATED if new else STATUS_REPLAYED
    with _write_block():
        # In id order, the order every batch takes the unique index's locks in: two overlapping batches on
        # PostgreSQL then wait for each other instead of deadlocking.
        Transaction.objects.bulk_create(signed(tx) for tx in sorted(tx_rows, key=lambda tx: tx.transaction_id))
        request = scoring_request_create(audit=audit, status_code=status, response=body, replayed=not new)
        for prediction in predictions:
            # bulk_create has filled in the transactions' primary keys (PostgreSQL, SQLite >= 3.35).
            prediction.request = request
            prediction.transaction = prediction.transaction
            signed(prediction)
        Prediction.objects.bulk_create(predictions)
        shadow_store(shadows, predictions=predictions)
    audit.recorded = True
    return BatchOutcome(result=body)


def _batch_replays(
    *, transactions: Sequence[TransactionInput], stored: dict[str, Transaction]
) -> dict[int, ScoringResult]:
    """Stored results of the batch items already stored; DuplicateTransaction names every conflict."""
    first = first_predictions([stored[t.transaction_id] for t in transactions if t.transaction_id in stored])
    conflicts: dict[str, str] = {}
    replays: dict[int, ScoringResult] = {}
    for index, incoming in enumerate(transactions):
        existing = stored.get(incoming.transaction_id)
        if existing is None:
            continue
        prediction = first.get(existing.pk)
        problem = replay_problem(existing, incoming, has_prediction=prediction is not None)
        if problem:
            conflicts[f"items[{index}].transaction_id"] = problem
        else:
            replays[index] = stored_result(prediction, transaction_id=existing.transaction_id)
    if conflicts:
        raise DuplicateTransaction(conflicts)
    return replays


def _batch_predictions(
    *, new: list[tuple[int, TransactionInput]], model_version: ModelVersion, model: Model
) -> tuple[list[Transaction], list[Prediction]]:
    """Unsaved Transaction and Prediction rows for the new items, in the order of `new`."""
    started = time.perf_counter()
    matrix = _batch_features(new, names=model.feature_names)
    scored = model.score_many(matrix, explain=REASONS)
    latency_ms = (time.perf_counter() - started) * 1000.0 / len(new)
    tx_rows = [transaction_row(item) for _, item in new]
    predictions = [
        prediction_row(tx, model_version=model_version, model=model, features=vector, scored=s, latency_ms=latency_ms)
        for tx, vector, s in zip(tx_rows, matrix, scored, strict=True)
    ]
    return tx_rows, predictions


def _batch_features(new: list[tuple[int, TransactionInput]], *, names: Sequence[str]) -> np.ndarray:
    """The feature vectors (the features `names`) of the new batch items, one row each, in the order of `new`."""
    # Time order, as the offline feature table: an item's history includes the batch items before it.
    order = sorted(range(len(new)), key=lambda k: (new[k][1].timestamp, new[k][1].transaction_id))
    by_customer: dict[str, list[TransactionInput]] = defaultdict(list)
    by_terminal: dict[str, list[TransactionInput]] = defaultdict(list)
    vectors: dict[int, np.ndarray] = {}
    stored = StoredHistory.fetch([item for _, item in new])
    for k in order:
        item = new[k][1]
        earlier = by_customer[item.customer_id] + by_terminal[item.terminal_id]
        vectors[k] = transaction_features_from_history(
            item, earlier_in_batch=_unique(earlier), stored=stored, names=names
        )
        by_customer[item.customer_id].append(item)
        by_terminal[item.terminal_id].append(item)
    return np.vstack([vectors[k] for k in range(len(new))])


def _unique(items: list[TransactionInput]) -> list[TransactionInput]:
    # An earlier item at the same customer AND terminal appears in both lists; count it once.
    return list({item.transaction_id: item for item in items}.values())


# --- shared -------------------------------------------------------------------------------


def _replay(*, stored: Transaction, incoming: TransactionInput, audit: RequestAudit) -> ScoreOutcome:
    prediction = first_predictions([stored]).get(stored.pk)
    problem = replay_problem(stored, incoming, has_prediction=prediction is not None)
    if problem:
        raise DuplicateTransaction({"transaction_id": problem})
    result = stored_result(prediction, transaction_id=stored.transaction_id)
    with _write_block():
        scoring_request_create(audit=audit, status_code=STATUS_REPLAYED, response=result, replayed=True)
    audit.recorded = True
    return ScoreOutcome(result=result, replayed=True)
