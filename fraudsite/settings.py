"""fraudsite settings. Every value that differs between deployments comes from the environment."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from fraudsite.env import (
    env_audit_key,
    env_bool,
    env_header,
    env_int,
    env_list,
    env_rate,
    env_redis_url,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FRAUDSITE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-deploy" if DEBUG else None)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# HTTPS, all off by default so `make run` serves plain http; README "Production" turns each on.
# Trust the proxy's header only if the proxy always sets it: a client could otherwise claim https.
_PROXY_SSL_HEADER = env_header("SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (_PROXY_SSL_HEADER, "https") if _PROXY_SSL_HEADER else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# A load balancer's health checks often reach the backend over plain http: answer them, don't redirect.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "predictions",
]

MIDDLEWARE = [
    # First: it times and counts every answer, the refusals of the middleware below included; it reads no body.
    "fraudsite.observability.middleware.RequestObservationMiddleware",
    # Then: an oversized API body is refused before any other middleware can read it.
    "predictions.api.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fraudsite.urls"
WSGI_APPLICATION = "fraudsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict:
    url = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fraudsite.sqlite3'}")
    try:
        # Health checks: a kept connection the server has dropped is replaced before a request uses it.
        config = dj_database_url.parse(
            url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0), conn_health_checks=True
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL we understand: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the single writer; IMMEDIATE takes the write lock at
        # BEGIN so concurrent writers queue on busy_timeout instead of failing mid-transaction.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
        config["CONN_MAX_AGE"] = None
    elif config["ENGINE"] == "django.db.backends.postgresql":
        # Parameters bound by the server, and a statement run five times on a connection prepared there (psycopg's
        # prepare_threshold, which Django leaves off unless it is given): the scoring path's statements are then
        # parsed and planned once per connection, not per request. In-process, PostgreSQL, 1,000 requests, two
        # pairs: median 3.64 / 3.64 ms unprepared against 3.33 / 3.01 ms prepared (bench/RESULTS.md, issue 13).
        # Both off with DB_SERVER_SIDE_BINDING=0, for a pooler in transaction mode (PgBouncer), which cannot keep
        # prepared statements.
        binding = env_bool("DB_SERVER_SIDE_BINDING", True)
        config.setdefault("OPTIONS", {})["server_side_binding"] = binding
        if binding:
            config["OPTIONS"]["prepare_threshold"] = 5
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _cache() -> dict:
    """What must hold across processes (the rate limits' counters) lives here: Redis when CACHE_URL (or else
    REDIS_URL) names one, shared by every host; otherwise files under VAR_DIR/cache, shared by the processes
    of this host (fraudsite/cache.py). README, "Running on more than one machine"."""
    url = env_redis_url("CACHE_URL") or env_redis_url("REDIS_URL")
    if url is None:
        # Django's MAX_ENTRIES (300) holds the counters of 300 clients and roles at once. At 300 files the next
        # new entry culls: it opens them all to drop the expired ones first, about 7 ms here (38 ms for 1,000).
        return {"BACKEND": "fraudsite.cache.HostFileCache", "LOCATION": str(VAR_DIR / "cache")}
    return {
        "BACKEND": "fraudsite.cache.SharedRedisCache",
        "LOCATION": url,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "fraudsite"),
        # An unreachable Redis fails fast: the rate limits then let requests through (throttling.py).
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }


CACHES = {"default": _cache()}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date format in the admin (fraudsite/formats/en/formats.py): ISO dates, 24-hour UTC times.
FORMAT_MODULE_PATH = ["fraudsite.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# gunicorn serves the admin's and Swagger UI's static files itself, through WhiteNoise.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- fraudsite ---------------------------------------------------------------------------
# The HMAC key of the audit's digests (services/integrity.py): never in the database. With DEBUG and no
# variable, a key made once and kept in var/audit-key (mode 0600), so `make run` needs no set-up.
FRAUDSITE_AUDIT_KEY = env_audit_key("FRAUDSITE_AUDIT_KEY", local_file=VAR_DIR / "audit-key" if DEBUG else None)
# Keys that signed older rows, after a rotation: verify_audit accepts them; nothing new is signed with them.
FRAUDSITE_AUDIT_RETIRED_KEYS = env_list("FRAUDSITE_AUDIT_RETIRED_KEYS", [])
FRAUDSITE_MODEL_DIR = Path(env_str("FRAUDSITE_MODEL_DIR", str(VAR_DIR / "models")))
FRAUDSITE_DEFAULT_CURRENCY = env_str("FRAUDSITE_DEFAULT_CURRENCY", "EUR")
if len(FRAUDSITE_DEFAULT_CURRENCY) != 3 or not FRAUDSITE_DEFAULT_CURRENCY.isalpha():
    raise ImproperlyConfigured("FRAUDSITE_DEFAULT_CURRENCY must be a three-letter ISO 4217 code")
FRAUDSITE_MAX_BODY_BYTES = env_int("FRAUDSITE_MAX_BODY_BYTES", 2 * 1024 * 1024, minimum=1024)
FRAUDSITE_AUDIT_BODY_BYTES = env_int("FRAUDSITE_AUDIT_BODY_BYTES", 64 * 1024, minimum=0)
# How long a worker remembers a verified API key and its permissions (predictions/api/authentication.py).
FRAUDSITE_AUTH_CACHE_SECONDS = env_int("FRAUDSITE_AUTH_CACHE_SECONDS", 5, minimum=0)
DATA_UPLOAD_MAX_MEMORY_SIZE = FRAUDSITE_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "predictions.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["predictions.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "predictions.api.pagination.Pagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50, minimum=1),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "predictions.api.throttling.AnonymousRateThrottle",
        "predictions.api.throttling.RoleRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("THROTTLE_ANON", "60/minute"),
        "scoring": env_rate("THROTTLE_SCORING", "100000/minute"),
        "analyst": env_rate("THROTTLE_ANALYST", "1000/minute"),
    },
    "EXCEPTION_HANDLER": "predictions.api.errors.exception_handler",
}

# API keys (services/clients.py): only their SHA-512 is stored; they never expire, they are rotated.
REST_KNOX = {"TOKEN_TTL": None, "AUTH_HEADER_PREFIX": "Token"}

SPECTACULAR_SETTINGS = {
    "TITLE": "fraudsite API",
    "DESCRIPTION": "Scores card transactions for fraud, explains each score and keeps an audit of every decision.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI's assets are served from our own static files, never fetched from the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Only health is open: the schema and Swagger UI need a token or an admin session like the rest.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # One name per choice set, shared by every field that uses it.
    "ENUM_NAME_OVERRIDES": {
        "DecisionEnum": "predictions.models.Decision",
        "LabelEnum": "predictions.models.Label",
        "LabelSourceEnum": "predictions.models.LabelSource",
        "GroundTruthEnum": ["fraud", "legitimate"],
        "RuleDecisionEnum": ["review", "decline"],
        "ListNameEnum": "predictions.models.ListName",
        "ListFieldEnum": "predictions.models.ListField",
    },
}

# /metrics (fraudsite/observability): with a token, only `Authorization: Bearer <token>`; without, loopback only.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured(f"METRICS_TOKEN must have 16 or more characters, got {len(METRICS_TOKEN)}")

# plain: lines for people (gunicorn writes the access log). json: one JSON object a line, and one line per request
# from fraudsite.requests with its request id (gunicorn.conf.py then turns gunicorn's access log off).
LOG_FORMAT = env_str("LOG_FORMAT", "plain").strip().lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "fraudsite.observability.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # The request lines are the access log: written whatever LOG_LEVEL says, as gunicorn's would be.
    "loggers": {"django.request": {"level": "ERROR"}, "fraudsite.requests": {"level": "INFO"}},
}
