"""Batch scoring of a transactions file: the API's features and decisions, vectorised, stored in chunks.

The file's rows are scored in time order. Their features are computed once for the whole file by
model_package.features.feature_table, over one frame made of the stored history the file needs (from
FEATURE_LOOKBACK_DAYS before its first row) and the file's own rows, which carry is_fraud 0 because
their labels are not known yet. That gives each row exactly the features POST transactions/ would have
computed had the rows been sent one by one in time order. The model scores chunks of rows; each chunk's
Transactions and Predictions commit together, and the first chunk also commits the job's one
ScoringRequest. What the rows hold is services.records' decision, as for the API: the decision layer
(services/decisions.py) decides each chunk with the lists and the rule set active when it is stored, the same
policy_active the API reads for each request, so that rescore --verify finds each row decided by the lists as
they stood at its scored_at.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from model_package.features import DELAY_DAYS, WINDOW_DAYS, feature_table
from model_package.predict import Model, Scored
from predictions.errors import DomainError
from predictions.models import Label, ModelVersion, Prediction, ScoringRequest, Transaction
from predictions.services.audit import RequestAudit, request_audit_begin
from predictions.services.bulk_sql import bulk_write_cache, db_datetimes, insert_rows
from predictions.services.decisions import policy_active
from predictions.services.files import REPORTED_BAD_ROWS, SCORE_CHUNK_ROWS, BadRow
from predictions.services.integrity import prediction_digests, transaction_digests
from predictions.services.loading import read_transaction_file
from predictions.services.model_loader import ModelUnavailable, active_model
from predictions.services.records import (
    REASONS,
    TransactionInput,
    decided_columns,
    first_predictions,
    prediction_columns,
    replay_problem,
    scoring_request_create,
    stored_transactions,
    transaction_columns,
)

logger = logging.getLogger(__name__)

ENDPOINT = "score_file"
SCORING_THREADS = 2
OUTPUT_COLUMNS = ("transaction_id", "score", "decision", "model_decision", "model_version")
FEATURE_LOOKBACK_DAYS = DELAY_DAYS + max(WINDOW_DAYS)  # the oldest row any feature of a transaction reads


class ScoreFileError(DomainError):
    """A file that cannot be scored (no active model, bad file, a race with another writer)."""


@dataclass
class ScoreFileResult:
    rows: int = 0
    scored: int = 0
    already_scored: int = 0
    refused: int = 0
    bad: int = 0
    problems: list[BadRow] = field(default_factory=list)  # the first bad or refused rows, by line
    decisions: Counter = field(default_factory=Counter)
    model_version: str = ""
    request_id: str = ""

    def note(self, problems: list[BadRow]) -> None:
        room = REPORTED_BAD_ROWS - len(self.problems)
        self.problems.extend(problems[: max(room, 0)])


@dataclass
class _Job:
    """What every chunk of one score_file run shares."""

    model_version: ModelVersion
    model: Model
    audit: RequestAudit
    result: ScoreFileResult
    request: ScoringRequest | None = None


def transactions_score_file(
    *, path: Path, out: Path, client: str = "", strict: bool = False, chunk_rows: int = SCORE_CHUNK_ROWS, progress=None
) -> ScoreFileResult:
    """Score the new transactions of a CSV file, store them with their predictions, and write `out`.

    Already scored ids (same content) are skipped and reported, and keep their stored result in `out`;
    ids stored with other content, or stored as unscored history, are refused like the API refuses them.
    strict: any bad or refused row stops the job before anything is stored.
    """
    path, out = Path(path), Path(out)
    if out.resolve() == path.resolve():
        raise ScoreFileError(f"{out}: the output file must not be the input file")
    audit = request_audit_begin(endpoint=ENDPOINT, body=_job_description(path, out), remote_addr=None, client=client)
    model_version, model = _model()
    # Takes the policy generation read with the model (each chunk then reads it anew) and loads the lists and
    # rules before the scoring starts.
    policy_active()
    result = ScoreFileResult(model_version=model_version.version)
    rows = _read(path, result)
    new, replays = _split(rows, result)
    if strict and (result.bad or result.refused):
        shown = "; ".join(str(problem) for problem in result.problems[:3])
        raise ScoreFileError(f"{path}: {result.bad + result.refused} rows cannot be scored, nothing stored: {shown}")
    features = _features(new, names=model.feature_names)
    job = _Job(model_version=model_version, model=model, audit=audit, result=result)
    outputs = [replays]
    times = db_datetimes(new["timestamp"]) if len(new) else []

    def prepare(start: int) -> _Prepared:
        end = start + chunk_rows
        scored, latency_ms = _score_chunk(model, features[start:end])
        return _prepare(new.iloc[start:end], features[start:end], times[start:end], scored, latency_ms, model=model)

    # Each chunk after the first is scored and prepared in a thread while the one before it is written, as
    # the database works without the GIL. On SQLite only once the rows are in, while they commit: its
    # inserts take the GIL back on every row, and a busy thread then slows them more than it saves.
    during_inserts = connection.vendor != "sqlite"
    with bulk_write_cache(), ThreadPoolExecutor(max_workers=1) as thread:
        pending = [thread.submit(prepare, 0)] if len(new) else []
        for start in range(0, len(new), chunk_rows):
            prepared = pending.pop().result()

            def prepare_next(following: int = start + chunk_rows) -> None:
                if following < len(new):
                    pending.append(thread.submit(prepare, following))

            if during_inserts:
                prepare_next()
            outputs.append(_store_chunk(prepared, job=job, while_committing=None if during_inserts else prepare_next))
            if progress is not None:
                progress(len(prepared.chunk), len(new))
    _write_output(out, pd.concat([frame for frame in outputs if len(frame)] or outputs, ignore_index=True), order=rows)
    result.request_id = str(job.request.request_id) if job.request else ""
    logger.info(
        "score_file %s: %d scored, %d already scored, %d refused, %d bad, model %s, request %s",
        path,
        result.scored,
        result.already_scored,
        result.refused,
        result.bad,
        result.model_version,
        result.request_id or "-",
    )
    return result


def _model() -> tuple[ModelVersion, Model]:
    try:
        return active_model()
    except ModelUnavailable as exc:
        raise ScoreFileError(f"cannot score: {exc} (activate one with activate_model VERSION)") from None


def _job_description(path: Path, out: Path) -> bytes:
    """The audit body of the job: which file (by content hash) was scored into which output."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise ScoreFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ScoreFileError(f"{path}: is a directory, not a CSV file") from None
    body = {"command": ENDPOINT, "file": str(path.resolve()), "sha256": digest.hexdigest(), "out": str(out.resolve())}
    return json.dumps(body).encode()


def _read(path: Path, result: ScoreFileResult) -> pd.DataFrame:
    chunks = []
    for chunk in read_transaction_file(path=path, with_labels=False):
        result.rows += chunk.rows
        result.bad += len(chunk.bad)
        result.note(chunk.bad)
        chunks.append(chunk.valid)
    if not chunks:
        raise ScoreFileError(f"{path}: no transactions")
    rows = pd.concat(chunks, ignore_index=True)
    return rows.sort_values(["timestamp", "transaction_id"], kind="stable", ignore_index=True)


# --- what is stored already -----------------------------------------------------------------


def _split(rows: pd.DataFrame, result: ScoreFileResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows to score, and the output rows of the already scored ones; counts the refused ones.

    A stored id is a replay or refused exactly as the API decides (records.replay_problem).
    """
    stored = stored_transactions(rows["transaction_id"].tolist())
    if not stored:  # the usual first run
        return rows, pd.DataFrame(columns=list(OUTPUT_COLUMNS))
    is_stored = rows["transaction_id"].isin(stored.keys()).to_numpy()
    first = first_predictions(list(stored.values()))
    replays, problems = [], []
    for row in rows[is_stored].itertuples(index=False):
        existing = stored[row.transaction_id]
        prediction = first.get(existing.pk)
        problem = replay_problem(existing, _as_input(row), has_prediction=prediction is not None)
        if problem:
            problems.append(BadRow(int(row.line), problem))
        else:
            # A prediction from before the decision layer was decided by the model alone.
            model_decision = prediction.model_decision or prediction.decision
            replays.append(
                (
                    row.transaction_id,
                    prediction.score,
                    prediction.decision,
                    model_decision,
                    prediction.model_version.version,
                )
            )
    result.already_scored = len(replays)
    result.refused = len(problems)
    result.note(sorted(problems, key=lambda problem: problem.line))
    return rows[~is_stored].reset_index(drop=True), pd.DataFrame(replays, columns=list(OUTPUT_COLUMNS))


def _as_input(row) -> TransactionInput:
    """A checked file row as the API's input: its amount has at most 2 decimals, so repr gives them back."""
    return TransactionInput(
        transaction_id=row.transaction_id,
        timestamp=row.timestamp.to_pydatetime(),
        customer_id=row.customer_id,
        terminal_id=row.terminal_id,
        amount=Decimal(repr(row.amount)),
        currency=row.currency,
    )


# --- features -------------------------------------------------------------------------------


def _features(new: pd.DataFrame, *, names: Sequence[str]) -> np.ndarray:
    """The matrix of the features `names` (the model's) of the new rows (in their order), from stored history
    plus the file's rows."""
    if new.empty:
        return np.empty((0, len(names)))
    history = stored_history_frame(
        since=new["timestamp"].iloc[0] - timedelta(days=FEATURE_LOOKBACK_DAYS),
        until=new["timestamp"].iloc[-1],
        customers=set(new["customer_id"]),
        terminals=set(new["terminal_id"]),
    )
    incoming = new[["transaction_id", "timestamp", "customer_id", "terminal_id", "amount"]].assign(is_fraud=0)
    frame = pd.concat([history, incoming], ignore_index=True)
    table = feature_table(frame, names)
    return table.to_numpy(dtype=np.float64)[len(history) :]


def stored_history_frame(*, since, until, customers: set[str], terminals: set[str]) -> pd.DataFrame:
    """Stored transactions with since <= timestamp <= until of these customers or terminals.

    A raw query, with the conversions done by the database: through the ORM, building a datetime and a
    Decimal per row was most of the cost.
    """
    quote = connection.ops.quote_name
    timestamp, amount, label = quote("timestamp"), quote("amount"), quote("label")
    if connection.vendor == "sqlite":
        # Django's text (naive UTC) as it is, without the driver's per-row datetime parsing.
        selected_time, selected_amount = f"{timestamp} || ''", amount
    else:
        selected_time, selected_amount = f"{timestamp}::text", f"{amount}::float8"
    sql = (
        f"SELECT {quote('transaction_id')}, {selected_time}, {quote('customer_id')}, {quote('terminal_id')}, "
        f"{selected_amount}, CASE WHEN {label} = %s THEN 1 ELSE 0 END "
        f"FROM {quote(Transaction._meta.db_table)} WHERE {timestamp} >= %s AND {timestamp} <= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Label.FRAUD.value, _db_datetime(since), _db_datetime(until)])
        records = cursor.fetchall()
    columns = ["transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "is_fraud"]
    frame = pd.DataFrame(records, columns=columns)
    frame = frame[frame["customer_id"].isin(customers) | frame["terminal_id"].isin(terminals)]
    return frame.assign(
        # Both texts parse as ISO 8601: "2026-03-04 10:00:00[.250000]" (SQLite) and "...+00" (PostgreSQL, UTC).
        timestamp=pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601"),
        amount=frame["amount"].astype(np.float64),
        is_fraud=frame["is_fraud"].astype(np.int64),
    ).reset_index(drop=True)


# --- scoring and storing --------------------------------------------------------------------


@dataclass
class _Prepared:
    """A chunk ready to store: the column lists of its Transaction and Prediction rows, the latter with the
    model's decision until _store_chunk applies the decision layer."""

    chunk: pd.DataFrame
    features: np.ndarray
    transactions: dict[str, list]
    predictions: dict[str, list]  # all but transaction_id, request_id, model_version_id and scored_at


def _score_chunk(model: Model, features: np.ndarray) -> tuple[list[Scored], float]:
    """Score the rows of a chunk, split over the cores (tree traversal releases the GIL); the mean ms per row."""
    started = time.perf_counter()
    if not len(features):
        return [], 0.0
    parts = np.array_split(np.arange(len(features)), min(SCORING_THREADS, max(1, len(features) // 10_000)))
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        results = pool.map(lambda rows: model.score_many(features[rows], explain=REASONS), parts)
        scored = [item for part in results for item in part]
    return scored, (time.perf_counter() - started) * 1000.0 / len(features)


def _prepare(
    chunk: pd.DataFrame, features: np.ndarray, times: list, scored: list[Scored], latency_ms: float, *, model: Model
) -> _Prepared:
    """The column lists of a scored chunk's rows."""
    predictions = prediction_columns(model=model, features=features, scored=scored, latency_ms=latency_ms)
    return _Prepared(
        chunk=chunk,
        features=features,
        transactions=transaction_columns(chunk, timestamps=times),
        predictions=predictions,
    )


def _store_chunk(prepared: _Prepared, *, job: _Job, while_committing: Callable[[], None] | None) -> pd.DataFrame:
    """Decide one chunk's rows and store its Transactions and Predictions in one transaction (the job's request
    with the first).

    Decided here, not in _prepare, because the lists apply as they stand at the rows' scored_at (an entry that
    expires or is added while a file is scored), as on the API path.
    while_committing, if given, is called once the rows are inserted, just before the commit.
    """
    chunk, n = prepared.chunk, len(prepared.chunk)
    moment = timezone.now()
    now = connection.ops.adapt_datetimefield_value(moment)
    predictions = {**prepared.predictions, **_decided(prepared, names=job.model.feature_names, at=moment)}
    tx_digests = transaction_digests(chunk, created_at=moment)
    try:
        with transaction.atomic():
            request = job.request or scoring_request_create(
                audit=job.audit, status_code=201, response={"model_version": job.model_version.version}
            )
            # No ON CONFLICT: an id stored by someone else since our lookup must fail the chunk.
            insert_rows(Transaction, {**prepared.transactions, "created_at": [now] * n, "digest": tx_digests})
            transaction_pks = _pks(chunk)
            pks = {"transaction_id": transaction_pks, "model_version_id": [job.model_version.pk] * n}
            owners = {"request_id": [request.pk] * n, "scored_at": [now] * n}
            digests = prediction_digests(
                predictions,
                transaction_pks=transaction_pks,
                model_version_pk=job.model_version.pk,
                request_pk=request.pk,
                scored_at=moment,
            )
            insert_rows(Prediction, {**pks, **owners, **predictions, "digest": digests})
            if while_committing is not None:
                while_committing()
    except IntegrityError:
        raise ScoreFileError(
            "another writer stored some of these transaction_ids while the file was being scored; "
            "run the command again to score the rest"
        ) from None
    job.request = request  # only once its chunk is committed
    job.result.scored += n
    job.result.decisions.update(predictions["decision"])
    return pd.DataFrame(
        {
            "transaction_id": chunk["transaction_id"].to_numpy(),
            "score": predictions["score"],
            "decision": predictions["decision"],
            "model_decision": predictions["model_decision"],
            "model_version": job.model_version.version,
        }
    )


def _decided(prepared: _Prepared, *, names: Sequence[str], at: datetime) -> dict[str, list]:
    """The decision layer's columns of a chunk scored at `at`, under the policy in force now."""
    return decided_columns(
        policy=policy_active(),
        transactions=prepared.transactions,
        predictions=prepared.predictions,
        features=prepared.features,
        feature_names=names,
        at=at,
    )


def _pks(chunk: pd.DataFrame) -> list[int]:
    """The primary keys the chunk's transactions just got, in chunk order.

    The chunk is in time order, so one indexed range query on timestamp finds them all (with any other
    transaction of that time span, which the id lookup leaves out).
    """
    quote = connection.ops.quote_name
    timestamp = quote("timestamp")
    sql = (
        f"SELECT {quote('transaction_id')}, {quote('id')} FROM {quote(Transaction._meta.db_table)} "
        f"WHERE {timestamp} >= %s AND {timestamp} <= %s"
    )
    bounds = [_db_datetime(chunk["timestamp"].iloc[0]), _db_datetime(chunk["timestamp"].iloc[-1])]
    with connection.cursor() as cursor:
        cursor.execute(sql, bounds)
        by_id = dict(cursor.fetchall())
    return [by_id[transaction_id] for transaction_id in chunk["transaction_id"].tolist()]


def _db_datetime(value: pd.Timestamp):
    return connection.ops.adapt_datetimefield_value(value.to_pydatetime())


# --- output ---------------------------------------------------------------------------------


def _write_output(out: Path, results: pd.DataFrame, *, order: pd.DataFrame) -> None:
    """One row per scored or already scored transaction, in time order; written whole or not at all."""
    ordered = order[["transaction_id"]].merge(results, on="transaction_id", how="inner")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        ordered.to_csv(partial, columns=list(OUTPUT_COLUMNS), index=False)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
