"""The decision layer: lists, rules and the final decision (decision_final), the cached active policy, the
changes (services/policy.py) and their audit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from predictions.models import AuditEvent, ListEntry, RuleSetVersion
from predictions.services.decisions import (
    Entry,
    Lists,
    RuleSetInvalid,
    decision_final,
    lists_as_of,
    policy_active,
    rule_set_compile,
)
from predictions.services.events import Actor
from predictions.services.policy import (
    PolicyError,
    list_entry_add,
    list_entry_remove,
    rule_set_activate,
    rule_set_create,
)

ACTOR = Actor(name="tester", via="test")
NOW = timezone.now()
TX = {"customer_id": "C1", "terminal_id": "T1", "amount": "1500.00", "currency": "EUR"}
FEATURES = {"TERMINAL_ID_RISK_7DAY_WINDOW": 0.3, "TX_DURING_NIGHT": 0.0}
BIG_AT_RISKY = {
    "name": "big_at_risky_terminal",
    "condition": {"and": [{">": [{"var": "amount"}, 1000]}, {">": [{"var": "TERMINAL_ID_RISK_7DAY_WINDOW"}, 0.2]}]},
    "decision": "review",
}
NIGHT_AND_SCORE = {
    "name": "night_and_score",
    "condition": {"and": [{">": [{"var": "score"}, 0.5]}, {"==": [{"var": "TX_DURING_NIGHT"}, 1]}]},
    "decision": "decline",
}


def entry(id: int, list: str, field: str, value: str, expires_at=None) -> Entry:
    return Entry(id=id, list=list, field=field, value=value, reason=f"reason {id}", expires_at=expires_at)


NO_LISTS = Lists()


def decide(*, model_decision="approve", score=0.01, lists=NO_LISTS, rules=(), tx=TX, features=FEATURES, at=NOW):
    rule_set = rule_set_compile(list(rules), version="test") if rules else None
    return decision_final(
        model_decision=model_decision,
        score=score,
        transaction=tx,
        features=features,
        lists=lists,
        rule_set=rule_set,
        at=at,
    )


# --- lists --------------------------------------------------------------------------------------


def test_a_blocked_terminal_is_declined_whatever_the_score():
    decided = decide(score=0.01, lists=Lists.of([entry(7, "block", "terminal_id", "T1")]))

    assert decided.decision == "decline"
    assert decided.model_decision == "approve"
    assert decided.list_entry == {
        "id": 7,
        "list": "block",
        "field": "terminal_id",
        "value": "T1",
        "reason": "reason 7",
    }


def test_an_allowed_customer_is_approved_over_the_model_and_the_rules_which_are_still_reported():
    decided = decide(
        model_decision="decline",
        score=0.97,
        lists=Lists.of([entry(3, "allow", "customer_id", "C1")]),
        rules=[BIG_AT_RISKY],
    )

    assert decided.decision == "approve"
    assert decided.rules == ["big_at_risky_terminal"]
    assert decided.list_entry["id"] == 3


def test_block_wins_over_allow():
    lists = Lists.of([entry(1, "allow", "customer_id", "C1"), entry(2, "block", "terminal_id", "T1")])

    decided = decide(lists=lists)

    assert (decided.decision, decided.list_entry["id"]) == ("decline", 2)


def test_entries_of_other_customers_and_terminals_do_not_apply():
    lists = Lists.of([entry(1, "block", "customer_id", "T1"), entry(2, "block", "terminal_id", "C1")])

    decided = decide(lists=lists)

    assert (decided.decision, decided.list_entry) == ("approve", None)


def test_an_entry_stops_applying_at_its_expiry():
    lists = Lists.of([entry(1, "block", "terminal_id", "T1", expires_at=NOW + timedelta(hours=1))])

    assert decide(lists=lists, at=NOW + timedelta(minutes=59)).decision == "decline"
    assert decide(lists=lists, at=NOW + timedelta(hours=1)).decision == "approve"


# --- rules --------------------------------------------------------------------------------------


def test_the_strictest_of_the_model_and_the_rules_that_fired_decides():
    night = {**FEATURES, "TX_DURING_NIGHT": 1.0}

    assert decide(model_decision="approve", rules=[BIG_AT_RISKY]).decision == "review"
    assert decide(model_decision="review", score=0.6, features=night, rules=[BIG_AT_RISKY, NIGHT_AND_SCORE]) == (
        "decline",
        "review",
        ["big_at_risky_terminal", "night_and_score"],
        None,
        [],
    )
    assert decide(model_decision="decline", score=0.95, rules=[BIG_AT_RISKY]).decision == "decline"


def test_a_rule_that_does_not_hold_does_not_fire():
    decided = decide(tx={**TX, "amount": "999.99"}, rules=[BIG_AT_RISKY])

    assert (decided.decision, decided.rules) == ("approve", [])


def test_a_rule_over_a_feature_the_model_does_not_compute_is_reported_and_the_model_decision_stands():
    decided = decide(model_decision="review", features={"TX_DURING_NIGHT": 0.0}, rules=[BIG_AT_RISKY])

    assert decided.decision == "review"
    assert decided.rules == []
    assert decided.rule_errors == [
        {"rule": "big_at_risky_terminal", "error": "missing value: TERMINAL_ID_RISK_7DAY_WINDOW"}
    ]


def test_a_rule_that_fails_on_a_value_is_reported_and_the_others_still_decide():
    per_unit = {"name": "per_unit", "condition": {">": [{"/": [100, {"var": "amount"}]}, 1]}, "decision": "decline"}

    decided = decide(
        tx={**TX, "amount": "0.00"},
        features={**FEATURES, "TERMINAL_ID_RISK_7DAY_WINDOW": 0.0},
        rules=[per_unit, {**BIG_AT_RISKY, "condition": {"<": [{"var": "amount"}, 1]}}],
    )

    assert decided.decision == "review"
    assert decided.rules == ["big_at_risky_terminal"]
    assert [error["rule"] for error in decided.rule_errors] == ["per_unit"]
    assert "ZeroDivisionError" in decided.rule_errors[0]["error"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"name": "x"}, "rules must be a list"),
        ([{**BIG_AT_RISKY, "condition": {">": [{"var": "amont"}, 1]}}], "unknown name 'amont'"),
        ([{**BIG_AT_RISKY, "condition": {"method": [{"var": "customer_id"}, "upper"]}}], "refused operator 'method'"),
        ([{**BIG_AT_RISKY, "decision": "approve"}], "the decision must be review or decline"),
        ([BIG_AT_RISKY, BIG_AT_RISKY], "rule names must be unique: big_at_risky_terminal"),
        ([{**BIG_AT_RISKY, "condition": {">": [{"var": "customer_id"}, 5]}}], "fails to evaluate: ValueError"),
        ([{**BIG_AT_RISKY, "name": "two words"}], "the name must be 1-64"),
        ([{**BIG_AT_RISKY, "extra": 1}], "exactly name, condition and decision"),
        ([{**BIG_AT_RISKY, "condition": {">": [1, 2], "<": [1, 2]}}], "one key, the operator"),
    ],
)
def test_a_rule_set_that_cannot_work_is_refused_with_the_reason(rules, message):
    with pytest.raises(RuleSetInvalid, match=message.replace("(", r"\(")):
        rule_set_compile(rules)


# --- the active policy, its cache and its changes -------------------------------------------------


@pytest.mark.django_db
def test_an_added_entry_applies_from_the_next_read_and_a_removed_one_stops():
    first = policy_active()
    assert first.lists.deciding(customer_id="C1", terminal_id="T1", at=NOW) is None
    assert policy_active() is first  # nothing changed: the generation is read, the lists are not rebuilt

    added = list_entry_add(
        list="block", field="terminal_id", value="T1", reason="fraud ring", expires_at=None, actor=ACTOR
    )
    assert policy_active().lists.deciding(customer_id="C1", terminal_id="T1", at=NOW).id == added.pk

    list_entry_remove(entry_id=added.pk, actor=ACTOR)
    assert policy_active().lists.deciding(customer_id="C1", terminal_id="T1", at=NOW) is None


@pytest.mark.django_db
def test_a_cached_entry_stops_applying_at_its_expiry():
    expires = timezone.now() + timedelta(minutes=10)
    list_entry_add(list="block", field="customer_id", value="C1", reason="stolen card", expires_at=expires, actor=ACTOR)
    cached = policy_active()

    assert cached.lists.deciding(customer_id="C1", terminal_id="T9", at=expires - timedelta(seconds=1)) is not None
    assert cached.lists.deciding(customer_id="C1", terminal_id="T9", at=expires) is None


@pytest.mark.django_db
def test_each_list_change_writes_its_event_with_the_actor():
    added = list_entry_add(list="allow", field="customer_id", value="C7", reason="VIP", expires_at=None, actor=ACTOR)
    list_entry_remove(entry_id=added.pk, actor=Actor(name="boss", via="admin"))

    events = list(
        AuditEvent.objects.order_by("pk").values_list("action", "actor", "via", "target_id", "before", "after")
    )
    assert [event[:4] for event in events] == [
        ("list.added", "tester", "test", str(added.pk)),
        ("list.removed", "boss", "admin", str(added.pk)),
    ]
    assert events[0][4] is None and events[0][5]["value"] == "C7"
    assert events[1][4]["removed_at"] is None and events[1][5]["removed_by"] == "boss"


@pytest.mark.django_db
def test_a_list_entry_cannot_be_removed_twice_nor_expire_in_the_past():
    added = list_entry_add(list="block", field="customer_id", value="C1", reason="x", expires_at=None, actor=ACTOR)
    list_entry_remove(entry_id=added.pk, actor=ACTOR)

    with pytest.raises(PolicyError, match="already removed"):
        list_entry_remove(entry_id=added.pk, actor=ACTOR)
    with pytest.raises(PolicyError, match="in the future"):
        list_entry_add(list="block", field="customer_id", value="C1", reason="x", expires_at=NOW, actor=ACTOR)
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
def test_lists_as_of_a_moment_hold_the_entries_in_force_then():
    added = list_entry_add(list="block", field="terminal_id", value="T1", reason="x", expires_at=None, actor=ACTOR)
    between = timezone.now()
    list_entry_remove(entry_id=added.pk, actor=ACTOR)

    assert lists_as_of(between).deciding(customer_id="C1", terminal_id="T1", at=between).id == added.pk
    assert lists_as_of(timezone.now()).deciding(customer_id="C1", terminal_id="T1", at=between) is None
    assert lists_as_of(added.created_at - timedelta(microseconds=1)).entries == {}


@pytest.mark.django_db
def test_an_activated_rule_set_is_used_from_the_next_read_with_its_events():
    rule_set_create(version="r1", rules=[BIG_AT_RISKY], description="", actor=ACTOR)
    rule_set_create(version="r2", rules=[NIGHT_AND_SCORE], description="", actor=ACTOR)
    assert policy_active().rule_set is None

    rule_set_activate(version="r1", actor=ACTOR)
    assert policy_active().rule_set.version == "r1"
    rule_set_activate(version="r2", actor=ACTOR)
    assert policy_active().rule_set.version == "r2"

    assert list(RuleSetVersion.objects.filter(is_active=True).values_list("version", flat=True)) == ["r2"]
    events = AuditEvent.objects.order_by("pk").values_list("action", "target_id", "before", "after")
    assert [tuple(event) for event in events][2:] == [
        ("rules.activated", "r1", {"active": None}, {"active": "r1"}),
        ("rules.activated", "r2", {"active": "r1"}, {"active": "r2"}),
    ]


@pytest.mark.django_db
def test_an_invalid_rule_set_is_not_saved_and_leaves_no_event():
    with pytest.raises(PolicyError, match="unknown name"):
        rule_set_create(
            version="bad", rules=[{**BIG_AT_RISKY, "condition": {"var": "nope"}}], description="", actor=ACTOR
        )

    assert not RuleSetVersion.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_list_entries_are_kept_when_removed():
    added = list_entry_add(list="block", field="terminal_id", value="T1", reason="x", expires_at=None, actor=ACTOR)
    list_entry_remove(entry_id=added.pk, actor=ACTOR)

    assert ListEntry.objects.get(pk=added.pk).removed_by == "tester"
