"""Changing the decision layer: list entries added and removed, rule set versions created and activated.

Each change writes its AuditEvent and raises the generation of DecisionPolicyState in its own
transaction, so the next scoring request uses it (services/decisions.py, policy_active) and no change
is ever without its event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from predictions.errors import DomainError
from predictions.models import AuditAction, AuditEvent, DecisionPolicyState, ListEntry, RuleSetVersion
from predictions.services.decisions import RuleSetInvalid, rule_set_compile
from predictions.services.events import Actor, Change, events_record
from predictions.services.integrity import Finding


class PolicyError(DomainError):
    """A list or rule change that is refused; the message says why."""

    status_code = 400
    code = "invalid"


class PolicyNotFound(DomainError):
    status_code = 404
    code = "not_found"


def list_entry_state(entry: ListEntry) -> dict[str, Any]:
    """A list entry as an event's before or after."""
    return {
        "list": entry.list,
        "field": entry.field,
        "value": entry.value,
        "reason": entry.reason,
        "author": entry.author,
        "created_at": entry.created_at.isoformat(),
        "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
        "removed_at": entry.removed_at.isoformat() if entry.removed_at else None,
        "removed_by": entry.removed_by,
    }


def list_entry_add(
    *, list: str, field: str, value: str, reason: str, expires_at: datetime | None, actor: Actor
) -> ListEntry:
    """Put a customer or terminal on the block or allow list; it applies from the next request."""
    if expires_at is not None and expires_at <= timezone.now():
        raise PolicyError("expires_at must be in the future")
    with transaction.atomic():
        entry = ListEntry.objects.create(
            list=list, field=field, value=value, reason=reason, author=actor.name, expires_at=expires_at
        )
        _changed(actor, AuditAction.LIST_ADDED, "list_entry", Change(str(entry.pk), None, list_entry_state(entry)))
    return entry


def list_entry_remove(*, entry_id: int, actor: Actor) -> ListEntry:
    """Take an entry off its list from the next request on; the row stays, marked removed, for the audit."""
    with transaction.atomic():
        entry = ListEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            raise PolicyNotFound(f"no list entry {entry_id}")
        if entry.removed_at is not None:
            raise PolicyError(f"list entry {entry_id} was already removed")
        before = list_entry_state(entry)
        entry.removed_at = timezone.now()
        entry.removed_by = actor.name
        entry.save(update_fields=["removed_at", "removed_by"])
        _changed(actor, AuditAction.LIST_REMOVED, "list_entry", Change(str(entry.pk), before, list_entry_state(entry)))
    return entry


def rule_set_create(*, version: str, rules: Any, description: str, actor: Actor) -> RuleSetVersion:
    """Save a new, inactive rule set version after checking every rule (PolicyError says what is wrong)."""
    try:
        rule_set_compile(rules, version=version)
    except RuleSetInvalid as exc:
        raise PolicyError(str(exc)) from None
    taken = PolicyError(f"rule set version {version!r} already exists")
    try:
        with transaction.atomic():
            if RuleSetVersion.objects.filter(version=version).exists():
                raise taken
            rule_set = RuleSetVersion.objects.create(
                version=version, rules=rules, description=description, author=actor.name
            )
            after = {"version": version, "rules": rules, "description": description}
            change = Change(version, None, after)
            events_record(actor=actor, action=AuditAction.RULES_CREATED, target_type="rule_set", changes=[change])
    except IntegrityError:  # the same version saved by a concurrent request
        raise taken from None
    return rule_set


def rule_set_activate(*, version: str, actor: Actor) -> RuleSetVersion:
    """Make `version` the active rule set; the next scoring request evaluates it."""
    with transaction.atomic():
        candidate = RuleSetVersion.objects.select_for_update().filter(version=version).first()
        if candidate is None:
            raise PolicyNotFound(f"unknown rule set version {version!r}")
        previous = RuleSetVersion.objects.select_for_update().filter(is_active=True).values_list("version", flat=True)
        before = {"active": next(iter(previous), None)}
        RuleSetVersion.objects.filter(is_active=True).exclude(pk=candidate.pk).update(is_active=False)
        RuleSetVersion.objects.filter(pk=candidate.pk).update(is_active=True, activated_at=timezone.now())
        _changed(actor, AuditAction.RULES_ACTIVATED, "rule_set", Change(version, before, {"active": version}))
    candidate.refresh_from_db()
    return candidate


def _changed(actor: Actor, action: str, target_type: str, change: Change) -> None:
    """The change's event, and a new generation for the scoring path's cache."""
    events_record(actor=actor, action=action, target_type=target_type, changes=[change])
    if not DecisionPolicyState.objects.filter(pk=1).update(generation=F("generation") + 1):
        DecisionPolicyState.objects.create(pk=1, generation=1)


def policy_verify() -> list[Finding]:
    """List entries and rule set versions that their (signed) events do not account for: each row must be what
    its list.added (and list.removed) or rules.created event recorded, and the active rule set the one the
    last rules.activated event made active. Rows have no digest of their own; their events do."""
    findings: list[Finding] = []
    events: dict[tuple[str, str, str], Any] = {}
    for action, target_type, target_id, after in AuditEvent.objects.filter(
        target_type__in=("list_entry", "rule_set")
    ).values_list("action", "target_type", "target_id", "after"):
        events[(action, target_type, target_id)] = after
    for entry in ListEntry.objects.order_by("pk"):
        added = events.get((AuditAction.LIST_ADDED, "list_entry", str(entry.pk)))
        removed = events.get((AuditAction.LIST_REMOVED, "list_entry", str(entry.pk)))
        state = list_entry_state(entry)
        recorded = removed if entry.removed_at is not None or removed is not None else added
        if added is None or recorded != state or _unremoved(added) != _unremoved(state):
            findings.append(Finding(f"list entry {entry.pk}", "changed, or inserted outside fraudsite"))
    for rule_set in RuleSetVersion.objects.order_by("pk"):
        created = events.get((AuditAction.RULES_CREATED, "rule_set", rule_set.version))
        if created != {"version": rule_set.version, "rules": rule_set.rules, "description": rule_set.description}:
            findings.append(Finding(f"rule set {rule_set.version}", "changed, or inserted outside fraudsite"))
    last = AuditEvent.objects.filter(action=AuditAction.RULES_ACTIVATED).order_by("-occurred_at", "-pk").first()
    expected = last.after.get("active") if last is not None else None
    active = RuleSetVersion.objects.filter(is_active=True).values_list("version", flat=True).first()
    if active != expected:
        findings.append(Finding(f"rule set {active or expected}", f"active outside fraudsite (events: {expected})"))
    return findings


def _unremoved(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "removed_at": None, "removed_by": ""}
