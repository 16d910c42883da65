"""This installation's id, which keeps it apart from others on one Redis.

Two installations (two databases, two data dirs) may share one Redis
database. Their jobs' primary keys collide, so an rq job ``lensfinder-job-5``
on queue ``scoring`` would be taken by either's workers and run against the
wrong rows. So every Redis key rq makes starts with ``lensfinder-<id>``
(rq's ``RQ_KEY_PREFIX``: queues, jobs, registries and workers alike), and job
ids carry the id too, so that a job that still reaches a worker of another
installation is refused (``core.progress``).

The id is made once and kept in the data dir, like the secret key: every
process of one installation, web or worker, on any machine sharing the data
dir, has the same. ``LENSFINDER_INSTALLATION_ID`` overrides it (workers on
machines whose data dir is a copy). Imported by the settings: standard
library and Django's exceptions only.
"""

import os
import re
import secrets
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

ENV = "LENSFINDER_INSTALLATION_ID"
FILE_NAME = "installation-id"
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def _read_or_make(path: Path) -> str:
    if not path.exists():
        tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        tmp.write_text(secrets.token_hex(6) + "\n")
        try:
            os.link(tmp, path)  # atomic, and fails if another process made one first
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def installation_id(data_dir: Path) -> str:
    """``LENSFINDER_INSTALLATION_ID``, else the id kept in ``data_dir``
    (made there on first use)."""
    value = os.environ.get(ENV, "").strip()
    where = ENV
    if not value:
        path = Path(data_dir) / FILE_NAME
        where = str(path)
        try:
            value = _read_or_make(path)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"The installation id file {path} cannot be read or created ({exc}): make the "
                f"data dir writable or set {ENV}."
            ) from exc
    if not ID_RE.match(value):
        raise ImproperlyConfigured(
            f"The installation id {value!r} (from {where}) must be 1-40 letters, digits, "
            "'-' or '_'."
        )
    return value


def setup(data_dir: Path) -> str:
    """Find this installation's id and give it to rq; returns the id.

    rq reads its key prefix from the environment once, when it is first
    imported, so this runs in the settings, before anything imports rq.
    Child processes (the stack's worker, the tests' workers) inherit both
    variables, and so belong to this installation.
    """
    ident = installation_id(data_dir)
    prefix = key_prefix(ident)
    os.environ[ENV] = ident
    os.environ["RQ_KEY_PREFIX"] = prefix
    loaded = sys.modules.get("rq.defaults")
    if loaded is not None and prefix != loaded.RQ_KEY_PREFIX:
        raise ImproperlyConfigured(
            f"rq was imported before the settings, with the Redis key prefix "
            f"{loaded.RQ_KEY_PREFIX!r} instead of {prefix!r}: import rq only after Django "
            "is set up."
        )
    return ident


def key_prefix(ident: str) -> str:
    return f"lensfinder-{ident}"


def rq_job_id(job_pk: int) -> str:
    """The rq job id of ``core.models.Job`` ``job_pk`` of this installation."""
    from django.conf import settings

    return f"{key_prefix(settings.INSTALLATION_ID)}-job-{job_pk}"
