"""Settings for the test suite: the real settings, with a fixed key, fast hashing, no throttles and a cache of
its own (whatever CACHE_URL says: tests share no state with a developer's server or another run)."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("FRAUDSITE_AUDIT_KEY", "test-only-audit-key-0123456789abcdef")
os.environ.setdefault("FRAUDSITE_MODEL_DIR", tempfile.mkdtemp(prefix="fraudsite-test-models-"))

from fraudsite.settings import *  # noqa: F403
from fraudsite.settings import REST_FRAMEWORK

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": None, "scoring": None, "analyst": None},
}
# WhiteNoise wants STATIC_ROOT to exist; tests never collect static files.
STATIC_ROOT = tempfile.mkdtemp(prefix="fraudsite-test-static-")
# Emptied before each test by tests/conftest.py.
CACHES = {
    "default": {
        "BACKEND": "fraudsite.cache.HostFileCache",
        "LOCATION": tempfile.mkdtemp(prefix="fraudsite-test-cache-"),
    }
}
