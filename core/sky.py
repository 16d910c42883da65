"""Sky names (pure: numpy only)."""

import numpy as np
from numpy.typing import ArrayLike


def iau_name(ra_deg: ArrayLike, dec_deg: ArrayLike, prefix: str = "KIDS") -> str | np.ndarray:
    """``PREFIX JHHMMSS.ss+DDMMSS.ss`` for each position, truncated (not
    rounded) as IAU names are, in the form of the KiDS DR3 IDs He et al. 2020
    list (``KIDS J085446.55-012137.14``).

    Parameters
    ----------
    ra_deg, dec_deg : float or array
        ICRS coordinates in degrees.

    Returns
    -------
    str or numpy array of str
    """
    ra = np.mod(np.atleast_1d(np.asarray(ra_deg, dtype=np.float64)), 360.0)
    dec = np.atleast_1d(np.asarray(dec_deg, dtype=np.float64))
    # Hundredths of a second of time / of arc; the small epsilon keeps
    # 8.16 s from truncating to 8.15 through binary round-off.
    ra_cs = np.floor(ra / 15.0 * 360000.0 + 1e-6).astype(np.int64)
    dec_cs = np.floor(np.abs(dec) * 360000.0 + 1e-6).astype(np.int64)
    names = []
    for r, d, negative in zip(ra_cs, dec_cs, dec < 0, strict=True):
        h, rem = divmod(int(r), 360000)
        m, cs = divmod(rem, 6000)
        dd, drem = divmod(int(d), 360000)
        dm, dcs = divmod(drem, 6000)
        sign = "-" if negative else "+"
        names.append(
            f"{prefix} J{h % 24:02d}{m:02d}{cs // 100:02d}.{cs % 100:02d}"
            f"{sign}{dd:02d}{dm:02d}{dcs // 100:02d}.{dcs % 100:02d}"
        )
    if np.ndim(ra_deg) == 0 and np.ndim(dec_deg) == 0:
        return names[0]
    return np.array(names)
