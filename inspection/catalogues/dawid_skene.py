"""Dawid-Skene consensus on the whole 0/1/2 scale (pure: numpy, no Django).

The Space Warps posterior (``consensus.space_warps_posterior``) is binary: a
1 and a 2 both say "lens". Dawid & Skene (1979) keep the grade: each rater r
has a confusion matrix ``confusion[r, k, g] = P(grade g | class k)``, with
class k = 0 for a non-lens and 1 for a lens (k is ``is_lens``) and grade
g in 0, 1, 2, so a rater who gives 2 only to lenses and a rater who gives 2
to anything round both get the weight their own grades earn. Given the
matrices, the posterior of an item is Bayes' rule with the grades
conditionally independent given the class::

    log-odds(lens | grades) = logit(prior) + sum_r ln(confusion[r, 1, g_r] / confusion[r, 0, g_r])

and the matrices and the posteriors are fitted together by EM:

- E-step: each item's P(lens) from the current matrices (above). Items whose
  truth is known (training and known items mixed into campaigns) keep it:
  they are clamped to 0 or 1 and anchor the matrices, which also fixes
  which class is which (no label switching).
- M-step: each matrix row is the expected grade counts plus ``alpha``
  pseudo-counts per grade (Dirichlet/Laplace smoothing):
  ``(n[r, k, g] + alpha) / (n[r, k] + 3 alpha)``, so a rater with a handful
  of grades never gets an entry of 0 or 1 (which would make one grade
  certain proof). This is EM for the maximum a posteriori matrices under a
  Dirichlet(1 + alpha) prior; the objective EM climbs is
  :func:`log_objective`.
- Prior: each item's own prior P(lens) (the network's calibrated score
  shifted to the survey's lens prior) where it has one; an item without a
  usable prior (NaN) takes a campaign-level prior ``pi``, which EM fits over
  those items with one pseudo-count per class: ``(sum T + 1) / (n + 2)``.

Grades are given in long form, one entry per grade: ``item``, ``rater`` and
``grade`` arrays of equal length (:func:`observations` turns a campaign's
``[n_items, n_raters]`` grade matrix with NaN holes into that), so several
rounds of one rater, known items and candidates share one rater's matrix.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from core.logodds import sigmoid
from inspection.catalogues.consensus import GRADES, ConsensusError, check_grades

CLASSES = ("non-lens", "lens")  # index k of confusion[r, k, g]: k = is_lens
N_GRADES = len(GRADES)
DEFAULT_ALPHA = 1.0  # Laplace: one pseudo-grade of each value per class and rater
DEFAULT_TOL = 1e-8  # largest change of a matrix entry at convergence
DEFAULT_MAX_ITER = 1000


class DawidSkeneError(ConsensusError):
    """Grades, priors or truths that the Dawid-Skene fit cannot use."""


@dataclass(frozen=True)
class DawidSkeneFit:
    """The outcome of :func:`fit`.

    Attributes
    ----------
    confusion : ndarray [n_raters, 2, 3]
        P(grade g | class k) per rater, k 0 non-lens, 1 lens; each row sums to 1.
    posterior : ndarray [n_items]
        P(lens | grades, prior); an item of known truth keeps it (0 or 1).
    campaign_prior : float
        The fitted P(lens) of items without a prior of their own (the
        Laplace mean 0.5 when every item has one: it is then unused).
    expected_counts : ndarray [n_raters, 2, 3]
        The expected number of grades g each rater gave to class k (known
        items count whole), before smoothing: how much each matrix rests on.
    n_iter : int
        EM iterations (M-steps after the first) run.
    converged : bool
        Whether the matrices moved by less than ``tol`` in the last iteration.
    objective : list of float
        :func:`log_objective` of the starting matrices and after each
        iteration (EM never lowers it).
    """

    confusion: np.ndarray
    posterior: np.ndarray
    campaign_prior: float
    expected_counts: np.ndarray
    n_iter: int
    converged: bool
    objective: list


def observations(grades: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grades present in a ``[n_items, n_raters]`` matrix (NaN: none) in
    long form: ``(item, rater, grade)`` int arrays, item-major."""
    grades = check_grades(grades)
    item, rater = np.nonzero(~np.isnan(grades))
    return item.astype(np.int64), rater.astype(np.int64), grades[item, rater].astype(np.int64)


def check_observations(
    item: ArrayLike, rater: ArrayLike, grade: ArrayLike, n_items: int, n_raters: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(item, rater, grade)`` as int64 arrays of one length, indices in
    range and grades 0, 1 or 2.

    Raises
    ------
    DawidSkeneError
        Otherwise, naming what is wrong.
    """
    arrays = []
    for name, values, top in (("item", item, n_items), ("rater", rater, n_raters),
                              ("grade", grade, N_GRADES)):  # fmt: skip
        array = np.asarray(values)
        if array.ndim != 1:
            raise DawidSkeneError(f"{name} must be a 1-D array, not shape {array.shape}.")
        if (
            array.size
            and not np.issubdtype(array.dtype, np.integer)
            and (not np.all(np.isfinite(array)) or np.any(array != np.round(array)))
        ):
            raise DawidSkeneError(f"{name} must hold whole numbers.")
        array = array.astype(np.int64)
        bad = array[(array < 0) | (array >= top)]
        if bad.size:
            what = "a grade is 0, 1 or 2" if name == "grade" else f"{name} indices are 0..{top - 1}"
            raise DawidSkeneError(f"Out of range: {what}; found {bad[0]}.")
        arrays.append(array)
    if not arrays[0].size == arrays[1].size == arrays[2].size:
        raise DawidSkeneError(
            f"item, rater and grade must have one length; got {[a.size for a in arrays]}."
        )
    return arrays[0], arrays[1], arrays[2]


def _check_vector(name, values, n_items, allowed):
    if values is None:
        return np.full(n_items, np.nan)
    array = np.asarray(values, np.float64)
    if array.ndim > 1 or (array.ndim == 1 and array.size != n_items):
        raise DawidSkeneError(f"{name}: one value per item ({n_items}), not shape {array.shape}.")
    array = np.array(np.broadcast_to(array, (n_items,)))
    present = array[~np.isnan(array)]
    if not np.all(allowed(present)):
        raise DawidSkeneError(
            f"{name}: {_ALLOWED_TEXT[name]}; found {present[~allowed(present)][0]}."
        )
    return array


_ALLOWED_TEXT = {
    "prior": "a prior P(lens) lies strictly between 0 and 1 (NaN: use the campaign prior)",
    "truth": "a truth is 0 (non-lens) or 1 (lens), NaN where unknown",
}


def check_confusion(confusion: ArrayLike, n_raters: int | None = None) -> np.ndarray:
    """``confusion`` as a float ``[n_raters, 2, 3]`` array of rows of positive
    probabilities summing to 1."""
    array = np.asarray(confusion, np.float64)
    if array.ndim != 3 or array.shape[1:] != (2, N_GRADES):
        raise DawidSkeneError(f"A confusion array is [n_raters, 2, 3], not {array.shape}.")
    if n_raters is not None and array.shape[0] != n_raters:
        raise DawidSkeneError(f"Give one matrix per rater ({n_raters}), not {array.shape[0]}.")
    # An entry of 0 makes a grade impossible for a class: one such grade would
    # pin the posterior at 0 or 1 whatever else is said.
    if not np.all(array > 0) or not np.allclose(array.sum(axis=2), 1):
        raise DawidSkeneError("Each row of a confusion matrix is positive and sums to 1.")
    return array


def log_likelihood_ratios(
    confusion: ArrayLike, item: ArrayLike, rater: ArrayLike, grade: ArrayLike, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(ln P(grades | lens), ln P(grades | non-lens))`` per item, [n_items] each.

    Items without a grade get 0 for both.
    """
    confusion = check_confusion(confusion)
    item, rater, grade = check_observations(item, rater, grade, n_items, confusion.shape[0])
    return _log_likelihoods(np.log(confusion), item, rater, grade, n_items)


# The kernels below take checked arrays: fit() checks once, then iterates.


def _log_likelihoods(log_c, item, rater, grade, n_items):
    lens = np.bincount(item, weights=log_c[rater, 1, grade], minlength=n_items)
    other = np.bincount(item, weights=log_c[rater, 0, grade], minlength=n_items)
    return lens, other


def _m_step(p_lens, item, rater, grade, n_raters, alpha):
    cell = rater * N_GRADES + grade
    size = n_raters * N_GRADES
    weight = p_lens[item]
    lens = np.bincount(cell, weights=weight, minlength=size)
    other = np.bincount(cell, weights=1 - weight, minlength=size)
    counts = np.stack([other, lens], axis=1).reshape(n_raters, N_GRADES, 2)
    counts = counts.transpose(0, 2, 1)  # [rater, class, grade]
    confusion = (counts + alpha) / (counts.sum(axis=2, keepdims=True) + N_GRADES * alpha)
    return confusion, counts


def _objective(lens, other, log_c, pi, prior, truth, known, alpha):
    p = np.where(np.isnan(prior), pi, prior)
    free = np.logaddexp(np.log(p) + lens, np.log1p(-p) + other)
    clamped = np.where(truth == 1, lens, other)
    data = free[~known].sum() + clamped[known].sum()
    return float(data + alpha * log_c.sum() + np.log(pi) + np.log1p(-pi))


def posterior(
    confusion: ArrayLike,
    item: ArrayLike,
    rater: ArrayLike,
    grade: ArrayLike,
    prior: ArrayLike,
) -> np.ndarray:
    """P(lens) per item given the raters' matrices and each item's prior (the E-step).

    Parameters
    ----------
    confusion : array [n_raters, 2, 3]
    item, rater, grade : int arrays [n_grades]
        One entry per grade (see :func:`observations`).
    prior : array [n_items]
        P(lens) before the grades, strictly in (0, 1); its length sets n_items.

    Returns
    -------
    ndarray [n_items]
        ``sigmoid(logit(prior) + ln P(grades|lens) - ln P(grades|non-lens))``,
        computed in log-odds so that many grades neither overflow nor round to 0/1 early.
    """
    prior = np.asarray(prior, np.float64)
    if prior.ndim != 1:
        raise DawidSkeneError(f"prior is one P(lens) per item, not shape {prior.shape}.")
    _check_vector("prior", prior, prior.size, lambda p: (p > 0) & (p < 1))
    if np.isnan(prior).any():
        raise DawidSkeneError("posterior() needs a prior for every item (no NaN).")
    lens, other = log_likelihood_ratios(confusion, item, rater, grade, prior.size)
    return sigmoid(np.log(prior) - np.log1p(-prior) + lens - other)


def smoothed_confusion(
    p_lens: ArrayLike,
    item: ArrayLike,
    rater: ArrayLike,
    grade: ArrayLike,
    n_raters: int,
    alpha: float = DEFAULT_ALPHA,
) -> tuple[np.ndarray, np.ndarray]:
    """The M-step: ``(confusion, expected_counts)``, both [n_raters, 2, 3].

    ``expected_counts[r, k, g]`` sums, over the grades g of rater r, the
    probability that the item is of class k (``p_lens`` per item: 0 or 1
    where the truth is known); ``confusion = (counts + alpha) / (row total + 3 alpha)``.
    A rater with no grade gets rows of 1/3 (grades that say nothing).
    """
    if not alpha > 0:
        raise DawidSkeneError(f"The smoothing pseudo-count must be > 0, not {alpha}.")
    p_lens = np.asarray(p_lens, np.float64)
    item, rater, grade = check_observations(item, rater, grade, p_lens.size, n_raters)
    return _m_step(p_lens, item, rater, grade, n_raters, alpha)


def log_objective(
    confusion: np.ndarray,
    campaign_prior: float,
    item: np.ndarray,
    rater: np.ndarray,
    grade: np.ndarray,
    prior: np.ndarray,
    truth: np.ndarray,
    alpha: float = DEFAULT_ALPHA,
) -> float:
    """What EM climbs: ln P(grades | matrices, priors) + ln P(matrices) + ln P(pi).

    Items of known truth contribute ln P(grades | their class); the others
    ln [p P(grades|lens) + (1 - p) P(grades|non-lens)] with p their prior
    (``campaign_prior`` where it is NaN); the Dirichlet(1 + alpha) prior
    on each matrix row adds ``alpha sum ln confusion`` and the Beta(2, 2)
    prior on ``campaign_prior`` ``ln pi + ln(1 - pi)`` (constants dropped).
    """
    confusion = check_confusion(confusion)
    truth = np.asarray(truth, np.float64)
    item, rater, grade = check_observations(item, rater, grade, truth.size, confusion.shape[0])
    log_c = np.log(confusion)
    lens, other = _log_likelihoods(log_c, item, rater, grade, truth.size)
    prior = np.asarray(prior, np.float64)
    return _objective(lens, other, log_c, campaign_prior, prior, truth, ~np.isnan(truth), alpha)


def _initial_p_lens(item, grade, prior, truth, n_items):
    """Where EM starts: each item's mean grade / 2 (Dawid & Skene start from
    the raters' majority), its prior where it has no grade, 0.5 without
    either; known truths as they are."""
    n = np.bincount(item, minlength=n_items)
    total = np.bincount(item, weights=grade, minlength=n_items)
    start = np.where(np.isnan(prior), 0.5, prior)
    with np.errstate(invalid="ignore", divide="ignore"):
        start = np.where(n > 0, total / np.maximum(n, 1) / 2, start)
    return np.where(np.isnan(truth), start, truth)


def fit(
    item: ArrayLike,
    rater: ArrayLike,
    grade: ArrayLike,
    n_items: int,
    n_raters: int,
    prior: ArrayLike | None = None,
    truth: ArrayLike | None = None,
    alpha: float = DEFAULT_ALPHA,
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
) -> DawidSkeneFit:
    """Fit every rater's 3x2 confusion matrix and every item's P(lens) by EM.

    Parameters
    ----------
    item, rater, grade : int arrays [n_grades]
        One entry per grade: which item, which rater, grade 0/1/2.
    n_items, n_raters : int
    prior : array [n_items], optional
        Each item's P(lens) before the grades, strictly in (0, 1); NaN (or
        no array) where an item has none: it takes the fitted campaign prior.
    truth : array [n_items], optional
        1 (lens) or 0 (non-lens) where the truth is known, NaN elsewhere;
        such items are clamped and anchor the matrices.
    alpha : float
        Pseudo-count per grade, class and rater (Laplace: 1).
    tol, max_iter
        EM stops when no matrix entry moves by more than ``tol`` or after
        ``max_iter`` iterations (``converged`` says which).
    """
    if n_items < 0 or n_raters < 0:
        raise DawidSkeneError(f"Counts are >= 0; got {n_items} items, {n_raters} raters.")
    if max_iter < 1:
        raise DawidSkeneError(f"max_iter must be >= 1, not {max_iter}.")
    item, rater, grade = check_observations(item, rater, grade, n_items, n_raters)
    prior = _check_vector("prior", prior, n_items, lambda p: (p > 0) & (p < 1))
    truth = _check_vector("truth", truth, n_items, lambda t: (t == 0) | (t == 1))
    if not alpha > 0:
        raise DawidSkeneError(f"The smoothing pseudo-count must be > 0, not {alpha}.")
    known = ~np.isnan(truth)
    uses_pi = np.isnan(prior) & ~known
    prior_or_pi = prior.copy()

    def e_step(confusion, pi):
        log_c = np.log(confusion)
        lens, other = _log_likelihoods(log_c, item, rater, grade, n_items)
        prior_or_pi[uses_pi] = pi
        p = sigmoid(np.log(prior_or_pi) - np.log1p(-prior_or_pi) + lens - other)
        p[known] = truth[known]
        return p, _objective(lens, other, log_c, pi, prior, truth, known, alpha)

    p_lens = _initial_p_lens(item, grade, prior, truth, n_items)
    confusion, counts = _m_step(p_lens, item, rater, grade, n_raters, alpha)
    pi = (p_lens[uses_pi].sum() + 1) / (uses_pi.sum() + 2)
    objective, converged = [], False
    for _ in range(max_iter):
        # objective[t] is that of the matrices after t M-steps: EM never lowers it.
        p_lens, value = e_step(confusion, pi)
        objective.append(value)
        new, counts = _m_step(p_lens, item, rater, grade, n_raters, alpha)
        pi = (p_lens[uses_pi].sum() + 1) / (uses_pi.sum() + 2)
        step = np.max(np.abs(new - confusion), initial=0.0)
        confusion = new
        if step < tol:
            converged = True
            break
    p_lens, value = e_step(confusion, pi)
    objective.append(value)
    return DawidSkeneFit(
        confusion=confusion,
        posterior=p_lens,
        campaign_prior=float(pi),
        expected_counts=counts,
        n_iter=len(objective) - 1,
        converged=converged,
        objective=objective,
    )


def simulate_grades(
    confusion: ArrayLike,
    truth: ArrayLike,
    rng: np.random.Generator,
    p_graded: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic grades: each rater grades each item with probability
    ``p_graded``, drawing grade g with ``confusion[r, truth, g]``.

    Returns ``(item, rater, grade)`` in long form, item-major.
    """
    confusion = check_confusion(confusion)
    truth = np.asarray(truth).astype(np.int64)
    if not np.all((truth == 0) | (truth == 1)):
        raise DawidSkeneError("Simulated truths are 0 or 1.")
    if not 0 < p_graded <= 1:
        raise DawidSkeneError(f"p_graded lies in (0, 1], not {p_graded}.")
    n_raters = confusion.shape[0]
    item, rater = np.meshgrid(np.arange(truth.size), np.arange(n_raters), indexing="ij")
    item, rater = item.ravel(), rater.ravel()
    keep = rng.random(item.size) < p_graded
    item, rater = item[keep], rater[keep]
    # Inverse-CDF draw: the first grade whose cumulative probability passes u.
    cdf = np.cumsum(confusion[rater, truth[item]], axis=1)
    grade = (rng.random(item.size)[:, np.newaxis] >= cdf[:, :-1]).sum(axis=1)
    return item, rater, grade.astype(np.int64)
