"""How well a model version did in production: its stored predictions against the labels learnt since.

Only predictions whose transaction has a known label (fraud or legitimate) count; the others are
excluded and counted, because recent transactions are mostly unlabelled until chargebacks arrive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from predictions.errors import DomainError
from predictions.models import Decision, Label, ModelVersion, Prediction

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

DEFAULT_K = 100
FLAGGED = "review or decline"


class EvaluationError(DomainError):
    """An evaluation that cannot run (unknown or missing model version); one-line message."""


@dataclass(frozen=True)
class DecisionFigures:
    """Transactions given one decision: precision = their fraud share, recall = their share of all frauds."""

    decision: str
    transactions: int
    frauds: int
    precision: float | None
    recall: float | None


@dataclass
class Evaluation:
    version: str
    since: datetime | None
    until: datetime | None
    k: int
    predictions: int
    excluded_unknown: int
    transactions: int
    frauds: int
    days: int
    auc: float | None
    average_precision: float | None
    card_precision_at_k: float | None
    decisions: list[DecisionFigures]
    frame: pd.DataFrame = field(repr=False)


def model_version_evaluate(
    *, version: str | None = None, since: datetime | None = None, until: datetime | None = None, k: int = DEFAULT_K
) -> Evaluation:
    """Evaluate `version` (default: the active one) on transactions with since <= timestamp < until."""
    from model_package.evaluate import evaluate_scores  # scikit-learn, imported when used: a fast evaluate_model --help

    model_version = _model_version(version)
    frame, total = _labelled_predictions(model_version, since=since, until=until)
    # The same metric code as training (model_package.evaluate), so production and test-week figures compare.
    metrics = evaluate_scores(frame, k=k)
    return Evaluation(
        version=model_version.version,
        since=since,
        until=until,
        k=k,
        predictions=total,
        excluded_unknown=total - len(frame),
        transactions=metrics["n"],
        frauds=metrics["frauds"],
        days=int(frame["day"].nunique()),
        auc=metrics["auc"],
        average_precision=metrics["average_precision"],
        card_precision_at_k=metrics["card_precision_at_k"],
        decisions=decision_figures(frame, frauds=metrics["frauds"]),
        frame=frame,
    )


def _model_version(version: str | None) -> ModelVersion:
    if version is None:
        active = ModelVersion.objects.filter(is_active=True).first()
        if active is None:
            raise EvaluationError("no model version is active; name one with --version")
        return active
    found = ModelVersion.objects.filter(version=version).first()
    if found is None:
        raise EvaluationError(f"unknown model version {version!r}")
    return found


def _labelled_predictions(
    model_version: ModelVersion, *, since: datetime | None, until: datetime | None
) -> tuple[pd.DataFrame, int]:
    """One row per transaction the version scored (its latest score), with a known label; and the total count."""
    import pandas as pd  # imported when used: a fast evaluate_model --help

    predictions = Prediction.objects.filter(model_version=model_version)
    if since is not None:
        predictions = predictions.filter(transaction__timestamp__gte=since)
    if until is not None:
        predictions = predictions.filter(transaction__timestamp__lt=until)
    rows = predictions.order_by("transaction_id", "pk").values_list(
        "transaction_id",
        "transaction__timestamp",
        "transaction__customer_id",
        "score",
        "decision",
        "transaction__label",
    )
    columns = ["transaction", "timestamp", "customer_id", "score", "decision", "label_text"]
    frame = pd.DataFrame.from_records(list(rows), columns=columns).drop_duplicates("transaction", keep="last")
    total = len(frame)
    frame = frame[frame["label_text"] != Label.UNKNOWN].reset_index(drop=True)
    frame["label"] = (frame["label_text"] == Label.FRAUD).astype(int)
    frame["day"] = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_convert(UTC).dt.date
    frame["score"] = frame["score"].astype(float)
    return frame, total


def decision_figures(frame: pd.DataFrame, *, frauds: int) -> list[DecisionFigures]:
    groups = {decision.value: frame["decision"] == decision for decision in Decision}
    groups[FLAGGED] = frame["decision"].isin([Decision.REVIEW, Decision.DECLINE])
    figures = []
    for name, mask in groups.items():
        selected = int(mask.sum())
        caught = int(frame.loc[mask, "label"].sum())
        figures.append(
            DecisionFigures(
                decision=name,
                transactions=selected,
                frauds=caught,
                precision=caught / selected if selected else None,
                recall=caught / frauds if frauds else None,
            )
        )
    return figures


def evaluation_format(evaluation: Evaluation) -> str:
    """The report evaluate_model prints."""

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    window = f"{_when(evaluation.since, 'the start')} to {_when(evaluation.until, 'now')}"
    lines = [
        f"model version {evaluation.version}, transactions from {window}",
        f"{evaluation.predictions} scored transactions; {evaluation.excluded_unknown} with an unknown label excluded;"
        f" {evaluation.transactions} evaluated ({evaluation.frauds} fraud) over {evaluation.days} days",
        "",
        f"ROC AUC               {number(evaluation.auc)}",
        f"average precision     {number(evaluation.average_precision)}",
        f"card precision@{evaluation.k:<6} {number(evaluation.card_precision_at_k)}",
        "",
        f"{'decision':<18} {'transactions':>12} {'frauds':>7} {'precision':>9} {'recall':>7}",
    ]
    for row in evaluation.decisions:
        lines.append(
            f"{row.decision:<18} {row.transactions:>12} {row.frauds:>7} {number(row.precision):>9} "
            f"{number(row.recall):>7}"
        )
    lines.append("precision: share of the decision's transactions that are fraud; recall: its share of all frauds")
    if evaluation.auc is None:
        lines.append("AUC and average precision need both fraud and legitimate labels")
    return "\n".join(lines)


def _when(moment: datetime | None, default: str) -> str:
    return default if moment is None else moment.isoformat()


def evaluation_plot(*, evaluation: Evaluation, directory: Path) -> list[Path]:
    """Write the precision-recall curve and the score histogram as PNG files in directory; return their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in evaluation_figures(evaluation=evaluation).items():
        paths.append(directory / f"{evaluation.version}-{name}.png")
        figure.savefig(paths[-1], format="png")
    return paths


def evaluation_figures(*, evaluation: Evaluation) -> dict[str, Figure]:
    """The evaluation's charts by name: "precision-recall" and "score-histogram"."""
    # The object-oriented API draws with Agg and never touches pyplot's global state (safe in a server process).
    from matplotlib.figure import Figure

    return {
        "precision-recall": _plot_precision_recall(evaluation, Figure(figsize=(6, 4.5), dpi=100)),
        "score-histogram": _plot_histogram(evaluation, Figure(figsize=(6, 4.5), dpi=100)),
    }


def _plot_precision_recall(evaluation: Evaluation, figure):
    from sklearn.metrics import precision_recall_curve  # imported when used: a fast evaluate_model --help

    axes = figure.add_subplot()
    frame = evaluation.frame
    if evaluation.frauds:
        precision, recall, _ = precision_recall_curve(frame["label"], frame["score"])
        axes.step(recall, precision, where="post", label=f"AP {evaluation.average_precision:.3f}")
        axes.axhline(evaluation.frauds / evaluation.transactions, linestyle="--", color="grey", label="fraud rate")
        axes.legend(loc="upper right")
    else:
        axes.text(0.5, 0.5, "no fraud labels yet", ha="center", va="center")
    axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    # Two lines: a version name is long, and tight_layout makes room above a title but never shortens it.
    axes.set_title(f"Precision-recall ({evaluation.transactions:,} labelled)\nmodel {evaluation.version}")
    figure.tight_layout()
    return figure


def _plot_histogram(evaluation: Evaluation, figure):
    import numpy as np  # imported when used: a fast evaluate_model --help

    axes = figure.add_subplot()
    frame = evaluation.frame
    bins = np.linspace(0, 1, 41)
    if len(frame):
        axes.hist(frame.loc[frame["label"] == 0, "score"], bins=bins, alpha=0.6, label="legitimate")
        axes.hist(frame.loc[frame["label"] == 1, "score"], bins=bins, alpha=0.6, label="fraud")
        axes.set_yscale("log")  # frauds are about 1 % of transactions: a linear axis hides them
        axes.legend(loc="upper right")
    else:
        axes.text(0.5, 0.5, "no labelled predictions yet", ha="center", va="center")
    axes.set(xlabel="score", ylabel="transactions (log scale)", xlim=(0, 1))
    axes.set_title(f"Scores by label\nmodel {evaluation.version}")
    figure.tight_layout()
    return figure
