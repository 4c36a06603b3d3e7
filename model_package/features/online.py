"""Serving: the features of one transaction from its customer's and terminal's history rows.

Plain Python over a few dozen rows: for one row that is faster than building numpy arrays from datetimes.
Every float is computed with the same operations, in the same order, as the offline table (table.py), so
the two agree exactly: integer cents, a previous-amount window sorted before its squares are summed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from model_package.features.names import (
    ALL_FEATURE_NAMES,
    CUSTOMER_AMOUNT_NAMES,
    DELAY_DAYS,
    FEATURE_NAMES,
    NIGHT_LAST_HOUR,
    NO_KNOWN_FRAUD_DAYS,
    TERMINAL_FRAUD_NAMES,
    TERMINAL_RISK_DAYS,
    check_feature_names,
)

_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
_MICROSECONDS_A_DAY = 86_400 * 10**6
_BASE = len(FEATURE_NAMES)
_CUSTOMER = slice(_BASE, _BASE + len(CUSTOMER_AMOUNT_NAMES))
_TERMINAL = slice(_CUSTOMER.stop, _CUSTOMER.stop + len(TERMINAL_FRAUD_NAMES))


@dataclass(frozen=True)
class _Plan:
    """Which groups of features a feature list needs, and where its features sit in ALL_FEATURE_NAMES."""

    index: np.ndarray | None  # None: the list is FEATURE_NAMES itself
    customer_amounts: bool
    terminal_frauds: bool


@functools.lru_cache(maxsize=32)
def _plan(names: tuple[str, ...]) -> _Plan:
    names = check_feature_names(names)
    positions = [ALL_FEATURE_NAMES.index(name) for name in names]
    return _Plan(
        index=None if names == FEATURE_NAMES else np.array(positions),
        customer_amounts=any(_CUSTOMER.start <= p < _CUSTOMER.stop for p in positions),
        terminal_frauds=any(p >= _TERMINAL.start for p in positions),
    )


def transaction_features(
    *,
    timestamp: datetime,
    amount: float,
    customer_history: Iterable[tuple[datetime, float]],
    terminal_history: Iterable[tuple[datetime, bool]],
    names: Sequence[str] = FEATURE_NAMES,
) -> np.ndarray:
    """The feature vector (float64, in `names` order; default the HANDBOOK's 15) of one transaction.

    customer_history: (timestamp, amount) of the customer's other transactions, not the scored one;
    terminal_history: (timestamp, is_fraud) of the terminal's transactions. Rows outside the windows
    (features.history_window) are ignored, in any order.
    """
    plan = _plan(tuple(names))
    _require_aware(timestamp)
    utc = timestamp.astimezone(UTC)
    cents = round(float(amount) * 100)  # round() and np.rint both round half to even
    values = [float(amount), float(utc.weekday() >= 5), float(utc.hour <= NIGHT_LAST_HOUR)]
    # The windows' bounds in UTC: comparing two datetimes of one tzinfo object is a memcmp, while a request's
    # timestamp (zoneinfo's UTC, or an offset) against the history's (datetime.UTC) calls utcoffset() for both.
    customer = _Customer(utc, customer_history)
    for count, total in ((customer.n1, customer.sum1), (customer.n7, customer.sum7), (customer.n30, customer.sum30)):
        values += [float(count + 1), (total + cents) / (100 * (count + 1))]  # the transaction itself included
    terminal = _Terminal(utc, terminal_history)
    for count, frauds in ((terminal.n1, terminal.f1), (terminal.n7, terminal.f7), (terminal.n30, terminal.f30)):
        values += [float(count), frauds / count if count else 0.0]
    if plan.index is None:
        return np.array(values, dtype=np.float64)
    values += customer.amount_features(cents) if plan.customer_amounts else [0.0] * len(CUSTOMER_AMOUNT_NAMES)
    values += terminal.fraud_features(utc) if plan.terminal_frauds else [0.0] * len(TERMINAL_FRAUD_NAMES)
    return np.array(values, dtype=np.float64)[plan.index]


class _Customer:
    """The customer's previous rows in the 30-day window: counts and cent sums per window, the cents themselves."""

    def __init__(self, timestamp: datetime, history: Iterable[tuple[datetime, float]]) -> None:
        since1, since7, since30 = timestamp - _DAY, timestamp - 7 * _DAY, timestamp - 30 * _DAY
        self.cents: list[int] = []
        self.n1 = self.n7 = self.sum1 = self.sum7 = self.max1 = self.max7 = 0
        for ts, value in history:
            if since30 < ts <= timestamp:
                cents = round(float(value) * 100)
                self.cents.append(cents)
                if ts > since7:
                    self.n7 += 1
                    self.sum7 += cents
                    self.max7 = max(self.max7, cents)
                    if ts > since1:
                        self.n1 += 1
                        self.sum1 += cents
                        self.max1 = max(self.max1, cents)
        self.n30 = len(self.cents)
        self.sum30 = sum(self.cents)

    def amount_features(self, cents: int) -> list[float]:
        """CUSTOMER_AMOUNT_NAMES, in order."""
        n = self.n30
        if not n:
            return [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
        previous = sorted(self.cents)
        median = max((previous[(n - 1) // 2] + previous[n // 2]) / 2, 1.0)
        mean = self.sum30 / n
        zscore = 0.0
        if n >= 2:
            squares = 0.0
            for value in previous:  # ascending: the order the table sums them in
                deviation = value - mean
                squares += deviation * deviation
            zscore = (cents - mean) / max(math.sqrt(squares / n), 1.0)
        return [
            cents / max(self.sum7 / self.n7, 1.0) if self.n7 else 1.0,
            cents / max(mean, 1.0),
            cents / median,
            zscore,
            self.max1 / median if self.n1 else 0.0,
            self.max7 / median if self.n7 else 0.0,
        ]


class _Terminal:
    """The terminal's rows in its 30-day window behind the delay: counts, frauds, first and last fraud."""

    def __init__(self, timestamp: datetime, history: Iterable[tuple[datetime, bool]]) -> None:
        until = timestamp - DELAY_DAYS * _DAY
        since1, since7 = until - _DAY, until - 7 * _DAY
        since14, since30 = until - TERMINAL_RISK_DAYS * _DAY, until - 30 * _DAY
        self.n1 = self.n7 = self.n14 = self.n30 = self.f1 = self.f7 = self.f14 = self.f30 = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        for ts, is_fraud in history:
            if since30 <= ts < until:
                fraud = int(bool(is_fraud))
                self.n30 += 1
                self.f30 += fraud
                if fraud:
                    self.first = ts if self.first is None or ts < self.first else self.first
                    self.last = ts if self.last is None or ts > self.last else self.last
                if ts >= since14:
                    self.n14 += 1
                    self.f14 += fraud
                    if ts >= since7:
                        self.n7 += 1
                        self.f7 += fraud
                        if ts >= since1:
                            self.n1 += 1
                            self.f1 += fraud

    def fraud_features(self, timestamp: datetime) -> list[float]:
        """TERMINAL_FRAUD_NAMES, in order."""
        return [
            float(self.f1),
            float(self.f7),
            float(self.f30),
            self.f14 / self.n14 if self.n14 else 0.0,
            _days_between(self.first, timestamp),
            _days_between(self.last, timestamp),
        ]


def _days_between(earlier: datetime | None, later: datetime) -> float:
    # Whole microseconds over microseconds a day: one correctly rounded division, as the table's in nanoseconds.
    if earlier is None:
        return NO_KNOWN_FRAUD_DAYS
    return ((later - earlier) // _MICROSECOND) / _MICROSECONDS_A_DAY


def _require_aware(timestamp: datetime) -> None:
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
