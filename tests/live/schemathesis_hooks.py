"""schemathesis hooks for test_schemathesis.py: generated requests keep the rules OpenAPI 3.0 cannot state.

Rules the service keeps on purpose, which no schema keyword says, so a request that breaks one is rightly
refused (400) and schemathesis would report "schema-valid request rejected":

- no string holds NUL (the README's strict parser refuses it, PostgreSQL could not store it).
  `--generation-allow-x00 false` says so, but schemathesis 4.32's coverage phase still puts NUL into
  free-form values (metadata); this hook takes it out of bodies and query strings;
- a transaction's timestamp is in 1970 or later and at most 5 minutes ahead of the server's clock;
- a list's time filter is an instant of years 1 to 9999 in UTC (0001-01-01T00:00:00+14:00 is not);
- a batch names each transaction_id once (`uniqueItems` compares whole items, not one field);
- a list entry's expiry is in the future;
- a rule set's version is not taken yet, its rule names are unique, and each condition is JSON Logic over
  names the service knows (the schema says "any JSON": tests/predictions/services/test_decisions.py holds
  the refusals).

map_case takes the NUL out, moves such a timestamp to a minute ago (a time filter to 2000-01-01) and renames
a repeated id, leaving every other value of the case as generated. filter_case drops a request whose request
line is longer than gunicorn accepts (4094 bytes): gunicorn answers that one itself, with an HTML 400, before
the service sees it; a limit of the server in front, not of the schema. Everything else is checked as the
schema says.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import schemathesis

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
AHEAD = timedelta(minutes=4)  # the service allows 5; a minute of margin for the time a request takes
TRANSACTIONS = "/api/v1/transactions/"
BATCH = "/api/v1/transactions/batch/"
MAX_ID_LENGTH = 64
TIME_FILTERS = ("timestamp_after", "timestamp_before")
LISTS = "/api/v1/lists/"
RULE_SETS = "/api/v1/rule-sets/"
VERSION = re.compile(r"[A-Za-z0-9._:-]{1,64}")
RULE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
A_CONDITION = {">": [{"var": "amount"}, 1000]}
REQUEST_LINE_LIMIT = 4094  # gunicorn's --limit-request-line default, as `make run` serves


@schemathesis.hook
def filter_case(ctx: Any, case: Any) -> bool:
    request = case.as_transport_kwargs(base_url="http://127.0.0.1")
    prepared = requests.Request(request["method"], request["url"], params=request.get("params")).prepare()
    return len(f"{prepared.method} {prepared.path_url} HTTP/1.1") <= REQUEST_LINE_LIMIT


@schemathesis.hook
def map_case(ctx: Any, case: Any) -> Any:
    # Assigned only when changed: an assignment makes schemathesis check the part against the schema again.
    if case.query and _without_nul(case.query) != case.query:
        case.query = _without_nul(case.query)
    if case.query and case.operation.path == TRANSACTIONS and _in_utc_years(case.query) != case.query:
        case.query = _in_utc_years(case.query)
    if isinstance(case.body, dict | list) and _without_nul(case.body) != case.body:
        case.body = _without_nul(case.body)
    if case.method.upper() != "POST" or not isinstance(case.body, dict):
        return case
    if case.operation.path == TRANSACTIONS:
        body = _in_time(case.body)
    elif case.operation.path == LISTS:
        body = _expiring_later(case.body)
    elif case.operation.path == RULE_SETS:
        body = _a_new_rule_set(case.body)
    elif case.operation.path == BATCH and isinstance(case.body.get("items"), list):
        items = [_in_time(item) if isinstance(item, dict) else item for item in case.body["items"]]
        body = {**case.body, "items": _each_id_once(items)}
    else:
        return case
    if body != case.body:
        case.body = body
    return case


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _in_utc_years(query: dict[str, Any]) -> dict[str, Any]:
    fixed = dict(query)
    for name in TIME_FILTERS:
        moment = _aware(query.get(name))
        if moment is not None:
            try:
                moment.astimezone(UTC)
            except OverflowError:
                fixed[name] = "2000-01-01T00:00:00Z"
    return fixed


def _aware(value: Any) -> datetime | None:
    """The aware datetime an ISO 8601 string names, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _in_time(item: dict[str, Any]) -> dict[str, Any]:
    moment = _aware(item.get("timestamp"))
    now = datetime.now(UTC)
    if moment is None or EARLIEST <= moment <= now + AHEAD:
        return item
    return {**item, "timestamp": (now - timedelta(minutes=1)).isoformat()}


def _each_id_once(items: list[Any]) -> list[Any]:
    seen: set[str] = set()
    unique = []
    for index, item in enumerate(items):
        transaction_id = item.get("transaction_id") if isinstance(item, dict) else None
        if isinstance(transaction_id, str) and transaction_id:
            if transaction_id in seen:
                suffix = f"-{index}"
                transaction_id = transaction_id[: MAX_ID_LENGTH - len(suffix)] + suffix
                item = {**item, "transaction_id": transaction_id}
            seen.add(transaction_id)
        unique.append(item)
    return unique


def _expiring_later(entry: dict[str, Any]) -> dict[str, Any]:
    moment = _aware(entry.get("expires_at"))
    if moment is None:
        return entry
    try:
        later = moment.astimezone(UTC) > datetime.now(UTC) + timedelta(minutes=1)
    except OverflowError:
        later = False
    return entry if later else {**entry, "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}


_versions = itertools.count()


def _a_new_rule_set(body: dict[str, Any]) -> dict[str, Any]:
    """A version not used yet (when it is a valid one), unique rule names, and a condition the service takes."""
    version = body.get("version")
    if isinstance(version, str) and VERSION.fullmatch(version):
        suffix = f".{datetime.now(UTC):%H%M%S%f}.{next(_versions)}"
        body = {**body, "version": version[: 64 - len(suffix)] + suffix}
    rules = body.get("rules")
    if not isinstance(rules, list):
        return body
    fixed = []
    for index, rule in enumerate(rules):
        if isinstance(rule, dict) and "condition" in rule:
            rule = {**rule, "condition": A_CONDITION}
            if (
                isinstance(rule.get("name"), str)
                and RULE_NAME.fullmatch(rule["name"])
                and any(isinstance(other, dict) and other.get("name") == rule["name"] for other in rules[:index])
            ):
                rule["name"] = f"rule-{index}"
        fixed.append(rule)
    return {**body, "rules": fixed}
