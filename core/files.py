"""File helpers shared by the apps (pure: standard library only)."""

import hashlib
from pathlib import Path


def sha256_of(path: str | Path, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in blocks of ``block`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()
