"""Settings, all of them read from the environment once, here, through typed helpers.

Every variable is mirrored in docker/.env.example and documented in README.md. A helper that
cannot parse its variable raises ImproperlyConfigured at start-up rather than guessing. Secrets
can also be given as `<NAME>_FILE`, the path of a file holding the value (Docker/Kubernetes
secrets).

With no environment at all the server runs "embedded": SQLite in CONSORTIUM_VAR_DIR, Celery
tasks run eagerly in the web process (no broker server), and keys are generated on first use
and kept in CONSORTIUM_VAR_DIR. Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL
(Redis) and CONSORTIUM_REQUIRE_KEYS=true so that a missing key fails loudly.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


# --- typed environment helpers ------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Set the environment variable {name}.")
        return default
    return value


def env_secret(name: str, default: str | None = None) -> str | None:
    """`NAME` or the contents of the file named by `NAME_FILE`; giving both is an error."""
    path = os.environ.get(f"{name}_FILE")
    if path and name in os.environ:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false).")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below its minimum {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [part.strip() for part in value.split(",") if part.strip()]


# --- where the embedded default keeps its state ---------------------------------------------------

VAR_DIR = Path(env_str("CONSORTIUM_VAR_DIR", str(BASE_DIR / "var")))
# True in production: refuse to start (or to sign) without configured keys instead of generating.
REQUIRE_KEYS = env_bool("CONSORTIUM_REQUIRE_KEYS", False)


def _generated_secret(filename: str) -> str:
    """A random secret kept in VAR_DIR, created on first start (embedded default only)."""
    path = VAR_DIR / filename
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not write two different secrets.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env_secret("DJANGO_SECRET_KEY") or ""
if not SECRET_KEY:
    if REQUIRE_KEYS:
        raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE).")
    SECRET_KEY = _generated_secret("django-secret-key")

DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "consortium.apps.ConsortiumAdminConfig",  # replaces django.contrib.admin (the workplace site)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "consortium",
    "consortium.audit",
    "consortium.keys",
    "members",
    "hashes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "consortium.api.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "consortium.urls"
WSGI_APPLICATION = "consortium.wsgi.application"
AUTH_USER_MODEL = "members.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "consortium" / "templates"],
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

# --- database ------------------------------------------------------------------------------------

EMBEDDED = "DATABASE_URL" not in os.environ
_database_url = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'consortium.sqlite3'}")
try:
    DATABASES = {
        "default": dj_database_url.parse(
            _database_url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0), conn_health_checks=True
        )
    }
except (ValueError, dj_database_url.UnknownSchemeError):
    raise ImproperlyConfigured(
        f"DATABASE_URL={_database_url!r} is not a database URL: set it like postgres://user@host:5432/name, "
        "or unset it for the embedded SQLite default."
    ) from None
if EMBEDDED:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache (rate limits); Redis in production so that every web process shares the counters -----

CACHE_URL = env_str("CACHE_URL", "locmem://")
if CACHE_URL.startswith("redis"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
elif CACHE_URL == "locmem://":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r}: use redis://host:port/db or locmem://.")

# --- Celery --------------------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
# Eager execution exists for the embedded demo only: with a real broker, tasks go to workers.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str(
    "CELERY_RESULT_BACKEND",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "cache+memory://",
)
CELERY_RESULT_EXPIRES = 3600
# The queue tasks go to (workers read it with -Q); one per deployment unless you split work.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task not acknowledged within this time is given to another worker (Redis transport).
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "batch-sweep-received": {"task": "hashes.tasks.batch_sweep_received", "schedule": 300.0},
    "release-sweep-approved": {"task": "hashes.tasks.release_sweep_approved", "schedule": 120.0},
    "release-publish-retractions": {"task": "hashes.tasks.release_publish_retractions_task", "schedule": 60.0},
    "snapshot-build": {"task": "hashes.tasks.snapshot_build_task", "schedule": float(env_int("SNAPSHOT_INTERVAL", 600, minimum=10))},
    "delivery-sweep": {"task": "hashes.tasks.delivery_sweep_task", "schedule": 60.0},
    "batch-expire-due": {"task": "hashes.tasks.batch_expire_due_task", "schedule": float(env_int("BATCH_EXPIRY_INTERVAL", 60, minimum=1))},
}

# --- PDQ index ------------------------------------------------------------------------------------

# Where each machine keeps its snapshot of the published PDQ index (memory-mapped by every
# process on the machine, rebuilt by one of them at a time).
PDQ_INDEX_DIR = Path(env_str("PDQ_INDEX_DIR", str(VAR_DIR / "pdq-index")))
# Changes applied on top of a snapshot before a process writes a fresh one.
PDQ_INDEX_SNAPSHOT_EVERY = env_int("PDQ_INDEX_SNAPSHOT_EVERY", 20_000, minimum=1)

# --- API -----------------------------------------------------------------------------------------

# Request bodies above this many bytes are refused with 413 before they are read.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
# Batch submissions (up to 100,000 items) have their own, larger limit.
BATCH_MAX_BODY_BYTES = env_int("BATCH_MAX_BODY_BYTES", 64 * 1024 * 1024, minimum=1024)
# Django's own cap on bodies it reads into memory: above ours, so that API bodies are judged by
# the per-endpoint limits (413 problems) and the admin's forms stay capped.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, BATCH_MAX_BODY_BYTES)
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "3000/min")
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 100, minimum=1)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 1000, minimum=1)
TOKEN_LAST_USED_RESOLUTION = env_int("TOKEN_LAST_USED_RESOLUTION", 60, minimum=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "members.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["members.permissions.RolePermission"],
    "DEFAULT_PARSER_CLASSES": ["consortium.api.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_CLASSES": ["consortium.api.MemberRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"member": API_RATE_LIMIT},
    "DEFAULT_PAGINATION_CLASS": "consortium.api.CursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "consortium.api.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Consortium API",
    "DESCRIPTION": "Hash-sharing consortium server. The wire contract is PROTOCOL.md, version 1.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- webhooks -----------------------------------------------------------------------------------

# Allow member endpoints on loopback addresses (tests, the embedded demo); never in production.
WEBHOOK_ALLOW_LOOPBACK = env_bool("WEBHOOK_ALLOW_LOOPBACK", EMBEDDED)
# Seconds a receiver has to answer one delivery.
WEBHOOK_TIMEOUT = env_int("WEBHOOK_TIMEOUT", 10, minimum=1)
# Seconds beyond the timeout that an attempt's claim on a delivery lasts: after a worker died
# mid-attempt, the sweeper sends the delivery again once the claim has run out.
WEBHOOK_LEASE_SLACK = env_int("WEBHOOK_LEASE_SLACK", 30, minimum=1)
# Attempts in flight at once to one endpoint, across all workers: a slow receiver ties up at
# most this many worker slots, and the others go on delivering.
WEBHOOK_MAX_IN_FLIGHT = env_int("WEBHOOK_MAX_IN_FLIGHT", 4, minimum=1)
# Seconds after which an undelivered event is given up (failed): at least a day (PROTOCOL §8).
WEBHOOK_RETRY_WINDOW = env_int("WEBHOOK_RETRY_WINDOW", 26 * 3600, minimum=60)
# An endpoint whose every attempt failed for this many seconds is disabled (its admins see why).
WEBHOOK_DISABLE_AFTER = env_int("WEBHOOK_DISABLE_AFTER", 3 * 24 * 3600, minimum=60)
# A release envelope larger than this is sent as {"seq", "url"} instead of inline.
WEBHOOK_INLINE_MAX_BYTES = env_int("WEBHOOK_INLINE_MAX_BYTES", 256 * 1024, minimum=1024)
# The server's public origin (https://consortium.example.org): makes the URLs in webhook data
# absolute. Empty: they are relative to the server the member syncs from.
PUBLIC_URL = env_str("PUBLIC_URL", "").rstrip("/")
if PUBLIC_URL and not PUBLIC_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"PUBLIC_URL={PUBLIC_URL!r} is not an origin: set it like https://consortium.example.org, or leave it empty.")

# --- signing -------------------------------------------------------------------------------------

# The consortium's private Ed25519 JWK (JSON). Unset: generated into VAR_DIR unless REQUIRE_KEYS.
CONSORTIUM_SIGNING_KEY = env_secret("CONSORTIUM_SIGNING_KEY")
if REQUIRE_KEYS and not CONSORTIUM_SIGNING_KEY:
    raise ImproperlyConfigured("Set CONSORTIUM_SIGNING_KEY (or CONSORTIUM_SIGNING_KEY_FILE).")

# --- transparency log (audit checkpoints, PROTOCOL §9) -------------------------------------------

# The log's origin: the first line of every checkpoint and the name of the key that signs them.
CONSORTIUM_LOG_ORIGIN = env_str("CONSORTIUM_LOG_ORIGIN", "consortium.example/audit")
if not CONSORTIUM_LOG_ORIGIN or any(c.isspace() or c == "+" for c in CONSORTIUM_LOG_ORIGIN):
    raise ImproperlyConfigured(f"CONSORTIUM_LOG_ORIGIN={CONSORTIUM_LOG_ORIGIN!r} may not be empty or hold spaces or '+'.")
# The checkpoint key: a private Ed25519 JWK, a note signer key (PRIVATE+KEY+<origin>+…) or a hex
# seed. Unset: generated into VAR_DIR/log-key.jwk unless REQUIRE_KEYS.
CONSORTIUM_LOG_KEY = env_secret("CONSORTIUM_LOG_KEY")
if REQUIRE_KEYS and not CONSORTIUM_LOG_KEY:
    raise ImproperlyConfigured("Set CONSORTIUM_LOG_KEY (or CONSORTIUM_LOG_KEY_FILE).")
# Seconds between checkpoint signings by celery beat (nothing is signed when the log did not grow).
AUDIT_CHECKPOINT_INTERVAL = env_int("AUDIT_CHECKPOINT_INTERVAL", 60, minimum=1)
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {
    "task": "consortium.audit.tasks.audit_checkpoint",
    "schedule": float(AUDIT_CHECKPOINT_INTERVAL),
}

# --- static files, i18n, logging -----------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(VAR_DIR / "static")))
try:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
except OSError:
    pass  # a read-only image: collectstatic made it at build time
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when collectstatic has not run (embedded demo).
WHITENOISE_USE_FINDERS = True

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}
