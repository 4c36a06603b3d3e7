"""The features, defined once (names.py) and computed two ways that give exactly the same floats.

- `feature_table`: offline, for a whole transaction table at once (training, score_file);
- `transaction_features`: online, for one transaction and its customer's and terminal's history (serving).

A model records the names of its features; both functions take that list (default: the HANDBOOK's 15,
the features of every model made before issue 14), so each model gets exactly its own vector.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from model_package.features.names import (
    ALL_FEATURE_NAMES,
    CUSTOMER_AMOUNT_NAMES,
    DEFAULT_FEATURE_NAMES,
    DELAY_DAYS,
    FEATURE_NAMES,
    NIGHT_LAST_HOUR,
    NO_KNOWN_FRAUD_DAYS,
    TERMINAL_FRAUD_NAMES,
    TERMINAL_RISK_DAYS,
    WINDOW_DAYS,
    check_feature_names,
)
from model_package.features.online import transaction_features
from model_package.features.table import feature_table

__all__ = [
    "ALL_FEATURE_NAMES",
    "CUSTOMER_AMOUNT_NAMES",
    "DEFAULT_FEATURE_NAMES",
    "DELAY_DAYS",
    "FEATURE_NAMES",
    "NIGHT_LAST_HOUR",
    "NO_KNOWN_FRAUD_DAYS",
    "TERMINAL_FRAUD_NAMES",
    "TERMINAL_RISK_DAYS",
    "WINDOW_DAYS",
    "HistoryWindow",
    "check_feature_names",
    "feature_table",
    "history_window",
    "transaction_features",
]


@dataclass(frozen=True)
class HistoryWindow:
    """The history one transaction's features read, whichever features: everything outside it is ignored."""

    customer_since: datetime  # customer rows with customer_since < ts <= t
    terminal_since: datetime  # terminal rows with terminal_since <= ts < terminal_until
    terminal_until: datetime


def history_window(timestamp: datetime) -> HistoryWindow:
    """The customer and terminal history a transaction at `timestamp` needs (for the serving queries)."""
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return HistoryWindow(
        customer_since=timestamp - timedelta(days=max(WINDOW_DAYS)),
        terminal_since=timestamp - timedelta(days=DELAY_DAYS + max(WINDOW_DAYS)),
        terminal_until=timestamp - timedelta(days=DELAY_DAYS),
    )
