"""Settings from environment variables, through small helpers that fail loudly.

Each helper takes the variable's name and a default given as the string a
user would type, so that the default goes through the same parser as a real
value. Anything that does not parse raises ``ImproperlyConfigured`` naming the
variable, what it holds and what would be accepted.
"""

import contextlib
import os
import secrets
import tempfile
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


def env_path_list(name: str, default: str, base_dir: Path, environ=os.environ) -> list[Path]:
    """Comma-separated directory paths; relative ones are taken from ``base_dir``."""
    paths = []
    for item in env_list(name, default, environ):
        path = Path(item).expanduser()
        paths.append(path if path.is_absolute() else Path(base_dir) / path)
    return paths


def secret_key_file(path: Path) -> str:
    """The key stored in ``path``, generated there (mode 600) on first use.

    Every process of one installation (web servers, workers on other
    machines sharing the data dir) must sign with the same key, and a key
    that changed on each start would log everyone out: so the key is made
    once and kept beside the data it protects.
    """
    path = Path(path)
    if not path.exists():
        try:
            _write_new_key(path)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"The secret key file {path} cannot be created ({exc}): make the data dir "
                "writable or set SECRET_KEY."
            ) from exc
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ImproperlyConfigured(
            f"The secret key file {path} is readable by other users (mode {mode:o}): "
            f"run chmod 600 {path}."
        )
    key = path.read_text().strip()
    if len(key) < 50:
        raise ImproperlyConfigured(
            f"The secret key file {path} holds no usable key (under 50 characters): "
            "delete it to have a new one generated (this logs everyone out)."
        )
    return key


def _write_new_key(path):
    """Write a fresh key to a private temporary file, then link it into place:
    when the web server and a worker start together, one key wins and nobody
    ever reads a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key-")  # mode 600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


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
