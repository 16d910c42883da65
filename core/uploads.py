"""Files the web forms ingest: uploads saved on the server, and server paths.

An upload is saved only once its form is valid, under a name that never
replaces another file, in a folder of its own that the caller removes when
what the upload was for fails. A server path is accepted only under the
directories of ``settings.INGEST_ROOTS`` (LENSFINDER_INGEST_ROOTS): a web
form must not read whatever the server's user can.
"""

import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile


class ServerPathError(ValueError):
    """A server path a web form may not use; the message says why and what to do."""


def save_upload(upload: UploadedFile, folder: Path) -> Path:
    """Write ``upload`` into ``folder`` under its own file name, or
    ``NAME-2.EXT``, ``NAME-3.EXT``... when that name is taken (two tiles
    called ``r.fits`` from two pointings must not overwrite each other)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(upload.name or "upload").name or "upload"
    stem, dot, extensions = name.partition(".")
    path, k = folder / name, 1
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            break
        except FileExistsError:
            k += 1
            path = folder / f"{stem}-{k}{dot}{extensions}"
    try:
        with os.fdopen(fd, "wb") as f:
            for part in upload.chunks():
                f.write(part)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def upload_folder(parent: Path, prefix: str) -> Path:
    """A new, empty folder under ``parent`` for one request's uploads."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=parent))


def discard(folder: Path | None) -> None:
    """Remove an upload folder and everything in it (nothing if ``None``)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def check_server_path(value: str) -> Path:
    """The absolute path ``value`` names, if it lies under an ingest root.

    Symbolic links are resolved first, so a link inside a root cannot lead
    outside it.
    """
    roots = [Path(root).resolve() for root in settings.INGEST_ROOTS]
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise ServerPathError(f"{value}: give the full path on the server (starting with /).")
    resolved = path.resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        listing = ", ".join(str(root) for root in roots) or "none"
        raise ServerPathError(
            f"{value} is outside the directories the web forms may read ({listing}): copy "
            "the file there, upload it, or have the server's operator add its directory to "
            "LENSFINDER_INGEST_ROOTS."
        )
    return path
