"""The one read of survey stamp rows for a network (pure)."""

import numpy as np

from inspection.scoring.stamp_batches import stamp_batches


def test_batches_hold_the_rows_asked_in_order_with_the_bands_asked():
    cube = np.arange(10 * 3 * 2 * 2, dtype=np.float64).reshape(10, 3, 2, 2)
    for index in (np.arange(2, 9), np.array([0, 3, 4, 9])):  # consecutive, and not
        batches = list(stamp_batches(cube, index, [1], batch=3))
        assert [start for start, _ in batches] == list(range(0, len(index), 3))
        stamps = np.concatenate([b for _, b in batches])
        assert stamps.dtype == np.float32 and stamps.shape == (len(index), 1, 2, 2)
        assert np.array_equal(stamps, cube[index][:, [1]])
    every_band = next(stamp_batches(cube, np.array([5]), [0, 1, 2]))[1]
    assert np.array_equal(every_band, cube[[5]])
