"""Batch scoring of a transactions file: the API's features and decisions, vectorised, stored in chunks.

The file's rows are scored in time order. Their features are computed once for the whole file by
model_package.features.feature_table, over one frame made of the stored history the file needs (from
37 days before its first row) and the file's own rows, which carry is_fraud 0 because their labels are
not known yet. That gives each row exactly the features POST transactions/ would have computed had the
rows been sent one by one in time order. The model scores chunks of rows; each chunk's Transactions and
Predictions commit together, and the first chunk also commits the job's one ScoringRequest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from model_package.features import DELAY_DAYS, WINDOW_DAYS, feature_table
from model_package.predict import Model, Scored
from predictions.models import Label, ModelVersion, Prediction, ScoringRequest, Transaction
from predictions.services.audit import RequestAudit, request_audit_begin, scoring_request_create
from predictions.services.history import (
    REPORTED_BAD_ROWS,
    BadRow,
    bulk_write_cache,
    db_datetimes,
    insert_rows,
    json_text,
    read_transaction_file,
)
from predictions.services.model_registry import ModelUnavailable, active_model

logger = logging.getLogger(__name__)

ENDPOINT = "score_file"
# Rows per transaction: bigger is faster (each commit rewrites the customer and terminal index pages it
# touched, nearly all of them), but holds SQLite's write lock longer (about 2.5 s for 100k rows). On the
# book's last 30 days (SQLite): 10k rows 8.9k rows/s, 50k 20.1k, 100k 21.1k; 150k and more are slower
# again (the dirty pages outgrow the 256 MiB cache of bulk_write_cache).
CHUNK_ROWS = 100_000
SCORING_THREADS = 2
OUTPUT_COLUMNS = ("transaction_id", "score", "decision", "model_version")
HISTORY_DAYS = DELAY_DAYS + max(WINDOW_DAYS)  # the oldest row any feature of a transaction reads
_LOOKUP_BATCH = 900  # ids per IN (...) query, under SQLite's smallest variable limit


class ScoreFileError(Exception):
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
    *, path: Path, out: Path, client: str = "", strict: bool = False, chunk_rows: int = CHUNK_ROWS, progress=None
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
    result = ScoreFileResult(model_version=model_version.version)
    rows = _read(path, result)
    stored = _stored(rows["transaction_id"])
    new, replays = _split(rows, stored, result)
    if strict and (result.bad or result.refused):
        shown = "; ".join(str(problem) for problem in result.problems[:3])
        raise ScoreFileError(f"{path}: {result.bad + result.refused} rows cannot be scored, nothing stored: {shown}")
    features = _features(new)
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


def _stored(transaction_ids: pd.Series) -> pd.DataFrame:
    """The stored transactions among transaction_ids, with their first prediction (NaN score when none)."""
    pks = _existing_pks(transaction_ids.tolist())
    records = []
    for first in range(0, len(pks), _LOOKUP_BATCH):
        records += Transaction.objects.filter(pk__in=pks[first : first + _LOOKUP_BATCH]).values_list(
            "pk", "transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "currency", "metadata"
        )
    columns = ["pk", "transaction_id", "stored_timestamp", "stored_customer", "stored_terminal", "stored_amount"]
    stored = pd.DataFrame(records, columns=[*columns, "stored_currency", "stored_metadata"])
    first = _first_predictions(stored["pk"].tolist())
    return stored.merge(first, on="pk", how="left")


def _existing_pks(transaction_ids: list[str]) -> list[int]:
    """Primary keys of the ids already stored: raw queries (the ORM prepares each value, 5x slower)."""
    quote = connection.ops.quote_name
    select = f"SELECT {quote('id')} FROM {quote(Transaction._meta.db_table)} WHERE {quote('transaction_id')}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{select} = ANY(%s)", [transaction_ids])  # one query, the ids as an array
            return [row[0] for row in cursor.fetchall()]
        pks: list[int] = []
        for first in range(0, len(transaction_ids), _LOOKUP_BATCH):
            batch = transaction_ids[first : first + _LOOKUP_BATCH]
            cursor.execute(f"{select} IN ({', '.join(['%s'] * len(batch))})", batch)
            pks += [row[0] for row in cursor.fetchall()]
        return pks


def _first_predictions(pks: list[int]) -> pd.DataFrame:
    """Each transaction's first prediction: the answer it was given, as the API replays it."""
    records = []
    for first in range(0, len(pks), _LOOKUP_BATCH):
        records += (
            Prediction.objects.filter(transaction_id__in=pks[first : first + _LOOKUP_BATCH])
            .order_by("transaction_id", "scored_at", "id")
            .values_list("transaction_id", "score", "decision", "model_version__version")
        )
    frame = pd.DataFrame(records, columns=["pk", "score", "decision", "model_version"])
    return frame.drop_duplicates("pk", keep="first")


def _split(rows: pd.DataFrame, stored: pd.DataFrame, result: ScoreFileResult) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows to score, and the output rows of the already scored ones; counts the refused ones."""
    if stored.empty:  # the usual first run: nothing to compare
        return rows, pd.DataFrame(columns=list(OUTPUT_COLUMNS))
    merged = rows.merge(stored, on="transaction_id", how="left")
    is_stored = merged["pk"].notna().to_numpy()
    same = (
        (merged["stored_timestamp"] == merged["timestamp"])
        & (merged["stored_customer"] == merged["customer_id"])
        & (merged["stored_terminal"] == merged["terminal_id"])
        & (merged["stored_amount"].astype(float).round(2) == merged["amount"].round(2))
        & (merged["stored_currency"] == merged["currency"])
        & merged["stored_metadata"].map(lambda value: value == {})
    ).to_numpy()
    scored_before = merged["score"].notna().to_numpy()
    replay = is_stored & same & scored_before
    refused = is_stored & ~replay
    reasons = np.where(same, "already stored (loaded as history) and never scored", "already stored with other content")
    problems = [
        BadRow(int(line), f"transaction {tid}: {reason}")
        for line, tid, reason in zip(
            merged["line"][refused], merged["transaction_id"][refused], reasons[refused], strict=True
        )
    ]
    result.already_scored = int(replay.sum())
    result.refused = int(refused.sum())
    result.note(sorted(problems, key=lambda problem: problem.line))
    replays = merged.loc[replay, ["transaction_id", *OUTPUT_COLUMNS[1:]]]
    return rows[~is_stored].reset_index(drop=True), replays.reset_index(drop=True)


# --- features -------------------------------------------------------------------------------


def _features(new: pd.DataFrame) -> np.ndarray:
    """The feature matrix of the new rows (in their order), from stored history plus the file's rows."""
    if new.empty:
        return np.empty((0, 0))
    history = _history(
        since=new["timestamp"].iloc[0] - timedelta(days=HISTORY_DAYS),
        until=new["timestamp"].iloc[-1],
        customers=set(new["customer_id"]),
        terminals=set(new["terminal_id"]),
    )
    incoming = new[["transaction_id", "timestamp", "customer_id", "terminal_id", "amount"]].assign(is_fraud=0)
    frame = pd.concat([history, incoming], ignore_index=True)
    table = feature_table(frame)
    return table.to_numpy(dtype=np.float64)[len(history) :]


def _history(*, since, until, customers: set[str], terminals: set[str]) -> pd.DataFrame:
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
    """A chunk ready to store: the column lists of its Transaction and Prediction rows."""

    chunk: pd.DataFrame
    transactions: dict[str, list]
    predictions: dict[str, list]  # all but transaction_id, request_id, model_version_id and scored_at
    scores: list[float]
    decisions: list[str]


def _score_chunk(model: Model, features: np.ndarray) -> tuple[list[Scored], float]:
    """Score the rows of a chunk, split over the cores (tree traversal releases the GIL); the mean ms per row."""
    started = time.perf_counter()
    if not len(features):
        return [], 0.0
    parts = np.array_split(np.arange(len(features)), min(SCORING_THREADS, max(1, len(features) // 10_000)))
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        results = pool.map(lambda rows: model.score_many(features[rows], explain="flagged"), parts)
        scored = [item for part in results for item in part]
    return scored, (time.perf_counter() - started) * 1000.0 / len(features)


def _prepare(
    chunk: pd.DataFrame, features: np.ndarray, times: list, scored: list[Scored], latency_ms: float, *, model: Model
) -> _Prepared:
    """The column lists of a scored chunk's rows."""
    n = len(chunk)
    scores = [s.score for s in scored]
    decisions = [s.decision for s in scored]
    thresholds = json_text({"review": float(model.thresholds.review), "decline": float(model.thresholds.decline)})
    return _Prepared(
        chunk=chunk,
        transactions={
            "transaction_id": chunk["transaction_id"].tolist(),
            "timestamp": times,
            "customer_id": chunk["customer_id"].tolist(),
            "terminal_id": chunk["terminal_id"].tolist(),
            "amount": chunk["amount"].tolist(),
            "currency": chunk["currency"].tolist(),
            "metadata": ["{}"] * n,
            "label": [Label.UNKNOWN.value] * n,
            "label_source": [""] * n,
            "labelled_at": [None] * n,
        },
        predictions={
            "score": scores,
            "decision": decisions,
            "thresholds": [thresholds] * n,
            "features": _feature_json(features),
            "reasons": [_reasons_json(s.reasons) for s in scored],
            "latency_ms": [latency_ms] * n,
        },
        scores=scores,
        decisions=decisions,
    )


def _store_chunk(prepared: _Prepared, *, job: _Job, while_committing: Callable[[], None] | None) -> pd.DataFrame:
    """Store one chunk's Transactions and Predictions in one transaction (the job's request with the first).

    while_committing, if given, is called once the rows are inserted, just before the commit.
    """
    chunk, n = prepared.chunk, len(prepared.chunk)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    try:
        with transaction.atomic():
            request = job.request or scoring_request_create(
                audit=job.audit, status_code=201, response={"model_version": job.model_version.version}
            )
            # No ON CONFLICT: an id stored by someone else since our lookup must fail the chunk.
            insert_rows(Transaction, {**prepared.transactions, "created_at": [now] * n})
            pks = {"transaction_id": _pks(chunk), "model_version_id": [job.model_version.pk] * n}
            owners = {"request_id": [request.pk] * n, "scored_at": [now] * n}
            insert_rows(Prediction, {**pks, **owners, **prepared.predictions})
            if while_committing is not None:
                while_committing()
    except IntegrityError:
        raise ScoreFileError(
            "another writer stored some of these transaction_ids while the file was being scored; "
            "run the command again to score the rest"
        ) from None
    job.request = request  # only once its chunk is committed
    job.result.scored += n
    job.result.decisions.update(prepared.decisions)
    return pd.DataFrame(
        {
            "transaction_id": chunk["transaction_id"].to_numpy(),
            "score": prepared.scores,
            "decision": prepared.decisions,
            "model_version": job.model_version.version,
        }
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


def _feature_json(features: np.ndarray) -> list[str]:
    """The JSON list of each row's features (model order), with each float's repr (what json.dumps writes).

    Most feature columns (counts, flags, risks) hold few distinct values: those are formatted once per
    value and looked up, which with repr per value elsewhere takes 1.05 s instead of 1.55 s on 294k rows.
    """
    template = "[" + ",".join(["%s"] * features.shape[1]) + "]"
    columns = []
    for column in np.asarray(features, dtype=np.float64).T:
        # Distinct by bit pattern, not by value: -0.0 == 0.0 but their reprs differ.
        distinct, inverse = np.unique(column.view(np.uint64), return_inverse=True)
        if len(distinct) * 4 < len(column):
            texts = np.array([repr(value) for value in distinct.view(np.float64).tolist()], dtype=object)
            columns.append(texts[inverse].tolist())
        else:
            columns.append(map(repr, column.tolist()))
    return [template % row for row in zip(*columns, strict=True)]


def _reasons_json(reasons) -> str:
    if not reasons:
        return "[]"  # most rows: an approved score is not explained
    return json.dumps(
        [{"feature": r.feature, "value": float(r.value), "contribution": float(r.contribution)} for r in reasons]
    )


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
