"""An analyst works the review queue in a real browser."""

from __future__ import annotations

import importlib
import os
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import timezone

from predictions.models import ModelVersion, Prediction, Review, Transaction

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("flushable_audit")]

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "review-queue.png"
PASSWORD = "a-browser-passphrase"

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


def _queue_with_items() -> None:
    now = timezone.now()
    version = ModelVersion.objects.create(
        version="rf-20260309-1a2b3c",
        algorithm="rf",
        artifact_path="/nowhere",
        artifact_sha256="0" * 64,
        feature_names=["TX_AMOUNT"],
        thresholds={"review": 0.6, "decline": 0.9},
        trained_at=now - timedelta(days=1),
        is_active=True,
    )
    for transaction_id, customer, terminal, amount, score, minutes in QUEUE:
        transaction = Transaction.objects.create(
            transaction_id=transaction_id,
            timestamp=now - timedelta(minutes=minutes, seconds=3),
            customer_id=customer,
            terminal_id=terminal,
            amount=Decimal(amount),
            currency="EUR",
        )
        Prediction.objects.create(
            transaction=transaction,
            model_version=version,
            score=score,
            decision="decline" if score >= 0.9 else "review",
            thresholds=version.thresholds,
            features=[float(amount)],
            reasons=[{"feature": "TX_AMOUNT", "value": float(amount), "contribution": 0.2}],
            latency_ms=3.0,
            scored_at=now - timedelta(minutes=minutes),
        )


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
    page.goto(f"{base_url}/admin/login/?next=/admin/predictions/reviewqueueitem/")
    page.fill("#id_username", "ana")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")


def test_an_analyst_confirms_a_transaction_as_fraud_from_the_queue(live_server, page, artifacts):
    _queue_with_items()
    analyst = _analyst()

    _log_in(page, live_server.url)

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == len(QUEUE)
    assert "TX00000481" in rows.first.inner_text()  # highest score first

    page.locator("#result_list tbody tr", has_text="TX00000377").locator("input.action-select").check()
    page.select_option("select[name=action]", "confirm_fraud")
    page.click("button[name=index]")

    page.wait_for_selector("ul.messagelist li.success")
    assert "1 transaction confirmed as fraud." in page.inner_text("ul.messagelist")
    review = Review.objects.get()
    assert (review.transaction.transaction_id, review.reviewer_id, review.outcome) == (
        "TX00000377",
        analyst.pk,
        "fraud",
    )
    assert Transaction.objects.get(transaction_id="TX00000377").label == "fraud"
    assert page.locator("#result_list tbody tr").count() == len(QUEUE) - 1

    screenshot = artifacts / "review-queue.png"
    page.click("#toggle-nav-sidebar")  # the queue's columns, not the model list, belong in the picture
    page.screenshot(path=str(screenshot), full_page=True)
    if os.environ.get("FRAUDSITE_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)


def test_the_transaction_page_takes_a_review_with_a_note(live_server, page):
    _queue_with_items()
    _analyst()
    _log_in(page, live_server.url)

    page.click("text=TX00000219")
    page.fill("textarea[name=notes]", "Card holder confirmed the purchase by phone.")
    page.click("#review-mark-legitimate")

    page.wait_for_selector("ul.messagelist li.success")
    review = Review.objects.get()
    assert (review.transaction.transaction_id, review.outcome, review.notes) == (
        "TX00000219",
        "legitimate",
        "Card holder confirmed the purchase by phone.",
    )
