"""Test settings: the real settings, with the environment defaulting to this machine's
PostgreSQL and Redis (README, "Tests"). Anything set in the environment wins."""
import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/consortium")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("CONSORTIUM_VAR_DIR", "/tmp/consortium-test-var")

from consortium.settings import *  # noqa: E402,F403

# Hashing passwords at full cost makes every fixture user slow; tests do not need the strength.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
