"""An analyst's day in a real browser at 1400 x 1000: the queue, a transaction, "Save and next", the dashboard.

With FRAUDSITE_UPDATE_SCREENSHOT=1 the screenshots taken here replace the README's (docs/*.png).
"""

from __future__ import annotations

import importlib
import os
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from model_package.drift import reference_distribution, training_reference
from predictions.models import ModelVersion, Prediction, Review, Transaction
from predictions.services.integrity import signed

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("flushable_audit")]

DOCS = Path(__file__).resolve().parents[2] / "docs"
PASSWORD = "a-browser-passphrase"
QUEUE_URL = "/admin/predictions/reviewqueueitem/"
# A version name as train_model makes them: the longest text in a queue row.
VERSION = "hgb-20261203T072219Z-1a2b3c4d"
FEATURES = [
    "TX_AMOUNT",
    "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
    "CUSTOMER_ID_NB_TX_1DAY_WINDOW",
    "CUSTOMER_ID_NB_TX_30DAY_WINDOW",
    "TERMINAL_ID_RISK_7DAY_WINDOW",
    "TX_DURING_NIGHT",
]
# (transaction_id, customer, terminal, amount, score, minutes in the queue)
QUEUE = [
    ("TX00000481", "C00412", "T03391", "1243.90", 0.981, 12),
    ("TX00000377", "C00057", "T08214", "86.15", 0.934, 48),
    ("TX00000502", "C03120", "T08214", "64.30", 0.912, 5),
    ("TX00000219", "C01988", "T00716", "412.00", 0.847, 95),
    ("TX00000455", "C00730", "T05502", "23.80", 0.731, 20),
    ("TX00000128", "C04415", "T02290", "158.45", 0.662, 140),
    ("TX00000490", "C02261", "T07118", "9.99", 0.604, 8),
]


def _predict(version, transaction, *, score, scored_at, features, reasons=()) -> Prediction:
    decision = "decline" if score >= 0.9 else "review" if score >= 0.6 else "approve"
    prediction = signed(
        Prediction(
            transaction=transaction,
            model_version=version,
            score=score,
            decision=decision,
            thresholds=version.thresholds,
            features=features,
            reasons=list(reasons),
            latency_ms=3.0,
            scored_at=scored_at,
        )
    )
    prediction.save(force_insert=True)
    return prediction


def _transaction(transaction_id, customer, terminal, amount, timestamp, **fields) -> Transaction:
    row = signed(
        Transaction(
            transaction_id=transaction_id,
            timestamp=timestamp,
            customer_id=customer,
            terminal_id=terminal,
            amount=Decimal(amount),
            currency="EUR",
            **fields,
        )
    )
    row.save(force_insert=True)
    return row


def _queue_with_items() -> ModelVersion:
    """The flagged transactions of QUEUE, each customer with a month of history, and 30 days of activity."""
    now = timezone.now()
    version = ModelVersion.objects.create(
        version=VERSION,
        algorithm="hgb",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=FEATURES,
        thresholds={"review": 0.6, "decline": 0.9},
        metrics={"auc": 0.8876, "average_precision": 0.7503, "card_precision_at_k": 0.3221},
        trained_at=now - timedelta(days=1),
        is_active=True,
    )
    for transaction_id, customer, terminal, amount, score, minutes in QUEUE:
        for day in range(1, 16):  # a customer's past: more than the page's 10
            _transaction(f"{transaction_id}-{day:02d}", customer, "T00001", "40.00", now - timedelta(days=day))
        transaction = _transaction(
            transaction_id, customer, terminal, amount, now - timedelta(minutes=minutes, seconds=3)
        )
        average = (float(amount) + 15 * 40.0) / 16
        _predict(
            version,
            transaction,
            score=score,
            scored_at=now - timedelta(minutes=minutes),
            features=[float(amount), average, 1.0, 16.0, 0.0, 0.0],
            reasons=[
                {"feature": "TX_AMOUNT", "value": float(amount), "contribution": 0.4123456789},
                {"feature": "CUSTOMER_ID_NB_TX_1DAY_WINDOW", "value": 1.0, "contribution": 0.039999999999999994},
                {"feature": "TERMINAL_ID_RISK_7DAY_WINDOW", "value": 0.0, "contribution": -0.0211},
            ],
        )
    scores, features = _month_of_activity(version, now)
    version.metrics["reference"] = _training_reference(scores, features)
    version.save()
    return version


def _training_reference(scores: list[float], features: list[list[float]]) -> dict:
    """The month's own distributions as the training data, but with amounts half as large: the amount drifts."""
    features = np.asarray(features)
    reference = training_reference(scores=np.asarray(scores), features=features, feature_names=FEATURES)
    reference["features"]["TX_AMOUNT"] = reference_distribution(features[:, 0] / 2)
    return reference


def _month_of_activity(version: ModelVersion, now) -> tuple[list[float], list[list[float]]]:
    """Approved and flagged transactions on each of the last 30 days, some reviewed, for the dashboard;
    their scores and feature vectors."""
    scores, vectors = [], []
    analyst = User.objects.create_user("yesterdays-analyst", password=PASSWORD)
    for day in range(1, 30):
        when = now - timedelta(days=day)
        for i in range(3 + day % 5):
            amount = f"{30 + 40 * i + day}.00"
            transaction = _transaction(f"D{day:02d}-{i}", f"C9{day:02d}{i}", "T00002", amount, when)
            score = 0.95 if i == 0 else 0.7 if i == 1 else 0.02 * i
            features = [float(amount), 45.0, 1.0, 20.0, 0.0, float(i % 2)]
            _predict(version, transaction, score=score, scored_at=when, features=features)
            scores.append(score)
            vectors.append(features)
            if i < 2:
                outcome = "fraud" if (day + i) % 3 else "legitimate"
                Review.objects.create(transaction=transaction, reviewer=analyst, outcome=outcome, reviewed_at=when)
                Transaction.objects.filter(pk=transaction.pk).update(label=outcome)
    return scores, vectors


def _analyst_group() -> Group:
    """The analyst group of migrations 0002 and 0003; made again if an earlier transactional test flushed it."""
    group, created = Group.objects.get_or_create(name="analyst")
    if created:
        roles = importlib.import_module("predictions.migrations.0002_roles")
        queue = importlib.import_module("predictions.migrations.0003_reviewqueue")
        codenames = roles.ROLE_PERMISSIONS["analyst"] + queue.QUEUE_PERMISSIONS
        group.permissions.set(Permission.objects.filter(content_type__app_label="predictions", codename__in=codenames))
    return group


def _analyst() -> User:
    user = User.objects.create_user("ana", password=PASSWORD, is_staff=True, first_name="Ana")
    user.groups.add(_analyst_group())
    return user


def _log_in(page, base_url: str) -> None:
    """Log in as the analyst through the admin's login form, landing on the queue."""
    page.goto(f"{base_url}/admin/login/?next={QUEUE_URL}")
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")


def _columns_outside_the_viewport(page) -> list[str]:
    """The header cells of the change list not wholly inside the viewport and the list's own scrolling box
    (a cell past either edge is cut off or needs a sideways scroll)."""
    results = page.locator("#changelist-form .results").bounding_box()
    right = min(page.viewport_size["width"], results["x"] + results["width"])
    outside = []
    for header in page.locator("#result_list thead th").all():
        box = header.bounding_box()
        if box is None or box["x"] < max(0, results["x"]) or box["x"] + box["width"] > right + 0.5:
            outside.append(header.inner_text().strip() or header.get_attribute("class"))
    return outside


def _one_line(page, selector: str) -> bool:
    """Every cell of selector holds its text on one line: the text is less than two font sizes tall."""
    script = """cells => cells.map(cell => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        return range.getBoundingClientRect().height / parseFloat(getComputedStyle(cell).fontSize);
    })"""
    heights = page.locator(selector).evaluate_all(script)
    return bool(heights) and max(heights) < 2


def _screenshot(page, artifacts: Path, name: str) -> None:
    path = artifacts / name
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("FRAUDSITE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(path, DOCS / name)


@pytest.mark.parametrize("sidebar", ["open", "collapsed"])
def test_every_column_of_the_queue_and_the_model_list_is_on_screen(live_server, page, sidebar):
    _queue_with_items()
    _analyst()
    _log_in(page, live_server.url)
    if sidebar == "collapsed":
        page.click("#toggle-nav-sidebar")

    assert page.locator("#result_list thead th").count() == 11  # the checkbox and ten columns
    assert _columns_outside_the_viewport(page) == []
    assert _one_line(page, "#result_list td.field-version")

    page.goto(f"{live_server.url}/admin/predictions/modelversion/")
    assert page.locator("#result_list thead th").count() == 10  # ten columns, challenger included; no checkbox
    assert _columns_outside_the_viewport(page) == []
    assert _one_line(page, "#result_list th.field-version")


def test_an_analyst_confirms_a_transaction_as_fraud_from_the_queue(live_server, page, artifacts):
    _queue_with_items()
    analyst = _analyst()

    _log_in(page, live_server.url)

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == len(QUEUE)
    assert "TX00000481" in rows.first.inner_text()  # highest score first
    _screenshot(page, artifacts, "review-queue.png")

    page.locator("#result_list tbody tr", has_text="TX00000377").locator("input.action-select").check()
    page.select_option("select[name=action]", "confirm_fraud")
    page.click("button[name=index]")

    page.wait_for_selector("#review-confirmation")  # asked first: nothing recorded yet
    assert (
        "TX00000377" in page.inner_text("#review-confirmation") and not Review.objects.filter(reviewer=analyst).exists()
    )
    page.click("#confirm-bulk-review")

    page.wait_for_selector("ul.messagelist li.success")
    assert "1 transaction confirmed as fraud." in page.inner_text("ul.messagelist")
    review = Review.objects.get(reviewer=analyst)
    assert (review.transaction.transaction_id, review.outcome) == ("TX00000377", "fraud")
    assert Transaction.objects.get(transaction_id="TX00000377").label == "fraud"
    assert page.locator("#result_list tbody tr").count() == len(QUEUE) - 1


def test_the_transaction_page_puts_the_facts_first_and_save_and_next_opens_the_next(live_server, page, artifacts):
    _queue_with_items()
    _analyst()
    _log_in(page, live_server.url)

    page.click("text=TX00000481")
    page.wait_for_selector("#transaction-facts")

    facts = page.locator("#transaction-facts").bounding_box()
    assert facts["y"] + facts["height"] < page.viewport_size["height"] / 2  # at the top, without scrolling
    assert page.locator("#fact-amount").inner_text() == "1243.90 EUR"
    assert page.locator("#prediction-score").inner_text() == "0.981"
    reasons = page.locator("#prediction-reasons tbody tr")
    assert reasons.first.inner_text().startswith("amount 1,243.90 is 11x this customer's 30-day average (115.24)")
    assert "+0.412" in reasons.first.inner_text()
    assert page.locator("#customer-history tbody tr").count() == 10
    assert page.locator("#review-save-next").is_visible()
    _screenshot(page, artifacts, "transaction.png")

    page.check("input[name=outcome][value=fraud]")
    page.fill("textarea[name=notes]", "Three times the usual amount at a new terminal.")
    page.click("#review-save-next")

    page.wait_for_selector("ul.messagelist li.success")
    assert "TX00000481 confirmed as fraud." in page.inner_text("ul.messagelist")
    assert page.locator("#transaction-facts h2").inner_text() == "Transaction TX00000377"  # the next highest score
    review = Review.objects.get(transaction__transaction_id="TX00000481")
    assert (review.outcome, review.notes) == ("fraud", "Three times the usual amount at a new terminal.")


def test_the_dashboard_draws_its_charts(live_server, page, artifacts):
    _queue_with_items()
    _analyst()
    _log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/")

    for chart in ("#chart-activity", "#chart-precision", "#chart-scores", "#chart-drift"):
        box = page.locator(f"{chart} svg").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, chart
    assert page.inner_text("#dashboard-drift").startswith("PSI over 0.2 (a shift worth a look): TX_AMOUNT")
    assert page.locator("#chart-drift svg text", has_text="TX_AMOUNT").count() == 1
    _screenshot(page, artifacts, "dashboard.png")
