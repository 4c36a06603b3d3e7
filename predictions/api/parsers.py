"""The API's one JSON parser: strict by design, with explicit limits (README, "Errors").

A body is refused with 400 parse_error, before any field is validated, when it is not UTF-8, not JSON,
or JSON that the service would store differently from what the client sent:

- an object with the same key twice (the audit would show both, the decision would read the last);
- a number that is not finite (NaN, Infinity, or 1e400, which a float turns into infinity);

and reads a number as the database will keep it (_finite): -0.0 as 0.0, 1e16 and more as whole numbers.
- a string with NUL (PostgreSQL's jsonb cannot hold it) or a lone UTF-16 surrogate (not text);
- arrays and objects nested deeper than MAX_DEPTH.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A transaction is two levels deep and a batch three; metadata may nest a little more.
MAX_DEPTH = 32
LARGEST_PLAIN_FLOAT = 1e16  # from here on, repr(float) has an exponent
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


class StrictJSONParser(JSONParser):
    """JSONParser with the limits in the module docstring."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The body is not UTF-8 text.") from None
        return parse_json(text)


def parse_json(text: str) -> Any:
    """The JSON value of text under the API's limits; ParseError names the first problem."""
    try:
        value = json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant, parse_float=_finite
        )
    except RecursionError:
        raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError, and so are the hooks' refusals
        raise ParseError(_message(exc)) from None
    _check_values(value)
    return value


class _Refused(ValueError):
    """A hook's refusal, with the message the client sees."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _Refused(f"The key {twice!r} appears twice in one object.")
    return value


def _refuse_constant(name: str) -> None:
    raise _Refused(f"{name} is not a JSON number; numbers must be finite.")


def _finite(text: str) -> float | int:
    """A JSON number with a fraction or an exponent, as PostgreSQL's jsonb will hand it back: -0.0 as 0.0, and
    one of 1e16 or more (which Python writes with an exponent, 1e+16) as the whole number it is, since jsonb
    reads that exponent form back as an integer. So what is stored, and its digest, read back the same."""
    number = float(text) + 0.0
    if not math.isfinite(number):
        raise _Refused(f"The number {text[:40]} is too large; numbers must be finite.")
    if abs(number) >= LARGEST_PLAIN_FLOAT:
        return int(Decimal(repr(number)))
    return number


def _message(exc: ValueError) -> str:
    if isinstance(exc, _Refused):
        return str(exc)
    return f"JSON parse error: {exc}"


def _check_values(value: Any) -> None:
    """Depth, NUL and lone surrogates, walked without recursion (the depth is what is being checked)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _NOT_TEXT.search(item):
                raise ParseError("A string holds NUL or a lone surrogate (\\u0000, \\ud800-\\udfff); send text.")
            continue
        if isinstance(item, dict):
            children = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
        stack.extend((child, depth + 1) for child in children)
