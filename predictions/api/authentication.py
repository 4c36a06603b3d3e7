"""API key authentication: django-rest-knox's, without its clean-up query on every request.

knox looks the key up by its prefix (one indexed query, with the user) and compares SHA-512 digests in
constant time. Its `_cleanup_token` then reads every other key of the user to delete expired ones: a
second query per request. fraudsite's keys never expire (they are rotated or revoked instead, see
services/clients.py), so there is nothing to clean up.
"""

from __future__ import annotations

from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.models import AuthToken


class ApiKeyAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`; request.user is the client, request.auth its AuthToken row."""

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        if auth_token.expiry is None:
            return False
        return super()._cleanup_token(auth_token)


class ApiKeyScheme(KnoxTokenScheme):
    """The schema's security scheme for ApiKeyAuthentication: `Authorization: Token <key>`."""

    target_class = "predictions.api.authentication.ApiKeyAuthentication"
    name = "apiKey"
