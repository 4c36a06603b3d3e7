"""Reads for the analyst workflow: the review queue, the API's transaction reads, a transaction's context,
the dashboard figures, its daily series and the active model's drift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from predictions.models import Decision, Label, ModelVersion, Prediction, Review, Transaction

FLAGGED_DECISIONS = (Decision.REVIEW, Decision.DECLINE)
CUSTOMER_HISTORY_DAYS = 30  # the admin's transaction page: how far back the customer's history goes
TERMINAL_RATE_DAYS = 30
HISTORY_LIMIT = 200


class ReviewState(StrEnum):
    UNREVIEWED = "unreviewed"
    REVIEWED = "reviewed"
    ANY = "any"


def _has_review() -> Exists:
    return Exists(Review.objects.filter(transaction=OuterRef("transaction")))


def _is_latest_prediction() -> Exists:
    # A transaction re-scored by another model version must appear once, with its newest score.
    return ~Exists(Prediction.objects.filter(transaction=OuterRef("transaction"), pk__gt=OuterRef("pk")))


def review_queue(
    *, base: QuerySet[Prediction] | None = None, state: ReviewState = ReviewState.UNREVIEWED
) -> QuerySet[Prediction]:
    """Flagged predictions (the latest of each transaction), highest score first, annotated with is_reviewed.

    base: the queryset to start from (the admin passes its proxy model's); state: which review state to keep.
    """
    queryset = base if base is not None else Prediction.objects.all()
    queryset = (
        queryset.filter(decision__in=FLAGGED_DECISIONS)
        .filter(_is_latest_prediction())
        .annotate(is_reviewed=_has_review())
        .select_related("transaction", "model_version")
    )
    if state == ReviewState.UNREVIEWED:
        queryset = queryset.filter(is_reviewed=False)
    elif state == ReviewState.REVIEWED:
        queryset = queryset.filter(is_reviewed=True)
    return queryset.order_by("-score", "pk")


def transactions_with_latest_score() -> QuerySet[Transaction]:
    """Transactions annotated with their latest prediction (score, decision, model_version) and `reviewed`."""
    # "Latest" is the highest primary key, as in review_queue.
    latest = Prediction.objects.filter(transaction=OuterRef("pk")).order_by("-pk")
    return Transaction.objects.annotate(
        score=Subquery(latest.values("score")[:1]),
        decision=Subquery(latest.values("decision")[:1]),
        model_version=Subquery(latest.values("model_version__version")[:1]),
        reviewed=Exists(Review.objects.filter(transaction=OuterRef("pk"))),
    ).order_by("-timestamp", "-pk")


def transactions_with_predictions_and_reviews() -> QuerySet[Transaction]:
    """transactions_with_latest_score() with every prediction (newest first) and every review prefetched."""
    return transactions_with_latest_score().prefetch_related(
        Prefetch(
            "predictions",
            queryset=Prediction.objects.select_related("model_version", "request", "rule_set").order_by("-pk"),
        ),
        Prefetch("reviews", queryset=Review.objects.select_related("reviewer").order_by("-reviewed_at", "-pk")),
    )


def transaction_latest_prediction(*, transaction: Transaction) -> Prediction | None:
    """The newest prediction of a transaction, with its model version, or None if it was never scored."""
    return transaction.predictions.select_related("model_version").order_by("-pk").first()


def transaction_reviews(*, transaction: Transaction) -> QuerySet[Review]:
    """A transaction's reviews, newest first, with their reviewers."""
    return transaction.reviews.select_related("reviewer").order_by("-reviewed_at", "-pk")


def customer_history(
    *, customer_id: str, until: datetime, days: int = CUSTOMER_HISTORY_DAYS, limit: int = HISTORY_LIMIT
) -> QuerySet[Transaction]:
    """The customer's transactions in the `days` days up to and including `until`, newest first.

    Each carries its label and, from its latest prediction, latest_score and latest_decision (None if not scored).
    """
    latest = Prediction.objects.filter(transaction=OuterRef("pk")).order_by("-pk")
    return (
        Transaction.objects.filter(customer_id=customer_id, timestamp__gt=until - timedelta(days=days))
        .filter(timestamp__lte=until)
        .annotate(
            latest_score=Subquery(latest.values("score")[:1]),
            latest_decision=Subquery(latest.values("decision")[:1]),
        )
        .order_by("-timestamp", "-pk")[:limit]
    )


@dataclass(frozen=True)
class TerminalFraudRate:
    """What is known today about a terminal's transactions in a window: counts by label and the fraud rate."""

    terminal_id: str
    since: datetime
    until: datetime
    transactions: int
    frauds: int
    legitimate: int

    @property
    def rate(self) -> float:
        """Frauds over all transactions in the window (unlabelled ones count as not fraud), 0 when empty."""
        return self.frauds / self.transactions if self.transactions else 0.0

    @property
    def unknown(self) -> int:
        return self.transactions - self.frauds - self.legitimate


def terminal_fraud_rate(*, terminal_id: str, until: datetime, days: int = TERMINAL_RATE_DAYS) -> TerminalFraudRate:
    """The terminal's fraud rate over the `days` days up to `until`, from every label known now.

    Unlike the TERMINAL_ID_RISK features this ignores the label delay: the analyst sees what is known today.
    """
    since = until - timedelta(days=days)
    counts = Transaction.objects.filter(terminal_id=terminal_id, timestamp__gt=since, timestamp__lte=until).aggregate(
        transactions=Count("pk"),
        frauds=Count("pk", filter=Q(label=Label.FRAUD)),
        legitimate=Count("pk", filter=Q(label=Label.LEGITIMATE)),
    )
    return TerminalFraudRate(terminal_id=terminal_id, since=since, until=until, **counts)


@dataclass(frozen=True)
class Dashboard:
    """The admin index figures. 'Today' is the current UTC day."""

    day: date
    scored_today: int
    flagged_today: int
    reviewed_today: int
    confirmed_fraud_today: int
    flagged_labelled: int
    flagged_fraud: int
    queue_by_decision: dict[str, int]
    oldest_unreviewed: Prediction | None

    @property
    def flag_precision(self) -> float | None:
        """Share of flagged transactions with a known label that are fraud; None before any label is known."""
        return self.flagged_fraud / self.flagged_labelled if self.flagged_labelled else None

    @property
    def queue_size(self) -> int:
        return sum(self.queue_by_decision.values())


def dashboard_figures(*, now: datetime | None = None) -> Dashboard:
    """Today's activity, the flag precision so far, and the state of the queue, in five aggregate queries."""
    now = now or timezone.now()
    day = now.astimezone(UTC).date()
    start = datetime.combine(day, time.min, tzinfo=UTC)
    flagged = Q(decision__in=FLAGGED_DECISIONS)
    today = Prediction.objects.filter(scored_at__gte=start).aggregate(
        scored=Count("pk"), flagged=Count("pk", filter=flagged)
    )
    precision = Prediction.objects.filter(flagged).aggregate(
        labelled=Count("transaction", filter=~Q(transaction__label=Label.UNKNOWN), distinct=True),
        fraud=Count("transaction", filter=Q(transaction__label=Label.FRAUD), distinct=True),
    )
    reviews = Review.objects.filter(reviewed_at__gte=start).aggregate(
        reviewed=Count("transaction", distinct=True),
        fraud=Count("transaction", filter=Q(outcome=Label.FRAUD), distinct=True),
    )
    queue = review_queue()
    by_decision = {row["decision"]: row["n"] for row in queue.order_by().values("decision").annotate(n=Count("pk"))}
    return Dashboard(
        day=day,
        scored_today=today["scored"],
        flagged_today=today["flagged"],
        reviewed_today=reviews["reviewed"],
        confirmed_fraud_today=reviews["fraud"],
        flagged_labelled=precision["labelled"],
        flagged_fraud=precision["fraud"],
        queue_by_decision={decision.value: by_decision.get(decision.value, 0) for decision in FLAGGED_DECISIONS},
        oldest_unreviewed=queue.order_by("scored_at", "pk").first(),
    )


CHART_DAYS = 30  # the dashboard's charts: how many days back
DRIFT_SAMPLE = 5_000  # the active model's latest predictions compared with its training data


@dataclass(frozen=True)
class DailyActivity:
    """One UTC day of the dashboard's charts. Precision counts the day's flagged transactions by label."""

    day: date
    scored: int = 0
    flagged: int = 0
    reviewed: int = 0
    confirmed_fraud: int = 0
    flagged_labelled: int = 0
    flagged_fraud: int = 0

    @property
    def flag_precision(self) -> float | None:
        return self.flagged_fraud / self.flagged_labelled if self.flagged_labelled else None


def daily_activity(*, now: datetime | None = None, days: int = CHART_DAYS) -> list[DailyActivity]:
    """The last `days` UTC days up to today, oldest first, each with its counts (zeros for a quiet day)."""
    today = (now or timezone.now()).astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=UTC)
    flagged = Q(decision__in=FLAGGED_DECISIONS)
    predictions = (
        Prediction.objects.filter(scored_at__gte=start)
        .annotate(day=TruncDate("scored_at", tzinfo=UTC))
        .values("day")
        .annotate(
            scored=Count("pk"),
            flagged=Count("pk", filter=flagged),
            flagged_labelled=Count("transaction", filter=flagged & ~Q(transaction__label=Label.UNKNOWN), distinct=True),
            flagged_fraud=Count("transaction", filter=flagged & Q(transaction__label=Label.FRAUD), distinct=True),
        )
        .order_by()
    )
    reviews = (
        Review.objects.filter(reviewed_at__gte=start)
        .annotate(day=TruncDate("reviewed_at", tzinfo=UTC))
        .values("day")
        .annotate(
            reviewed=Count("transaction", distinct=True),
            confirmed_fraud=Count("transaction", filter=Q(outcome=Label.FRAUD), distinct=True),
        )
        .order_by()
    )
    counts: dict[date, dict[str, int]] = {first + timedelta(days=i): {} for i in range(days)}
    for row in [*predictions, *reviews]:
        counts.setdefault(row.pop("day"), {}).update(row)
    return [DailyActivity(day=day, **values) for day, values in sorted(counts.items()) if day >= first]


@dataclass(frozen=True)
class Drift:
    """The active model's recent scores and features against its training reference (model_package.drift)."""

    model_version: str | None
    rows: int  # recent predictions compared
    reference: dict | None  # None: the model was trained before references were kept
    scores: list[float]
    psi: dict[str, float]  # "score" first, then each feature in the model's order


def active_model_drift(*, now: datetime | None = None, days: int = CHART_DAYS, sample: int = DRIFT_SAMPLE) -> Drift:
    """PSI of the active model's score and features over its latest `sample` predictions of the last `days` days."""
    # Imported here: the admin imports this module at start-up, and commands start without numpy.
    import numpy as np

    from model_package.drift import bin_shares, psi

    version = ModelVersion.objects.filter(is_active=True).first()
    if version is None:
        return Drift(model_version=None, rows=0, reference=None, scores=[], psi={})
    since = (now or timezone.now()) - timedelta(days=days)
    rows = list(
        Prediction.objects.filter(model_version=version, scored_at__gte=since)
        .order_by("-scored_at")
        .values_list("score", "features")[:sample]
    )
    reference = (version.metrics or {}).get("reference")
    scores = [score for score, _ in rows]
    if not reference or not rows:
        return Drift(model_version=version.version, rows=len(rows), reference=reference, scores=scores, psi={})
    values = {"score": np.asarray(scores, dtype=np.float64)}
    matrix = np.asarray([features for _, features in rows], dtype=np.float64)
    values.update({name: matrix[:, i] for i, name in enumerate(version.feature_names)})
    distributions = {"score": reference["score"], **reference["features"]}
    drift = {
        name: psi(distributions[name]["shares"], bin_shares(values[name], distributions[name]["edges"]))
        for name in values
        if name in distributions
    }
    return Drift(model_version=version.version, rows=len(rows), reference=reference, scores=scores, psi=drift)
