"""The completeness maths of injected lenses (pure, no database): bins,
network x inspectors, Wilson intervals, the figure."""

import numpy as np
import pytest

from classifier.experiments import wilson
from inspection.completeness import completeness as comp


def test_it_bins_values_into_bins_of_about_equal_counts():
    edges = comp.bin_edges(np.arange(100.0), 4)
    assert len(edges) == 5 and edges[0] == 0 and edges[-1] == 99
    rows = comp.completeness_by_bin(np.arange(100.0), *([np.ones(100, bool)] * 3), edges=edges)
    assert [r.injected for r in rows] == [25, 25, 25, 25]


def test_the_largest_value_falls_in_the_last_bin_and_nan_in_none():
    values = np.array([1.0, 2.0, 3.0, np.nan])
    rows = comp.completeness_by_bin(values, *([np.ones(4, bool)] * 3), edges=[1.0, 2.0, 3.0])
    assert [r.injected for r in rows] == [1, 2]


def test_tied_values_make_one_bin_not_empty_ones():
    assert list(comp.bin_edges([2.0] * 5)) == [2.0, 2.0]
    rows = comp.completeness_by_bin([2.0] * 5, *([np.ones(5, bool)] * 3))
    assert [r.injected for r in rows] == [5]


def test_end_to_end_is_kept_over_injected_with_its_wilson_interval_once_all_are_decided():
    passed = np.array([1, 1, 1, 1, 0, 0, 1, 0, 1, 1], bool)  # 7 of 10 pass the network
    kept = np.array([1, 0, 1, 1, 0, 0, 0, 0, 1, 0], bool)  # 4 of those 7 are kept
    row = comp.completeness_row(passed, np.ones(10, bool), kept)
    assert (row.injected, row.passed, row.decided, row.kept) == (10, 7, 7, 4)
    assert row.p_network == pytest.approx(0.7) and row.p_inspectors == pytest.approx(4 / 7)
    assert row.end_to_end == pytest.approx(0.7 * 4 / 7) == pytest.approx(0.4)
    assert row.end_to_end_interval == wilson(4, 10) and not row.provisional


def test_an_injection_missed_by_the_network_is_missed_whatever_the_kept_flag_says():
    row = comp.completeness_row([False, True], [True, True], [True, True])
    assert row.kept == 1 and row.end_to_end == pytest.approx(0.5)


def test_while_grading_goes_on_it_multiplies_the_two_fractions_and_says_provisional():
    passed = np.array([1, 1, 1, 1, 0], bool)
    decided = np.array([1, 1, 0, 0, 0], bool)
    kept = np.array([1, 0, 0, 0, 0], bool)
    row = comp.completeness_row(passed, decided, kept)
    assert row.provisional and row.decided == 2
    assert row.end_to_end == pytest.approx(0.8 * 0.5)
    (net_lo, net_hi), (insp_lo, insp_hi) = wilson(4, 5), wilson(1, 2)
    assert row.end_to_end_interval == pytest.approx((net_lo * insp_lo, net_hi * insp_hi))


def test_nothing_decided_yet_gives_no_end_to_end_and_no_injection_gives_none():
    assert comp.completeness_row([True], [False], [False]).end_to_end is None
    empty = comp.completeness_row([], [], [])
    assert empty.injected == 0 and empty.end_to_end is None and empty.p_network is None


def test_nothing_passing_the_network_is_zero_completeness():
    row = comp.completeness_row([False] * 4, [False] * 4, [False] * 4)
    assert row.end_to_end == 0 and row.end_to_end_interval == wilson(0, 4)


def test_the_inspectors_keep_what_reaches_the_high_probability_total():
    assert list(comp.kept_by_inspectors([3, 4, 12], 4)) == [False, True, True]


def test_unequal_inputs_are_refused():
    with pytest.raises(ValueError, match="one length"):
        comp.completeness_by_bin([1.0, 2.0], [True], [True], [True])


def test_the_figure_has_one_panel_per_quantity_with_error_bars():
    values = np.linspace(0.5, 3, 20)
    flags = [np.ones(20, bool), np.ones(20, bool), np.arange(20) % 2 == 0]
    tables = {axis: comp.completeness_by_bin(values, *flags) for axis in comp.AXES}
    fig = comp.completeness_figure(tables)
    assert len(fig.data) == 2 * len(comp.AXES)
    end = fig.data[0]
    assert end.name == "end to end" and end.error_y.array is not None
    assert comp.completeness_figure({}).layout.annotations  # "no injected lenses"
