"""Reading a survey's stamps for a network, a batch at a time (pure: numpy only).

The one read of stamp rows that scoring runs (``inspection.jobs.score_chunk``)
and the s-Net/r-Net experiment share.
"""

from collections.abc import Iterator

import numpy as np

BATCH = 1024  # stamps read and scored at once: bounds memory, sets progress points


def stamp_batches(
    cube: np.ndarray, index: np.ndarray, bands: list[int], batch: int = BATCH
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, stamps)`` for consecutive batches of the rows ``index``.

    Parameters
    ----------
    cube : ndarray
        The stamp cube (N, bands, H, W), usually memory-mapped.
    index : ndarray
        Rows to read, in order.
    bands : list of int
        The cube's band indices the network takes, in its order.
    batch : int
        Rows per batch.

    Yields
    ------
    start : int
        Position in ``index`` of the batch's first row.
    stamps : ndarray
        (n, len(bands), H, W) float32.
    """
    for start in range(0, len(index), batch):
        idx = index[start : start + batch]
        # Straight from the memory-mapped cube: a slice when the rows are
        # consecutive (the usual case), and one native float32 copy.
        consecutive = idx[-1] - idx[0] + 1 == len(idx)
        block = cube[idx[0] : idx[-1] + 1] if consecutive else cube[idx]
        if bands != list(range(block.shape[1])):
            block = block[:, bands]
        yield start, block.astype(np.float32)
