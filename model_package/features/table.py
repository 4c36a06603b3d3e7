"""Training: the features of every row of a transaction table at once, from the table's own history.

Vectorised with numpy: each row's window is a run of its customer's or terminal's rows in time order, found
with searchsorted. The floats are those of online.py, computed with the same operations in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from model_package.features.names import (
    DELAY_DAYS,
    FEATURE_NAMES,
    NIGHT_LAST_HOUR,
    NO_KNOWN_FRAUD_DAYS,
    TERMINAL_RISK_DAYS,
    WINDOW_DAYS,
    check_feature_names,
)

_DAY_NS = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9
# Rows per block of the previous-amount matrix (rows x the block's longest window): a few MB at a time.
_BLOCK_ROWS = 8_192


def feature_table(df: pd.DataFrame, names: Sequence[str] = FEATURE_NAMES) -> pd.DataFrame:
    """The features `names` (default the HANDBOOK's 15) of every row of a transaction table (float64, same index).

    df: transaction_id, timestamp, customer_id, terminal_id, amount, is_fraud (missing = 0).
    Naive timestamps are read as UTC.
    """
    names = check_feature_names(names)
    missing = [c for c in ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount") if c not in df]
    if missing:
        raise ValueError(f"feature_table needs column(s) {', '.join(missing)}")
    if df.empty:
        return pd.DataFrame(np.empty((0, len(names))), index=df.index, columns=list(names))
    columns = _Columns(df)
    # Filled column by column in Fortran order, so the frame wraps the array without a copy.
    values = np.empty((len(names), len(df)), dtype=np.float64).T
    for j, name in enumerate(names):
        values[:, j] = columns[name]
    return pd.DataFrame(values, index=df.index, columns=list(names), copy=False)


class _Columns:
    """The table's feature columns, each group computed the first time one of its features is asked for."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.ts = _epoch_ns(df["timestamp"])
        self.amount = df["amount"].to_numpy(dtype=np.float64)
        self.cents = np.rint(self.amount * 100).astype(np.int64)
        fraud = df["is_fraud"].fillna(0).to_numpy(dtype=np.int64) if "is_fraud" in df else np.zeros(len(df), np.int64)
        self.fraud = fraud
        self.clock = _Clock(self.ts, df["transaction_id"].to_numpy())
        self.customer_group = df["customer_id"]
        self.terminal_group = df["terminal_id"]
        self._done: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._done:
            self._done.update(self._group_of(name))
        return self._done[name]

    def _group_of(self, name: str) -> dict[str, np.ndarray]:
        if name.startswith("TX_"):
            days = np.floor_divide(self.ts, _DAY_NS)
            return {
                "TX_AMOUNT": self.amount,
                "TX_DURING_WEEKEND": ((days + 3) % 7 >= 5),  # 1970-01-01 was a Thursday (weekday 3)
                "TX_DURING_NIGHT": ((self.ts - days * _DAY_NS) // _HOUR_NS <= NIGHT_LAST_HOUR),
            }
        if name.startswith("CUSTOMER_ID_"):
            timeline = _Timeline(self.clock, pd.factorize(self.customer_group)[0])
            return dict(_customer_features(timeline, self.cents))
        timeline = _Timeline(self.clock, pd.factorize(self.terminal_group)[0])
        return dict(_terminal_features(timeline, self.fraud))


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
        self.ts = clock.ts[self.order]
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


def _customer_features(timeline: _Timeline, cents: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    cents = cents[timeline.order]
    here = np.arange(len(cents))
    cumulative = np.concatenate([[0], np.cumsum(cents)])
    first = {n: timeline.first_after(n * _DAY_NS) for n in WINDOW_DAYS}
    previous = {n: here - first[n] for n in WINDOW_DAYS}  # the window's rows before this one
    sums = {n: cumulative[here] - cumulative[first[n]] for n in WINDOW_DAYS}
    for n in WINDOW_DAYS:
        count = previous[n] + 1  # the transaction itself included
        yield f"CUSTOMER_ID_NB_TX_{n}DAY_WINDOW", timeline.unsorted(count.astype(np.float64))
        yield f"CUSTOMER_ID_AVG_AMOUNT_{n}DAY_WINDOW", timeline.unsorted((sums[n] + cents) / (100 * count))

    n1, n7, n30 = previous[1], previous[7], previous[30]
    stats = _previous_amounts(cents, n1=n1, n7=n7, n30=n30, sum30=sums[30])
    any7, any30 = n7 > 0, n30 > 0
    mean7 = np.divide(sums[7], n7, out=np.ones(len(cents)), where=any7)
    median = np.maximum(stats.median, 1.0)
    columns = {
        "AMOUNT_OVER_MEAN_7DAY": np.where(any7, cents / np.maximum(mean7, 1.0), 1.0),
        "AMOUNT_OVER_MEAN_30DAY": np.where(any30, cents / np.maximum(stats.mean, 1.0), 1.0),
        "AMOUNT_OVER_MEDIAN_30DAY": np.where(any30, cents / median, 1.0),
        "AMOUNT_ZSCORE_30DAY": np.where(n30 >= 2, (cents - stats.mean) / np.maximum(stats.sd, 1.0), 0.0),
        "MAX_PREVIOUS_OVER_MEDIAN_1DAY": np.where(n1 > 0, stats.max1 / median, 0.0),
        "MAX_PREVIOUS_OVER_MEDIAN_7DAY": np.where(any7, stats.max7 / median, 0.0),
    }
    for name, column in columns.items():
        yield f"CUSTOMER_ID_{name}_WINDOW", timeline.unsorted(column)


class _PreviousAmounts:
    """Per sorted row, over the customer's previous rows of the last 30 days: median, mean, sd; the largest of
    the last 1 and 7 days. Each is 0 where its window is empty."""

    def __init__(self, size: int) -> None:
        self.median, self.mean, self.sd = np.zeros(size), np.zeros(size), np.zeros(size)
        self.max1, self.max7 = np.zeros(size, np.int64), np.zeros(size, np.int64)


def _previous_amounts(
    cents: np.ndarray, *, n1: np.ndarray, n7: np.ndarray, n30: np.ndarray, sum30: np.ndarray
) -> _PreviousAmounts:
    """The previous amounts of each row as a matrix (one row per transaction, newest first, padded), a block of
    rows of similar window lengths at a time; sorted, so the squares are summed in ascending order, as online."""
    stats = _PreviousAmounts(len(cents))
    by_length = np.argsort(n30, kind="stable")
    by_length = by_length[n30[by_length] > 0]
    pad = np.iinfo(np.int64).max
    for start in range(0, len(by_length), _BLOCK_ROWS):
        rows = by_length[start : start + _BLOCK_ROWS]
        count = n30[rows]
        lag = np.arange(int(count.max()))
        newest_first = np.where(lag < count[:, None], cents[np.maximum(rows[:, None] - 1 - lag, 0)], pad)
        stats.max1[rows] = np.where(lag < n1[rows, None], newest_first, 0).max(axis=1)
        stats.max7[rows] = np.where(lag < n7[rows, None], newest_first, 0).max(axis=1)
        ascending = np.sort(newest_first, axis=1)
        middle = np.take_along_axis(ascending, np.stack([(count - 1) // 2, count // 2], axis=1), axis=1)
        stats.median[rows] = middle.sum(axis=1) / 2
        mean = sum30[rows] / count
        squares = np.zeros(len(rows))
        for j in lag:  # one addition per previous amount, in ascending order: the online loop's order
            deviation = ascending[:, j] - mean
            squares += np.where(j < count, deviation * deviation, 0.0)
        stats.mean[rows] = mean
        stats.sd[rows] = np.sqrt(squares / count)
    return stats


def _terminal_features(timeline: _Timeline, fraud: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    fraud = fraud[timeline.order]
    cumulative = np.concatenate([[0], np.cumsum(fraud)])
    until = timeline.first_at_or_after(DELAY_DAYS * _DAY_NS)
    since = {n: timeline.first_at_or_after((DELAY_DAYS + n) * _DAY_NS) for n in (*WINDOW_DAYS, TERMINAL_RISK_DAYS)}
    count = {n: until - start for n, start in since.items()}
    frauds = {n: cumulative[until] - cumulative[start] for n, start in since.items()}
    for n in WINDOW_DAYS:
        yield f"TERMINAL_ID_NB_TX_{n}DAY_WINDOW", timeline.unsorted(count[n].astype(np.float64))
        risk = np.divide(frauds[n], count[n], out=np.zeros(len(fraud)), where=count[n] > 0)
        yield f"TERMINAL_ID_RISK_{n}DAY_WINDOW", timeline.unsorted(risk)
    for n in WINDOW_DAYS:
        yield f"TERMINAL_ID_NB_FRAUD_{n}DAY_WINDOW", timeline.unsorted(frauds[n].astype(np.float64))
    n = TERMINAL_RISK_DAYS
    risk = np.divide(frauds[n], count[n], out=np.zeros(len(fraud)), where=count[n] > 0)
    yield f"TERMINAL_ID_RISK_{n}DAY_WINDOW", timeline.unsorted(risk)

    # The sorted index of the first fraud at or after each index, and of the last one before it.
    index = np.arange(len(fraud))
    next_fraud = np.minimum.accumulate(np.append(np.where(fraud > 0, index, len(fraud)), len(fraud))[::-1])[::-1]
    last_fraud_before = np.maximum.accumulate(np.concatenate([[-1], np.where(fraud > 0, index, -1)]))
    window = since[max(WINDOW_DAYS)]
    for which, found in (("FIRST", next_fraud[window]), ("LAST", last_fraud_before[until])):
        known = (found >= window) & (found < until)
        elapsed = timeline.ts - timeline.ts[np.where(known, found, 0)]
        days = np.where(known, elapsed / _DAY_NS, NO_KNOWN_FRAUD_DAYS)
        yield f"TERMINAL_ID_DAYS_SINCE_{which}_FRAUD_30DAY_WINDOW", timeline.unsorted(days)


def _epoch_ns(timestamps: pd.Series) -> np.ndarray:
    values = pd.to_datetime(timestamps, utc=True)
    return values.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
