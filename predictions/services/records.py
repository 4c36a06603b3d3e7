"""What a stored, scored transaction is: its rows, its replay test, its reasons and its answer.

The API (one transaction, or a batch of up to 1,000) and score_file (a file, in chunks) fetch history
and write rows in their own ways: one INSERT each, bulk_create, or COPY. What they store is decided
here, once, and nowhere else:

- the Transaction row is the input as validated by predictions.rules, label unknown;
- the Prediction row holds the score, the decision, the thresholds it was decided with, the feature
  vector in the model's order, and reasons for a flagged score only (REASONS);
- the stored decision is the decision layer's (services/decisions.py: the lists and the active rules), with
  the model's own in model_decision: prediction_row decides its row, decided_columns (score_file) the rows of
  prediction_columns;
- every request leaves one ScoringRequest row, accepted or refused;
- a transaction_id that is already stored is answered as a replay of its first prediction when its
  content is the same and it was scored, and refused otherwise (replay_problem).

transaction_columns, prediction_columns and decided_columns are the column-wise twins of transaction_row and
prediction_row for the bulk writers; tests/predictions/services/test_records.py and test_batch_decisions.py hold
them to the same values.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

import numpy as np
import pandas as pd
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from model_package.predict import Model, Scored
from predictions.errors import DomainError
from predictions.models import Decision, Label, ModelVersion, Prediction, ScoringRequest, Transaction
from predictions.services.audit import RequestAudit
from predictions.services.bulk_sql import json_text
from predictions.services.decisions import Policy, decision_final, prediction_decide
from predictions.services.integrity import signed
from predictions.services.row_sql import fetch_all, insert_row

logger = logging.getLogger(__name__)

# Which scores are explained (model_package.predict's explain=). Reasons cost one model call per feature
# (occlusion), so explaining every row would make score_file several times slower (bench/RESULTS.md,
# "Reasons for every row or for flagged rows"); an approved transaction is not reviewed, so it is not explained.
REASONS = "flagged"
# Ids per IN (...) query: under SQLite's smallest limit of bound variables.
LOOKUP_BATCH = 900


@dataclass(frozen=True)
class TransactionInput:
    """One transaction that passed predictions.rules, as a client or a file sent it."""

    transaction_id: str
    timestamp: datetime
    customer_id: str
    terminal_id: str
    amount: Decimal
    currency: str
    metadata: dict[str, Any] = field(default_factory=dict)


class Reason(TypedDict):
    feature: str
    value: float
    contribution: float


class ScoringResult(TypedDict):
    transaction_id: str
    score: float
    decision: str
    model_decision: str
    rules: list[str]
    list_entry: dict[str, Any] | None
    flagged: bool
    model_version: str
    reasons: list[Reason]
    request_id: str | None
    scored_at: str


class DuplicateTransaction(DomainError):
    """A transaction_id that is already stored with other content, or stored without a score."""

    status_code = 409
    code = "duplicate_transaction"

    def __init__(self, conflicts: dict[str, str]) -> None:
        self.conflicts = conflicts
        super().__init__("A transaction_id is already used for other content.")

    def fields(self) -> dict[str, list[str]]:
        return {where: [problem] for where, problem in self.conflicts.items()}


# --- what is stored already -------------------------------------------------------------------


def stored_transactions(transaction_ids: Sequence[str]) -> dict[str, Transaction]:
    """The stored transactions among transaction_ids, by transaction_id."""
    return transactions_with_pks(_stored_pks(transaction_ids))


def transactions_with_pks(pks: Sequence[int]) -> dict[str, Transaction]:
    """The transactions with these primary keys, by transaction_id."""
    stored: dict[str, Transaction] = {}
    for first in range(0, len(pks), LOOKUP_BATCH):
        for row in Transaction.objects.filter(pk__in=pks[first : first + LOOKUP_BATCH]).order_by():
            stored[row.transaction_id] = row
    return stored


def stored_pk_statement(transaction_id: str) -> tuple[str, list[str]]:
    """The query of the primary key of one stored transaction_id (no row: not stored), as (sql, params) for
    row_sql.fetch_all or fetch_many. One plain parameter: psycopg dumps a list in Python."""
    return f"{_pk_by_id_select()} = %s", [transaction_id]


def _pk_by_id_select() -> str:
    """`SELECT pk FROM transactions WHERE transaction_id`: the stored-id lookups complete it with = or IN."""
    quote = connection.ops.quote_name
    meta = Transaction._meta
    return f"SELECT {quote(meta.pk.column)} FROM {quote(meta.db_table)} WHERE {quote('transaction_id')}"


def _stored_pks(transaction_ids: Sequence[str]) -> list[int]:
    """Primary keys of the ids already stored, in raw SQL: nearly every id is new, and the ORM prepares each
    value (5x slower for a file's 300,000 ids, and a third of the lookup's time on the scoring path)."""
    select = _pk_by_id_select()
    ids = list(transaction_ids)
    if len(ids) == 1:
        return [row[0] for row in fetch_all(*stored_pk_statement(ids[0]))]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{select} = ANY(%s)", [ids])  # one query, the ids as an array
            return [row[0] for row in cursor.fetchall()]
        pks: list[int] = []
        for first in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[first : first + LOOKUP_BATCH]
            cursor.execute(f"{select} IN ({', '.join(['%s'] * len(batch))})", batch)
            pks += [row[0] for row in cursor.fetchall()]
        return pks


def first_predictions(transactions: Sequence[Transaction]) -> dict[int, Prediction]:
    """The first prediction of each transaction (the answer its first request got), by transaction pk."""
    pks = [tx.pk for tx in transactions]
    first: dict[int, Prediction] = {}
    for start in range(0, len(pks), LOOKUP_BATCH):
        predictions = (
            Prediction.objects.filter(transaction_id__in=pks[start : start + LOOKUP_BATCH])
            .select_related("model_version", "request")
            .order_by("transaction_id", "scored_at", "id")
        )
        for prediction in predictions:
            first.setdefault(prediction.transaction_id, prediction)
    return first


def replay_problem(stored: Transaction, incoming: TransactionInput, *, has_prediction: bool) -> str:
    """Why a stored transaction cannot answer this request as a replay ('' when it can)."""
    if not _same_content(stored, incoming):
        return f"transaction {incoming.transaction_id} is already stored with different content"
    if not has_prediction:
        return f"transaction {incoming.transaction_id} is already stored (loaded as history) and was never scored"
    return ""


def _same_content(stored: Transaction, incoming: TransactionInput) -> bool:
    # Values, not spellings: 42.5 == 42.50 and 10:00+01:00 == 09:00Z are the same transaction.
    return (
        stored.timestamp == incoming.timestamp
        and stored.customer_id == incoming.customer_id
        and stored.terminal_id == incoming.terminal_id
        and Decimal(stored.amount) == incoming.amount
        and stored.currency == incoming.currency
        and stored.metadata == incoming.metadata
    )


# --- the rows ---------------------------------------------------------------------------------


def transaction_row(item: TransactionInput) -> Transaction:
    """The unsaved Transaction row of a new transaction."""
    return Transaction(
        transaction_id=item.transaction_id,
        timestamp=item.timestamp,
        customer_id=item.customer_id,
        terminal_id=item.terminal_id,
        amount=item.amount,
        currency=item.currency,
        metadata=item.metadata,
    )


def transaction_columns(rows: pd.DataFrame, *, timestamps: list) -> dict[str, list]:
    """transaction_row for many checked file rows (predictions.services.loading), as column lists for a raw
    bulk insert; timestamps as the backend stores them (bulk_sql.db_datetimes)."""
    n = len(rows)
    return {
        "transaction_id": rows["transaction_id"].tolist(),
        "timestamp": timestamps,
        "customer_id": rows["customer_id"].tolist(),
        "terminal_id": rows["terminal_id"].tolist(),
        "amount": rows["amount"].tolist(),
        "currency": rows["currency"].tolist(),
        "metadata": ["{}"] * n,
        "label": [Label.UNKNOWN.value] * n,
        "label_source": [""] * n,
        "labelled_at": [None] * n,
    }


def prediction_row(
    tx: Transaction,
    *,
    model_version: ModelVersion,
    model: Model,
    features: np.ndarray,
    scored: Scored,
    latency_ms: float,
) -> Prediction:
    """The unsaved Prediction row of a scored transaction, decided by the lists and rules; its request is set by
    the writer."""
    prediction = model_prediction_row(
        tx, model_version=model_version, model=model, features=features, scored=scored, latency_ms=latency_ms
    )
    return prediction_decide(prediction, feature_names=model.feature_names)


def model_prediction_row(
    tx: Transaction,
    *,
    model_version: ModelVersion,
    model: Model,
    features: np.ndarray,
    scored: Scored,
    latency_ms: float,
) -> Prediction:
    """prediction_row before the lists and rules: the model's own decision (a challenger's shadow stops here)."""
    return Prediction(
        transaction=tx,
        model_version=model_version,
        score=float(scored.score),
        decision=Decision(scored.decision).value,
        thresholds=_thresholds(model),
        features=[float(value) + 0.0 for value in features],  # + 0.0: -0.0 is 0.0 (PostgreSQL's jsonb has no -0)
        reasons=reasons_of(scored),
        latency_ms=latency_ms,
        scored_at=timezone.now(),
    )


def prediction_columns(
    *, model: Model, features: np.ndarray, scored: Sequence[Scored], latency_ms: float
) -> dict[str, list]:
    """prediction_row for many rows, as column lists for a raw bulk insert (JSON columns as JSON text).

    All but transaction_id, model_version_id, request_id and scored_at, which the writer knows.
    """
    n = len(scored)
    return {
        "score": [s.score for s in scored],  # already floats and Decision values (model_package.predict)
        "decision": [s.decision for s in scored],
        "thresholds": [json_text(_thresholds(model))] * n,
        "features": _features_json(features),
        "reasons": [json_text(reasons_of(s)) if s.reasons else "[]" for s in scored],
        "latency_ms": [latency_ms] * n,
    }


def decided_columns(
    *,
    policy: Policy,
    transactions: dict[str, list],
    predictions: dict[str, list],
    features: np.ndarray,
    feature_names: Sequence[str],
    at: datetime,
) -> dict[str, list]:
    """prediction_decide for many rows: the decision layer's columns, with the final decision in `decision`.

    transactions, predictions: transaction_columns' and prediction_columns' lists (the latter's decision is the
    model's); at: the rows' scored_at. Without active rules only the rows whose customer or terminal is listed go
    through decision_final, so a file with no entries and no rules costs no Python per row: every other row
    stores what prediction_decide stores for it (the model's decision, no rules, no errors, no entry).
    """
    model_decisions = predictions["decision"]
    n = len(model_decisions)
    rule_set = policy.rule_set
    columns: dict[str, list] = {
        "model_decision": model_decisions,
        "decision": list(model_decisions),
        "rules": ["[]"] * n,
        "rule_errors": ["[]"] * n,
        "list_entry": [None] * n,
        "rule_set_id": [rule_set.id if rule_set else None] * n,
    }
    with_rules = rule_set is not None and bool(rule_set.rules)
    rows = (
        range(n)
        if with_rules
        else policy.lists.listed(customer_ids=transactions["customer_id"], terminal_ids=transactions["terminal_id"])
    )
    failures: dict[str, list[str]] = {}
    for i in rows:
        decided = decision_final(
            model_decision=model_decisions[i],
            score=predictions["score"][i],
            transaction={name: transactions[name][i] for name in ("customer_id", "terminal_id", "amount", "currency")},
            features=dict(zip(feature_names, features[i].tolist(), strict=True)) if with_rules else {},
            lists=policy.lists,
            rule_set=rule_set,
            at=at,
        )
        columns["decision"][i] = decided.decision
        columns["rules"][i] = json_text(decided.rules)
        columns["rule_errors"][i] = json_text(decided.rule_errors)
        columns["list_entry"][i] = json_text(decided.list_entry) if decided.list_entry is not None else None
        for error in decided.rule_errors:
            failures.setdefault(error["rule"], []).append(error["error"])
    for rule, errors in failures.items():
        # One line per rule and chunk, not one per row as the API logs: a broken rule fails on much of a file.
        logger.warning("rule %s of rule set %s failed on %d rows: %s", rule, rule_set.version, len(errors), errors[0])
    return columns


def _thresholds(model: Model) -> dict[str, float]:
    return {"review": float(model.thresholds.review), "decline": float(model.thresholds.decline)}


def reasons_of(scored: Scored) -> list[Reason]:
    """A scored row's reasons as stored (-0.0 as 0.0, as PostgreSQL's jsonb reads it back)."""
    return [
        {"feature": r.feature, "value": float(r.value) + 0.0, "contribution": float(r.contribution) + 0.0}
        for r in scored.reasons
    ]


def _features_json(features: np.ndarray) -> list[str]:
    """The JSON list of each row's features (model order), with each float's repr (what json.dumps writes).

    Most feature columns (counts, flags, risks) hold few distinct values: those are formatted once per
    value and looked up, which with repr per value elsewhere takes 1.05 s instead of 1.55 s on 294k rows.
    """
    if not len(features):
        return []
    template = "[" + ",".join(["%s"] * features.shape[1]) + "]"
    columns = []
    for column in np.asarray(features, dtype=np.float64).T + 0.0:  # -0.0 as 0.0, as prediction_row
        # Distinct by bit pattern, not by value: -0.0 == 0.0 but their reprs differ.
        distinct, inverse = np.unique(column.view(np.uint64), return_inverse=True)
        if len(distinct) * 4 < len(column):
            texts = np.array([repr(value) for value in distinct.view(np.float64).tolist()], dtype=object)
            columns.append(texts[inverse].tolist())
        else:
            columns.append(map(repr, column.tolist()))
    return [template % row for row in zip(*columns, strict=True)]


# --- the answer and the request's audit row ----------------------------------------------------


def scoring_result(
    prediction: Prediction, *, transaction_id: str, model_version: str, request_id: uuid.UUID | None
) -> ScoringResult:
    """The API's scoring result for a prediction; the same for the first answer and every replay."""
    return {
        "transaction_id": transaction_id,
        "score": prediction.score,
        "decision": prediction.decision,
        # A prediction from before the decision layer was decided by the model alone.
        "model_decision": prediction.model_decision or prediction.decision,
        "rules": prediction.rules or [],
        "list_entry": prediction.list_entry,
        "flagged": prediction.decision != Decision.APPROVE,
        "model_version": model_version,
        "reasons": prediction.reasons,
        "request_id": str(request_id) if request_id else None,
        "scored_at": prediction.scored_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def stored_result(prediction: Prediction, *, transaction_id: str) -> ScoringResult:
    """The scoring result of a stored prediction (with its model version and request), for a replay."""
    request_id = prediction.request.request_id if prediction.request is not None else None
    return scoring_result(
        prediction, transaction_id=transaction_id, model_version=prediction.model_version.version, request_id=request_id
    )


def scoring_request_create(
    *, audit: RequestAudit, status_code: int, response: Any, error: str = "", replayed: bool = False
) -> ScoringRequest:
    """Write the request's audit row; call it inside the atomic block that stores the request's effects.

    The caller sets audit.recorded once that block has committed: a rolled-back row does not count.
    """
    request = scoring_request_row(
        audit=audit, status_code=status_code, response=response, error=error, replayed=replayed
    )
    insert_row(signed(request))
    return request


def scoring_request_row(
    *, audit: RequestAudit, status_code: int, response: Any, error: str = "", replayed: bool = False
) -> ScoringRequest:
    """The request's audit row, not yet signed or stored (scoring_request_create does both)."""
    if audit.recorded:
        raise RuntimeError(f"scoring request {audit.request_id} is already recorded")
    return ScoringRequest(
        request_id=audit.request_id,
        received_at=audit.received_at,
        endpoint=audit.endpoint,
        client=audit.client[:150],
        remote_addr=audit.remote_addr,
        body=audit.body,
        body_truncated=audit.body_truncated,
        status_code=status_code,
        response=response,
        duration_ms=audit.elapsed_ms(),
        error=error[:200],
        replayed=replayed,
    )


def refused_request_record(*, audit: RequestAudit, status_code: int, response: Any, error: str) -> None:
    """Record a request that stored nothing (refused or failed); a database outage only logs."""
    try:
        with transaction.atomic():
            scoring_request_create(audit=audit, status_code=status_code, response=response, error=error)
        audit.recorded = True
    except DatabaseError:
        # The refusal may itself be "database unavailable": the log line is then the only trace.
        logger.warning(
            "scoring request %s (%s, status %s, %s) could not be audited: database unavailable",
            audit.request_id,
            audit.endpoint,
            status_code,
            error,
        )
