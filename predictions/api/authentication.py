"""API key authentication: django-rest-knox's, without its clean-up query, with a short per-process memory.

knox looks the key up by its prefix (one indexed query, with the user) and compares SHA-512 digests in
constant time. Its `_cleanup_token` then reads every other key of the user to delete expired ones: a
second query per request. fraudsite's keys never expire (they are rotated or revoked instead, see
services/clients.py), so there is nothing to clean up.

A key that passed is remembered by its digest for FRAUDSITE_AUTH_CACHE_SECONDS (5 s by default), with its
user, whose permission checks are memoised on it (api/permissions.py): the scoring path then makes no
query to authenticate. A rotated or revoked key, or a deactivated client, therefore still passes on the
other workers for at most that long; in the process that made the change it stops at once
(services/clients.py forgets them).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.models import User
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from predictions.services.clients import key_remember, key_remembered

WRONG_SCHEME = "Send the API key as `Authorization: Token <key>`: the Token scheme is the only one accepted."


class ApiKeyAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`; request.user is the client, request.auth its AuthToken row."""

    def authenticate(self, request: Request) -> tuple[User, AuthToken] | None:
        # knox passes over another scheme in silence, so `Bearer <key>` would get "credentials were not
        # provided" and leave the client guessing: name the scheme instead. No cost on the Token path.
        found = super().authenticate(request)
        if found is None and request.META.get("HTTP_AUTHORIZATION"):
            raise AuthenticationFailed(WRONG_SCHEME)
        return found

    def authenticate_credentials(self, token: bytes) -> tuple[User, AuthToken]:
        seconds = settings.FRAUDSITE_AUTH_CACHE_SECONDS
        if seconds <= 0:
            return super().authenticate_credentials(token)
        try:
            digest = hash_token(token.decode("utf-8"))
        except (UnicodeDecodeError, TypeError, ValueError):
            return super().authenticate_credentials(token)  # knox's own refusal
        remembered = key_remembered(digest)
        if remembered is not None:
            return remembered
        user, auth_token = super().authenticate_credentials(token)
        key_remember(digest, user, auth_token, until=time.monotonic() + seconds)
        return user, auth_token

    def _cleanup_token(self, auth_token: AuthToken) -> bool:
        if auth_token.expiry is None:
            return False
        return super()._cleanup_token(auth_token)


class ApiKeyScheme(KnoxTokenScheme):
    """The schema's security scheme for ApiKeyAuthentication: `Authorization: Token <key>`."""

    target_class = "predictions.api.authentication.ApiKeyAuthentication"
    name = "apiKey"
