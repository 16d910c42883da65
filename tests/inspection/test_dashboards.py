"""inspection.catalogues.dashboards (plotly figures) and
inspection.catalogues.gallery (contact sheets); no database."""

import io
import subprocess
import sys

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

from inspection.catalogues.dashboards import (
    agreement_figure,
    funnel_figure,
    score_vs_consensus_figure,
    sky_figure,
    total_score_figure,
)
from inspection.catalogues.gallery import contact_sheet, label_band_px, title_band_px
from tests.conftest import ROOT

STAGES = [("catalogue", 1e6), ("LRGs", 28815), ("candidates", 8143), ("high probability", 48)]


def no_data(fig):
    return [a.text for a in fig.layout.annotations] == ["no data yet"] and not fig.data


def test_it_imports_no_django():
    code = (
        "import sys, inspection.catalogues.dashboards, inspection.catalogues.gallery\n"
        "print('django' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize(
    "make",
    [
        lambda: funnel_figure([]),
        lambda: total_score_figure([]),
        lambda: score_vs_consensus_figure([], [], [], []),
        lambda: sky_figure([], [], [], []),
        lambda: agreement_figure([], [], [], []),
    ],
)
def test_it_says_no_data_yet_for_empty_inputs(make):
    fig = make()
    assert isinstance(fig, go.Figure)
    assert no_data(fig)
    fig.to_json()


def test_funnel_has_one_stage_per_label_with_the_counts_in_the_text():
    fig = funnel_figure(STAGES)
    (trace,) = fig.data
    assert trace.type == "funnel"
    assert list(trace.y) == [label for label, _ in STAGES]
    assert list(trace.customdata) == [count for _, count in STAGES]
    assert trace.text[1].startswith("28,815 (2.88% of previous)")
    assert list(np.diff(trace.x) < 0) == [True] * 3  # widths shrink with the counts


def test_funnel_refuses_negative_counts():
    with pytest.raises(ValueError, match="finite and >= 0"):
        funnel_figure([("a", 10), ("b", -1)])


def test_total_score_bars_are_the_counts_coloured_by_class():
    counts = [50, 30, 20, 10, 5, 4, 3, 2, 1, 1, 0, 1, 0]
    fig = total_score_figure(counts, min_total=4, vote_total=3)
    bars = {
        int(x): (int(y), trace.marker.color)
        for trace in fig.data
        for x, y in zip(trace.x, trace.y, strict=True)
    }
    assert [bars[k][0] for k in range(13)] == counts
    rejected, vote, high = bars[2][1], bars[3][1], bars[4][1]
    assert len({rejected, vote, high}) == 3
    assert {bars[k][1] for k in range(3)} == {rejected}
    assert {bars[k][1] for k in range(4, 13)} == {high}
    assert [t.name for t in fig.data] == ["rejected", "further vote", "high probability"]
    assert fig.layout.xaxis.title.text == "total score"
    assert fig.layout.yaxis.title.text == "candidates"


def test_total_score_refuses_a_vote_total_above_the_minimum():
    with pytest.raises(ValueError, match="vote_total"):
        total_score_figure([1, 2, 3], min_total=2, vote_total=3)


def test_score_vs_consensus_colours_by_posterior_and_names_the_points():
    fig = score_vs_consensus_figure([0.2, 0.9, 0.99], [1, 6, 9], [0.01, None, 0.98], list("abc"))
    (trace,) = fig.data
    assert list(trace.x) == [0.2, 0.9, 0.99]
    assert list(trace.y) == [1, 6, 9]
    assert trace.marker.color[0] == 0.01 and np.isnan(trace.marker.color[1])
    assert (trace.marker.cmin, trace.marker.cmax) == (0, 1)
    assert list(trace.text) == ["a", "b", "c"]
    fig.to_json()


def test_score_vs_consensus_refuses_lists_of_different_lengths():
    with pytest.raises(ValueError, match="one length"):
        score_vs_consensus_figure([0.2, 0.9], [1], [0.1, 0.2], ["a", "b"])


def test_sky_puts_each_kind_in_its_own_trace_with_the_prior_list_open():
    fig = sky_figure(
        [10.0, 20.0, 30.0, 40.0],
        [-1.0, -2.0, -3.0, -4.0],
        ["n1", "k1", "c1", "n2"],
        ["new", "known", "candidate", "new"],
        prior_ra_deg=[20.0, 50.0],
        prior_dec_deg=[-2.0, -5.0],
        prior_names=["K1", "P2"],
    )
    traces = {t.name: t for t in fig.data}
    assert list(traces) == ["candidate", "known", "new", "prior list"]
    assert list(traces["new"].x) == [10.0, 40.0] and list(traces["new"].y) == [-1.0, -4.0]
    assert list(traces["new"].text) == ["n1", "n2"]
    assert list(traces["known"].x) == [20.0] and list(traces["candidate"].text) == ["c1"]
    assert list(traces["prior list"].text) == ["K1", "P2"]
    assert traces["prior list"].marker.symbol == "circle-open"
    assert fig.layout.xaxis.autorange == "reversed"


def test_sky_keeps_a_field_across_ra_zero_in_one_piece():
    fig = sky_figure([350.0, 355.0, 5.0], [0.0, 1.0, 2.0], list("abc"), ["new"] * 3)
    (trace,) = fig.data
    assert list(trace.x) == [-10.0, -5.0, 5.0]
    assert list(trace.customdata) == [350.0, 355.0, 5.0]  # hover shows the true RA
    assert "350" in fig.layout.xaxis.ticktext and "0" in fig.layout.xaxis.ticktext


def test_sky_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="lens"):
        sky_figure([1.0], [1.0], ["a"], ["lens"])


def test_agreement_shows_bias_with_scatter_and_the_pairwise_matrix_despite_nans():
    pairwise = [[1.0, 0.7, np.nan], [0.7, 1.0, 0.5], [np.nan, 0.5, 1.0]]
    fig = agreement_figure(["AB", "CD", "EF"], [0.3, np.nan, -0.2], [0.1, 0.2, None], pairwise)
    scatter, heatmap = fig.data
    assert list(scatter.x) == ["AB", "CD", "EF"] and scatter.y[0] == 0.3
    assert scatter.error_y.array[1] == 0.2 and np.isnan(scatter.error_y.array[2])
    assert heatmap.type == "heatmap" and list(heatmap.x) == ["AB", "CD", "EF"]
    np.testing.assert_array_equal(heatmap.z, np.array(pairwise))
    assert (scatter.xaxis, heatmap.xaxis) == ("x", "x2")
    fig.to_html(include_plotlyjs=False)


def test_agreement_refuses_a_matrix_of_the_wrong_size():
    with pytest.raises(ValueError, match="2 x 2"):
        agreement_figure(["AB", "CD"], [0, 0], [1, 1], [[1.0]])


# --- gallery -------------------------------------------------------------------


def solid(colour, size=40):
    return np.full((size, size, 3), colour, np.uint8)


def decode(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_the_sheet_has_columns_times_rows_cells_with_a_label_band_each():
    tiles, labels = [solid((0, 0, 255))] * 7, ["KIDS J085446.55-012137.14\np=0.998  total 9"] * 7
    image = decode(contact_sheet(tiles, labels, columns=3, tile_px=64))
    band = label_band_px(labels, 64)
    assert band > 0
    assert image.shape == (3 * (64 + band), 3 * 64, 3)
    titled = decode(contact_sheet(tiles, labels, columns=3, tile_px=64, title="run 7"))
    assert titled.shape == (3 * (64 + band) + title_band_px(64), 3 * 64, 3)


def test_a_two_line_label_gets_a_taller_band():
    assert label_band_px(["a\nb"], 192) > label_band_px(["a"], 192)


def test_a_tile_lands_in_its_cell_and_its_label_is_written_under_it():
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 0, 255)]
    tiles, labels = [solid(c, size=33) for c in colours], ["one", "two", "KIDS J0854", "four"]
    image = decode(contact_sheet(tiles, labels, columns=2, tile_px=192, title="t"))
    top, cell = title_band_px(192), 192 + label_band_px(labels, 192)
    red_cell = image[top + cell : top + cell + 192, 0:192]  # third tile: row 1, column 0
    assert (red_cell == (255, 0, 0)).all()
    green_cell = image[top : top + 192, 192:384]
    assert (green_cell == (0, 255, 0)).all()
    text = image[top + cell + 192 : top + 2 * cell, 0:192]
    assert (text.min(axis=2) > 200).sum() > 30  # white glyphs on the dark band
    assert (image[top + 192 : top + cell, 0:192].min(axis=2) > 200).any()
    assert (image[:top].min(axis=2) > 200).any()  # the title


def test_float_stamps_are_stretched_and_big_ones_shrunk():
    stamp = np.zeros((300, 300))
    stamp[:, 150:] = 100.0
    image = decode(contact_sheet([stamp], ["grey"], tile_px=100))
    assert image.shape[1] == 100
    assert image[50, 10].max() < 30 and image[50, 90].min() > 225
    assert (image[50, 90, 0] == image[50, 90]).all()  # grey


def test_mismatched_labels_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="one label per tile"):
        contact_sheet([solid(0)] * 2, ["a"])
    with pytest.raises(ValueError, match="columns"):
        contact_sheet([solid(0)], ["a"], columns=0)
    with pytest.raises(ValueError, match="RGB image"):
        contact_sheet([np.zeros((4, 4, 4))], ["a"])


def test_no_tiles_give_a_small_png_that_says_so():
    image = decode(contact_sheet([], []))
    assert 0 < image.shape[0] < 100 and image.shape[1] > 100
    assert (image.min(axis=2) > 200).sum() > 30
