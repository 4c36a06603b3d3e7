from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_package.features import (
    ALL_FEATURE_NAMES,
    CUSTOMER_AMOUNT_NAMES,
    DELAY_DAYS,
    FEATURE_NAMES,
    TERMINAL_FRAUD_NAMES,
    feature_table,
    history_window,
    transaction_features,
)
from model_package.simulate import simulate

# A Wednesday noon, far enough from midnight and the weekend that only the windows matter.
T = datetime(2024, 3, 13, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)
NEW_YORK_WINTER = timezone(timedelta(hours=-5))


def table(*rows: tuple) -> pd.DataFrame:
    """(transaction_id, timestamp, customer_id, terminal_id, amount, is_fraud) rows as a transaction table."""
    columns = ["transaction_id", "timestamp", "customer_id", "terminal_id", "amount", "is_fraud"]
    frame = pd.DataFrame(list(rows), columns=columns)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def features_of(frame: pd.DataFrame, transaction_id: str, names=FEATURE_NAMES) -> pd.Series:
    return feature_table(frame, names).loc[frame.index[frame["transaction_id"] == transaction_id][0]]


def test_the_feature_names_are_the_handbooks_fifteen_in_its_order():
    assert FEATURE_NAMES == (
        "TX_AMOUNT",
        "TX_DURING_WEEKEND",
        "TX_DURING_NIGHT",
        "CUSTOMER_ID_NB_TX_1DAY_WINDOW",
        "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
        "CUSTOMER_ID_NB_TX_7DAY_WINDOW",
        "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
        "CUSTOMER_ID_NB_TX_30DAY_WINDOW",
        "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
        "TERMINAL_ID_NB_TX_1DAY_WINDOW",
        "TERMINAL_ID_RISK_1DAY_WINDOW",
        "TERMINAL_ID_NB_TX_7DAY_WINDOW",
        "TERMINAL_ID_RISK_7DAY_WINDOW",
        "TERMINAL_ID_NB_TX_30DAY_WINDOW",
        "TERMINAL_ID_RISK_30DAY_WINDOW",
    )


def test_a_customer_row_exactly_n_days_before_is_outside_the_n_day_window():
    frame = table(
        ("d", T - 30 * DAY, "C1", "T1", 80.00, 0),
        ("c", T - 7 * DAY, "C1", "T2", 40.00, 0),
        ("a", T - 1 * DAY, "C1", "T3", 10.00, 0),
        ("b", T - 1 * DAY + SECOND, "C1", "T4", 20.00, 0),
        ("x", T, "C1", "T5", 30.00, 0),
    )
    x = features_of(frame, "x")
    # 1 day: b and x; 7 days: a, b, x; 30 days: c, a, b, x (each row exactly n days before is out).
    assert (x["CUSTOMER_ID_NB_TX_1DAY_WINDOW"], x["CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW"]) == (2, 25.0)
    assert (x["CUSTOMER_ID_NB_TX_7DAY_WINDOW"], x["CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW"]) == (3, 20.0)
    assert (x["CUSTOMER_ID_NB_TX_30DAY_WINDOW"], x["CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW"]) == (4, 25.0)


def test_rows_at_the_same_instant_count_in_transaction_id_order():
    frame = table(("TX2", T, "C1", "T1", 10.00, 0), ("TX1", T, "C1", "T1", 20.00, 0))
    first, second = features_of(frame, "TX1"), features_of(frame, "TX2")
    assert (first["CUSTOMER_ID_NB_TX_1DAY_WINDOW"], first["CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW"]) == (1, 20.0)
    assert (second["CUSTOMER_ID_NB_TX_1DAY_WINDOW"], second["CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW"]) == (2, 15.0)


def test_terminal_windows_end_seven_days_before_and_start_seven_plus_n_days_before():
    frame = table(
        ("g", T - 37 * DAY - SECOND, "C7", "T1", 1.0, 1),  # before every window
        ("f", T - 37 * DAY, "C6", "T1", 1.0, 1),  # first second of the 30-day window
        ("e", T - 14 * DAY - SECOND, "C5", "T1", 1.0, 0),  # 30-day window only
        ("d", T - 14 * DAY, "C4", "T1", 1.0, 1),  # first second of the 7-day window
        ("c", T - 8 * DAY, "C3", "T1", 1.0, 1),  # first second of the 1-day window
        ("b", T - 7 * DAY - SECOND, "C2", "T1", 1.0, 0),  # last second of every window
        ("a", T - 7 * DAY, "C1", "T1", 1.0, 1),  # exactly the delay: not known yet
        ("x", T, "C0", "T1", 1.0, 0),
    )
    x = features_of(frame, "x")
    assert (x["TERMINAL_ID_NB_TX_1DAY_WINDOW"], x["TERMINAL_ID_RISK_1DAY_WINDOW"]) == (2, 1 / 2)  # b, c
    assert (x["TERMINAL_ID_NB_TX_7DAY_WINDOW"], x["TERMINAL_ID_RISK_7DAY_WINDOW"]) == (3, 2 / 3)  # b, c, d
    assert (x["TERMINAL_ID_NB_TX_30DAY_WINDOW"], x["TERMINAL_ID_RISK_30DAY_WINDOW"]) == (5, 3 / 5)  # b..f


def test_a_fraud_within_the_label_delay_is_not_known_yet():
    frame = table(("fraud", T - 6 * DAY, "C1", "T1", 5.0, 1), ("x", T, "C2", "T1", 5.0, 0))
    x = features_of(frame, "x")
    assert x[[f"TERMINAL_ID_{kind}_{n}DAY_WINDOW" for n in (1, 7, 30) for kind in ("NB_TX", "RISK")]].eq(0).all()
    assert DELAY_DAYS == 7


def test_a_first_transaction_has_only_itself_in_its_history():
    x = features_of(table(("x", T, "C1", "T1", 12.34, 0)), "x")
    assert x.tolist() == [12.34, 0, 0, 1, 12.34, 1, 12.34, 1, 12.34, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize(
    ("moment", "night"),
    [("00:00:00", 1), ("06:59:59", 1), ("07:00:00", 0), ("23:59:59", 0)],
)
def test_night_is_an_hour_of_six_or_less(moment, night):
    timestamp = datetime.fromisoformat(f"2024-03-13T{moment}+00:00")
    assert features_of(table(("x", timestamp, "C1", "T1", 1.0, 0)), "x")["TX_DURING_NIGHT"] == night


@pytest.mark.parametrize(
    ("timestamp", "weekend"),
    [
        ("2024-03-15T23:59:59+00:00", 0),  # Friday
        ("2024-03-16T00:00:00+00:00", 1),  # Saturday
        ("2024-03-17T23:59:59+00:00", 1),  # Sunday
        ("2024-03-18T00:00:00+00:00", 0),  # Monday
        ("2024-03-16T01:00:00+02:00", 0),  # Saturday in Paris, still Friday 23:00 in UTC
    ],
)
def test_the_weekend_is_saturday_and_sunday_in_utc(timestamp, weekend):
    moment = datetime.fromisoformat(timestamp)
    assert features_of(table(("x", moment, "C1", "T1", 1.0, 0)), "x")["TX_DURING_WEEKEND"] == weekend


def test_missing_labels_count_as_legitimate():
    frame = table(("old", T - 8 * DAY, "C1", "T1", 5.0, 1), ("x", T, "C2", "T1", 5.0, 0)).drop(columns="is_fraud")
    x = features_of(frame, "x")
    assert (x["TERMINAL_ID_NB_TX_1DAY_WINDOW"], x["TERMINAL_ID_RISK_1DAY_WINDOW"]) == (1, 0)


def test_the_table_keeps_the_input_index_whatever_the_row_order():
    frame = simulate(customers=20, terminals=40, days=20, start=date(2024, 1, 1), seed=1)
    shuffled = frame.sample(frac=1, random_state=0).set_axis([f"row{i}" for i in range(len(frame))])
    by_id = feature_table(frame).set_axis(frame["transaction_id"])
    shuffled_by_id = feature_table(shuffled).set_axis(shuffled["transaction_id"])
    assert list(feature_table(shuffled).index) == list(shuffled.index)
    pd.testing.assert_frame_equal(shuffled_by_id.loc[by_id.index], by_id)


def test_the_history_window_is_what_the_features_read():
    window = history_window(T)
    assert window.customer_since == T - 30 * DAY
    assert window.terminal_since == T - 37 * DAY
    assert window.terminal_until == T - 7 * DAY


def test_online_features_ignore_rows_outside_the_windows():
    inside = transaction_features(
        timestamp=T,
        amount=30.0,
        customer_history=[(T - DAY + SECOND, 20.0)],
        terminal_history=[(T - 8 * DAY, True)],
    )
    with_noise = transaction_features(
        timestamp=T,
        amount=30.0,
        customer_history=[(T - DAY + SECOND, 20.0), (T - 30 * DAY, 999.0), (T + SECOND, 999.0)],
        terminal_history=[(T - 8 * DAY, True), (T - 7 * DAY, True), (T - 37 * DAY - SECOND, True), (T, True)],
    )
    assert np.array_equal(inside, with_noise)
    assert inside.dtype == np.float64 and inside.shape == (15,)


def test_online_features_refuse_a_naive_timestamp():
    with pytest.raises(ValueError, match="timezone-aware"):
        transaction_features(timestamp=datetime(2024, 3, 13), amount=1.0, customer_history=[], terminal_history=[])


def online_rows(frame: pd.DataFrame, names=FEATURE_NAMES) -> np.ndarray:
    """transaction_features for every row, each from the history the table holds for it."""
    frame = frame.reset_index(drop=True)
    # Python datetimes, as the service passes them, in a zone other than UTC: both ways must read UTC.
    moments = [moment.to_pydatetime().astimezone(NEW_YORK_WINTER) for moment in frame["timestamp"]]
    ids, amounts, frauds = list(frame["transaction_id"]), list(frame["amount"]), list(frame["is_fraud"])
    by_customer = frame.groupby("customer_id").indices
    by_terminal = frame.groupby("terminal_id").indices
    rows = []
    for i in range(len(frame)):
        # The customer's earlier rows in (timestamp, id) order, plus later ones the function must ignore.
        customer = [
            (moments[j], amounts[j])
            for j in by_customer[frame.at[i, "customer_id"]]
            if j != i and ((moments[j], ids[j]) < (moments[i], ids[i]) or moments[j] > moments[i])
        ]
        terminal = [(moments[j], bool(frauds[j])) for j in by_terminal[frame.at[i, "terminal_id"]] if j != i]
        rows.append(
            transaction_features(
                timestamp=moments[i],
                amount=amounts[i],
                customer_history=customer,
                terminal_history=terminal,
                names=names,
            )
        )
    return np.array(rows)


@pytest.mark.parametrize("names", [FEATURE_NAMES, ALL_FEATURE_NAMES], ids=["the 15", "every feature"])
def test_online_features_equal_the_offline_table_for_every_row_of_a_simulation(names):
    frame = simulate(customers=40, terminals=80, days=45, start=date(2024, 1, 1), seed=5)
    offline = feature_table(frame, names)
    assert np.array_equal(online_rows(frame, names), offline.to_numpy())
    if names == ALL_FEATURE_NAMES:  # the simulation exercises the new features, not only their empty values
        assert offline["CUSTOMER_ID_AMOUNT_ZSCORE_30DAY_WINDOW"].abs().gt(3).any()
        assert offline["TERMINAL_ID_NB_FRAUD_30DAY_WINDOW"].gt(1).any()


_rows = st.lists(
    st.tuples(
        st.integers(0, 45 * 48),  # half-hours: lands often exactly n days apart and at the same instant
        st.sampled_from(["C1", "C2", "C3"]),
        st.sampled_from(["T1", "T2"]),
        st.integers(0, 50_000),  # cents
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_rows, id_order=st.randoms())
def test_online_features_equal_the_offline_table_for_every_row_of_a_generated_table(rows, id_order):
    numbers = list(range(len(rows)))
    id_order.shuffle(numbers)  # ids unrelated to time, so ties are broken by id, not by input order
    start = datetime(2024, 1, 1, tzinfo=UTC)
    frame = table(
        *(
            (f"TX{n}", start + timedelta(minutes=30 * slot), customer, terminal, cents / 100, int(fraud))
            for n, (slot, customer, terminal, cents, fraud) in zip(numbers, rows, strict=True)
        )
    )
    assert np.array_equal(online_rows(frame, ALL_FEATURE_NAMES), feature_table(frame, ALL_FEATURE_NAMES).to_numpy())


# --- the features of issue 14 -------------------------------------------------------------------


def test_every_feature_is_the_handbooks_fifteen_then_the_amount_and_terminal_label_features():
    assert ALL_FEATURE_NAMES == FEATURE_NAMES + CUSTOMER_AMOUNT_NAMES + TERMINAL_FRAUD_NAMES
    assert len(ALL_FEATURE_NAMES) == len(set(ALL_FEATURE_NAMES)) == 27


def test_the_amount_is_compared_with_the_customers_previous_amounts():
    frame = table(
        ("old", T - 30 * DAY, "C1", "T1", 999.00, 0),  # exactly 30 days before: outside
        ("a", T - 20 * DAY, "C1", "T1", 10.00, 0),
        ("b", T - 5 * DAY, "C1", "T1", 20.00, 0),
        ("c", T - 12 * HOUR, "C1", "T1", 30.00, 0),
        ("d", T - HOUR, "C1", "T1", 40.00, 0),
        ("x", T, "C1", "T1", 100.00, 0),
        ("later", T + SECOND, "C1", "T1", 999.00, 0),
    )
    x = features_of(frame, "x", CUSTOMER_AMOUNT_NAMES)
    # Previous 30 days: 10, 20, 30, 40 (mean 25, median 25, sd sqrt(125)); previous 7 days: 20, 30, 40.
    assert x["CUSTOMER_ID_AMOUNT_OVER_MEAN_7DAY_WINDOW"] == pytest.approx(100 / 30)
    assert x["CUSTOMER_ID_AMOUNT_OVER_MEAN_30DAY_WINDOW"] == pytest.approx(4.0)
    assert x["CUSTOMER_ID_AMOUNT_OVER_MEDIAN_30DAY_WINDOW"] == pytest.approx(4.0)
    assert x["CUSTOMER_ID_AMOUNT_ZSCORE_30DAY_WINDOW"] == pytest.approx(75 / 125**0.5)
    assert x["CUSTOMER_ID_MAX_PREVIOUS_OVER_MEDIAN_1DAY_WINDOW"] == pytest.approx(40 / 25)
    assert x["CUSTOMER_ID_MAX_PREVIOUS_OVER_MEDIAN_7DAY_WINDOW"] == pytest.approx(40 / 25)


def test_a_first_transaction_looks_like_its_customers_usual_amount():
    x = features_of(table(("x", T, "C1", "T1", 12.34, 0)), "x", CUSTOMER_AMOUNT_NAMES)
    assert x.tolist() == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]


def test_amount_ratios_divide_by_at_least_one_cent():
    frame = table(("free", T - HOUR, "C1", "T1", 0.00, 0), ("x", T, "C1", "T1", 5.00, 0))
    x = features_of(frame, "x", CUSTOMER_AMOUNT_NAMES)
    assert x["CUSTOMER_ID_AMOUNT_OVER_MEDIAN_30DAY_WINDOW"] == 500.0  # 500 cents over 1 cent
    assert x["CUSTOMER_ID_AMOUNT_ZSCORE_30DAY_WINDOW"] == 0.0  # one previous amount: no spread to compare with


def test_terminal_labels_count_as_known_only_behind_the_delay():
    frame = table(
        ("too-old", T - 37 * DAY - SECOND, "C9", "T1", 1.0, 1),
        ("first", T - 36 * DAY, "C1", "T1", 1.0, 1),
        ("f20", T - 20 * DAY, "C2", "T1", 1.0, 1),
        ("ok", T - 15 * DAY, "C3", "T1", 1.0, 0),
        ("f10", T - 10 * DAY, "C4", "T1", 1.0, 1),
        ("last", T - 8 * DAY, "C5", "T1", 1.0, 1),
        ("ok2", T - 7 * DAY - SECOND, "C6", "T1", 1.0, 0),
        ("unknown", T - 6 * DAY, "C7", "T1", 1.0, 1),  # within the label delay
        ("x", T, "C0", "T1", 1.0, 0),
    )
    x = features_of(frame, "x", TERMINAL_FRAUD_NAMES)
    assert x["TERMINAL_ID_NB_FRAUD_1DAY_WINDOW"] == 1  # last (ok2 is legitimate)
    assert x["TERMINAL_ID_NB_FRAUD_7DAY_WINDOW"] == 2  # f10, last
    assert x["TERMINAL_ID_NB_FRAUD_30DAY_WINDOW"] == 4  # first, f20, f10, last
    assert x["TERMINAL_ID_RISK_14DAY_WINDOW"] == 3 / 5  # f20, ok, f10, last, ok2
    assert x["TERMINAL_ID_DAYS_SINCE_FIRST_FRAUD_30DAY_WINDOW"] == 36.0
    assert x["TERMINAL_ID_DAYS_SINCE_LAST_FRAUD_30DAY_WINDOW"] == 8.0


def test_a_terminal_without_a_known_fraud_reads_as_the_windows_far_edge():
    frame = table(("ok", T - 10 * DAY, "C1", "T1", 1.0, 0), ("x", T, "C0", "T1", 1.0, 0))
    x = features_of(frame, "x", TERMINAL_FRAUD_NAMES)
    assert x.tolist() == [0.0, 0.0, 0.0, 0.0, 37.0, 37.0]


def test_both_ways_give_the_features_asked_for_in_the_order_asked():
    names = ("TERMINAL_ID_DAYS_SINCE_LAST_FRAUD_30DAY_WINDOW", "TX_AMOUNT", "CUSTOMER_ID_AMOUNT_OVER_MEAN_7DAY_WINDOW")
    frame = simulate(customers=20, terminals=40, days=40, start=date(2024, 1, 1), seed=2)
    every = feature_table(frame, ALL_FEATURE_NAMES)
    assert list(feature_table(frame, names).columns) == list(names)
    assert np.array_equal(feature_table(frame, names).to_numpy(), every[list(names)].to_numpy())
    assert np.array_equal(online_rows(frame, names), every[list(names)].to_numpy())


def test_the_default_is_the_handbooks_fifteen_so_older_models_get_their_vector():
    history = dict(customer_history=[(T - HOUR, 20.0)], terminal_history=[(T - 8 * DAY, True)])
    assert transaction_features(timestamp=T, amount=30.0, **history).shape == (15,)
    assert np.array_equal(
        transaction_features(timestamp=T, amount=30.0, **history),
        transaction_features(timestamp=T, amount=30.0, **history, names=ALL_FEATURE_NAMES)[:15],
    )


@pytest.mark.parametrize("names", [["TX_AMOUNT", "TX_COLOUR"], ["TX_AMOUNT", "TX_AMOUNT"], []])
def test_a_feature_list_this_package_cannot_compute_is_refused(names):
    with pytest.raises(ValueError, match=r"unknown feature|each once"):
        transaction_features(timestamp=T, amount=1.0, customer_history=[], terminal_history=[], names=names)
    with pytest.raises(ValueError, match=r"unknown feature|each once"):
        feature_table(table(("x", T, "C1", "T1", 1.0, 0)), names)


def test_every_feature_reads_only_the_history_window():
    inside = dict(
        customer_history=[(T - DAY + SECOND, 20.0), (T - 29 * DAY, 10.0)],
        terminal_history=[(T - 8 * DAY, True), (T - 37 * DAY, True)],
    )
    noise = dict(
        customer_history=[(T - 30 * DAY, 999.0), (T + SECOND, 999.0)],
        terminal_history=[(T - 7 * DAY, True), (T - 37 * DAY - SECOND, True), (T, True)],
    )
    with_noise = {key: inside[key] + noise[key] for key in inside}
    clean = transaction_features(timestamp=T, amount=30.0, **inside, names=ALL_FEATURE_NAMES)
    noisy = transaction_features(timestamp=T, amount=30.0, **with_noise, names=ALL_FEATURE_NAMES)
    assert np.array_equal(clean, noisy)
