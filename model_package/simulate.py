"""The transaction simulator of HANDBOOK.md (the book's chapter 3.2), vectorised and deterministic per seed.

Customers and terminals are points in a 100 x 100 square; a customer pays at the terminals within
radius 5. Each customer-day draws a Poisson number of transactions; the three fraud scenarios are then
applied in order. Customer and terminal ids count from 0 (as in the book), transaction ids from 1 in
(timestamp, generation) order.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from model_package.io import write_transactions

RADIUS = 5.0
SECONDS_PER_DAY = 86_400
TIME_OF_DAY_MEAN, TIME_OF_DAY_STD = 43_200.0, 20_000.0
FRAUD_AMOUNT_LIMIT = 220.0  # scenario 1: every larger amount is fraud
COMPROMISED_TERMINALS_PER_DAY, TERMINAL_FRAUD_DAYS = 2, 28  # scenario 2
COMPROMISED_CUSTOMERS_PER_DAY, CUSTOMER_FRAUD_DAYS = 3, 14  # scenario 3
CUSTOMER_FRAUD_AMOUNT_FACTOR = 5
# Distances are computed for this many customers at a time, to bound memory (block x terminals floats).
_DISTANCE_BLOCK = 256


@dataclass(frozen=True)
class _Population:
    customer_xy: np.ndarray  # (customers, 2)
    mean_amount: np.ndarray  # (customers,)
    std_amount: np.ndarray
    mean_nb_tx_per_day: np.ndarray
    terminal_xy: np.ndarray  # (terminals, 2)


def simulate(*, customers: int, terminals: int, days: int, start: date, seed: int) -> pd.DataFrame:
    """Simulate `days` days of transactions from `start` (UTC midnight), one row per transaction.

    Columns: transaction_id, timestamp (UTC), customer_id, terminal_id, amount, is_fraud, fraud_scenario
    (0 none, 1 large amount, 2 compromised terminal, 3 compromised customer); sorted by timestamp.
    """
    if customers < 1 or terminals < 1 or days < 1:
        raise ValueError("customers, terminals and days must each be at least 1")
    rng = np.random.default_rng(seed)
    population = _population(rng, customers=customers, terminals=terminals)
    reachable_start, reachable = _terminals_in_reach(population.customer_xy, population.terminal_xy)
    tx = _transactions(rng, population, reachable_start, reachable, days=days)
    _add_frauds(rng, tx, customers=customers, terminals=terminals, days=days)
    return _table(tx, start=start)


def _population(rng: np.random.Generator, *, customers: int, terminals: int) -> _Population:
    customer_xy = rng.uniform(0, 100, size=(customers, 2))
    mean_amount = rng.uniform(5, 100, size=customers)
    mean_nb_tx_per_day = rng.uniform(0, 4, size=customers)
    terminal_xy = rng.uniform(0, 100, size=(terminals, 2))
    return _Population(customer_xy, mean_amount, mean_amount / 2, mean_nb_tx_per_day, terminal_xy)


def _terminals_in_reach(customer_xy: np.ndarray, terminal_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's terminals closer than RADIUS, as CSR arrays: (row start per customer, terminal ids)."""
    counts, terminal_ids = [], []
    for first in range(0, len(customer_xy), _DISTANCE_BLOCK):
        block = customer_xy[first : first + _DISTANCE_BLOCK]
        squared = ((block[:, None, :] - terminal_xy[None, :, :]) ** 2).sum(axis=2)
        rows, columns = np.nonzero(squared < RADIUS**2)
        counts.append(np.bincount(rows, minlength=len(block)))
        terminal_ids.append(columns)
    row_start = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
    return row_start, np.concatenate(terminal_ids)


def _transactions(
    rng: np.random.Generator, population: _Population, row_start: np.ndarray, reachable: np.ndarray, *, days: int
) -> dict[str, np.ndarray]:
    """Draw every customer-day's transactions at once; a draw outside (0, 86400) seconds is dropped."""
    n_customers = len(population.mean_amount)
    counts = rng.poisson(np.repeat(population.mean_nb_tx_per_day[:, None], days, axis=1))  # (customers, days)
    customer = np.repeat(np.repeat(np.arange(n_customers), days), counts.ravel())
    day = np.repeat(np.tile(np.arange(days), n_customers), counts.ravel())
    # int() of the normal draw, as in the book: truncation toward zero, then 0 < t < 86400.
    second = np.trunc(rng.normal(TIME_OF_DAY_MEAN, TIME_OF_DAY_STD, size=len(customer))).astype(np.int64)
    amount = _amounts(rng, population.mean_amount[customer], population.std_amount[customer])
    n_reachable = np.diff(row_start)[customer]
    pick = np.floor(rng.random(len(customer)) * np.maximum(n_reachable, 1)).astype(np.int64)
    terminal = reachable[np.minimum(row_start[customer] + pick, len(reachable) - 1)] if len(reachable) else pick
    keep = (second > 0) & (second < SECONDS_PER_DAY) & (n_reachable > 0)
    return {
        "customer": customer[keep],
        "terminal": terminal[keep],
        "day": day[keep],
        "second": second[keep],
        "amount": amount[keep],
        "is_fraud": np.zeros(int(keep.sum()), dtype=np.int64),
        "fraud_scenario": np.zeros(int(keep.sum()), dtype=np.int64),
    }


def _amounts(rng: np.random.Generator, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    amount = rng.normal(mean, std)
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean[negative])
    return np.round(amount, 2)


def _add_frauds(rng: np.random.Generator, tx: dict[str, np.ndarray], *, customers: int, terminals: int, days: int):
    """Apply the three scenarios in order; later scenarios overwrite the scenario of earlier ones."""
    large = tx["amount"] > FRAUD_AMOUNT_LIMIT
    tx["is_fraud"][large] = 1
    tx["fraud_scenario"][large] = 1
    _compromise_terminals(rng, tx, terminals=terminals, days=days)
    _compromise_customers(rng, tx, customers=customers, days=days)


def _compromise_terminals(rng: np.random.Generator, tx: dict[str, np.ndarray], *, terminals: int, days: int):
    compromised = np.zeros((terminals, days), dtype=bool)  # terminal x day: its transactions are fraud
    for day in range(days - 1):
        chosen = rng.choice(terminals, size=min(COMPROMISED_TERMINALS_PER_DAY, terminals), replace=False)
        compromised[chosen, day : day + TERMINAL_FRAUD_DAYS] = True
    hit = compromised[tx["terminal"], tx["day"]]
    tx["is_fraud"][hit] = 1
    tx["fraud_scenario"][hit] = 2


def _compromise_customers(rng: np.random.Generator, tx: dict[str, np.ndarray], *, customers: int, days: int):
    # Transactions ordered by (customer, day), so a customer's days [d, d + 14) are one slice.
    key = tx["customer"] * days + tx["day"]
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    for day in range(days - 1):
        chosen = rng.choice(customers, size=min(COMPROMISED_CUSTOMERS_PER_DAY, customers), replace=False)
        low = np.searchsorted(sorted_key, chosen * days + day, side="left")
        # Capped at the last day: beyond it the key would run into the next customer's first days.
        high = np.searchsorted(sorted_key, chosen * days + min(day + CUSTOMER_FRAUD_DAYS, days), side="left")
        candidates = np.sort(np.concatenate([order[a:b] for a, b in zip(low, high, strict=True)]))
        frauds = rng.choice(candidates, size=len(candidates) // 3, replace=False)
        tx["amount"][frauds] = np.round(tx["amount"][frauds] * CUSTOMER_FRAUD_AMOUNT_FACTOR, 2)
        tx["is_fraud"][frauds] = 1
        tx["fraud_scenario"][frauds] = 3


def _table(tx: dict[str, np.ndarray], *, start: date) -> pd.DataFrame:
    seconds = tx["day"] * SECONDS_PER_DAY + tx["second"]
    order = np.argsort(seconds, kind="stable")
    origin = pd.Timestamp(datetime(start.year, start.month, start.day, tzinfo=UTC))
    n = len(order)
    return pd.DataFrame(
        {
            "transaction_id": _ids("TX", np.arange(1, n + 1), width=8),
            "timestamp": origin + pd.to_timedelta(seconds[order], unit="s"),
            "customer_id": _ids("C", tx["customer"][order], width=5),
            "terminal_id": _ids("T", tx["terminal"][order], width=5),
            "amount": tx["amount"][order],
            "is_fraud": tx["is_fraud"][order],
            "fraud_scenario": tx["fraud_scenario"][order],
        }
    )


def _ids(prefix: str, numbers: np.ndarray, *, width: int) -> np.ndarray:
    """'C00042'-style ids, built by numpy's string ufuncs rather than a Python loop."""
    if len(numbers) == 0:
        return np.array([], dtype=object)
    digits = np.strings.zfill(numbers.astype(np.int64).astype(np.str_), width)
    return np.strings.add(prefix, digits).astype(object)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_package.simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--terminals", type=int, required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    try:
        frame = simulate(
            customers=args.customers, terminals=args.terminals, days=args.days, start=args.start, seed=args.seed
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - began
    write_transactions(frame, args.out)
    frauds = int(frame["is_fraud"].sum())
    print(
        f"{len(frame):,} transactions, {frauds:,} frauds ({100 * frauds / max(len(frame), 1):.2f} %), "
        f"simulated in {seconds:.1f} s, written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
