"""Backtests: replay the stored transactions of a period with a candidate, and compare with the live decisions.

The candidate is a model version (default: the active one) and, optionally, other thresholds. Each
transaction's features come from its stored live prediction when that prediction's model used the
candidate's feature names (the vector the service saw, with the labels known then), and otherwise are
recomputed from the stored history with the vectorised feature table of score_file (with the labels known
now; the terminal windows' 7-day delay stands for the time labels take, as in training). The live decision
of a transaction is its first prediction's, the answer its client got. Nothing is written: no prediction,
no request, no audit row.

After the model, the decision layer (services/decisions.py) decides as it does live: the candidate's rule set
(the active one unless `--rules` names another version, or `none`) and the block and allow lists as they stood
at each transaction's time. final_decision() is the model decision alone, for a candidate without them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from predictions.errors import DomainError
from predictions.models import Decision, ModelVersion, Prediction, Transaction
from predictions.services.comparison import BASELINE, CANDIDATE, Comparison, decisions_compare
from predictions.services.evaluation import DEFAULT_K

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

logger = logging.getLogger(__name__)

# The columns of --out: the transaction, its label now, and both sides' scores and decisions.
CHANGED_COLUMNS = (
    "transaction_id",
    "timestamp",
    "customer_id",
    "terminal_id",
    "amount",
    "label_text",
    f"{BASELINE}_score",
    f"{BASELINE}_decision",
    f"{CANDIDATE}_score",
    f"{CANDIDATE}_decision",
)
_LOOKUP_ROWS = 900  # ids per IN (...) query: under SQLite's smallest limit of bound variables


class BacktestError(DomainError):
    """A backtest that cannot run as asked; the message says why, on one line."""

    code = "backtest_error"


@dataclass(frozen=True)
class Candidate:
    model_version: ModelVersion
    review: float
    decline: float


@dataclass
class Backtest:
    since: datetime
    until: datetime
    candidate: Candidate
    from_stored: int  # transactions scored from their live prediction's stored features
    recomputed: int  # transactions whose features were recomputed from the stored history
    comparison: Comparison
    frame: pd.DataFrame  # every transaction of the period, with both sides
    seconds: float


FinalDecision = Callable[[str, Mapping[str, Any], Mapping[str, float]], str]


def final_decision(model_decision: str, fields: Mapping[str, Any], features: Mapping[str, float]) -> str:
    """The model decision as the final one: a candidate without rules and lists.

    fields: the transaction's stored fields (transaction_id, timestamp, customer_id, terminal_id, amount, currency);
    features: the candidate model's features by name, with "score".
    """
    return model_decision


def layer_decision(rules: str | None) -> FinalDecision:
    """The decision layer as live: the rule set version `rules` ("none": no rules; None: the active one) and the
    lists as they stood at each transaction's time (read only for the customers and terminals ever listed)."""
    from predictions.models import ListEntry, RuleSetVersion
    from predictions.services.decisions import Lists, decision_final, lists_as_of, rule_set_compile

    if rules == "none":
        rule_set = None
    else:
        found = RuleSetVersion.objects.filter(**({"is_active": True} if rules is None else {"version": rules})).first()
        if found is None and rules is not None:
            raise BacktestError(f"unknown rule set version {rules!r}")
        rule_set = None if found is None else rule_set_compile(found.rules, version=found.version, id=found.pk)
    listed = set(ListEntry.objects.values_list("field", "value"))
    no_lists = Lists()

    def decide(model_decision: str, fields: Mapping[str, Any], features: Mapping[str, float]) -> str:
        at = fields["timestamp"]
        keys = {("customer_id", fields["customer_id"]), ("terminal_id", fields["terminal_id"])}
        return decision_final(
            model_decision=model_decision,
            score=features["score"],
            transaction=fields,
            features=features,
            lists=lists_as_of(at) if keys & listed else no_lists,
            rule_set=rule_set,
            at=at,
        ).decision

    return decide


def backtest_run(
    *,
    since: datetime,
    until: datetime,
    version: str | None = None,
    review: float | None = None,
    decline: float | None = None,
    k: int = DEFAULT_K,
    decide: FinalDecision = final_decision,
) -> Backtest:
    """Replay the transactions with since <= timestamp < until through the candidate; write nothing."""
    started = time.perf_counter()
    candidate = _candidate(version, review, decline)
    if until <= since:
        raise BacktestError(f"--until ({until.isoformat()}) must be after --since ({since.isoformat()})")
    frame = _period(since, until)
    if frame.empty:
        raise BacktestError(f"no stored transaction between {since.isoformat()} and {until.isoformat()}")
    model = _model(candidate.model_version)
    features, from_stored = _features(frame, names=model.feature_names)
    frame[f"{CANDIDATE}_score"] = [s.score for s in model.score_many(features, explain="none")]
    frame[f"{CANDIDATE}_decision"] = _decisions(frame, features, model.feature_names, candidate, decide)
    days = max(1, round((until - since) / timedelta(days=1)))
    comparison = decisions_compare(frame[[*CHANGED_COLUMNS]], k=k, days=days)
    seconds = time.perf_counter() - started
    logger.info("backtest of %d transactions with %s: %.1f s", len(frame), candidate.model_version.version, seconds)
    return Backtest(
        since=since,
        until=until,
        candidate=candidate,
        from_stored=from_stored,
        recomputed=len(frame) - from_stored,
        comparison=comparison,
        frame=frame,
        seconds=seconds,
    )


def _candidate(version: str | None, review: float | None, decline: float | None) -> Candidate:
    if version is None:
        model_version = ModelVersion.objects.filter(is_active=True).first()
        if model_version is None:
            raise BacktestError("no model version is active; name the candidate with --model")
    else:
        model_version = ModelVersion.objects.filter(version=version).first()
        if model_version is None:
            raise BacktestError(f"unknown model version {version!r} (list_models shows them)")
    review = float(model_version.thresholds["review"]) if review is None else review
    decline = float(model_version.thresholds["decline"]) if decline is None else decline
    for name, value in (("--review", review), ("--decline", decline)):
        if not 0.0 <= value <= 1.0:
            raise BacktestError(f"{name} must be a score between 0 and 1, got {value}")
    if review > decline:
        raise BacktestError(f"--review ({review}) must not be above --decline ({decline})")
    return Candidate(model_version=model_version, review=review, decline=decline)


def _model(model_version: ModelVersion):
    from predictions.services.model_loader import ModelUnavailable, model_for_version

    try:
        return model_for_version(model_version)
    except ModelUnavailable as exc:
        raise BacktestError(str(exc)) from None


def _period(since: datetime, until: datetime) -> pd.DataFrame:
    """The period's transactions in time order, with their label now and their live (first) prediction."""
    import pandas as pd

    rows = (
        Transaction.objects.filter(timestamp__gte=since, timestamp__lt=until)
        .order_by("timestamp", "transaction_id")
        .values_list("pk", "transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "currency", "label")
    )
    columns = ["pk", "transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "currency", "label_text"]
    frame = pd.DataFrame.from_records(list(rows), columns=columns)
    if frame.empty:
        return frame
    frame["amount"] = frame["amount"].astype(float)
    live = _live_predictions(frame["pk"].tolist())
    frame[f"{BASELINE}_score"] = [live[pk][0] if pk in live else None for pk in frame["pk"]]
    frame[f"{BASELINE}_decision"] = [live[pk][1] if pk in live else None for pk in frame["pk"]]
    frame["live_features"] = [live[pk][2] if pk in live else None for pk in frame["pk"]]
    frame["live_names"] = [live[pk][3] if pk in live else None for pk in frame["pk"]]
    return frame


def _live_predictions(pks: list[int]) -> dict[int, tuple[float, str, list[float], tuple[str, ...]]]:
    """Each transaction's first prediction (the answer its client got): score, decision, features, names."""
    names = {pk: tuple(value) for pk, value in ModelVersion.objects.values_list("pk", "feature_names")}
    live: dict[int, tuple[float, str, list[float], tuple[str, ...]]] = {}
    for start in range(0, len(pks), _LOOKUP_ROWS):
        rows = (
            Prediction.objects.filter(transaction_id__in=pks[start : start + _LOOKUP_ROWS])
            .order_by("transaction_id", "scored_at", "id")
            .values_list("transaction_id", "score", "decision", "features", "model_version_id")
        )
        for pk, score, decision, features, version_pk in rows:
            live.setdefault(pk, (score, decision, features, names[version_pk]))
    return live


def _features(frame: pd.DataFrame, *, names: tuple[str, ...]) -> tuple[np.ndarray, int]:
    """The candidate's feature matrix (frame order), and how many rows came from stored live features."""
    import numpy as np

    stored = np.array([live == names for live in frame["live_names"]], dtype=bool)
    matrix = np.empty((len(frame), len(names)), dtype=np.float64)
    if stored.any():
        matrix[stored] = np.asarray(frame.loc[stored, "live_features"].tolist(), dtype=np.float64)
    if not stored.all():
        matrix[~stored] = _recomputed(frame[~stored], names=names)
    return matrix, int(stored.sum())


def _recomputed(rows: pd.DataFrame, *, names: tuple[str, ...]) -> np.ndarray:
    """The features of rows (stored transactions, in time order) from the stored history, as score_file does."""
    import numpy as np

    from model_package.features import feature_table
    from predictions.services.batch import FEATURE_LOOKBACK_DAYS, stored_history_frame

    history = stored_history_frame(
        since=rows["timestamp"].iloc[0] - timedelta(days=FEATURE_LOOKBACK_DAYS),
        until=rows["timestamp"].iloc[-1],
        customers=set(rows["customer_id"]),
        terminals=set(rows["terminal_id"]),
    )
    table = feature_table(history, names)
    position = dict(zip(history["transaction_id"], range(len(history)), strict=True))
    return table.to_numpy(dtype=np.float64)[[position[tid] for tid in rows["transaction_id"]]]


def _decisions(
    frame: pd.DataFrame, features: np.ndarray, names: tuple[str, ...], candidate: Candidate, decide: FinalDecision
) -> list[str]:
    """The candidate's final decision per row: its thresholds on its score, then final_decision()."""
    scores = frame[f"{CANDIDATE}_score"].to_numpy()
    model_decisions = [
        Decision.DECLINE.value
        if score >= candidate.decline
        else Decision.REVIEW.value
        if score >= candidate.review
        else Decision.APPROVE.value
        for score in scores.tolist()
    ]
    field_names = ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "currency")
    records = frame[list(field_names)].to_dict("records")
    for record in records:
        record["timestamp"] = record["timestamp"].to_pydatetime()
    return [
        decide(model_decision, fields, {**dict(zip(names, row.tolist(), strict=True)), "score": score})
        for model_decision, fields, row, score in zip(model_decisions, records, features, scores.tolist(), strict=True)
    ]


def backtest_changed_csv(backtest: Backtest, out: Path) -> int:
    """Write the transactions whose decision would change to `out` (CSV); returns how many."""
    changed = backtest.frame[
        backtest.frame[f"{BASELINE}_decision"].notna()
        & (backtest.frame[f"{BASELINE}_decision"] != backtest.frame[f"{CANDIDATE}_decision"])
    ]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    changed[list(CHANGED_COLUMNS)].rename(columns={"label_text": "label"}).to_csv(out, index=False)
    return len(changed)


def backtest_plot(backtest: Backtest, directory: Path) -> Path:
    """A PNG of the alerts per day, live against the candidate; returns its path."""
    from matplotlib.figure import Figure  # Agg, no pyplot state: as evaluation_plot

    frame = backtest.frame.assign(day=backtest.frame["timestamp"].dt.date)
    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.add_subplot()
    for side, style in ((BASELINE, "-"), (CANDIDATE, "--")):
        decided = frame[frame[f"{side}_decision"].notna()]
        if decided.empty:
            continue
        alerts = decided[f"{side}_decision"].isin(["review", "decline"]).groupby(decided["day"]).sum()
        label = "live" if side == BASELINE else f"candidate {backtest.candidate.model_version.version}"
        axes.plot(list(alerts.index), alerts.to_numpy(), style, marker="o", markersize=3, label=label)
    axes.set(xlabel="day", ylabel="alerts (review or decline)", ylim=(0, None))
    axes.set_title(f"Alerts per day, {backtest.since.date()} to {backtest.until.date()}")
    axes.legend(loc="lower right")
    figure.autofmt_xdate()
    figure.tight_layout()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"backtest-{backtest.candidate.model_version.version}-alerts-per-day.png"
    figure.savefig(path, format="png")
    return path
