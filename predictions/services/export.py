"""Exporting the audit (scoring requests, predictions, the challenger's shadow predictions, reviews, audit
events) of a time range to CSV or JSON Lines, each row with its digest (services/integrity.py).

Rows are streamed from the database with .iterator(chunk_size=...) and written as they come, so
memory stays flat whatever the size of the range. The file is written beside its final name and
renamed at the end: a reader never sees half an export.
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from django.db.models import F

from predictions.errors import DomainError
from predictions.models import AuditEvent, ModelVersion, Prediction, Review, ScoringRequest, ShadowPrediction

logger = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl")
CHUNK_ROWS = 2_000

# One CSV holds the three kinds of record: `record` says which, columns that do not apply stay empty.
REQUEST_FIELDS = (
    "request_id",
    "endpoint",
    "client",
    "remote_addr",
    "status_code",
    "duration_ms",
    "error",
    "replayed",
    "body_truncated",
    "body",
    "response",
)
# The decision layer's (services/decisions.py): null for predictions made before it.
DECIDED_FIELDS = ("model_decision", "rules", "rule_errors", "list_entry", "rule_set")
PREDICTION_FIELDS = (
    "request_id",
    "transaction_id",
    "model_version",
    "score",
    "decision",
    "thresholds",
    "features",
    "reasons",
    "latency_ms",
    *DECIDED_FIELDS,
)
REVIEW_FIELDS = ("transaction_id", "reviewer", "outcome", "notes")
EVENT_FIELDS = ("actor", "via", "action", "target_type", "target_id", "before", "after")
CSV_COLUMNS = (
    "record",
    "id",
    "at",
    *dict.fromkeys(REQUEST_FIELDS + PREDICTION_FIELDS + REVIEW_FIELDS + EVENT_FIELDS),
    "digest",
)


class ExportError(DomainError):
    """An export that cannot run (bad range or format); the message says why."""


@dataclass
class ExportResult:
    requests: int = 0
    predictions: int = 0
    shadow_predictions: int = 0  # the challenger's (record "shadow")
    reviews: int = 0
    events: int = 0

    @property
    def total(self) -> int:
        return self.requests + self.predictions + self.shadow_predictions + self.reviews + self.events


def audit_export(
    *, since: datetime, until: datetime, fmt: str, out: Path, chunk_rows: int = CHUNK_ROWS, progress=None
) -> ExportResult:
    """Write the requests received, predictions scored and reviews made in [since, until) to `out`."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if since >= until:
        raise ExportError(f"--since ({since:%Y-%m-%d %H:%M}) must be before --until ({until:%Y-%m-%d %H:%M})")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    result = ExportResult()
    sources = _sources(since, until)
    total = sum(queryset.count() for _, queryset, _ in sources)
    try:
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            write = _csv_writer(handle) if fmt == "csv" else _jsonl_writer(handle)
            for record, queryset, to_row in sources:
                count = 0
                for values in queryset.iterator(chunk_size=chunk_rows):
                    write(to_row(values))
                    count += 1
                    if progress is not None and count % chunk_rows == 0:
                        progress(chunk_rows, total)
                if progress is not None:
                    progress(count % chunk_rows, total)
                setattr(result, record, count)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    logger.info(
        "audit exported to %s: %d requests, %d predictions, %d reviews, %d events between %s and %s",
        out,
        result.requests,
        result.predictions,
        result.reviews,
        result.events,
        since.isoformat(),
        until.isoformat(),
    )
    return result


def _sources(since: datetime, until: datetime) -> list[tuple[str, Any, Callable[[dict], dict]]]:
    names = _feature_names()
    requests = (
        ScoringRequest.objects.filter(received_at__gte=since, received_at__lt=until)
        .order_by("received_at", "id")
        .values("id", "received_at", "digest", *REQUEST_FIELDS)
    )
    predictions, shadow_predictions = (
        model.objects.filter(scored_at__gte=since, scored_at__lt=until)
        .order_by("scored_at", "id")
        .values(
            "id",
            "scored_at",
            "score",
            "decision",
            "thresholds",
            "features",
            "reasons",
            "latency_ms",
            "digest",
            *decided,
            request_uuid=F("request__request_id"),
            transaction_key=F("transaction__transaction_id"),
            version=F("model_version__version"),
            **named,
        )
        # The decision layer's stages are the champion's: a shadow prediction decides nothing.
        for model, decided, named in (
            (
                Prediction,
                ("model_decision", "rules", "rule_errors", "list_entry"),
                {"rule_set_version": F("rule_set__version")},
            ),
            (ShadowPrediction, (), {}),
        )
    )
    reviews = (
        Review.objects.filter(reviewed_at__gte=since, reviewed_at__lt=until)
        .order_by("reviewed_at", "id")
        .values(
            "id",
            "reviewed_at",
            "outcome",
            "notes",
            "digest",
            transaction_key=F("transaction__transaction_id"),
            reviewer_name=F("reviewer__username"),
        )
    )
    events = (
        AuditEvent.objects.filter(occurred_at__gte=since, occurred_at__lt=until)
        .order_by("occurred_at", "id")
        .values("id", "occurred_at", "digest", *EVENT_FIELDS)
    )
    return [
        ("requests", requests, _request_row),
        ("predictions", predictions, functools.partial(_prediction_row, names=names)),
        ("shadow_predictions", shadow_predictions, functools.partial(_prediction_row, names=names, record="shadow")),
        ("reviews", reviews, _review_row),
        ("events", events, _event_row),
    ]


def _request_row(values: dict) -> dict:
    row = {"record": "request", "id": values["id"], "at": _iso(values["received_at"])}
    row.update({name: values[name] for name in (*REQUEST_FIELDS, "digest")})
    row["request_id"] = str(values["request_id"])
    return row


def _feature_names() -> dict[str, list[str]]:
    """Each model version's feature names: the export writes a prediction's features as {name: value}."""
    return dict(ModelVersion.objects.values_list("version", "feature_names"))


def _prediction_row(values: dict, *, names: dict[str, list[str]], record: str = "prediction") -> dict:
    request_id = values["request_uuid"]
    features = dict(zip(names[values["version"]], values["features"], strict=False))
    return {
        "record": record,
        "id": values["id"],
        "at": _iso(values["scored_at"]),
        "request_id": str(request_id) if request_id else None,
        "transaction_id": values["transaction_key"],
        "model_version": values["version"],
        **{name: values[name] for name in ("score", "decision", "thresholds")},
        "features": features,
        **{name: values[name] for name in ("reasons", "latency_ms", "digest")},
        **({name: values[name] for name in DECIDED_FIELDS if name != "rule_set"} if record == "prediction" else {}),
        **({"rule_set": values["rule_set_version"]} if record == "prediction" else {}),
    }


def _review_row(values: dict) -> dict:
    return {
        "record": "review",
        "id": values["id"],
        "at": _iso(values["reviewed_at"]),
        "transaction_id": values["transaction_key"],
        "reviewer": values["reviewer_name"],
        "outcome": values["outcome"],
        "notes": values["notes"],
        "digest": values["digest"],
    }


def _event_row(values: dict) -> dict:
    row = {"record": "event", "id": values["id"], "at": _iso(values["occurred_at"])}
    row.update({name: values[name] for name in (*EVENT_FIELDS, "digest")})
    return row


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _csv_writer(handle: TextIO) -> Callable[[dict], None]:
    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="raise")
    writer.writeheader()

    def write(row: dict) -> None:
        # Nested values (features, reasons, response) go in their cell as JSON; None is an empty cell.
        writer.writerow({key: _cell(value) for key, value in row.items()})

    return write


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=False)
    return "" if value is None else value


def _jsonl_writer(handle: TextIO) -> Callable[[dict], None]:
    def write(row: dict) -> None:
        handle.write(json.dumps(row, separators=(",", ":")) + "\n")

    return write
