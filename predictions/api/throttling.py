"""Rate limits per role, with the rates of settings.REST_FRAMEWORK (set from THROTTLE_* variables)."""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle


class RoleRateThrottle(ScopedRateThrottle):
    """DRF's ScopedRateThrottle (a view's throttle_scope: "scoring" or "analyst"), keyed by user.

    The rates are read when a request is checked, not when the module is imported, so that a
    change of settings (as in tests) takes effect.
    """

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:  # DRF's attribute name
        return api_settings.DEFAULT_THROTTLE_RATES


class AnonymousRateThrottle(AnonRateThrottle):
    """DRF's AnonRateThrottle with the rates read per request (see RoleRateThrottle)."""

    @property
    def THROTTLE_RATES(self) -> dict[str, str | None]:  # DRF's attribute name
        return api_settings.DEFAULT_THROTTLE_RATES
