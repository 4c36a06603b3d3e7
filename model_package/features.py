"""The 15 features of HANDBOOK.md, defined once and computed two ways.

- `feature_table`: offline, for a whole transaction table at once (training);
- `transaction_features`: online, for one transaction and its customer's and terminal's history (serving).

Both give exactly the same floats. Windows (with t the transaction's time):
- customer, n in {1, 7, 30} days: rows with t - n days < ts <= t, the transaction itself included
  (ties at t: the earlier rows in (timestamp, transaction_id) order);
- terminal, n in {1, 7, 30} days behind a label delay of 7 days: rows with t - (7 + n) days <= ts < t - 7 days;
  risk = frauds / count, 0 when the window is empty.
Average amounts are summed in integer cents, so both ways add exactly the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

WINDOW_DAYS = (1, 7, 30)
DELAY_DAYS = 7
NIGHT_LAST_HOUR = 6  # the book's code: hour <= 6 is night
FEATURE_NAMES: tuple[str, ...] = (
    "TX_AMOUNT",
    "TX_DURING_WEEKEND",
    "TX_DURING_NIGHT",
    *(f"CUSTOMER_ID_{kind}_{n}DAY_WINDOW" for n in WINDOW_DAYS for kind in ("NB_TX", "AVG_AMOUNT")),
    *(f"TERMINAL_ID_{kind}_{n}DAY_WINDOW" for n in WINDOW_DAYS for kind in ("NB_TX", "RISK")),
)

_DAY_NS = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9


@dataclass(frozen=True)
class HistoryWindow:
    """The history one transaction's features read: everything outside it is ignored."""

    customer_since: datetime  # customer rows with customer_since < ts <= t
    terminal_since: datetime  # terminal rows with terminal_since <= ts < terminal_until
    terminal_until: datetime


def history_window(timestamp: datetime) -> HistoryWindow:
    """The customer and terminal history a transaction at `timestamp` needs (for the serving queries)."""
    _require_aware(timestamp)
    return HistoryWindow(
        customer_since=timestamp - timedelta(days=max(WINDOW_DAYS)),
        terminal_since=timestamp - timedelta(days=DELAY_DAYS + max(WINDOW_DAYS)),
        terminal_until=timestamp - timedelta(days=DELAY_DAYS),
    )


def transaction_features(
    *,
    timestamp: datetime,
    amount: float,
    customer_history: Iterable[tuple[datetime, float]],
    terminal_history: Iterable[tuple[datetime, bool]],
) -> np.ndarray:
    """The feature vector (float64, FEATURE_NAMES order) of one transaction, from its history rows.

    customer_history: (timestamp, amount) of the customer's other transactions, not the scored one;
    terminal_history: (timestamp, is_fraud) of the terminal's transactions. Rows outside the windows are ignored.
    """
    _require_aware(timestamp)
    utc = timestamp.astimezone(UTC)
    cents = _cents(float(amount))
    customer = [(ts, _cents(float(value))) for ts, value in customer_history if ts <= timestamp]
    terminal = [(ts, bool(fraud)) for ts, fraud in terminal_history]
    values = [float(amount), float(utc.weekday() >= 5), float(utc.hour <= NIGHT_LAST_HOUR)]
    for n in WINDOW_DAYS:
        since = timestamp - timedelta(days=n)
        in_window = [value for ts, value in customer if ts > since]
        count = len(in_window) + 1  # the transaction itself
        values += [float(count), (sum(in_window) + cents) / (100 * count)]
    until = timestamp - timedelta(days=DELAY_DAYS)
    for n in WINDOW_DAYS:
        since = until - timedelta(days=n)
        labels = [fraud for ts, fraud in terminal if since <= ts < until]
        values += [float(len(labels)), sum(labels) / len(labels) if labels else 0.0]
    return np.array(values, dtype=np.float64)


def feature_table(df: pd.DataFrame) -> pd.DataFrame:
    """The features of every row of a transaction table, from the table's own history (float64, same index).

    df: transaction_id, timestamp, customer_id, terminal_id, amount, is_fraud (missing = 0).
    Naive timestamps are read as UTC.
    """
    missing = [c for c in ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount") if c not in df]
    if missing:
        raise ValueError(f"feature_table needs column(s) {', '.join(missing)}")
    if df.empty:
        return pd.DataFrame(np.empty((0, len(FEATURE_NAMES))), index=df.index, columns=list(FEATURE_NAMES))
    ts = _epoch_ns(df["timestamp"])
    amount = df["amount"].to_numpy(dtype=np.float64)
    cents = np.rint(amount * 100).astype(np.int64)
    fraud = df["is_fraud"].fillna(0).to_numpy(dtype=np.int64) if "is_fraud" in df else np.zeros(len(df), np.int64)
    clock = _Clock(ts, df["transaction_id"].to_numpy())
    days = np.floor_divide(ts, _DAY_NS)
    columns = [
        amount,
        ((days + 3) % 7 >= 5),  # 1970-01-01 was a Thursday (weekday 3)
        ((ts - days * _DAY_NS) // _HOUR_NS <= NIGHT_LAST_HOUR),
        *_customer_windows(_Timeline(clock, pd.factorize(df["customer_id"])[0]), cents),
        *_terminal_windows(_Timeline(clock, pd.factorize(df["terminal_id"])[0]), fraud),
    ]
    # Filled column by column in Fortran order, so the frame wraps the array without a copy.
    values = np.empty((len(FEATURE_NAMES), len(df)), dtype=np.float64).T
    for j, column in enumerate(columns):
        values[:, j] = column
    return pd.DataFrame(values, index=df.index, columns=list(FEATURE_NAMES), copy=False)


class _Clock:
    """The rows' times: each row's rank in (timestamp, transaction_id) order and its time's rank among times."""

    def __init__(self, ts: np.ndarray, transaction_ids: np.ndarray) -> None:
        by_time = np.argsort(ts, kind="stable")
        sorted_ts = ts[by_time]
        new_time = np.concatenate([[True], sorted_ts[1:] != sorted_ts[:-1]])
        self.ts = ts
        self.by_time = by_time
        self.times = sorted_ts[new_time]  # the distinct times, ascending
        self.time_rank = np.empty(len(ts), dtype=np.int64)
        self.time_rank[by_time] = np.cumsum(new_time) - 1
        self.position = _tie_broken_position(by_time, new_time, self.time_rank, transaction_ids)

    def rank_of(self, offset_ns: int, side: str) -> np.ndarray:
        """Per row, the number of distinct times < ts - offset ("left") or <= ts - offset ("right")."""
        ranks = np.empty(len(self.ts), dtype=np.int64)
        # Searched in time order, the bounds ascend, which keeps searchsorted fast.
        ranks[self.by_time] = np.searchsorted(self.times, self.ts[self.by_time] - offset_ns, side)
        return ranks


def _tie_broken_position(
    by_time: np.ndarray, new_time: np.ndarray, time_rank: np.ndarray, transaction_ids: np.ndarray
) -> np.ndarray:
    """Each row's rank in (timestamp, transaction_id) order; ids are compared only among equal timestamps."""
    tied_sorted = ~new_time | np.concatenate([~new_time[1:], [False]])
    tied_rows = by_time[tied_sorted]
    id_rank = np.zeros(len(by_time), dtype=np.int64)
    id_rank[tied_rows[np.argsort(transaction_ids[tied_rows].astype(str), kind="stable")]] = np.arange(len(tied_rows))
    position = np.empty(len(by_time), dtype=np.int64)
    position[np.lexsort((id_rank, time_rank))] = np.arange(len(by_time))
    return position


class _Timeline:
    """Rows sorted by (group, time order), with one non-decreasing integer key per row: group, then time.

    Every query is made in this sorted order, so the searched values are non-decreasing as well, which keeps
    numpy's searchsorted fast; results are scattered back to the table's row order at the end.
    """

    def __init__(self, clock: _Clock, group: np.ndarray) -> None:
        self.order = np.lexsort((clock.position, group))
        self.clock = clock
        self.base = group[self.order] * (len(clock.times) + 1)
        self.keys = self.base + clock.time_rank[self.order]

    def first_at_or_after(self, offset_ns: int) -> np.ndarray:
        """Per sorted row, the sorted index of the first row of its group with ts >= (row's ts - offset)."""
        return np.searchsorted(self.keys, self.base + self.clock.rank_of(offset_ns, "left")[self.order], "left")

    def first_after(self, offset_ns: int) -> np.ndarray:
        """Per sorted row, the sorted index of the first row of its group with ts > (row's ts - offset)."""
        return np.searchsorted(self.keys, self.base + self.clock.rank_of(offset_ns, "right")[self.order], "left")

    def unsorted(self, values: np.ndarray) -> np.ndarray:
        """Sorted-order values back in the table's row order."""
        out = np.empty(len(values), dtype=np.float64)
        out[self.order] = values
        return out


def _customer_windows(timeline: _Timeline, cents: np.ndarray):
    here = np.arange(len(timeline.order))
    cumulative = np.concatenate([[0], np.cumsum(cents[timeline.order])])
    for n in WINDOW_DAYS:
        first = timeline.first_after(n * _DAY_NS)
        count = here - first + 1
        yield timeline.unsorted(count.astype(np.float64))
        yield timeline.unsorted((cumulative[here + 1] - cumulative[first]) / (100 * count))


def _terminal_windows(timeline: _Timeline, fraud: np.ndarray):
    cumulative = np.concatenate([[0], np.cumsum(fraud[timeline.order])])
    until = timeline.first_at_or_after(DELAY_DAYS * _DAY_NS)
    for n in WINDOW_DAYS:
        since = timeline.first_at_or_after((DELAY_DAYS + n) * _DAY_NS)
        count = until - since
        frauds = cumulative[until] - cumulative[since]
        yield timeline.unsorted(count.astype(np.float64))
        yield timeline.unsorted(np.divide(frauds, count, out=np.zeros(len(count)), where=count > 0))


def _epoch_ns(timestamps: pd.Series) -> np.ndarray:
    values = pd.to_datetime(timestamps, utc=True)
    return values.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _cents(amount: float) -> int:
    # np.rint, like round(), rounds half to even: the offline table and this give the same integer.
    return int(np.rint(amount * 100))


def _require_aware(timestamp: datetime) -> None:
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
