"""Verifying the audit: every stored prediction (and challenger's shadow prediction), recomputed from its stored
features with its own model.

A stored prediction is reproducible when
- its feature vector is the one the history gives as it stood when it was scored: the transactions
  stored by then (created_at <= scored_at) with the labels known then (the current label if it was
  learnt by then, else the `before` of the first label event after; features_history_as_of);
- its model version's artifact (verified by hash) gives exactly the stored score for it, the decision
  that score takes with the version's thresholds is the stored decision, and the reasons it gives are
  the stored reasons.
Anything else is a difference, reported one by one. A feature vector whose history had a label change
before label events were recorded (this release) cannot be recomputed; it is counted, not reported.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import islice

import numpy as np

from model_package.features import history_window, transaction_features
from model_package.predict import Model
from predictions.models import (
    AuditAction,
    AuditEvent,
    Label,
    ModelVersion,
    Prediction,
    RuleSetVersion,
    ShadowPrediction,
    Transaction,
)
from predictions.services.decisions import RuleSet, decision_final, lists_as_of, rule_set_compile
from predictions.services.model_loader import ModelUnavailable, model_for_version
from predictions.services.records import REASONS, reasons_of
from predictions.services.shadow import SHADOW_REASONS

logger = logging.getLogger(__name__)

CHUNK_ROWS = 5_000
# The decision layer's fields of a Prediction (services/decisions.py), checked after its score and reasons.
_DECIDED = ("model_decision", "rules", "rule_errors", "list_entry", "rule_set_id")


@dataclass(frozen=True)
class Difference:
    prediction_id: int
    transaction_id: str
    model_version: str
    problem: str
    kind: str = "prediction"  # or "shadow prediction": the challenger's

    def __str__(self) -> str:
        where = f"transaction {self.transaction_id}, {self.model_version}"
        return f"{self.kind} {self.prediction_id} ({where}): {self.problem}"


@dataclass
class VerifyResult:
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    features_unknown: int = 0  # feature vectors whose history's labels then are not known (see the docstring)
    versions: dict[str, int] = field(default_factory=dict)  # predictions checked per model version


def predictions_verify(*, since: datetime | None = None, chunk_rows: int = CHUNK_ROWS, progress=None) -> VerifyResult:
    """Recompute the stored predictions, and the challenger's shadow predictions, scored at or after `since`
    (all when None); report every difference."""
    querysets = {"prediction": Prediction.objects.all(), "shadow prediction": ShadowPrediction.objects.all()}
    if since is not None:
        querysets = {kind: rows.filter(scored_at__gte=since) for kind, rows in querysets.items()}
    total = sum(rows.count() for rows in querysets.values())
    result = VerifyResult()
    for kind, predictions in querysets.items():
        _verify_kind(kind, predictions, result=result, chunk_rows=chunk_rows, progress=progress, total=total)
    logger.info("rescore --verify: %d predictions checked, %d differences", result.checked, len(result.differences))
    return result


def _verify_kind(kind: str, predictions, *, result: VerifyResult, chunk_rows: int, progress, total: int) -> None:
    version_ids = predictions.order_by().values_list("model_version_id", flat=True).distinct()
    for model_version in ModelVersion.objects.filter(pk__in=list(version_ids)).order_by("registered_at"):
        rows = (
            predictions.filter(model_version=model_version)
            .order_by("id")
            .values_list(
                "id",
                "transaction__transaction_id",
                "score",
                "decision",
                "features",
                "reasons",
                "scored_at",
                "request_id",
                "transaction_id",
                "transaction__timestamp",
                "transaction__customer_id",
                "transaction__terminal_id",
                "transaction__amount",
                "transaction__currency",
                *(_DECIDED if kind == "prediction" else ()),  # a shadow decides nothing: the model's decision
            )
            .iterator(chunk_size=chunk_rows)
        )
        checked = _verify_version(
            model_version, rows, kind=kind, result=result, chunk_rows=chunk_rows, progress=progress, total=total
        )
        label = model_version.version if kind == "prediction" else f"{model_version.version} as shadow"
        result.versions[label] = checked


def _verify_version(
    model_version: ModelVersion, rows, *, kind: str, result: VerifyResult, chunk_rows: int, progress, total
) -> int:
    try:
        model = model_for_version(model_version)
    except ModelUnavailable as exc:
        model = None
        problem = f"cannot recompute: {exc}"
    checked = 0
    for chunk in _chunks(rows, chunk_rows):
        if model is None:
            result.differences += [Difference(pid, tid, model_version.version, problem, kind) for pid, tid, *_ in chunk]
        else:
            explain = REASONS if kind == "prediction" else SHADOW_REASONS
            differences = _compare(model, model_version.version, chunk, result, explain=explain)
            result.differences += [dataclasses.replace(difference, kind=kind) for difference in differences]
        checked += len(chunk)
        result.checked += len(chunk)
        if progress is not None:
            progress(len(chunk), total)
    return checked


def _compare(
    model: Model, version: str, chunk: list[tuple], result: VerifyResult, *, explain: str = REASONS
) -> list[Difference]:
    differences = []
    names = model.feature_names
    usable, vectors = [], []
    for row in chunk:
        pid, tid, score, _, features, reasons, scored_at, request_id, *transaction = row[:13]
        if not isinstance(features, list) or len(features) != len(names):
            differences.append(Difference(pid, tid, version, "stored features do not match the model's feature list"))
            continue
        recomputed = _features_as_scored(
            *transaction, scored_at=scored_at, names=names, transaction_id=tid, request_id=request_id
        )
        if recomputed is None:
            result.features_unknown += 1
        elif recomputed.tolist() != features:
            differences.append(Difference(pid, tid, version, _feature_difference(names, features, recomputed)))
            continue
        usable.append((pid, tid, score, reasons))
        vectors.append(features)
    if not usable:
        return differences
    by_id = {row[0]: row for row in chunk}
    rule_sets: dict[int | None, RuleSet | None] = {None: None}
    recomputed = model.score_many(np.asarray(vectors, dtype=np.float64), explain=explain)
    for (pid, tid, score, reasons), fresh in zip(usable, recomputed, strict=True):
        if fresh.score != score:
            differences.append(Difference(pid, tid, version, f"stored score {score!r}, recomputed {fresh.score!r}"))
        elif reasons_of(fresh) != reasons:
            differences.append(Difference(pid, tid, version, "stored reasons differ from the recomputed reasons"))
        elif problem := _decision_problem(by_id[pid], fresh.decision, names, rule_sets):
            differences.append(Difference(pid, tid, version, problem))
    return differences


def _decision_problem(
    row: tuple, model_decision: str, names: Sequence[str], rule_sets: dict[int | None, RuleSet | None]
) -> str:
    """What differs between the stored decision (and its rules and list entry) and the one the model's decision,
    the prediction's rule set and the lists in force when it was scored give; '' when nothing does."""
    _, _, score, decision, features, _, scored_at, _, _, _, customer_id, terminal_id, amount, currency, *stored = row
    if not stored or stored[0] is None:  # a shadow, or made before the decision layer: the model decided alone
        if decision != model_decision:
            return f"stored decision {decision}, the model decides {model_decision}"
        return ""
    stored_model_decision, rules, rule_errors, list_entry, rule_set_id = stored
    if stored_model_decision != model_decision:
        return f"stored model_decision {stored_model_decision}, the model decides {model_decision}"
    decided = decision_final(
        model_decision=model_decision,
        score=score,
        transaction={"customer_id": customer_id, "terminal_id": terminal_id, "amount": amount, "currency": currency},
        features=dict(zip(names, features, strict=True)),
        lists=lists_as_of(scored_at),
        rule_set=_rule_set(rule_set_id, rule_sets),
        at=scored_at,
    )
    compared = {
        "decision": (decision, decided.decision),
        "rules": (rules, decided.rules),
        "rule_errors": (rule_errors, decided.rule_errors),
        "list_entry": (list_entry, decided.list_entry),
    }
    for name, (stored_value, value) in compared.items():
        if stored_value != value:
            return f"stored {name} {stored_value!r}, the lists and rules then give {value!r}"
    return ""


def _rule_set(rule_set_id: int | None, known: dict[int | None, RuleSet | None]) -> RuleSet | None:
    """The prediction's rule set version, compiled once per chunk (versions never change)."""
    if rule_set_id not in known:
        row = RuleSetVersion.objects.get(pk=rule_set_id)
        known[rule_set_id] = rule_set_compile(row.rules, version=row.version, id=row.pk)
    return known[rule_set_id]


def _features_as_scored(
    pk: int,
    timestamp: datetime,
    customer_id: str,
    terminal_id: str,
    amount: Decimal,
    *,
    scored_at: datetime,
    names: Sequence[str],
    transaction_id: str | None = None,
    request_id: int | None = None,
) -> np.ndarray | None:
    """The feature vector (the features `names`) of a stored transaction from the history as it stood at
    scored_at; None when a label of that history then is not known.

    A batch or a file (one request) scores its items in (timestamp, transaction_id) order, each seeing the items
    before it: of the request's items at this transaction's very moment, only those with a smaller id count.
    """
    window = history_window(timestamp)
    stored_by_then = Transaction.objects.filter(created_at__lte=scored_at)
    customer = stored_by_then.filter(
        customer_id=customer_id, timestamp__gt=window.customer_since, timestamp__lte=timestamp
    ).exclude(pk=pk)
    if request_id is not None:
        customer = customer.exclude(
            timestamp=timestamp, transaction_id__gt=transaction_id, predictions__request_id=request_id
        )
    customer = customer.values_list("timestamp", "amount")
    terminal = stored_by_then.filter(
        terminal_id=terminal_id, timestamp__gte=window.terminal_since, timestamp__lt=window.terminal_until
    ).values_list("transaction_id", "timestamp", "label", "labelled_at")
    terminal_rows = list(terminal)
    labels = _labels_as_of([row for row in terminal_rows if row[3] is not None and row[3] > scored_at], scored_at)
    if labels is None:
        return None
    return transaction_features(
        timestamp=timestamp,
        amount=float(amount),
        customer_history=[(ts, float(value)) for ts, value in customer],
        terminal_history=[(ts, labels.get(tid, label) == Label.FRAUD) for tid, ts, label, _ in terminal_rows],
        names=names,
    )


def _labels_as_of(learnt_later: list[tuple], moment: datetime) -> dict[str, str] | None:
    """The labels that rows learnt after `moment` had at `moment`: the `before` of their first later label
    event; None if one of them has no such event (its label changed before events were recorded)."""
    if not learnt_later:
        return {}
    ids = [row[0] for row in learnt_later]
    events = (
        AuditEvent.objects.filter(
            action=AuditAction.LABEL_SET, target_type="transaction", target_id__in=ids, occurred_at__gt=moment
        )
        .order_by("target_id", "occurred_at", "pk")
        .values_list("target_id", "before")
    )
    labels: dict[str, str] = {}
    for target_id, before in events:
        labels.setdefault(target_id, (before or {}).get("label", Label.UNKNOWN))
    return labels if len(labels) == len(set(ids)) else None


def _feature_difference(names: list[str], stored: list[float], recomputed: np.ndarray) -> str:
    changed = [
        f"{name} stored {old!r}, recomputed {new!r}"
        for name, old, new in zip(names, stored, recomputed.tolist(), strict=True)
        if old != new
    ]
    return "stored features differ from the history as it stood: " + "; ".join(changed[:3])


def _chunks(rows, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk
