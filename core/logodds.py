"""Log-odds (logits) and probabilities of a lens (pure numpy, no Django).

Every score is stored as the network's log-odds ``x = ln(P / (1 - P))``
beside ``P`` itself: float64 probabilities round to 1.0 once ``x`` passes
~36.7 (float32 ones at ~17), so confident stamps tie in ``P`` while their
log-odds keep their order. Rankings and thresholds compare log-odds; ``P``
is derived from them (``sigmoid``) for people to read.

Clip: where a log-odds must come from a probability (rows stored before
log-odds were, a threshold entered as a probability), ``P`` is clipped to
``[P_FLOOR, P_CEIL]``, the positive float64 numbers below 1, so that 0 and 1
give finite values: ``logit(0) = LOGIT_FLOOR`` (-744.44) and ``logit(1) =
LOGIT_CEIL`` (+36.74). Every ``P < 1`` maps below ``LOGIT_CEIL`` and every
``P > 0`` above ``LOGIT_FLOOR``, so the order of distinct probabilities is
kept; a threshold of 1 admits the stamps whose float64 ``P`` rounds to 1 and
a threshold of 0 admits every stamp (scores are stored no lower than
``LOGIT_FLOOR``).
"""

import math

import numpy as np
from numpy.typing import ArrayLike

P_FLOOR = 2.0**-1074  # the smallest positive float64 (a subnormal, 4.9e-324)
P_CEIL = 1.0 - 2.0**-53  # the largest float64 below 1
LOGIT_FLOOR = math.log(P_FLOOR) - math.log1p(-P_FLOOR)  # -744.44
LOGIT_CEIL = math.log(P_CEIL) - math.log1p(-P_CEIL)  # +36.74
# Above this P a probability printed with a few decimals reads "1.0000":
# show how far it is from 1 instead (``format_p_lens``).
P_SHOWN_AS_DISTANCE = 0.999


def logit(p: ArrayLike) -> float | np.ndarray:
    """Log-odds ``ln(p / (1 - p))`` of probabilities, clipped to finite values.

    Parameters
    ----------
    p : float or array_like
        Probabilities in [0, 1]; clipped to ``[P_FLOOR, P_CEIL]`` first.

    Returns
    -------
    float or ndarray
        In ``[LOGIT_FLOOR, LOGIT_CEIL]``, float64; a float for a scalar.
    """
    q = np.clip(np.asarray(p, np.float64), P_FLOOR, P_CEIL)
    out = np.log(q) - np.log1p(-q)
    return float(out) if out.ndim == 0 else out


def sigmoid(x: ArrayLike) -> float | np.ndarray:
    """P = 1 / (1 + exp(-x)) in float64 without overflow for any log-odds ``x``.

    ``sigmoid(-x)`` is ``1 - P`` to full relative precision, even where
    ``P`` itself rounds to 1.
    """
    x = np.asarray(x, np.float64)
    z = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return float(out) if out.ndim == 0 else out


def format_p_lens(x: float | None, digits: int = 4, minus: str = "\u2212") -> str:
    """P(lens) of log-odds ``x`` as people read it, distinct where P ties at 1.

    ``"0.8731"`` up to ``P_SHOWN_AS_DISTANCE``; above it the distance from 1,
    ``"1 − 2.3e-08"`` (computed as ``sigmoid(-x)``, exact where ``P`` rounds
    to 1.0); below 10^-``digits`` in scientific notation. ``minus`` is the
    sign written (ASCII ``"-"`` for fonts without U+2212). ``None`` or NaN
    gives ``"–"``.
    """
    if x is None or x != x:
        return "\u2013"
    p = sigmoid(float(x))
    if p > P_SHOWN_AS_DISTANCE:
        return f"1 {minus} {sigmoid(-float(x)):.1e}"
    if 0 < p < 10.0**-digits:
        return f"{p:.1e}"
    return f"{p:.{digits}f}"


LOGIT_SHOWN_MIN = -40.0  # P < 4e-18: lower log-odds count in the first bin of a histogram


def logit_bin_edges(
    logits: ArrayLike, threshold_logit: float | None = None, bins: int = 40
) -> np.ndarray:
    """``bins + 1`` equal bin edges (log-odds) for a histogram of ``logits``.

    The edges span the finite values, and the threshold when it lies within
    one span of them (a threshold of P = 0, log-odds -744, would squash every
    score into one bin); values below ``LOGIT_SHOWN_MIN`` belong in the first
    bin (clip them to ``edges[0]``). Empty when no value is finite.
    """
    x = np.asarray(logits, np.float64)
    x = x[np.isfinite(x)]
    if not x.size:
        return np.zeros(0)
    lo, hi = float(x.min()), float(x.max())
    if hi > LOGIT_SHOWN_MIN:
        lo = max(lo, LOGIT_SHOWN_MIN)
    span = max(hi - lo, 1.0)
    if threshold_logit is not None and lo - span <= threshold_logit <= hi + span:
        lo, hi = min(lo, threshold_logit), max(hi, threshold_logit)
    if hi - lo < 1.0:  # one value: a bin of unit width around it
        lo, hi = (lo + hi) / 2 - 0.5, (lo + hi) / 2 + 0.5
    return np.linspace(lo, hi, bins + 1)
