"""Reasons in words: every feature the package computes has a phrase that gives its value a context."""

from __future__ import annotations

import pytest

from model_package.features.names import ALL_FEATURE_NAMES
from predictions.admin.reasons import reason_phrase, reasons_in_words


@pytest.mark.parametrize("name", ALL_FEATURE_NAMES)
def test_every_feature_name_gets_a_phrase_in_words(name):
    phrase = reason_phrase(name, 3.0, {})
    assert phrase is not None, f"{name} has no phrase"
    assert name not in phrase and "_" not in phrase


def test_the_amount_is_set_against_the_customers_30_day_average():
    features = {"TX_AMOUNT": 980.0, "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW": 81.67}
    assert reason_phrase("TX_AMOUNT", 980.0, features) == (
        "amount 980.00 is 12x this customer's 30-day average (81.67)"
    )


def test_a_short_customer_window_is_set_against_the_30_day_pace():
    phrase = reason_phrase("CUSTOMER_ID_NB_TX_1DAY_WINDOW", 6, {"CUSTOMER_ID_NB_TX_30DAY_WINDOW": 45})
    assert (
        phrase == "6 transactions by this customer in the last day, this one included (usually 1.5, at the 30-day pace)"
    )


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("TERMINAL_ID_RISK_7DAY_WINDOW", 0.032, "3.2% of this terminal's transactions in the 7 days before the last"),
        ("CUSTOMER_ID_AMOUNT_ZSCORE_30DAY_WINDOW", -1.46, "amount is 1.5 standard deviations below"),
        ("CUSTOMER_ID_AMOUNT_OVER_MEAN_7DAY_WINDOW", 4.25, "amount is 4.2x this customer's average of the previous 7"),
        ("TERMINAL_ID_DAYS_SINCE_LAST_FRAUD_30DAY_WINDOW", 37.0, "no known fraud at this terminal"),
        ("TERMINAL_ID_DAYS_SINCE_LAST_FRAUD_30DAY_WINDOW", 9.5, "latest known fraud in the 30 days before"),
        (
            "CUSTOMER_ID_MAX_PREVIOUS_OVER_MEDIAN_1DAY_WINDOW",
            0.0,
            "no earlier transaction by this customer in the last day",
        ),
        ("TX_DURING_NIGHT", 1.0, "made at night"),
        ("TX_DURING_WEEKEND", 0.0, "made on a weekday"),
    ],
)
def test_phrases_say_whether_the_value_is_high_or_low(name, value, expected):
    assert expected in reason_phrase(name, value, {})


def test_stored_reasons_keep_their_order_and_an_unknown_name_is_shown_as_it_is():
    reasons = [
        {"feature": "TX_DURING_NIGHT", "value": 1.0, "contribution": 0.039999999999999994},
        {"feature": "SOMETHING_NEW", "value": 2.5, "contribution": -0.01},
    ]
    words = reasons_in_words(reasons, {})
    assert [r.text for r in words] == ["made at night (00:00 to 06:59 UTC)", "SOMETHING_NEW = 2.5"]
    assert words[0].contribution == pytest.approx(0.04)


def test_one_is_singular():
    assert reason_phrase("TERMINAL_ID_NB_FRAUD_7DAY_WINDOW", 1.0, {}).startswith("1 known fraud at this terminal")
    assert reason_phrase("CUSTOMER_ID_NB_TX_7DAY_WINDOW", 2.0, {}).startswith("2 transactions by this customer")


def test_the_copied_constants_are_the_feature_packages():
    from model_package.features import names
    from predictions.admin import reasons

    assert (reasons.DELAY_DAYS, reasons.NO_KNOWN_FRAUD_DAYS) == (names.DELAY_DAYS, names.NO_KNOWN_FRAUD_DAYS)
