"""File helpers shared by the apps (pure: standard library only)."""

import hashlib


def sha256_of(path, block=1 << 20):
    """Hex sha256 of a file, read in blocks of ``block`` bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()
