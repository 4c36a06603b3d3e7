"""API clients: a user in one of the two roles, with a token."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from predictions.errors import DomainError

ROLES = ("scoring", "analyst")


class ApiClientError(DomainError):
    """An API client that cannot be created; the message says why in one line."""


def api_client_create(*, name: str, role: str) -> tuple[User, Token]:
    """Create user `name` in the group of `role` (scoring | analyst), with a new token."""
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
        # No password: an API client signs in with its token only.
        user = User.objects.create_user(username=name)
        user.groups.add(group)
        token = Token.objects.create(user=user)
    return user, token
