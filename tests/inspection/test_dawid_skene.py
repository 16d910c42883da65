"""Dawid-Skene consensus: against hand computation and brute force on tiny
cases, against Space Warps where the scale is binary, and against simulated
graders whose confusion matrices and truths are known."""

import itertools
import subprocess
import sys

import numpy as np
import pytest

from core.stats import rank_auc
from inspection.catalogues import consensus
from inspection.catalogues import dawid_skene as ds
from tests.conftest import ROOT

# Six graders of differing skill: confusion[r, k, g] = P(grade g | class k),
# k 0 non-lens, 1 lens. The third is "generous": a 1 for most non-lenses, a 2
# for most lenses, so that a 1 and a 2 (both "lens" to Space Warps) mean
# different things; the fourth guesses.
GRADERS = np.array([
    [[0.90, 0.08, 0.02], [0.05, 0.25, 0.70]],  # expert
    [[0.80, 0.15, 0.05], [0.10, 0.35, 0.55]],  # good
    [[0.15, 0.80, 0.05], [0.05, 0.15, 0.80]],  # generous
    [[0.34, 0.33, 0.33], [0.33, 0.33, 0.34]],  # guesses
    [[0.97, 0.02, 0.01], [0.60, 0.30, 0.10]],  # harsh
    [[0.50, 0.30, 0.20], [0.30, 0.35, 0.35]],  # noisy
])  # fmt: skip


def simulated_campaign(seed, n_items=4000, lens_fraction=0.3, n_known=50):
    """Candidates (truth hidden) then ``n_known`` known lenses and as many
    known non-lenses, all graded by every grader of GRADERS."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(n_items) < lens_fraction).astype(int)
    known = np.r_[np.ones(n_known), np.zeros(n_known)].astype(int)
    every = np.r_[truth, known]
    item, rater, grade = ds.simulate_grades(GRADERS, every, rng)
    clamp = np.r_[np.full(n_items, np.nan), known]
    return truth, every, item, rater, grade, clamp


def bayes_by_hand(confusion, grades_of_item, prior):
    """P(lens) of one item: prior x product of P(g | lens) over both classes."""
    lens, other = prior, 1 - prior
    for rater, g in grades_of_item:
        lens *= confusion[rater][1][g]
        other *= confusion[rater][0][g]
    return lens / (lens + other)


def test_it_turns_a_grade_matrix_into_one_entry_per_grade():
    item, rater, grade = ds.observations([[2, np.nan, 0], [np.nan, 1, np.nan]])
    assert list(zip(item, rater, grade, strict=True)) == [(0, 0, 2), (0, 2, 0), (1, 1, 1)]


def test_it_simulates_grades_with_the_given_confusion():
    rng = np.random.default_rng(0)
    truth = np.r_[np.ones(20000), np.zeros(20000)].astype(int)
    item, rater, grade = ds.simulate_grades(GRADERS[:2], truth, rng)
    for r, k in itertools.product(range(2), range(2)):
        mine = grade[(rater == r) & (truth[item] == k)]
        freq = np.bincount(mine, minlength=3) / mine.size
        assert np.allclose(freq, GRADERS[r, k], atol=0.015), (r, k, freq)
    # p_graded leaves out grades at random.
    item, _, _ = ds.simulate_grades(GRADERS, truth, rng, p_graded=0.5)
    assert item.size == pytest.approx(0.5 * truth.size * len(GRADERS), rel=0.02)


def test_it_gives_the_smoothed_counts_when_every_truth_is_known():
    """With no hidden class, EM has nothing to infer: the matrices are the
    counts of each grade per class plus alpha, over the row total plus 3 alpha."""
    rng = np.random.default_rng(3)
    n_items, n_raters = 30, 4
    truth = rng.integers(0, 2, n_items)
    grades = rng.integers(0, 3, (n_items, n_raters)).astype(float)
    grades[rng.random(grades.shape) < 0.3] = np.nan
    for alpha in (1.0, 0.5):
        fit = ds.fit(*ds.observations(grades), n_items, n_raters, truth=truth, alpha=alpha)
        for r, k in itertools.product(range(n_raters), range(2)):
            counts = [0, 0, 0]
            for i in range(n_items):
                if truth[i] == k and not np.isnan(grades[i, r]):
                    counts[int(grades[i, r])] += 1
            expected = [(c + alpha) / (sum(counts) + 3 * alpha) for c in counts]
            assert fit.confusion[r, k].tolist() == pytest.approx(expected, rel=1e-12)
            assert fit.expected_counts[r, k].tolist() == counts
        assert fit.posterior.tolist() == truth.tolist() and fit.converged


def test_one_items_posterior_is_the_exact_bayes_product():
    confusion = [
        [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]],
        [[0.5, 0.4, 0.1], [0.2, 0.2, 0.6]],
        [[0.6, 0.3, 0.1], [0.3, 0.3, 0.4]],
    ]
    grades = [(0, 2), (1, 1), (2, 0)]
    for prior in (0.2, 1e-3, 0.999):
        p = ds.posterior(confusion, [0, 0, 0], [r for r, _ in grades], [g for _, g in grades],
                         [prior])  # fmt: skip
        assert p[0] == pytest.approx(bayes_by_hand(confusion, grades, prior), rel=1e-12)
    # An item without a grade keeps its prior.
    assert ds.posterior(confusion, [0], [0], [2], [0.5, 0.3])[1] == pytest.approx(0.3)


def test_the_fitted_posteriors_are_bayes_products_of_the_fitted_matrices():
    truth, _, item, rater, grade, clamp = simulated_campaign(1, n_items=300)
    prior = np.random.default_rng(2).uniform(0.01, 0.99, truth.size + 100)
    fit = ds.fit(item, rater, grade, truth.size + 100, 6, prior=prior, truth=clamp)
    for i in (0, 7, 123):
        mine = [(int(r), int(g)) for it, r, g in zip(item, rater, grade, strict=True) if it == i]
        assert fit.posterior[i] == pytest.approx(
            bayes_by_hand(fit.confusion, mine, prior[i]), rel=1e-9
        )
    assert fit.posterior[truth.size :].tolist() == clamp[truth.size :].tolist()


def test_it_maximises_its_objective_as_brute_force_does_on_a_tiny_case():
    """Two raters, four items, one known lens and one known non-lens: the
    EM optimum of the objective (MAP matrices with Dirichlet(1 + alpha)) is
    no worse than any point of a random search around it, and EM never lowers it."""
    item, rater, grade = [0, 0, 1, 1, 2, 2, 3, 3], [0, 1] * 4, [2, 1, 0, 0, 2, 2, 1, 0]
    truth = np.array([1, 0, np.nan, np.nan])
    prior = np.array([np.nan, np.nan, 0.3, 0.6])
    fit = ds.fit(item, rater, grade, 4, 2, prior=prior, truth=truth, tol=1e-12)
    assert fit.converged and np.all(np.diff(fit.objective) >= -1e-12)
    args = (np.array(item), np.array(rater), np.array(grade), prior, truth)
    best = ds.log_objective(fit.confusion, fit.campaign_prior, *args)
    assert best == pytest.approx(fit.objective[-1])
    rng = np.random.default_rng(0)
    for _ in range(2000):
        step = rng.normal(0, 0.3, fit.confusion.shape)
        trial = fit.confusion * np.exp(step)
        trial /= trial.sum(axis=2, keepdims=True)
        assert ds.log_objective(trial, fit.campaign_prior, *args) <= best + 1e-9


def test_em_never_lowers_its_objective_on_a_simulated_campaign():
    truth, _, item, rater, grade, clamp = simulated_campaign(4, n_items=1000)
    fit = ds.fit(item, rater, grade, truth.size + 100, 6, truth=clamp)
    assert fit.converged and len(fit.objective) == fit.n_iter + 1 > 2
    assert np.all(np.diff(fit.objective) >= -1e-9 * abs(fit.objective[0]))


def test_binary_matrices_give_the_space_warps_posterior():
    """A matrix that splits "lens" evenly between 1 and 2 carries only the
    Space Warps skill: then both posteriors are the same Bayes rule."""
    p_lens, p_not = np.array([0.9, 0.6, 0.75]), np.array([0.8, 0.55, 0.7])
    confusion = np.stack(
        [
            np.stack([p_not, (1 - p_not) / 2, (1 - p_not) / 2], axis=1),
            np.stack([1 - p_lens, p_lens / 2, p_lens / 2], axis=1),
        ],
        axis=1,
    )
    rng = np.random.default_rng(5)
    grades = rng.integers(0, 3, (50, 3)).astype(float)
    grades[rng.random(grades.shape) < 0.3] = np.nan
    prior = rng.uniform(0.01, 0.99, 50)
    mine = ds.posterior(confusion, *ds.observations(grades), prior)
    theirs = consensus.space_warps_posterior(prior, grades, p_lens, p_not)
    assert np.allclose(mine, theirs, rtol=1e-10)


def test_it_recovers_simulated_graders_matrices():
    """4000 candidates (30% lenses) and 100 known items: each fitted entry
    within four binomial standard errors (plus the smoothing's pull) of the
    grader's true one, with and without the known items."""
    truth, every, item, rater, grade, clamp = simulated_campaign(6)
    n = every.size
    for known in (clamp, None):
        fit = ds.fit(item, rater, grade, n, 6, truth=known)
        n_class = np.array([(every == 0).sum(), (every == 1).sum()])[np.newaxis, :, np.newaxis]
        tolerance = 4 * np.sqrt(GRADERS * (1 - GRADERS) / n_class) + 3 / n_class
        assert np.all(np.abs(fit.confusion - GRADERS) < tolerance), np.abs(
            fit.confusion - GRADERS
        ).max()
    # Without a prior per item the campaign prior is fitted: the lens fraction.
    assert fit.campaign_prior == pytest.approx(every.mean(), abs=0.02)


def test_its_ranking_beats_the_summed_total_and_space_warps_when_graders_differ():
    truth, _, item, rater, grade, clamp = simulated_campaign(7, n_items=2000)
    n = truth.size
    fit = ds.fit(item, rater, grade, n + 100, 6, truth=clamp)
    grades = np.full((n + 100, 6), np.nan)
    grades[item, rater] = grade
    candidates, known = grades[:n], grades[n:]
    # Space Warps with skills measured on the same known items, as Skill counts them.
    p_lens = ((known[:50] >= 1).sum(axis=0) + 1) / (50 + 2)
    p_not = ((known[50:] == 0).sum(axis=0) + 1) / (50 + 2)
    sw = consensus.space_warps_posterior(fit.campaign_prior, candidates, p_lens, p_not)
    lens = truth == 1
    auc_ds = rank_auc(fit.posterior[:n], lens)
    auc_total = rank_auc(consensus.total_scores(candidates), lens)
    auc_sw = rank_auc(sw, lens)
    assert auc_ds > auc_total + 0.01 and auc_ds > auc_sw + 0.005, (auc_ds, auc_total, auc_sw)


def test_a_rater_with_few_grades_gets_no_entry_of_0_or_1():
    fit = ds.fit([0, 1], [0, 0], [2, 0], 2, 2, truth=[1, 0])
    assert np.all((fit.confusion > 0) & (fit.confusion < 1))
    assert fit.confusion[0, 1].tolist() == pytest.approx([0.25, 0.25, 0.5])
    # A rater without a grade says nothing: rows of 1/3.
    assert np.allclose(fit.confusion[1], 1 / 3)


def test_a_rater_seen_only_on_known_items_still_weighs_the_candidates():
    """Rater 1 grades only known items, rater 0 only candidates: rater 1's
    matrix comes from the known items alone and leaves candidates alone;
    an item with a single grade, and one with none, are fine."""
    item, rater, grade = [0, 1, 2, 3, 4], [0, 0, 1, 1, 1], [2, 1, 2, 0, 2]
    truth = [np.nan, np.nan, 1, 0, 1, np.nan]
    prior = [0.5, 0.5, np.nan, np.nan, np.nan, 0.2]
    fit = ds.fit(item, rater, grade, 6, 2, prior=prior, truth=truth)
    assert fit.confusion[1, 1].tolist() == pytest.approx([1 / 5, 1 / 5, 3 / 5], rel=1e-6)
    assert fit.confusion[1, 0].tolist() == pytest.approx([2 / 4, 1 / 4, 1 / 4], rel=1e-6)
    assert fit.posterior[5] == pytest.approx(0.2)  # no grade: its prior
    assert 0 < fit.posterior[1] < fit.posterior[0] < 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grade": [3]}, "grade is 0, 1 or 2"),
        ({"grade": [1.5]}, "whole numbers"),
        ({"rater": [2]}, "rater indices"),
        ({"item": [0, 0]}, "one length"),
        ({"prior": [0.0]}, "strictly between 0 and 1"),
        ({"truth": [0.5]}, "0 .non-lens. or 1"),
        ({"alpha": 0}, "pseudo-count"),
        ({"max_iter": 0}, "max_iter"),
        ({"prior": [0.5, 0.5]}, "one value per item"),
    ],
)
def test_it_refuses_what_it_cannot_use(kwargs, message):
    args = {"item": [0], "rater": [0], "grade": [1], "n_items": 1, "n_raters": 2, **kwargs}
    with pytest.raises(ds.DawidSkeneError, match=message):
        ds.fit(**args)


def test_it_refuses_a_confusion_matrix_with_a_zero_or_a_wrong_shape():
    with pytest.raises(ds.DawidSkeneError, match="positive and sums to 1"):
        ds.posterior([[[1, 0, 0], [0.2, 0.3, 0.5]]], [0], [0], [1], [0.5])
    with pytest.raises(ds.DawidSkeneError, match=r"\[n_raters, 2, 3\]"):
        ds.posterior([[0.2, 0.3, 0.5]], [0], [0], [1], [0.5])


def test_an_empty_campaign_fits_to_its_priors():
    fit = ds.fit([], [], [], 2, 3, prior=[0.1, np.nan])
    assert fit.posterior[0] == pytest.approx(0.1)
    assert fit.posterior[1] == pytest.approx(fit.campaign_prior)
    assert np.allclose(fit.confusion, 1 / 3)


# --- Grade classes (consensus.grade_classes) ---------------------------------------


def test_grade_classes_follow_the_mean_grade_with_bounds_in_the_class_they_start():
    grades = [[2, 2, 1], [2, 1, np.nan], [1, 1, 1], [1, 0, np.nan], [1, 0, 0], [np.nan] * 3]
    means = consensus.mean_grades(grades)
    assert means[:5].tolist() == pytest.approx([5 / 3, 1.5, 1.0, 0.5, 1 / 3])
    assert np.isnan(means[5])
    assert consensus.grade_classes(means).tolist() == ["A", "A", "B", "C", "", ""]
    assert consensus.grade_classes(means, 1.8, 1.2, 0.2).tolist() == ["B", "B", "C", "C", "C", ""]


@pytest.mark.parametrize(
    ("bounds", "message"),
    [((1.0, 1.0, 0.5), "A > B > C"), ((1.5, 0.4, 0.5), "A > B > C"),
     ((2.5, 1.0, 0.5), "class A is a mean grade in"), ((1.5, 1.0, -0.1), "class C"),
     (("x", 1, 0), "numbers")],
)  # fmt: skip
def test_grade_class_bounds_out_of_order_or_range_are_refused(bounds, message):
    with pytest.raises(consensus.ConsensusError, match=message):
        consensus.check_class_thresholds(*bounds)
    with pytest.raises(consensus.ConsensusError):
        consensus.grade_classes([1.0], *bounds)


def test_the_bench_script_compares_the_rankings_on_a_simulated_campaign():
    done = subprocess.run(
        [sys.executable, "bench/dawid_skene.py", "--candidates", "300", "--seeds", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    for label in ("summed total", "Space Warps posterior", "Dawid-Skene posterior"):
        assert f"AUC {label}" in done.stdout, done.stdout
