"""Consensus maths for an inspection campaign (pure: numpy, no Django).

A campaign's grades are one float array ``grades[n_items, n_raters]`` of the
grades of He et al. 2020 (Sect. 4.1): 0 non-lens, 1 possible lens, 2 definite
lens, with NaN where a rater has not graded an item. From it:

- He et al.'s summed score per item, its distribution (their Fig. 6), the
  high-probability sample (total >= 4) and the further vote (total == 3);
- grade classes A, B and C from the mean grade, as surveys publish their
  candidates (HSC SuGOHI, HOLISMOKES; thresholds on this 0-2 scale);
- the Space Warps posterior (Marshall et al. 2016): each grade updates the
  probability that the item is a lens by Bayes' rule, given the rater's skill
  P("lens"|lens) and P("not"|not) (``dawid_skene`` keeps the whole 0/1/2 scale);
- agreement between raters: Fleiss' kappa (Fleiss 1971), Krippendorff's
  alpha (Krippendorff 2011) with missing grades, pairwise agreement, each
  rater's bias against the others, and the items on which raters disagree.

Statistics that are undefined (no usable items, no variation) are NaN rather
than errors, so that an empty or just-started campaign still renders.
"""

import numpy as np
from numpy.typing import ArrayLike

GRADES = (0, 1, 2)
LEVELS = ("nominal", "ordinal", "interval")


class ConsensusError(ValueError):
    """Grades or parameters that the consensus maths cannot use."""


def check_grades(grades: ArrayLike) -> np.ndarray:
    """Return ``grades`` as a float64 ``[n_items, n_raters]`` array of 0/1/2/NaN.

    Raises
    ------
    ConsensusError
        If the array is not 2-D or holds a value other than 0, 1, 2 or NaN.
    """
    try:
        array = np.asarray(grades, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ConsensusError(f"Grades must be numbers (0, 1, 2 or NaN): {error}") from None
    if array.ndim != 2:
        raise ConsensusError(
            f"Grades must be a 2-D array [n_items, n_raters], not {array.ndim}-D "
            f"with shape {array.shape}."
        )
    present = array[~np.isnan(array)]
    bad = np.unique(present[~np.isin(present, GRADES)])
    if bad.size:
        raise ConsensusError(
            f"A grade is 0 (non-lens), 1 (possible) or 2 (definite), or NaN if not graded; "
            f"found {', '.join(f'{v:g}' for v in bad[:5])}."
        )
    return array


def total_scores(grades: ArrayLike) -> np.ndarray:
    """He et al.'s total score per item: the sum of the grades present (0-12 for six raters)."""
    return np.nansum(check_grades(grades), axis=1).astype(np.int64)


def n_grades(grades: ArrayLike) -> np.ndarray:
    """Number of grades present per item."""
    return (~np.isnan(check_grades(grades))).sum(axis=1).astype(np.int64)


def total_distribution(totals: np.ndarray, max_total: int) -> list[int]:
    """Number of items with each total score ``0..max_total`` (He et al. Fig. 6).

    Returns a list of ``max_total + 1`` ints.
    """
    totals = np.asarray(totals).ravel()
    if max_total < 0:
        raise ConsensusError(f"max_total must be >= 0, not {max_total}.")
    outside = totals[(totals < 0) | (totals > max_total) | (totals != np.round(totals))]
    if outside.size:
        raise ConsensusError(f"Totals are whole numbers in 0..{max_total}; found {outside[0]}.")
    return np.bincount(totals.astype(np.int64), minlength=max_total + 1).tolist()


def high_probability(totals: ArrayLike, min_total: int = 4) -> np.ndarray:
    """Items in He et al.'s high-probability sample: total score >= ``min_total``."""
    if min_total < 0:
        raise ConsensusError(f"min_total must be >= 0, not {min_total}.")
    return np.asarray(totals) >= min_total


def further_vote(totals: ArrayLike, total: int = 3) -> np.ndarray:
    """Items that He et al. send to a further vote: total score == ``total``."""
    if total < 0:
        raise ConsensusError(f"The further-vote total must be >= 0, not {total}.")
    return np.asarray(totals) == total


#: Default lower bounds of the mean grade (0-2) of classes A, B and C.
#: SuGOHI and HOLISMOKES grade 0-3 and publish A (definite), B (probable) and
#: C (possible) lenses from the mean grade; on this 0-2 scale, A is a mean of
#: 1.5 or more (most inspectors said "definite"), B 1.0-1.5 (on average
#: "possible" or better), C 0.5-1.0 (at least every other inspector saw
#: something). A linear map of their 0-3 thresholds would give other
#: numbers; these are a campaign setting.
CLASS_DEFAULTS = {"A": 1.5, "B": 1.0, "C": 0.5}


def check_class_thresholds(a_min: float, b_min: float, c_min: float) -> tuple[float, float, float]:
    """The lower bounds of classes A, B and C as floats, if 2 >= A > B > C >= 0.

    Raises
    ------
    ConsensusError
        Otherwise, saying which bound is out of order.
    """
    try:
        bounds = tuple(float(v) for v in (a_min, b_min, c_min))
    except (TypeError, ValueError):
        raise ConsensusError("Class bounds are mean grades, numbers in [0, 2].") from None
    for name, value in zip("ABC", bounds, strict=True):
        if not 0 <= value <= max(GRADES):
            raise ConsensusError(
                f"The lower bound of class {name} is a mean grade in [0, 2], not {value:g}."
            )
    if not bounds[0] > bounds[1] > bounds[2]:
        raise ConsensusError(
            "Class bounds must fall from A to C (A > B > C); got "
            f"A {bounds[0]:g}, B {bounds[1]:g}, C {bounds[2]:g}."
        )
    return bounds


def mean_grades(grades: ArrayLike) -> np.ndarray:
    """Mean of the grades present per item (0-2); NaN where there is none."""
    grades = check_grades(grades)
    n = (~np.isnan(grades)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.nansum(grades, axis=1) / np.maximum(n, 1), np.nan)


def grade_classes(
    means: ArrayLike,
    a_min: float = CLASS_DEFAULTS["A"],
    b_min: float = CLASS_DEFAULTS["B"],
    c_min: float = CLASS_DEFAULTS["C"],
) -> np.ndarray:
    """Class "A", "B" or "C" of each mean grade (a bound belongs to the class
    it starts), "" below C or where the mean is NaN (no grade)."""
    a_min, b_min, c_min = check_class_thresholds(a_min, b_min, c_min)
    means = np.asarray(means, np.float64)
    out = np.full(means.shape, "", dtype="<U1")
    out[means >= c_min] = "C"
    out[means >= b_min] = "B"
    out[means >= a_min] = "A"
    return out


def said_lens(grade: ArrayLike) -> np.ndarray:
    """Whether a grade says "lens" to Space Warps, which is binary: 1 or 2 yes, 0 no.

    The same mapping as the skills: P("lens"|lens) counts lenses graded 1 or 2.
    """
    return np.asarray(grade) >= 1


def _check_skill(p_lens, p_not):
    p_lens, p_not = np.asarray(p_lens, np.float64), np.asarray(p_not, np.float64)
    # A skill of exactly 0 or 1 would make one answer certain and the other
    # impossible, so a single grade could pin p to 0 or 1 for ever.
    for name, value in (("P('lens'|lens)", p_lens), ("P('not'|not)", p_not)):
        if not np.all((value > 0) & (value < 1)):
            raise ConsensusError(f"{name} must lie strictly between 0 and 1; got {value}.")
    return p_lens, p_not


def space_warps_update(
    p: ArrayLike, said_lens: ArrayLike, p_lens: ArrayLike, p_not: ArrayLike
) -> np.ndarray:
    """One Space Warps update (Marshall et al. 2016) of the probability ``p`` of a lens.

    Parameters
    ----------
    p : float or array
        Probability that the item is a lens before the grade, in [0, 1].
    said_lens : bool or array
        Whether the rater said "lens" (see :func:`said_lens`).
    p_lens, p_not : float or array
        The rater's skill: P("lens"|lens) and P("not"|not), each in (0, 1).

    Returns
    -------
    ndarray
        p after the grade: ``PL p / (PL p + (1-PD)(1-p))`` if said lens,
        ``(1-PL) p / ((1-PL) p + PD (1-p))`` if not. Arrays broadcast.
    """
    p = np.asarray(p, np.float64)
    if not np.all((p >= 0) & (p <= 1)):
        raise ConsensusError(f"A probability lies in [0, 1]; got {p}.")
    pl, pd = _check_skill(p_lens, p_not)
    yes = np.asarray(said_lens, bool)
    like_lens = np.where(yes, pl, 1 - pl)
    like_not = np.where(yes, 1 - pd, pd)
    # With 0 < PL, PD < 1 both likelihoods are positive, so the denominator is.
    return like_lens * p / (like_lens * p + like_not * (1 - p))


def space_warps_posterior(
    p0: float, grades: ArrayLike, p_lens: ArrayLike, p_not: ArrayLike
) -> np.ndarray:
    """Space Warps posterior per item after every grade present.

    Parameters
    ----------
    p0 : float or array [n_items]
        Prior probability of a lens per item (e.g. the network score mapped
        to the survey prior).
    grades : array [n_items, n_raters]
    p_lens, p_not : array [n_raters]
        Each rater's P("lens"|lens) and P("not"|not).

    Missing grades leave p unchanged. Bayes updates multiply the odds by a
    likelihood ratio each, so the order of the raters does not matter.
    """
    grades = check_grades(grades)
    n_items, n_raters = grades.shape
    pl, pd = _check_skill(p_lens, p_not)
    if pl.shape != (n_raters,) or pd.shape != (n_raters,):
        raise ConsensusError(f"Give one skill per rater ({n_raters}); got {pl.shape}, {pd.shape}.")
    p = np.array(np.broadcast_to(np.asarray(p0, np.float64), (n_items,)))
    for r in range(n_raters):
        graded = ~np.isnan(grades[:, r])
        p[graded] = space_warps_update(p[graded], said_lens(grades[graded, r]), pl[r], pd[r])
    return p


def space_warps_trajectory(
    p0: float, grades_row: ArrayLike, p_lens: ArrayLike, p_not: ArrayLike
) -> list[float]:
    """The p of one item after each grade present, in rater order (a list of floats)."""
    row = check_grades(np.asarray(grades_row, np.float64)[np.newaxis, :])[0]
    pl, pd = _check_skill(p_lens, p_not)
    if pl.shape != row.shape or pd.shape != row.shape:
        raise ConsensusError(f"Give one skill per rater ({row.size}); got {pl.shape}, {pd.shape}.")
    p, path = float(p0), []
    for r in np.flatnonzero(~np.isnan(row)):
        p = float(space_warps_update(p, said_lens(row[r]), pl[r], pd[r]))
        path.append(p)
    return path


def fleiss_terms(counts: ArrayLike) -> tuple[float, float]:
    """Observed and chance agreement ``(P_bar, P_e)`` of Fleiss (1971).

    ``counts[i, j]`` is the number of raters who put item i in category j.
    Items with fewer than 2 ratings cannot show agreement and are ignored.
    Both are NaN when no item is usable.
    """
    counts = np.asarray(counts, np.float64)
    if counts.ndim != 2 or np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ConsensusError("Counts must be a 2-D array [n_items, n_categories] of counts >= 0.")
    n_i = counts.sum(axis=1)
    counts, n_i = counts[n_i >= 2], n_i[n_i >= 2]
    if n_i.size == 0:
        return np.nan, np.nan
    p_i = ((counts**2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_j = counts.sum(axis=0) / n_i.sum()
    return float(p_i.mean()), float((p_j**2).sum())


def fleiss_kappa_from_counts(counts: ArrayLike) -> float:
    """Fleiss' kappa from ``counts[n_items, n_categories]``; NaN when undefined.

    With a varying number of raters per item this is the usual extension
    (P_i over each item's own n_i, p_j pooled); with a fixed number it is
    exactly Fleiss (1971).
    """
    p_bar, p_e = fleiss_terms(counts)
    if np.isnan(p_bar) or p_e == 1:
        return np.nan
    return (p_bar - p_e) / (1 - p_e)


def fleiss_kappa(grades: ArrayLike, categories: tuple[int, ...] = GRADES) -> float:
    """Fleiss' kappa of a campaign's grades over ``categories``; NaN when undefined."""
    grades = check_grades(grades)
    present = grades[~np.isnan(grades)]
    if not np.all(np.isin(present, categories)):
        raise ConsensusError(f"Some grades are not among the categories {tuple(categories)}.")
    counts = np.stack([(grades == c).sum(axis=1) for c in categories], axis=1)
    return fleiss_kappa_from_counts(counts)


def krippendorff_alpha_of(data: ArrayLike, level: str = "ordinal") -> float:
    """Krippendorff's alpha of ``data[n_items, n_raters]`` of any numbers, NaN missing.

    Follows Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability",
    through the coincidence matrix. The values are the distinct values that
    occur; items with fewer than two values are not pairable and are dropped.
    ``level`` is "nominal", "ordinal" or "interval". NaN when there is no
    variation (expected disagreement 0).
    """
    if level not in LEVELS:
        raise ConsensusError(f"level is one of {', '.join(LEVELS)}, not {level!r}.")
    data = np.asarray(data, np.float64)
    if data.ndim != 2:
        raise ConsensusError(f"Data must be 2-D [n_items, n_raters], not shape {data.shape}.")
    if np.isinf(data).any():
        raise ConsensusError("Data must be finite numbers, or NaN where missing.")
    values = np.unique(data[~np.isnan(data)])
    # n_uc: how many times item u got value c; only pairable items count.
    n_uc = (data[:, :, np.newaxis] == values).sum(axis=1).astype(np.float64)
    m_u = n_uc.sum(axis=1)
    n_uc, m_u = n_uc[m_u >= 2], m_u[m_u >= 2]
    # Coincidences: each ordered pair of values within an item, weighted 1/(m_u - 1).
    weighted = n_uc / (m_u - 1)[:, np.newaxis]
    o = weighted.T @ n_uc - np.diag(weighted.sum(axis=0))
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if level == "nominal":
        delta2 = 1.0 - np.eye(values.size)
    elif level == "interval":
        delta2 = (values[:, np.newaxis] - values) ** 2
    else:
        # Ordinal: the number of values between c and k, halving the ends.
        cum = np.cumsum(n_c)
        lo = np.minimum.outer(np.arange(values.size), np.arange(values.size))
        hi = np.maximum.outer(np.arange(values.size), np.arange(values.size))
        delta2 = (cum[hi] - cum[lo] + n_c[lo] - (n_c[lo] + n_c[hi]) / 2) ** 2
    expected = (np.outer(n_c, n_c) * delta2).sum()
    if n < 2 or expected == 0:
        return np.nan
    return float(1 - (n - 1) * (o * delta2).sum() / expected)


def krippendorff_alpha(grades: ArrayLike, level: str = "ordinal") -> float:
    """Krippendorff's alpha of a campaign's grades (see :func:`krippendorff_alpha_of`)."""
    return krippendorff_alpha_of(check_grades(grades), level)


def rater_bias(grades: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each rater's bias against the others: ``(bias, scatter, n)``, arrays [n_raters].

    For each item graded by rater r and at least one other, d = g_r - mean of
    the other grades. ``bias`` is the mean d (grade units; > 0 grades more
    generously), ``scatter`` its standard deviation (ddof=1; NaN with fewer
    than 2 items) and ``n`` the number of such items.
    """
    grades = check_grades(grades)
    present = ~np.isnan(grades)
    sums = np.nansum(grades, axis=1)
    counts = present.sum(axis=1)
    n_raters = grades.shape[1]
    bias, scatter = np.full(n_raters, np.nan), np.full(n_raters, np.nan)
    n = np.zeros(n_raters, np.int64)
    for r in range(n_raters):
        use = present[:, r] & (counts >= 2)
        d = grades[use, r] - (sums[use] - grades[use, r]) / (counts[use] - 1)
        n[r] = d.size
        if d.size >= 1:
            bias[r] = d.mean()
        if d.size >= 2:
            scatter[r] = d.std(ddof=1)
    return bias, scatter, n


def disagreements(grades: ArrayLike, spread: int = 2) -> np.ndarray:
    """Items whose present grades differ by ``spread`` or more (2: a 0 and a 2)."""
    if spread <= 0:
        raise ConsensusError(f"spread must be > 0 (0 would flag every item), not {spread}.")
    grades = check_grades(grades)
    present = ~np.isnan(grades)
    high = np.max(np.where(present, grades, -np.inf), axis=1, initial=-np.inf)
    low = np.min(np.where(present, grades, np.inf), axis=1, initial=np.inf)
    # An item with no grades has high - low = -inf and is not flagged.
    return high - low >= spread


def pairwise_agreement(grades: ArrayLike) -> np.ndarray:
    """Fraction of items graded by both raters on which they agree, ``[n_raters, n_raters]``.

    NaN for a pair who share no item; the diagonal is 1 for every rater with a grade.
    """
    grades = check_grades(grades)
    present = (~np.isnan(grades)).astype(np.float64)
    shared = present.T @ present
    same = sum((grades == g).astype(np.float64).T @ (grades == g) for g in GRADES)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(shared > 0, same / shared, np.nan)


def inspector_codes(inspector_ids: list[int]) -> list[str]:
    """The codes exports and catalogue pages name inspectors by (``I1``,
    ``I2``, ... in the order given), never their logins."""
    return [f"I{n}" for n in range(1, len(inspector_ids) + 1)]
