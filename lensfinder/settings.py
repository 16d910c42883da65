"""LensFinder settings, all read from the environment.

README, "Configuration" and "Production", lists every variable with its
default. The defaults are safe for `make run` on a lab network: DEBUG off,
a secret key generated once into the data dir, static files served, login
throttling, request-size limits.
"""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from core import installation
from lensfinder.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_path,
    env_path_list,
    env_str,
    redis_url,
    secret_key_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Off unless asked for: the debug page shows every setting and the
# environment (database and Redis passwords) to anyone who triggers an error.
DEBUG = env_bool("LENSFINDER_DEBUG", "false")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")

DATA_DIR = env_path("LENSFINDER_DATA_DIR", "var", BASE_DIR)
try:
    # The default SQLite database, the private Redis socket and the secret key live here.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"LENSFINDER_DATA_DIR={str(DATA_DIR)!r} cannot be created ({exc}): "
        "point it at a writable directory."
    ) from exc

SECRET_KEY = env_str("SECRET_KEY") or secret_key_file(DATA_DIR / "secret_key")

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
    # Before staticfiles: runserver then serves static files as gunicorn does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "django_rq",
    "core",
    "simulations",
    "classifier",
    "inspection",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before anything reads the body (CSRF reads the form): an oversized
    # request is refused before a byte of it is spooled to disk.
    "core.middleware.RequestSizeLimitMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "core.middleware.StaffOnlyPrefixesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
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
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Messages in the session (server side), not in a cookie: a generated
# password is shown once in a message and must not travel in clear text.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Login throttling (django-axes): wrong passwords are counted per account and
# per client address; past the limit that account or address is refused,
# even with the right password, until the cool-off has passed since the last
# attempt. Axes checks before the password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "core.auth.PublishedPasswordBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LENSFINDER_LOGIN_FAILURES", "10", minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LENSFINDER_LOGIN_COOLOFF_MIN", "15", minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.auth.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Password hashing costs ~0.3 s of CPU: at most this many run at once per
# process, so a burst of parallel attempts cannot take every core.
LOGIN_CONCURRENCY = 2
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
# WhiteNoise serves them with DEBUG off too (make run, gunicorn), straight
# from the finders: no collectstatic step to forget. The files are indexed
# once at start-up. It warns when STATIC_ROOT is missing, so it exists (and
# stays empty unless someone runs collectstatic).
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)

# HTTPS behind a proxy (README, "Production"): each a switch, off by default
# because `make run` serves plain HTTP on the lab network.
BEHIND_PROXY = env_bool("LENSFINDER_BEHIND_PROXY", "false")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("LENSFINDER_SECURE_COOKIES", "false")
SECURE_SSL_REDIRECT = env_bool("LENSFINDER_SSL_REDIRECT", "false")
SECURE_HSTS_SECONDS = env_int("LENSFINDER_HSTS_SECONDS", "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("LENSFINDER_HSTS_INCLUDE_SUBDOMAINS", "false")
SECURE_HSTS_PRELOAD = env_bool("LENSFINDER_HSTS_PRELOAD", "false")

# Request bodies: admins upload catalogues and tiles; nobody else sends more
# than a form. Larger requests are refused (413) before they are read.
MAX_UPLOAD_BYTES = env_int("LENSFINDER_MAX_UPLOAD_MB", "4096", minimum=1) * 2**20
MAX_REQUEST_BYTES = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE

# A compressed tile is decompressed whole into memory (float32): 500 million
# pixels is 2 GB, more than a KiDS coadd (21k x 21k). Larger ones are refused
# with a message to decompress them (funpack), after which they are read
# memory-mapped.
MAX_TILE_PIXELS = env_int("LENSFINDER_MAX_TILE_MPIX", "500", minimum=1) * 10**6

# Directories under which the web ingest forms may read files by server path
# (uploads are not concerned; the command line is not limited).
INGEST_ROOTS = env_path_list("LENSFINDER_INGEST_ROOTS", str(DATA_DIR / "incoming"), BASE_DIR)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Job queues. `default` takes short jobs; `scoring` takes long compute jobs
# (scoring chunks, training). Jobs are enqueued when the transaction commits.
# rq's Redis keys and job ids carry the installation id (kept in the data
# dir), so installations sharing a Redis never run each other's jobs; the
# worker beats while it works (core.installation, core.worker).
INSTALLATION_ID = installation.setup(DATA_DIR)
RQ = {"COMMIT_MODE": "on_db_commit", "WORKER_CLASS": "core.worker.Worker"}
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
