"""The one base of the errors services raise for a refusal a user caused (not a bug).

Each subclass carries its HTTP status and a stable code. The API maps every DomainError in one
place (predictions.api.errors) and the management commands in another (predictions.management.base):
the message is shown as it is, in one line, so it must name the problem and never leak internals.
"""

from __future__ import annotations


class DomainError(Exception):
    """A request or a command refused for a reason the user can act on; the message says which."""

    status_code: int = 400
    code: str = "invalid"

    def fields(self) -> dict[str, list[str]]:
        """The bad fields with their messages, for the API's error body; none by default."""
        return {}
