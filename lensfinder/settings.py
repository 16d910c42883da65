"""LensFinder settings, all read from the environment (see README, "Configuration").

| variable             | default                               |
| -------------------- | ------------------------------------- |
| DEBUG                | true (set false in production)        |
| SECRET_KEY           | a development key; required when DEBUG is false |
| ALLOWED_HOSTS        | 127.0.0.1,localhost                   |
| LENSFINDER_DATA_DIR  | var/                                  |
| DATABASE_URL         | sqlite:///<data dir>/lensfinder.sqlite3 |
| REDIS_URL            | unix://<data dir>/redis.sock (the private Redis of `make run`) |
| DB_CONN_MAX_AGE      | 60 (seconds a database connection is kept; 0: one per request) |
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from lensfinder.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_path,
    env_str,
    redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", "true")

DEV_SECRET_KEY = "lensfinder-development-key-not-for-production"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set SECRET_KEY to a long random "
            "string (python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=true for local development."
        )
    SECRET_KEY = DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")

DATA_DIR = env_path("LENSFINDER_DATA_DIR", "var", BASE_DIR)
try:
    # The default SQLite database and the private Redis socket live here.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"LENSFINDER_DATA_DIR={str(DATA_DIR)!r} cannot be created ({exc}): "
        "point it at a writable directory."
    ) from exc
DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'lensfinder.sqlite3'}"), BASE_DIR
    )
}
# Keep connections between requests: opening one costs PostgreSQL a backend
# process per request, a large share of a grade request's time. Health checks
# drop a connection the server has closed before it is reused.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", "60")
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Tests hand the database to worker subprocesses, so it must be a file.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-lensfinder.sqlite3")}
    # A busy worker and the web server write at once; wait rather than fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

PRIVATE_REDIS_SOCKET = DATA_DIR / "redis.sock"
REDIS_URL = redis_url(env_str("REDIS_URL", f"unix://{PRIVATE_REDIS_SOCKET}"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "core",
    "simulations",
    "classifier",
    "inspection",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "core.middleware.StaffOnlyPrefixesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "lensfinder.urls"
WSGI_APPLICATION = "lensfinder.wsgi.application"

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
                "core.context_processors.navigation",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inspection:home"
LOGOUT_REDIRECT_URL = "login"

# Paths under which only admins (staff) may go; others get 403 (see core.middleware).
STAFF_ONLY_PREFIXES = ["/admin/", "/rq/"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# plotly.js is served from the installed plotly package (no CDN, not copied into git).
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/plotly", Path(__import__("plotly").__file__).parent / "package_data"),
]
STATIC_ROOT = DATA_DIR / "static"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Job queues. `default` takes short jobs; `scoring` takes long compute jobs
# (scoring chunks, training). Jobs are enqueued when the transaction commits.
RQ = {"COMMIT_MODE": "on_db_commit"}
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
    "scoring": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 6 * 3600},
}
RQ_SHOW_ADMIN_LINK = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO" if DEBUG else "WARNING"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
