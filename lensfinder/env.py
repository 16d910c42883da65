"""Settings from environment variables, through small helpers that fail loudly.

Each helper takes the variable's name and a default given as the string a
user would type, so that the default goes through the same parser as a real
value. Anything that does not parse raises ``ImproperlyConfigured`` naming the
variable, what it holds and what would be accepted.
"""

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_str(name, default=None, environ=os.environ):
    """The variable's value, or ``default``; ``None`` if neither is set."""
    value = environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_bool(name, default, environ=os.environ):
    """True/False from 1/0, true/false, yes/no, on/off (any case)."""
    value = env_str(name, default, environ)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean: use one of "
        f"{', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}."
    )


def env_int(name, default, environ=os.environ, minimum=0):
    """A whole number, at least ``minimum``."""
    value = env_str(name, default, environ)
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number >= {minimum}.")
    return number


def env_list(name, default, environ=os.environ):
    """A comma-separated list, blanks dropped (``"a, b,"`` -> ``["a", "b"]``)."""
    value = env_str(name, default, environ) or ""
    return [item.strip() for item in value.split(",") if item.strip()]


def env_path(name, default, base_dir, environ=os.environ):
    """A directory path; relative paths are taken from ``base_dir``."""
    path = Path(env_str(name, default, environ)).expanduser()
    if not path.is_absolute():
        path = Path(base_dir) / path
    if path.exists() and not path.is_dir():
        raise ImproperlyConfigured(f"{name}={str(path)!r} exists but is not a directory.")
    return path


SQLITE_SCHEMES = {"sqlite"}
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def database_from_url(url, base_dir, name="DATABASE_URL"):
    """A Django ``DATABASES`` entry from a URL.

    ``sqlite:///relative/path.sqlite3`` (relative to ``base_dir``),
    ``sqlite:////absolute/path.sqlite3`` and
    ``postgres://user:password@host:port/dbname?sslmode=require`` are accepted;
    query parameters become connection options.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in SQLITE_SCHEMES:
        # sqlite:///x -> path "/x" is relative (three slashes), sqlite:////x is absolute.
        raw = unquote(parts.path)
        if parts.netloc or not raw.startswith("/") or raw == "/":
            raise ImproperlyConfigured(
                f"{name}={url!r}: a SQLite URL looks like sqlite:///var/db.sqlite3 "
                "(relative to the project) or sqlite:////abs/path/db.sqlite3."
            )
        path = Path(raw[1:])
        if not path.is_absolute():
            path = Path(base_dir) / path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}
    if scheme in POSTGRES_SCHEMES:
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise ImproperlyConfigured(
                f"{name}={url!r} names no database: use postgres://user@host:5432/dbname."
            )
        try:
            port = parts.port
        except ValueError as exc:
            raise ImproperlyConfigured(f"{name}={url!r}: the port is not a number.") from exc
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": dbname,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "OPTIONS": dict(parse_qsl(parts.query)),
        }
    raise ImproperlyConfigured(
        f"{name}={url!r}: unsupported scheme {scheme!r}; "
        "use sqlite:///path/to/db.sqlite3 or postgres://user@host:5432/dbname."
    )


REDIS_SCHEMES = {"redis", "rediss", "unix"}


def redis_url(url, name="REDIS_URL"):
    """Check that a Redis URL is one redis-py understands, and return it."""
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        raise ImproperlyConfigured(
            f"{name}={url!r}: use redis://host:6379/0, rediss://... or unix:///path/redis.sock."
        )
    if parts.scheme == "unix" and not parts.path:
        raise ImproperlyConfigured(f"{name}={url!r}: a unix URL needs a socket path.")
    if parts.scheme != "unix" and not parts.hostname:
        raise ImproperlyConfigured(f"{name}={url!r} names no host.")
    try:
        _ = parts.port  # urlsplit parses the port lazily
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={url!r}: the port is not a number.") from exc
    return url
