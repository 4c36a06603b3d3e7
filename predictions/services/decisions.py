"""The decision layer after the model: block/allow lists, the active rule set, and the final decision.

- **Lists.** A customer or terminal on the block list is declined, one on the allow list approved, whatever
  the score and the rules. Block wins over allow: an entry that blocks a compromised card or terminal must
  not be undone by an older allow entry for the same customer (or for the terminal it used). Among entries
  of one list, the customer's is named before the terminal's.
- **Rules** are JSON Logic conditions over the transaction's fields (amount, currency, customer_id,
  terminal_id), the model's score and its named features; a rule that holds gives its decision (review or
  decline). JSON Logic, not CEL: cel-python took 57 us a rule (its compiled runner, 210 us interpreted)
  against 4.5 us for json-logic-qubit, and the budget for lists and rules is 0.5 ms a request
  (bench/RESULTS.md). Its conditions are data, never Python: only the operators in OPERATORS are accepted.
- **The final decision** is the strictest of the model's decision and the decisions of the rules that
  fired, unless a list entry decided. A rule that fails to evaluate (a feature the scoring model does not
  compute, a type error) is reported in rule_errors and logged, and decides nothing.

decision_final is pure: the backtest calls it with candidate lists and rules. The scoring path gets the
active lists and rules from policy_active, cached per process and rebuilt only when the generation row
(models.DecisionPolicyState) changes; an expired entry stops applying at its expiry even while cached.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import Q
from django.utils import timezone
from json_logic import jsonLogic

from predictions.models import (
    Decision,
    ListEntry,
    ListField,
    ListName,
    Prediction,
    RuleSetVersion,
)
from predictions.services.serving import policy_generation

logger = logging.getLogger(__name__)

STRICTNESS = {Decision.APPROVE.value: 0, Decision.REVIEW.value: 1, Decision.DECLINE.value: 2}
RULE_DECISIONS = (Decision.REVIEW.value, Decision.DECLINE.value)
# The transaction's fields a rule may read, besides `score` and the features.
TRANSACTION_NAMES = ("amount", "currency", "customer_id", "terminal_id")
TEXT_NAMES = frozenset({"currency", "customer_id", "terminal_id"})
# Logic, comparison and arithmetic: nothing that calls methods (json-logic's "method"), logs or builds strings.
OPERATORS = frozenset(
    {"var", "and", "or", "!", "!!", "if", "?:", "==", "!=", "===", "!==", ">", ">=", "<", "<="}
    | {"in", "+", "-", "*", "/", "%", "min", "max"}
)
RULE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_RULES = 200


# --- lists --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A list entry as the decision layer applies it, and as a prediction stores the one that decided."""

    id: int
    list: str
    field: str
    value: str
    reason: str
    expires_at: datetime | None

    def applies_at(self, at: datetime) -> bool:
        return self.expires_at is None or at < self.expires_at

    def as_stored(self) -> dict[str, Any]:
        return {"id": self.id, "list": self.list, "field": self.field, "value": self.value, "reason": self.reason}

    @classmethod
    def of(cls, row: ListEntry) -> Entry:
        return cls(row.pk, row.list, row.field, row.value, row.reason, row.expires_at)


@dataclass(frozen=True)
class Lists:
    """Entries by (field, value): one dict probe per customer and terminal."""

    entries: Mapping[tuple[str, str], tuple[Entry, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Sequence[Entry]) -> Lists:
        by_key: dict[tuple[str, str], list[Entry]] = {}
        for entry in sorted(entries, key=lambda e: e.id):
            by_key.setdefault((entry.field, entry.value), []).append(entry)
        return cls({key: tuple(found) for key, found in by_key.items()})

    def listed(self, *, customer_ids: Sequence[str], terminal_ids: Sequence[str]) -> list[int]:
        """The positions of the rows whose customer or terminal has an entry: the only rows deciding() can decide."""
        if not self.entries:
            return []
        customers = {value for name, value in self.entries if name == ListField.CUSTOMER.value}
        terminals = {value for name, value in self.entries if name == ListField.TERMINAL.value}
        pairs = zip(customer_ids, terminal_ids, strict=True)
        return [i for i, (customer, terminal) in enumerate(pairs) if customer in customers or terminal in terminals]

    def deciding(self, *, customer_id: str, terminal_id: str, at: datetime) -> Entry | None:
        """The entry that decides at `at`: a block entry before an allow entry, the customer's first."""
        if not self.entries:
            return None
        found = [
            entry
            for key in ((ListField.CUSTOMER.value, customer_id), (ListField.TERMINAL.value, terminal_id))
            for entry in self.entries.get(key, ())
            if entry.applies_at(at)
        ]
        for name in (ListName.BLOCK.value, ListName.ALLOW.value):
            for entry in found:
                if entry.list == name:
                    return entry
        return None


# --- rules --------------------------------------------------------------------------------------


class RuleSetInvalid(ValueError):
    """A rule set that cannot be saved; the message names the rule and what is wrong."""


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Any
    decision: str
    names: frozenset[str]  # the variables it reads


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]
    id: int | None = None


class RuleError(NamedTuple):
    rule: str
    error: str


def rule_names_known() -> frozenset[str]:
    """Every name a rule may read: the transaction's fields, the score, and every feature the service computes."""
    from model_package.features.names import ALL_FEATURE_NAMES  # not at import: the admin imports this module

    return frozenset((*TRANSACTION_NAMES, "score", *ALL_FEATURE_NAMES))


def rule_set_compile(rules: Any, *, version: str = "", id: int | None = None) -> RuleSet:
    """The checked, compiled rule set; RuleSetInvalid says what is wrong (structure, operators, names)."""
    if not isinstance(rules, list):
        raise RuleSetInvalid("rules must be a list of {name, condition, decision}")
    if len(rules) > MAX_RULES:
        raise RuleSetInvalid(f"at most {MAX_RULES} rules in a set")
    known = rule_names_known()
    compiled: list[Rule] = []
    for index, rule in enumerate(rules):
        compiled.append(_rule_compile(rule, index=index, known=known))
    names = [rule.name for rule in compiled]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RuleSetInvalid(f"rule names must be unique: {', '.join(duplicates)}")
    return RuleSet(version=version, rules=tuple(compiled), id=id)


def _rule_compile(rule: Any, *, index: int, known: frozenset[str]) -> Rule:
    where = f"rule {index + 1}"
    if not isinstance(rule, dict) or set(rule) != {"name", "condition", "decision"}:
        raise RuleSetInvalid(f"{where}: a rule is an object with exactly name, condition and decision")
    name = rule["name"]
    if not isinstance(name, str) or not RULE_NAME.fullmatch(name):
        raise RuleSetInvalid(f"{where}: the name must be 1-64 letters, digits, '_', '.' or '-'")
    where = f"rule {name!r}"
    if rule["decision"] not in RULE_DECISIONS:
        raise RuleSetInvalid(f"{where}: the decision must be review or decline")
    names = set()
    for operator, argument in _operations(rule["condition"], where):
        if operator not in OPERATORS:
            raise RuleSetInvalid(f"{where}: unknown or refused operator {operator!r}")
        if operator == "var":
            names.add(_variable(argument, where, known))
    compiled = Rule(name=name, condition=rule["condition"], decision=rule["decision"], names=frozenset(names))
    _trial(compiled, where)
    return compiled


def _operations(logic: Any, where: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every (operator, argument) in a JSON Logic expression, outermost first."""
    if depth > 32:
        raise RuleSetInvalid(f"{where}: the condition is nested deeper than 32")
    if isinstance(logic, list):
        for item in logic:
            yield from _operations(item, where, depth + 1)
    elif isinstance(logic, dict):
        if len(logic) != 1:
            raise RuleSetInvalid(f"{where}: each operation is an object with one key, the operator")
        ((operator, argument),) = logic.items()
        yield operator, argument
        if operator != "var":
            yield from _operations(argument, where, depth + 1)


def _variable(argument: Any, where: str, known: frozenset[str]) -> str:
    name = argument[0] if isinstance(argument, list) and len(argument) == 1 else argument
    if not isinstance(name, str):
        raise RuleSetInvalid(f"{where}: var takes one name, as a string")
    if name not in known:
        raise RuleSetInvalid(f"{where}: unknown name {name!r} (a transaction field, score, or a feature name)")
    return name


def _trial(rule: Rule, where: str) -> None:
    """Evaluate once on a plain transaction: a condition that cannot work (a text compared with a number)
    is refused when it is saved, not found on live traffic."""
    values = {name: ("X1" if name in TEXT_NAMES else 1.0) for name in rule.names}
    try:
        jsonLogic(rule.condition, values)
    except Exception as exc:  # any failure of the analyst's condition is the answer here
        raise RuleSetInvalid(f"{where}: the condition fails to evaluate: {type(exc).__name__}: {exc}") from None


def rules_evaluate(rule_set: RuleSet, values: Mapping[str, Any]) -> tuple[list[Rule], list[RuleError]]:
    """The rules that hold for `values`, and the rules that could not be evaluated."""
    fired: list[Rule] = []
    errors: list[RuleError] = []
    for rule in rule_set.rules:
        missing = rule.names.difference(values)
        if missing:
            errors.append(RuleError(rule.name, f"missing value: {', '.join(sorted(missing))}"))
            continue
        try:
            holds = jsonLogic(rule.condition, values)
        except Exception as exc:  # an analyst's condition must never stop scoring
            errors.append(RuleError(rule.name, f"{type(exc).__name__}: {exc}"))
            continue
        if holds:
            fired.append(rule)
    return fired, errors


# --- the final decision -------------------------------------------------------------------------


class Decided(NamedTuple):
    """The decision layer's answer: what is stored on the prediction and answered."""

    decision: str
    model_decision: str
    rules: list[str]  # the names of the rules that fired, in rule-set order
    list_entry: dict[str, Any] | None  # the entry that decided (Entry.as_stored)
    rule_errors: list[dict[str, str]]  # [{rule, error}]


def decision_final(
    *,
    model_decision: str,
    score: float,
    transaction: Mapping[str, Any],
    features: Mapping[str, float],
    lists: Lists,
    rule_set: RuleSet | None,
    at: datetime,
) -> Decided:
    """The final decision from the model's decision, the rules that fire and the lists in force at `at`.

    transaction: customer_id, terminal_id, amount and currency; features: {name: value} of the scoring model.
    """
    fired: list[Rule] = []
    errors: list[RuleError] = []
    if rule_set is not None and rule_set.rules:
        values = {
            **features,
            "score": score,
            "amount": float(transaction["amount"]),
            **{name: transaction[name] for name in TEXT_NAMES},
        }
        fired, errors = rules_evaluate(rule_set, values)
    entry = lists.deciding(customer_id=transaction["customer_id"], terminal_id=transaction["terminal_id"], at=at)
    if entry is not None:
        decision = Decision.DECLINE.value if entry.list == ListName.BLOCK else Decision.APPROVE.value
    else:
        decision = max((model_decision, *(rule.decision for rule in fired)), key=STRICTNESS.__getitem__)
    return Decided(
        decision=decision,
        model_decision=model_decision,
        rules=[rule.name for rule in fired],
        list_entry=entry.as_stored() if entry is not None else None,
        rule_errors=[error._asdict() for error in errors],
    )


# --- the active lists and rules, and the scoring path ---------------------------------------------


@dataclass(frozen=True)
class Policy:
    generation: int
    lists: Lists
    rule_set: RuleSet | None


_lock = threading.Lock()
_policy: Policy | None = None


def policy_active() -> Policy:
    """The lists in force and the active rule set, rebuilt only when the generation row has changed (read with the
    active model's row, in the one query of model_loader)."""
    global _policy
    generation = policy_generation()
    policy = _policy
    if policy is None or policy.generation != generation:
        with _lock:
            policy = _policy = _policy_load(generation)
    return policy


def policy_forget() -> None:
    """Forget the cached policy (tests)."""
    global _policy
    _policy = None


def _policy_load(generation: int) -> Policy:
    now = timezone.now()
    rows = ListEntry.objects.filter(removed_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    active = RuleSetVersion.objects.filter(is_active=True).first()
    rule_set = None
    if active is not None:
        try:
            rule_set = rule_set_compile(active.rules, version=active.version, id=active.pk)
        except RuleSetInvalid as exc:
            # Checked when saved; one that fails now (a feature renamed since) must not stop scoring.
            logger.error("active rule set %s cannot be used: %s", active.version, exc)
    return Policy(generation=generation, lists=Lists.of([Entry.of(row) for row in rows]), rule_set=rule_set)


def lists_as_of(moment: datetime) -> Lists:
    """The entries that were in force at `moment` (added by then, not removed by then): rescore and backtests."""
    rows = ListEntry.objects.filter(created_at__lte=moment).filter(
        Q(removed_at__isnull=True) | Q(removed_at__gt=moment)
    )
    return Lists.of([Entry.of(row) for row in rows])


def prediction_decide(prediction: Prediction, *, feature_names: Sequence[str]) -> Prediction:
    """Apply the active lists and rules to an unsaved prediction that holds the model's decision.

    Sets model_decision, decision, rules, rule_errors, list_entry and rule_set; the one call of the scoring path.
    """
    policy = policy_active()
    tx = prediction.transaction
    decided = decision_final(
        model_decision=prediction.decision,
        score=prediction.score,
        transaction={
            "customer_id": tx.customer_id,
            "terminal_id": tx.terminal_id,
            "amount": tx.amount,
            "currency": tx.currency,
        },
        features=dict(zip(feature_names, prediction.features, strict=True)) if policy.rule_set else {},
        lists=policy.lists,
        rule_set=policy.rule_set,
        at=prediction.scored_at,
    )
    for error in decided.rule_errors:
        logger.warning("rule %s of rule set %s failed: %s", error["rule"], policy.rule_set.version, error["error"])
    prediction.model_decision = decided.model_decision
    prediction.decision = decided.decision
    prediction.rules = decided.rules
    prediction.rule_errors = decided.rule_errors
    prediction.list_entry = decided.list_entry
    prediction.rule_set_id = policy.rule_set.id if policy.rule_set else None
    return prediction
