"""Consensus maths: hand-computed examples, published values and an independent route."""

import subprocess
import sys

import krippendorff
import numpy as np
import pytest

from inspection.catalogues.consensus import (
    LEVELS,
    ConsensusError,
    check_grades,
    disagreements,
    fleiss_kappa,
    fleiss_kappa_from_counts,
    fleiss_terms,
    further_vote,
    high_probability,
    krippendorff_alpha,
    krippendorff_alpha_of,
    n_grades,
    pairwise_agreement,
    rater_bias,
    said_lens,
    space_warps_posterior,
    space_warps_trajectory,
    space_warps_update,
    total_distribution,
    total_scores,
)
from tests.conftest import ROOT

N = np.nan
GRADES = [[2, 2, 1], [0, N, 0], [0, 2, 1], [N, N, N]]

# Fleiss (1971) as worked on Wikipedia's "Fleiss' kappa": 10 subjects, 14 raters, 5 categories.
FLEISS_COUNTS = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]  # fmt: skip

# Krippendorff (2011), observers A-D (rows) by units 1-12 (columns).
KRIPPENDORFF_DATA = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
])  # fmt: skip


def random_grades(seed, n_items=40, n_raters=5, missing=0.3):
    rng = np.random.default_rng(seed)
    grades = rng.integers(0, 3, (n_items, n_raters)).astype(float)
    grades[rng.random(grades.shape) < missing] = np.nan
    return grades


def test_the_module_imports_neither_django_nor_torch():
    code = (
        "import sys, inspection.catalogues.consensus\n"
        "print('django' in sys.modules, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "False False", done.stderr


def test_check_grades_returns_a_float_array():
    grades = check_grades([[0, 1], [2, N]])
    assert grades.dtype == np.float64 and grades.shape == (2, 2)


def test_a_grade_of_3_is_refused_with_the_value_named():
    with pytest.raises(ConsensusError, match=r"0 \(non-lens\), 1 \(possible\) or 2.*found 3"):
        check_grades([[0, 3], [1, 2]])


def test_a_fractional_grade_is_refused():
    with pytest.raises(ConsensusError, match="found 0.5"):
        total_scores([[0.5, 1]])


def test_a_1d_array_is_refused_with_its_shape():
    with pytest.raises(ConsensusError, match=r"2-D array \[n_items, n_raters\], not 1-D"):
        check_grades([0, 1, 2])


def test_text_grades_are_refused():
    with pytest.raises(ConsensusError, match="must be numbers"):
        check_grades([["lens", "0"]])


def test_total_scores_and_n_grades_skip_missing_grades():
    assert total_scores(GRADES).tolist() == [5, 0, 3, 0]
    assert n_grades(GRADES).tolist() == [3, 2, 3, 0]
    assert total_scores(GRADES).dtype.kind == "i"


def test_total_distribution_counts_items_per_total():
    assert total_distribution([5, 0, 3, 0], 6) == [2, 0, 0, 1, 0, 1, 0]


def test_total_distribution_refuses_a_total_above_the_maximum():
    with pytest.raises(ConsensusError, match=r"0\.\.4; found 5"):
        total_distribution([5, 0], 4)


def test_high_probability_and_further_vote_follow_he_et_al():
    totals = [5, 0, 3, 4, 12]
    assert high_probability(totals).tolist() == [True, False, False, True, True]
    assert further_vote(totals).tolist() == [False, False, True, False, False]
    assert high_probability(totals, min_total=5).tolist() == [True, False, False, False, True]


def test_negative_thresholds_are_refused():
    with pytest.raises(ConsensusError, match="min_total"):
        high_probability([1], min_total=-1)
    with pytest.raises(ConsensusError, match="further-vote"):
        further_vote([1], total=-3)


def test_said_lens_is_true_for_1_and_2():
    assert said_lens([0, 1, 2]).tolist() == [False, True, True]


def test_space_warps_update_matches_hand_computation():
    # PL = 0.8, PD = 0.9, p = 0.5: lens 0.4 / (0.4 + 0.05); not 0.1 / (0.1 + 0.45).
    assert space_warps_update(0.5, True, 0.8, 0.9) == pytest.approx(8 / 9)
    assert space_warps_update(0.5, False, 0.8, 0.9) == pytest.approx(2 / 11)
    both = space_warps_update([0.5, 0.5], [True, False], 0.8, 0.9)
    assert both == pytest.approx([8 / 9, 2 / 11])


def test_space_warps_refuses_skills_of_0_or_1_and_probabilities_outside_0_1():
    with pytest.raises(ConsensusError, match=r"P\('lens'\|lens\) must lie strictly"):
        space_warps_update(0.5, True, 1.0, 0.9)
    with pytest.raises(ConsensusError, match=r"P\('not'\|not\)"):
        space_warps_update(0.5, True, 0.8, 0.0)
    with pytest.raises(ConsensusError, match=r"\[0, 1\]"):
        space_warps_update(1.5, True, 0.8, 0.9)


def test_space_warps_posterior_and_trajectory_match_hand_computation():
    # Odds 1 x (0.8 / 0.1) x (0.4 / 0.7) = 32/7, so p = 32/39; a missing grade does nothing.
    p_lens, p_not = [0.8, 0.6, 0.7], [0.9, 0.7, 0.6]
    posterior = space_warps_posterior([0.5, 0.2], [[2, 0, N], [N, N, N]], p_lens, p_not)
    assert posterior == pytest.approx([32 / 39, 0.2])
    path = space_warps_trajectory(0.5, [2, N, 0], [0.8, 0.7, 0.6], [0.9, 0.6, 0.7])
    assert path == pytest.approx([8 / 9, 32 / 39])


def test_space_warps_posterior_matches_the_odds_form():
    grades = random_grades(1)
    rng = np.random.default_rng(2)
    p0 = rng.uniform(0.01, 0.99, len(grades))
    p_lens, p_not = rng.uniform(0.3, 0.95, (2, grades.shape[1]))
    present, yes = ~np.isnan(grades), grades >= 1
    ratio = np.where(yes, p_lens / (1 - p_not), (1 - p_lens) / p_not)
    odds = p0 / (1 - p0) * np.prod(np.where(present, ratio, 1.0), axis=1)
    assert space_warps_posterior(p0, grades, p_lens, p_not) == pytest.approx(odds / (1 + odds))


def test_space_warps_posterior_does_not_depend_on_rater_order():
    grades = random_grades(3)
    rng = np.random.default_rng(4)
    p_lens, p_not = rng.uniform(0.3, 0.95, (2, grades.shape[1]))
    order = rng.permutation(grades.shape[1])
    forward = space_warps_posterior(0.1, grades, p_lens, p_not)
    shuffled = space_warps_posterior(0.1, grades[:, order], p_lens[order], p_not[order])
    assert not np.allclose(forward, 0.1)
    assert shuffled == pytest.approx(forward, rel=1e-12)


def test_space_warps_posterior_needs_one_skill_per_rater():
    with pytest.raises(ConsensusError, match=r"one skill per rater \(3\)"):
        space_warps_posterior(0.5, GRADES, [0.8, 0.8], [0.9, 0.9])


def test_fleiss_kappa_matches_fleiss_1971_table():
    p_bar, p_e = fleiss_terms(FLEISS_COUNTS)
    assert round(p_bar, 3) == 0.378 and round(p_e, 3) == 0.213
    assert round(fleiss_kappa_from_counts(FLEISS_COUNTS), 3) == 0.210


def test_fleiss_kappa_matches_hand_computation_ignoring_singly_graded_items():
    # P_i = 1, 1, 0 so P_bar = 2/3; p_j = 3/6, 2/6, 1/6 so P_e = 7/18; kappa = 5/11.
    assert fleiss_kappa([[0, 0], [1, 1], [2, 0], [2, N]]) == pytest.approx(5 / 11)


def test_fleiss_kappa_is_nan_when_undefined():
    assert np.isnan(fleiss_kappa([[1, 1], [1, 1]]))  # everyone in one category: P_e = 1
    assert np.isnan(fleiss_kappa(np.empty((0, 6))))
    assert np.isnan(fleiss_kappa([[0], [2]]))  # a single rater


def test_krippendorff_alpha_matches_krippendorff_2011():
    published = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}
    for level, alpha in published.items():
        assert round(krippendorff_alpha_of(KRIPPENDORFF_DATA.T, level), 3) == alpha, level


def test_krippendorff_alpha_agrees_with_the_krippendorff_package_on_random_grades():
    for seed in range(5):
        grades = random_grades(seed, n_items=30, n_raters=4, missing=0.4)
        for level in LEVELS:
            expected = krippendorff.alpha(reliability_data=grades.T, level_of_measurement=level)
            assert krippendorff_alpha(grades, level) == pytest.approx(expected, abs=1e-12)


def test_krippendorff_alpha_is_1_for_perfect_agreement_and_nan_without_variation():
    assert krippendorff_alpha([[0, 0, N], [2, 2, 2], [1, N, 1]]) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha([[1, 1], [1, 1]]))
    assert np.isnan(krippendorff_alpha(np.empty((0, 6))))
    assert np.isnan(krippendorff_alpha([[0], [2]]))  # a single rater pairs nothing


def test_krippendorff_alpha_refuses_an_unknown_level():
    with pytest.raises(ConsensusError, match="nominal, ordinal, interval, not 'ratio'"):
        krippendorff_alpha(GRADES, "ratio")


def test_rater_bias_matches_hand_computation():
    # Rater 0: d = 2 - 0.5, 1 - 1; rater 1: d = 1 - 1, 1 - 1; rater 2: d = 0 - 1.5.
    bias, scatter, n = rater_bias([[2, 1, 0], [1, 1, N], [0, N, N]])
    assert bias == pytest.approx([0.75, 0.0, -1.5])
    assert scatter[:2] == pytest.approx([0.75 * np.sqrt(2), 0.0]) and np.isnan(scatter[2])
    assert n.tolist() == [2, 2, 1]


def test_rater_bias_of_a_single_rater_is_nan():
    bias, scatter, n = rater_bias([[0], [2]])
    assert np.isnan(bias[0]) and np.isnan(scatter[0]) and n.tolist() == [0]


def test_disagreements_flag_a_0_and_a_2():
    grades = [[0, 2, N], [0, 1, 1], [N, N, N], [2, N, N]]
    assert disagreements(grades).tolist() == [True, False, False, False]
    assert disagreements(grades, spread=1).tolist() == [True, True, False, False]


def test_pairwise_agreement_matches_hand_computation():
    grades = [[0, 0, N, N], [1, 2, 1, N], [2, 2, N, N], [N, N, 0, 2]]
    agree = pairwise_agreement(grades)
    assert agree[0, 1] == pytest.approx(2 / 3) and agree[1, 0] == pytest.approx(2 / 3)
    assert agree[0, 2] == 1.0 and agree[1, 2] == 0.0 and agree[2, 3] == 0.0
    assert np.isnan(agree[0, 3]) and np.isnan(agree[1, 3])
    assert np.diag(agree).tolist() == [1.0, 1.0, 1.0, 1.0]


def test_an_empty_campaign_gives_empty_results():
    empty = np.empty((0, 6))
    assert total_scores(empty).size == 0 and n_grades(empty).size == 0
    assert total_distribution(total_scores(empty), 12) == [0] * 13
    assert space_warps_posterior(0.5, empty, [0.8] * 6, [0.9] * 6).size == 0
    assert disagreements(empty).size == 0
    bias, _, n = rater_bias(empty)
    assert np.all(np.isnan(bias)) and n.tolist() == [0] * 6
    assert pairwise_agreement(empty).shape == (6, 6)


def test_an_all_missing_campaign_gives_zero_totals_and_nan_statistics():
    missing = np.full((3, 4), np.nan)
    assert total_scores(missing).tolist() == [0, 0, 0]
    assert np.isnan(fleiss_kappa(missing)) and np.isnan(krippendorff_alpha(missing))
    assert space_warps_posterior(0.3, missing, [0.8] * 4, [0.9] * 4) == pytest.approx([0.3] * 3)
