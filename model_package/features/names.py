"""What each feature is: its name, its window, and the value it takes when its window is empty.

With t the transaction's time and amounts in integer cents:

- The HANDBOOK's 15 (FEATURE_NAMES, every model made before issue 14 uses exactly these):
  TX_AMOUNT, TX_DURING_WEEKEND and TX_DURING_NIGHT (UTC, hour <= 6); the customer windows, n in {1, 7, 30}
  days, rows with t - n days < ts <= t, the transaction itself included (ties at t: the earlier rows in
  (timestamp, transaction_id) order): count and mean amount; the terminal windows behind a label delay of
  7 days, rows with t - (7 + n) days <= ts < t - 7 days: count and risk (frauds / count, 0 when empty).
- The amount against the customer's own past (CUSTOMER_AMOUNT_NAMES). "Previous" rows are the customer
  window's rows without the transaction itself. Denominators are floored at 1 cent.
  - AMOUNT_OVER_MEAN_7DAY / _30DAY: amount / mean previous amount (1 when there is none);
  - AMOUNT_OVER_MEDIAN_30DAY: amount / median previous amount (1 when there is none);
  - AMOUNT_ZSCORE_30DAY: (amount - mean) / population sd of the previous amounts (0 with fewer than two);
  - MAX_PREVIOUS_OVER_MEDIAN_1DAY / _7DAY: the largest previous amount of the last 1 or 7 days over the
    30-day median (0 when there is none).
- What the terminal's labels said 7 days ago (TERMINAL_FRAUD_NAMES), in the terminal windows above:
  fraud counts over 1, 7 and 30 days, the risk over 14 days, and the days from the first and from the last
  known fraud of the 30-day window to t (37, the window's far edge, when it holds no fraud).

Every feature reads only the rows of history_window(t): the two serving queries need no other rows.
"""

from __future__ import annotations

from collections.abc import Iterable

WINDOW_DAYS = (1, 7, 30)
DELAY_DAYS = 7
NIGHT_LAST_HOUR = 6  # the book's code: hour <= 6 is night
TERMINAL_RISK_DAYS = 14  # the one terminal window beyond WINDOW_DAYS (risk only)
NO_KNOWN_FRAUD_DAYS = float(DELAY_DAYS + max(WINDOW_DAYS))  # days since a fraud the terminal window does not hold

FEATURE_NAMES: tuple[str, ...] = (
    "TX_AMOUNT",
    "TX_DURING_WEEKEND",
    "TX_DURING_NIGHT",
    *(f"CUSTOMER_ID_{kind}_{n}DAY_WINDOW" for n in WINDOW_DAYS for kind in ("NB_TX", "AVG_AMOUNT")),
    *(f"TERMINAL_ID_{kind}_{n}DAY_WINDOW" for n in WINDOW_DAYS for kind in ("NB_TX", "RISK")),
)
CUSTOMER_AMOUNT_NAMES: tuple[str, ...] = (
    "CUSTOMER_ID_AMOUNT_OVER_MEAN_7DAY_WINDOW",
    "CUSTOMER_ID_AMOUNT_OVER_MEAN_30DAY_WINDOW",
    "CUSTOMER_ID_AMOUNT_OVER_MEDIAN_30DAY_WINDOW",
    "CUSTOMER_ID_AMOUNT_ZSCORE_30DAY_WINDOW",
    "CUSTOMER_ID_MAX_PREVIOUS_OVER_MEDIAN_1DAY_WINDOW",
    "CUSTOMER_ID_MAX_PREVIOUS_OVER_MEDIAN_7DAY_WINDOW",
)
TERMINAL_FRAUD_NAMES: tuple[str, ...] = (
    *(f"TERMINAL_ID_NB_FRAUD_{n}DAY_WINDOW" for n in WINDOW_DAYS),
    f"TERMINAL_ID_RISK_{TERMINAL_RISK_DAYS}DAY_WINDOW",
    "TERMINAL_ID_DAYS_SINCE_FIRST_FRAUD_30DAY_WINDOW",
    "TERMINAL_ID_DAYS_SINCE_LAST_FRAUD_30DAY_WINDOW",
)
# Every feature the package computes, in one fixed order; a model uses any subset, in any order.
ALL_FEATURE_NAMES: tuple[str, ...] = FEATURE_NAMES + CUSTOMER_AMOUNT_NAMES + TERMINAL_FRAUD_NAMES
# The features train_model uses unless told otherwise (chosen on a validation week: bench/RESULTS.md, issue 14).
DEFAULT_FEATURE_NAMES: tuple[str, ...] = ALL_FEATURE_NAMES


def check_feature_names(names: Iterable[str]) -> tuple[str, ...]:
    """names as a tuple, if this package computes every one of them, once; ValueError naming the problem."""
    names = tuple(names)
    unknown = [name for name in names if name not in ALL_FEATURE_NAMES]
    if unknown:
        raise ValueError(f"unknown feature(s) {', '.join(map(str, unknown))}")
    if len(set(names)) != len(names) or not names:
        raise ValueError("a feature list must name at least one feature, each once")
    return names
