"""A prediction's reasons in words, with the context that says whether a value is high or low.

One phrase per kind of feature (model_package/features/names.py says what each computes); the context comes
from the other features of the same vector, as the model saw them: "amount 980.00 is 12x this customer's
30-day average (81.67)". tests/predictions/admin/test_reasons.py holds every feature name to a phrase.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Phrase = Callable[[float, int, Mapping[str, float]], str]
# model_package.features.names's label delay and "no known fraud" value. Not imported: importing any of
# model_package.features loads pandas, which the admin (imported by every command's start-up) must not.
DELAY_DAYS = 7
NO_KNOWN_FRAUD_DAYS = 37.0


@dataclass(frozen=True)
class Reason:
    text: str
    contribution: float


def _days(n: int) -> str:
    return "day" if n == 1 else f"{n} days"


def _times(ratio: float) -> str:
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _count(value: float, noun: str) -> str:
    return f"{value:.0f} {noun}" + ("" if round(value) == 1 else "s")


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _amount(value: float, n: int, features: Mapping[str, float]) -> str:
    average = features.get("CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW")
    if not average:
        return f"amount {_money(value)}"
    return f"amount {_money(value)} is {_times(value / average)} this customer's 30-day average ({_money(average)})"


def _weekend(value: float, n: int, features: Mapping[str, float]) -> str:
    return "made on a weekend" if value >= 0.5 else "made on a weekday"


def _night(value: float, n: int, features: Mapping[str, float]) -> str:
    return "made at night (00:00 to 06:59 UTC)" if value >= 0.5 else "made in the daytime (07:00 to 23:59 UTC)"


def _customer_count(value: float, n: int, features: Mapping[str, float]) -> str:
    text = f"{_count(value, 'transaction')} by this customer in the last {_days(n)}, this one included"
    month = features.get("CUSTOMER_ID_NB_TX_30DAY_WINDOW")
    if n < 30 and month:
        text += f" (usually {month * n / 30:.1f}, at the 30-day pace)"
    return text


def _customer_average(value: float, n: int, features: Mapping[str, float]) -> str:
    text = f"this customer's average amount over {_days(n)} is {_money(value)}"
    amount = features.get("TX_AMOUNT")
    return text + (f" (this one: {_money(amount)})" if amount is not None else "")


def _over_mean(value: float, n: int, features: Mapping[str, float]) -> str:
    return f"amount is {_times(value)} this customer's average of the previous {_days(n)}"


def _over_median(value: float, n: int, features: Mapping[str, float]) -> str:
    return f"amount is {_times(value)} this customer's median of the previous {_days(n)}"


def _zscore(value: float, n: int, features: Mapping[str, float]) -> str:
    side = "above" if value >= 0 else "below"
    return f"amount is {abs(value):.1f} standard deviations {side} this customer's {n}-day average"


def _max_previous(value: float, n: int, features: Mapping[str, float]) -> str:
    if value == 0:
        return f"no earlier transaction by this customer in the last {_days(n)}"
    return f"this customer's largest amount of the previous {_days(n)} is {_times(value)} their 30-day median"


def _terminal_window(n: int) -> str:
    return f"in the {_days(n)} before the last {DELAY_DAYS} days (labels take {DELAY_DAYS} days to arrive)"


def _terminal_count(value: float, n: int, features: Mapping[str, float]) -> str:
    return f"{_count(value, 'transaction')} at this terminal {_terminal_window(n)}"


def _terminal_risk(value: float, n: int, features: Mapping[str, float]) -> str:
    return f"{value:.1%} of this terminal's transactions {_terminal_window(n)} were fraud"


def _terminal_frauds(value: float, n: int, features: Mapping[str, float]) -> str:
    return f"{_count(value, 'known fraud')} at this terminal {_terminal_window(n)}"


def _since_fraud(which: str) -> Phrase:
    def phrase(value: float, n: int, features: Mapping[str, float]) -> str:
        if value >= NO_KNOWN_FRAUD_DAYS:
            return f"no known fraud at this terminal {_terminal_window(n)}"
        return f"this terminal's {which} known fraud {_terminal_window(n)} was {value:.1f} days before this one"

    return phrase


# (pattern, phrase), tried in order; the pattern's group, when there is one, is the window in days.
PHRASES: list[tuple[re.Pattern[str], Phrase]] = [
    (re.compile(pattern), phrase)
    for pattern, phrase in (
        (r"TX_AMOUNT", _amount),
        (r"TX_DURING_WEEKEND", _weekend),
        (r"TX_DURING_NIGHT", _night),
        (r"CUSTOMER_ID_NB_TX_(\d+)DAY_WINDOW", _customer_count),
        (r"CUSTOMER_ID_AVG_AMOUNT_(\d+)DAY_WINDOW", _customer_average),
        (r"CUSTOMER_ID_AMOUNT_OVER_MEAN_(\d+)DAY_WINDOW", _over_mean),
        (r"CUSTOMER_ID_AMOUNT_OVER_MEDIAN_(\d+)DAY_WINDOW", _over_median),
        (r"CUSTOMER_ID_AMOUNT_ZSCORE_(\d+)DAY_WINDOW", _zscore),
        (r"CUSTOMER_ID_MAX_PREVIOUS_OVER_MEDIAN_(\d+)DAY_WINDOW", _max_previous),
        (r"TERMINAL_ID_NB_TX_(\d+)DAY_WINDOW", _terminal_count),
        (r"TERMINAL_ID_RISK_(\d+)DAY_WINDOW", _terminal_risk),
        (r"TERMINAL_ID_NB_FRAUD_(\d+)DAY_WINDOW", _terminal_frauds),
        (r"TERMINAL_ID_DAYS_SINCE_FIRST_FRAUD_(\d+)DAY_WINDOW", _since_fraud("first")),
        (r"TERMINAL_ID_DAYS_SINCE_LAST_FRAUD_(\d+)DAY_WINDOW", _since_fraud("latest")),
    )
]


def reason_phrase(feature: str, value: float, features: Mapping[str, float]) -> str | None:
    """The feature's value in words, with its context from features; None for a name no phrase knows."""
    for pattern, phrase in PHRASES:
        match = pattern.fullmatch(feature)
        if match:
            return phrase(float(value), int(match.group(1)) if match.groups() else 0, features)
    return None


def reasons_in_words(reasons: list[dict], features: Mapping[str, float]) -> list[Reason]:
    """A prediction's stored reasons ({feature, value, contribution}) as phrases, strongest first as stored."""
    return [
        Reason(
            text=reason_phrase(r["feature"], r["value"], features) or f"{r['feature']} = {r['value']:.4g}",
            contribution=float(r["contribution"]),
        )
        for r in reasons
    ]
