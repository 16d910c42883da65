"""What a network's scores mean as probabilities (pure: numpy and scipy, no Django).

- Temperature scaling (Guo et al. 2017): one temperature ``T > 0`` fitted on
  the validation set, by maximum likelihood, so that ``sigmoid(z / T)`` of
  the log-odds ``z`` is calibrated. Networks trained with cross-entropy on
  separable simulations are over-confident (``T > 1``); dividing by one
  positive number keeps every ranking, ROC curve and AUC, so only the
  probabilities (and the thresholds' values) change.
- Reliability diagrams and the expected calibration error (ECE; Naeini et
  al. 2015, Guo et al. 2017): equal-width bins of predicted probability, the
  fraction of lenses in each against its mean prediction.
- The class-prior shift (Lanusse et al. 2018 eq. 5; Saerens, Latinne &
  Decaestecker 2002), the one implementation of it in the project: from the
  training set's lens fraction to a survey's. It assumes calibrated
  probabilities, which is what the temperature is for.

Log-odds are ``log P / (1 - P)`` in nats; NLL is the mean binary
cross-entropy in nats per stamp.
"""

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from scipy.special import expit

N_BINS = 10
# Temperatures outside this range mean the fit is not determined (a set the
# network separates perfectly drives T to 0); they are refused, not clipped.
T_MIN, T_MAX = 1e-2, 1e2


class CalibrationError(ValueError):
    """Log-odds and labels that no temperature can be fitted to; the message says why."""


def _check(log_odds, labels, both_classes=True):
    z = np.asarray(log_odds, np.float64)
    y = np.asarray(labels)
    if z.ndim != 1 or z.shape != y.shape:
        raise CalibrationError(f"log-odds {z.shape} and labels {y.shape} must be 1-d and alike.")
    if not np.all(np.isin(y, (0, 1))):
        raise CalibrationError("Labels must be 1 (lens) or 0 (non-lens).")
    if not np.all(np.isfinite(z)):
        raise CalibrationError("Some log-odds are NaN or infinite.")
    if both_classes and (y.all() or not y.any()):
        raise CalibrationError(
            f"Calibration needs lenses and non-lenses; this set has {int(y.sum())} lenses "
            f"and {int((y == 0).sum())} non-lenses."
        )
    return z, y.astype(bool)


def nll(log_odds: ArrayLike, labels: ArrayLike, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats per stamp) of the labels under
    ``P(lens) = sigmoid(log_odds / temperature)``.

    Computed as ``log(1 + exp(-s z / T))`` with ``s = +1`` for lenses and
    ``-1`` otherwise, which neither overflows nor takes the log of 0 for the
    confident log-odds (|z| of 50 and more) that probabilities round away.
    """
    z, lens = _check(log_odds, labels, both_classes=False)
    sign = np.where(lens, 1.0, -1.0)
    return float(np.mean(np.logaddexp(0.0, -sign * z / temperature)))


def fit_temperature(log_odds: ArrayLike, labels: ArrayLike) -> float:
    """The temperature ``T`` minimising ``nll(log_odds, labels, T)``.

    The NLL is convex in ``1 / T`` (logistic regression on one feature, no
    intercept), so it has one minimum; Brent's bounded method finds it in
    ``log T``, which keeps ``T`` positive and treats 0.5 and 2 alike.

    Parameters
    ----------
    log_odds : array_like
        ``(n,)`` uncalibrated log-odds of the validation set (nats).
    labels : array_like
        ``(n,)`` 1 (lens) or 0 (non-lens), both present.

    Returns
    -------
    float
        ``T`` in ``[T_MIN, T_MAX]``.

    Raises
    ------
    CalibrationError
        For one class only, non-finite log-odds, or a minimum at a bound (a
        set the network separates perfectly has none: the likelihood grows
        as ``T`` goes to 0).
    """
    z, lens = _check(log_odds, labels)
    lo, hi = np.log(T_MIN), np.log(T_MAX)
    found = minimize_scalar(
        lambda u: nll(z, lens, float(np.exp(u))),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-7},
    )
    if found.x - lo < 1e-3:
        separated = z[lens].min() > z[~lens].max()
        raise CalibrationError(
            f"The temperature is not determined on this set (the fit ran to T = {T_MIN:g})"
            + (": the network separates its lenses and non-lenses perfectly" if separated else "")
            + "; calibrate on a larger or harder validation set."
        )
    if hi - found.x < 1e-3:
        raise CalibrationError(
            f"The temperature is not determined on this set (the fit ran to T = {T_MAX:g}, "
            "every score towards 0.5): the network's log-odds tell its lenses and non-lenses "
            "apart hardly at all; train it further."
        )
    return float(np.exp(found.x))


def reliability(probabilities: ArrayLike, labels: ArrayLike, n_bins: int = N_BINS) -> dict:
    """Reliability-diagram bins: equal-width bins of predicted ``P(lens)`` on
    [0, 1], each with its mean prediction, its fraction of lenses and its
    number of stamps; empty bins are left out.

    Returns
    -------
    dict
        ``{"mean_probability": [...], "fraction_lenses": [...], "n": [...]}``,
        lists of equal length (JSON-ready).
    """
    p = np.asarray(probabilities, np.float64)
    _, lens = _check(p, labels, both_classes=False)
    # Bin k holds k/n <= p < (k+1)/n; p = 1 joins the top bin.
    index = np.minimum((p * n_bins).astype(int), n_bins - 1)
    n = np.bincount(index, minlength=n_bins)
    kept = n > 0
    mean_p = np.bincount(index, weights=p, minlength=n_bins)[kept] / n[kept]
    fraction = np.bincount(index, weights=lens, minlength=n_bins)[kept] / n[kept]
    return {
        "mean_probability": mean_p.tolist(),
        "fraction_lenses": fraction.tolist(),
        "n": n[kept].tolist(),
    }


def ece(probabilities: ArrayLike, labels: ArrayLike, n_bins: int = N_BINS) -> float:
    """Expected calibration error: ``sum_b n_b / n |fraction_b - mean_b|``
    over the ``reliability`` bins (0 for perfect calibration, at most 1)."""
    bins = reliability(probabilities, labels, n_bins)
    n = np.asarray(bins["n"], np.float64)
    gap = np.abs(np.asarray(bins["fraction_lenses"]) - np.asarray(bins["mean_probability"]))
    return float(np.sum(n * gap) / n.sum())


def summary(
    log_odds: ArrayLike, labels: ArrayLike, temperature: float, n_bins: int = N_BINS
) -> dict:
    """NLL, ECE and reliability bins of a labelled set before (``T = 1``) and
    after dividing its log-odds by ``temperature``: the record kept with a
    fitted temperature and the ``calibration`` block of an evaluation."""
    z, lens = _check(log_odds, labels, both_classes=False)
    out = {
        "temperature": float(temperature),
        "n": int(len(z)),
        "lens_fraction": float(lens.mean()),
        "n_bins": n_bins,
    }
    for when, t in (("uncalibrated", 1.0), ("calibrated", float(temperature))):
        p = expit(z / t)
        out[when] = {
            "nll": nll(z, lens, t),
            "ece": ece(p, lens, n_bins),
            "reliability": reliability(p, lens, n_bins),
        }
    return out


def prior_shift(p: ArrayLike, train_prior: float, new_prior: float) -> np.ndarray | float:
    """Calibrated scores converted to another lens fraction (Lanusse et al.
    2018 eq. 5; Saerens, Latinne & Decaestecker 2002).

    ``p' = lambda p / (lambda p + mu (1 - p))`` with ``lambda = new/train``
    and ``mu = (1 - new)/(1 - train)``. Monotonic, so rankings, ROC curves
    and FPR thresholds do not change; only the probabilities do.

    Parameters
    ----------
    p : float or array_like
        Calibrated P(lens) from a network trained with lens fraction
        ``train_prior`` (a network's scores once its temperature is applied).
    train_prior, new_prior : float
        Lens fractions of the training set and of the set scored, in (0, 1).

    Returns
    -------
    float or ndarray
        P(lens) under ``new_prior``, shaped like ``p``.
    """
    for name, prior in (("train_prior", train_prior), ("new_prior", new_prior)):
        if not 0 < prior < 1:
            raise ValueError(f"{name} must lie strictly between 0 and 1, not {prior}.")
    p = np.asarray(p, np.float64)
    lens = new_prior / train_prior * p
    other = (1 - new_prior) / (1 - train_prior) * (1 - p)
    out = lens / (lens + other)
    return out if out.ndim else float(out)


def combined_prior(priors: ArrayLike) -> float:
    """The lens fraction that the mean of several networks' log-odds refers
    to: each network's log-odds carry its training prior's log-odds as an
    offset, so the mean carries their mean (a committee of networks trained
    on balanced sets is balanced).

    >>> combined_prior([0.5, 0.5])
    0.5
    """
    priors = np.asarray(priors, np.float64)
    if priors.size == 0 or not np.all((priors > 0) & (priors < 1)):
        raise ValueError(f"Priors must lie strictly between 0 and 1, not {priors.tolist()}.")
    return float(expit(np.mean(np.log(priors) - np.log1p(-priors))))
