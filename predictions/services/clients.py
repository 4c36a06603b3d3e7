"""API clients: a user in one of the two roles, signing in with an API key of which only a hash is stored.

Keys are django-rest-knox tokens: 64 random hex digits, shown once when made; the database keeps their
SHA-512 and a 15-character prefix to find the row. A client has one key at a time. Rotating replaces
it; revoking removes it and deactivates the client. Each of these writes an AuditEvent in the same
transaction. The old key stops working at once in this process, and within FRAUDSITE_AUTH_CACHE_SECONDS
in the API's other workers, which remember a verified key that long (key_remember).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from knox.models import AuthToken

from predictions.errors import DomainError
from predictions.models import AuditAction
from predictions.services.events import Actor, Change, events_record

ROLES = ("scoring", "analyst")

# The keys api/authentication.py has verified lately, by digest: (until when, the user, the AuthToken row).
# Bounded, so that many clients cannot grow it without end.
_MAX_REMEMBERED_KEYS = 1024
_remembered_keys: dict[str, tuple[float, User, AuthToken]] = {}
_remembered_lock = threading.Lock()


class ApiClientError(DomainError):
    """An API client that cannot be created, rotated or revoked; the message says why in one line."""


@dataclass(frozen=True)
class ApiClient:
    name: str
    role: str
    active: bool
    key_prefix: str  # the first characters of the current key, to tell keys apart; "" without one
    key_created: datetime | None


def api_client_create(*, name: str, role: str, actor: Actor) -> tuple[User, str]:
    """Create user `name` in the group of `role` (scoring | analyst); returns it and its new key."""
    if role not in ROLES:
        raise ApiClientError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    try:
        User.username_validator(name)
    except ValidationError:
        raise ApiClientError(f"{name!r} is not a valid name: use letters, digits and @ . + - _") from None
    if not name or len(name) > User._meta.get_field("username").max_length:
        raise ApiClientError("a name must have 1 to 150 characters")
    group = Group.objects.filter(name=role).first()
    if group is None:
        raise ApiClientError(f"the {role!r} group is missing: run `python manage.py migrate` first")
    with transaction.atomic():
        if User.objects.filter(username=name).exists():
            raise ApiClientError(f"a user named {name!r} already exists")
        # No password: an API client signs in with its key only.
        user = User.objects.create_user(username=name)
        user.groups.add(group)
        key = _new_key(user)
        _event(actor, AuditAction.CLIENT_CREATED, name, None, {"role": role, "key_prefix": _prefix(key)})
    return user, key


def api_client_rotate(*, name: str, actor: Actor) -> str:
    """A new key for client `name`; its old key stops working. A revoked client is active again."""
    with transaction.atomic():
        user = _client(name)
        before = _state(user)
        AuthToken.objects.filter(user=user).delete()
        if not user.is_active:
            user.is_active = True
            user.save(update_fields=["is_active"])
        key = _new_key(user)
        _event(actor, AuditAction.CLIENT_ROTATED, name, before, _state(user))
    keys_forget()
    return key


def api_client_create_or_rotate(*, name: str, role: str, actor: Actor) -> tuple[bool, str]:
    """Client `name` in `role` with a new key: created if missing, else rotated; returns (created, key).

    Only a key's hash is stored, so a script that must obtain a working key on every run (the README's
    examples, a deployment) cannot read the old one back: it gets a new one, and the old one stops working.
    """
    with transaction.atomic():
        existing = User.objects.select_for_update().filter(username=name).first()
        if existing is None:
            return True, api_client_create(name=name, role=role, actor=actor)[1]
        current = _client(name).groups.filter(name__in=ROLES).values_list("name", flat=True).first()
        if current != role:
            raise ApiClientError(f"API client {name!r} has the role {current}, not {role}: roles are not changed here")
        return False, api_client_rotate(name=name, actor=actor)


def api_client_revoke(*, name: str, actor: Actor) -> None:
    """Client `name` can no longer sign in: its key is deleted and the user deactivated."""
    with transaction.atomic():
        user = _client(name)
        before = _state(user)
        AuthToken.objects.filter(user=user).delete()
        user.is_active = False
        user.save(update_fields=["is_active"])
        _event(actor, AuditAction.CLIENT_REVOKED, name, before, _state(user))
    keys_forget()


def api_client_key_is_current(*, name: str, key: str) -> bool:
    """Does `key` sign in as client `name` today? (For the demo, which keeps its key in a local file.)"""
    from knox.crypto import hash_token

    return AuthToken.objects.filter(user__username=name, user__is_active=True, digest=hash_token(key)).exists()


def api_clients_list() -> list[ApiClient]:
    """Every API client (a user in a role group without admin access), by name."""
    users = (
        User.objects.filter(groups__name__in=ROLES, is_staff=False)
        .prefetch_related("groups", "auth_token_set")
        .order_by("username")
        .distinct()
    )
    clients = []
    for user in users:
        token = max(user.auth_token_set.all(), key=lambda token: token.created, default=None)
        clients.append(
            ApiClient(
                name=user.username,
                role=next(group.name for group in user.groups.all() if group.name in ROLES),
                active=user.is_active,
                key_prefix=token.token_key[:8] if token else "",
                key_created=token.created if token else None,
            )
        )
    return clients


def _client(name: str) -> User:
    user = User.objects.select_for_update().filter(username=name, groups__name__in=ROLES, is_staff=False).first()
    if user is None:
        raise ApiClientError(f"no API client named {name!r} (list_api_clients shows them)")
    return user


def _new_key(user: User) -> str:
    _, key = AuthToken.objects.create(user=user, expiry=None)
    return key


def _prefix(key: str) -> str:
    return key[:8]


def _state(user: User) -> dict[str, object]:
    token = AuthToken.objects.filter(user=user).order_by("-created").first()
    return {"active": user.is_active, "key_prefix": token.token_key[:8] if token else ""}


def _event(actor: Actor, action: str, name: str, before: object, after: object) -> None:
    events_record(actor=actor, action=action, target_type="api_client", changes=[Change(name, before, after)])


# --- verified keys, remembered per process -----------------------------------------------------


def key_remembered(digest: str) -> tuple[User, AuthToken] | None:
    """The user and key row of a key verified less than FRAUDSITE_AUTH_CACHE_SECONDS ago in this process."""
    remembered = _remembered_keys.get(digest)
    if remembered is None or remembered[0] <= time.monotonic():
        return None
    return remembered[1], remembered[2]


def key_remember(digest: str, user: User, auth_token: AuthToken, *, until: float) -> None:
    with _remembered_lock:
        if len(_remembered_keys) >= _MAX_REMEMBERED_KEYS:
            _remembered_keys.clear()
        _remembered_keys[digest] = (until, user, auth_token)


def keys_forget() -> None:
    """Forget the verified keys of this process: a rotated or revoked key then fails here at once."""
    with _remembered_lock:
        _remembered_keys.clear()
