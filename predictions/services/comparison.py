"""Two ways of deciding the same transactions, side by side: the figures evaluate_model --compare and backtest
print, computed once here.

The input is one row per transaction: its day, card, label as known now, and each side's score and decision
(the baseline's may be missing: a transaction stored without a live decision). Quality (AUC, AP, CP@k,
precision and recall at each decision) counts the labelled transactions only; alerts per day count all of a
side's decisions, labelled or not, since an alert is work whether or not its label is known yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from predictions.models import Decision, Label, ModelVersion, ShadowPrediction, Transaction
from predictions.services.evaluation import DEFAULT_K, DecisionFigures, EvaluationError, decision_figures
from predictions.services.records import first_predictions

if TYPE_CHECKING:
    import pandas as pd

# The frame's columns: FRAME_COLUMNS, then <side>_score and <side>_decision for BASELINE and CANDIDATE.
FRAME_COLUMNS = ("transaction_id", "timestamp", "customer_id", "label_text")
BASELINE, CANDIDATE = "live", "candidate"
FLAGGED_DECISIONS = (Decision.REVIEW.value, Decision.DECLINE.value)


@dataclass(frozen=True)
class SideFigures:
    """How one side decided: over its decided transactions, and over the labelled ones among them."""

    name: str
    transactions: int
    labelled: int
    frauds: int
    alerts_per_day: float | None
    auc: float | None
    average_precision: float | None
    card_precision_at_k: float | None
    decisions: list[DecisionFigures]


@dataclass
class Comparison:
    k: int
    days: int
    transactions: int
    sides: list[SideFigures]
    changed: pd.DataFrame = field(repr=False)  # the transactions both sides decided, and decided differently
    both: int = 0  # transactions both sides decided

    @property
    def changes(self) -> dict[tuple[str, str], int]:
        """(baseline decision, candidate decision) -> transactions, for each change that happened."""
        counts = self.changed.groupby([f"{BASELINE}_decision", f"{CANDIDATE}_decision"]).size()
        return {(str(a), str(b)): int(n) for (a, b), n in counts.items()}


def decisions_compare(frame: pd.DataFrame, *, k: int, days: int | None = None) -> Comparison:
    """Both sides' figures on the same transactions; `days` for alerts per day (default: the days in frame)."""
    import pandas as pd  # imported when used: a fast --help

    frame = frame.assign(day=pd.to_datetime(frame["timestamp"], utc=True).dt.date)
    days = days or int(frame["day"].nunique())
    sides = [_side(frame, name, k=k, days=days) for name in (BASELINE, CANDIDATE)]
    decided = frame[frame[f"{BASELINE}_decision"].notna() & frame[f"{CANDIDATE}_decision"].notna()]
    changed = decided[decided[f"{BASELINE}_decision"] != decided[f"{CANDIDATE}_decision"]]
    return Comparison(
        k=k,
        days=days,
        transactions=len(frame),
        sides=sides,
        changed=changed.drop(columns=["day"]).reset_index(drop=True),
        both=len(decided),
    )


def _side(frame: pd.DataFrame, name: str, *, k: int, days: int) -> SideFigures:
    from model_package.evaluate import evaluate_scores  # scikit-learn, imported when used

    decided = frame[frame[f"{name}_decision"].notna()]
    labelled = decided[decided["label_text"] != Label.UNKNOWN].rename(
        columns={f"{name}_score": "score", f"{name}_decision": "decision"}
    )
    labelled = labelled.assign(label=(labelled["label_text"] == Label.FRAUD).astype(int))
    labelled["score"] = labelled["score"].astype(float)
    metrics = evaluate_scores(labelled, k=k)
    alerts = int(decided[f"{name}_decision"].isin(FLAGGED_DECISIONS).sum())
    return SideFigures(
        name=name,
        transactions=len(decided),
        labelled=len(labelled),
        frauds=metrics["frauds"],
        alerts_per_day=alerts / days if days and len(decided) else None,
        auc=metrics["auc"],
        average_precision=metrics["average_precision"],
        card_precision_at_k=metrics["card_precision_at_k"],
        decisions=decision_figures(labelled, frauds=metrics["frauds"]),
    )


def comparison_format(comparison: Comparison, *, names: dict[str, str]) -> list[str]:
    """The side-by-side report lines; `names` titles each side's column (e.g. the model versions)."""
    first, second = (comparison.sides[0], comparison.sides[1])
    title = (names.get(first.name, first.name), names.get(second.name, second.name))
    width = max(24, *(len(t) for t in title))
    rows = [
        ("transactions decided", first.transactions, second.transactions),
        ("labelled (fraud)", f"{first.labelled:,} ({first.frauds:,})", f"{second.labelled:,} ({second.frauds:,})"),
        ("alerts per day", first.alerts_per_day, second.alerts_per_day),
        ("ROC AUC", first.auc, second.auc),
        ("average precision", first.average_precision, second.average_precision),
        (f"card precision@{comparison.k}", first.card_precision_at_k, second.card_precision_at_k),
    ]
    for a, b in zip(first.decisions, second.decisions, strict=True):
        rows.append((f"{a.decision}: precision", a.precision, b.precision))
        rows.append((f"{a.decision}: recall", a.recall, b.recall))
    lines = [f"{'':<30} {title[0]:>{width}} {title[1]:>{width}}"]
    lines += [f"{label:<30} {_shown(x):>{width}} {_shown(y):>{width}}" for label, x, y in rows]
    lines.append("")
    lines.append(
        f"decisions that would change: {len(comparison.changed):,} of {comparison.both:,} transactions "
        f"both decided, over {comparison.days} days"
    )
    for (before, after), count in sorted(comparison.changes.items()):
        lines.append(f"  {before} -> {after}: {count:,}")
    return lines


def _shown(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


@dataclass
class ChallengerComparison:
    champion: str  # the version(s) that decided, live
    challenger: str
    comparison: Comparison


def challenger_compare(
    *,
    challenger: ModelVersion | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    k: int = DEFAULT_K,
) -> ChallengerComparison:
    """The live decisions against a challenger's shadow decisions (default: the current challenger's), on the
    transactions it scored (transaction time in [since, until)); EvaluationError when there is none or it has
    scored nothing there."""
    import pandas as pd  # imported when used: a fast --help

    challenger = challenger or ModelVersion.objects.filter(is_challenger=True).first()
    if challenger is None:
        raise EvaluationError("no model version is the challenger (activate_model --challenger VERSION)")
    shadows = ShadowPrediction.objects.filter(model_version=challenger)
    if since is not None:
        shadows = shadows.filter(transaction__timestamp__gte=since)
    if until is not None:
        shadows = shadows.filter(transaction__timestamp__lt=until)
    rows = shadows.order_by("transaction_id", "pk").values_list(
        "transaction_id",
        "transaction__transaction_id",
        "transaction__timestamp",
        "transaction__customer_id",
        "transaction__label",
        "score",
        "decision",
    )
    columns = ["pk", *FRAME_COLUMNS, f"{CANDIDATE}_score", f"{CANDIDATE}_decision"]
    frame = pd.DataFrame.from_records(list(rows), columns=columns).drop_duplicates("pk", keep="first")
    if frame.empty:
        raise EvaluationError(f"the challenger {challenger.version} has scored no transaction in this period yet")
    live = first_predictions([Transaction(pk=pk) for pk in frame["pk"].tolist()])
    frame[f"{BASELINE}_score"] = [live[pk].score if pk in live else None for pk in frame["pk"]]
    frame[f"{BASELINE}_decision"] = [live[pk].decision if pk in live else None for pk in frame["pk"]]
    champions = sorted({prediction.model_version.version for prediction in live.values()})
    return ChallengerComparison(
        champion=" + ".join(champions) or "none",
        challenger=challenger.version,
        comparison=decisions_compare(frame.drop(columns=["pk"]), k=k),
    )
