"""File helpers shared by the apps (pure: standard library only)."""

import hashlib
import os
import threading
from pathlib import Path


def sha256_of(path: str | Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks of ``block`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in its folder that
    is unique to this process *and thread*: a reader never sees a part of it,
    and two writers at once (two threads of one web server asking for the
    same preview) never take each other's temporary file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
