"""inspection.ingest.lrg_cuts: the LRG selection of He et al. 2020 (no database)."""

import numpy as np
import pytest
from astropy.table import Table

from inspection.ingest.lrg_cuts import LRGCuts, c_par, c_perp, merge_funnels, select
from inspection.ingest.sources import read_catalogue

# An LRG that passes every default cut: g-r = 1.4, r-i = 0.5, so
# c_par = 1.364, c_perp = -0.03 and 14 + c_par/0.3 = 18.547 > MAG_AUTO.
LRG = dict(ra=35.0, dec=-33.0, mag_u=21.2, mag_g=19.4, mag_r=18.0, mag_i=17.5,
           mag_auto=17.9, class_star=0.02, flux_radius=8.0, flag_r=0)  # fmt: skip


def chunk(n=None, **columns):
    """Rows of LRGs, with ``columns`` (arrays) replacing some of their values."""
    n = n or len(next(iter(columns.values())))
    out = {k: np.full(n, v, np.int64 if k == "flag_r" else np.float64) for k, v in LRG.items()}
    out["id"] = np.array([f"s{k}" for k in range(n)])
    out.update({k: np.asarray(v) for k, v in columns.items()})
    return out


def after(selection, prefix):
    """Sources left after the funnel step whose label starts with ``prefix``."""
    (count,) = [c for label, c in selection.funnel if label.startswith(prefix)]
    return count


def test_it_computes_the_eisenstein_colours():
    assert c_par(19.4, 18.0, 17.5) == pytest.approx(0.7 * 1.4 + 1.2 * (0.5 - 0.18))
    assert c_perp(19.4, 18.0, 17.5) == pytest.approx(0.5 - 1.4 / 4 - 0.18)


def test_it_selects_a_typical_lrg():
    selection = select(chunk(n=1))
    assert selection.is_lrg.tolist() == [True] and selection.is_refined.tolist() == [True]
    assert [count for _, count in selection.funnel] == [1] * 9


def test_it_keeps_only_valid_coordinates():
    s = select(chunk(ra=[0.0, 359.99, 360.0, -0.1, np.nan, 35, 35, 35],
                     dec=[0.0, 0.0, 0.0, 0.0, 0.0, 90.0, -90.5, np.nan]))  # fmt: skip
    assert s.valid_coords.tolist() == [True, True, False, False, False, True, False, False]
    assert after(s, "valid coordinates") == 3


def test_it_cuts_class_star_inclusively_at_both_ends():
    s = select(chunk(class_star=[0.0, 0.5, -0.01, 0.51, np.nan]))
    assert s.is_lrg.tolist() == [True, True, False, False, False]


def test_it_reproduces_the_papers_printed_class_star_window():
    cuts = LRGCuts(class_star_min=0.01, class_star_max=0.03)
    s = select(chunk(class_star=[0.0, 0.01, 0.02, 0.03, 0.2]), cuts)
    assert s.is_lrg.tolist() == [False, True, True, True, False]


def test_it_cuts_flux_radius_in_pixels_between_5_and_30():
    s = select(chunk(flux_radius=[5.0, 30.0, 4.99, 30.01, np.nan]))
    assert s.is_lrg.tolist() == [True, True, False, False, False]


def test_it_requires_detection_in_u_g_r_and_i():
    s = select(
        chunk(mag_u=[21.2, np.nan, 99.0, 21.2, 21.2], mag_g=[19.4, 19.4, 19.4, np.nan, 99.0])
    )
    assert after(s, "detected in u,g,r,i") == 1
    assert s.is_lrg.tolist() == [True, False, False, False, False]


def test_it_can_drop_the_u_band_requirement():
    s = select(chunk(mag_u=[np.nan, 99.0]), LRGCuts(require_ugri_detection=False))
    assert s.is_lrg.tolist() == [True, True]


def test_it_cuts_r_below_20_with_mag_auto():
    # Red enough (c_par ~ 2.4) that the c_par cut does not bite near r = 20.
    red = dict(mag_g=[21.8] * 4, mag_r=[20.0] * 4, mag_i=[19.3] * 4, mag_u=[23.0] * 4)
    s = select(chunk(mag_auto=[19.99, 20.0, 20.01, np.nan], **red))
    assert after(s, "r < 20") == 1
    assert s.is_lrg.tolist() == [True, False, False, False]


def test_it_can_cut_on_the_gaap_r_magnitude_instead():
    s = select(chunk(mag_auto=[21.0, 17.9], mag_r=[18.0, 21.0]), LRGCuts(r_magnitude="mag_r"))
    assert after(s, "r < 20") == 1 and s.is_lrg.tolist()[0]


def test_it_cuts_c_perp_at_plus_and_minus_0_2():
    # r - i = c_perp + (g - r)/4 + 0.18 with g - r = 1.4.
    wanted = np.array([0.199, -0.199, 0.201, -0.201])
    s = select(chunk(mag_i=18.0 - (wanted + 1.4 / 4 + 0.18), mag_auto=[15.0] * 4))
    np.testing.assert_allclose(s.c_perp, wanted)
    assert s.is_lrg.tolist() == [True, True, False, False]


def test_it_cuts_r_below_14_plus_c_par_over_0_3():
    limit = 14 + c_par(19.4, 18.0, 17.5) / 0.3
    s = select(chunk(mag_auto=[limit - 0.01, limit + 0.01]))
    assert after(s, "|c_perp|") == 2
    assert after(s, "r < 14 + c_par/0.3") == 1
    assert s.is_lrg.tolist() == [True, False]


def test_it_refines_lrgs_with_flag_r_zero():
    s = select(chunk(flag_r=[0, 4, -1], class_star=[0.02, 0.02, 0.9]))
    assert s.is_lrg.tolist() == [True, True, False]
    assert s.is_refined.tolist() == [True, False, False]
    assert s.funnel[-1] == ("refined (FLAG_R = 0)", 1)


def test_it_builds_funnel_labels_from_the_thresholds():
    labels = [
        label for label, _ in select(chunk(n=1), LRGCuts(r_max=21.5, c_par_offset=13.5)).funnel
    ]
    assert labels == [
        "sources in",
        "valid coordinates",
        "extended (0 <= CLASS_STAR <= 0.5)",
        "size (5 <= FLUX_RADIUS <= 30)",
        "detected in u,g,r,i",
        "r < 21.5",
        "|c_perp| < 0.2",
        "r < 13.5 + c_par/0.3",
        "refined (FLAG_R = 0)",
    ]


def random_chunk(n, seed):
    rng = np.random.default_rng(seed)
    r = rng.uniform(15, 22, n)
    g, i = r + rng.uniform(0, 2, n), r - rng.uniform(0, 1, n)
    return chunk(ra=rng.uniform(-10, 370, n), dec=rng.uniform(-95, 95, n),
                 mag_u=np.where(rng.random(n) < 0.1, 99.0, g + 1.5), mag_g=g, mag_r=r, mag_i=i,
                 mag_auto=r + rng.normal(0, 0.1, n), class_star=rng.uniform(0, 1, n),
                 flux_radius=rng.uniform(1, 40, n), flag_r=rng.integers(0, 3, n))  # fmt: skip


def test_its_funnel_never_grows():
    counts = [count for _, count in select(random_chunk(5000, seed=1)).funnel]
    assert counts[0] == 5000
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False))
    assert counts[-1] > 0 and counts[-2] > counts[-1]


def test_it_merges_the_funnels_of_chunks_into_that_of_the_whole():
    whole = random_chunk(3000, seed=2)
    parts = [{k: v[start : start + 1000] for k, v in whole.items()} for start in (0, 1000, 2000)]
    merged = merge_funnels([select(part).funnel for part in parts])
    assert merged == select(whole).funnel
    assert merge_funnels([]) == []


def test_it_refuses_to_merge_funnels_of_different_cuts():
    a = select(chunk(n=2)).funnel
    b = select(chunk(n=2), LRGCuts(r_max=21)).funnel
    with pytest.raises(ValueError, match="same LRGCuts"):
        merge_funnels([a, b])


def test_its_cuts_round_trip_through_a_dict():
    cuts = LRGCuts(class_star_max=0.03, r_max=19.5, refined_flag_r=1, r_magnitude="mag_r")
    assert LRGCuts.from_dict(cuts.to_dict()) == cuts
    assert LRGCuts.from_dict({"r_max": 21}).r_max == 21.0
    assert LRGCuts.from_dict({}) == LRGCuts()


def test_it_rejects_an_unknown_cut_naming_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown LRG cut\(s\) r_min.*c_perp_max"):
        LRGCuts.from_dict({"r_min": 15})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"class_star_min": 0.6}, "class_star_min .* above class_star_max"),
        ({"flux_radius_max": 2.0}, "flux_radius_min .* above flux_radius_max"),
        ({"c_par_scale": 0.0}, "c_par_scale must be > 0"),
        ({"c_perp_max": -0.2}, "c_perp_max must be > 0"),
        ({"r_max": float("nan")}, "r_max must be a finite number"),
        ({"r_max": "20"}, "r_max must be a finite number"),
        ({"refined_flag_r": 0.5}, "refined_flag_r must be an integer"),
        ({"require_ugri_detection": "yes"}, "require_ugri_detection must be True or False"),
        ({"r_magnitude": "MAG_AUTO"}, "r_magnitude must be one of mag_auto, mag_r"),
    ],
)
def test_it_rejects_invalid_thresholds(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LRGCuts(**kwargs)


# --- The simulated field -------------------------------------------------------


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    from simulations.field import simulate_field

    folder, _ = simulate_field(tmp_path_factory.mktemp("lrg") / "field", seed=3)
    truth = Table.read(folder / "truth.fits")
    chunks = list(read_catalogue(folder / "catalogue.fits", chunk_rows=100))
    catalogue = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    assert catalogue["id"].tolist() == list(truth["ID"])
    return chunks, catalogue, truth


def selected(chunks, cuts):
    selections = [select(c, cuts) for c in chunks]
    return (
        np.concatenate([s.is_lrg for s in selections]),
        np.concatenate([s.is_refined for s in selections]),
        merge_funnels([s.funnel for s in selections]),
    )


def test_it_selects_the_simulated_fields_lrgs_except_those_smaller_than_5_pixels(field):
    # simulate_field draws LRG half-light radii from 0.8", so an LRG can have
    # FLUX_RADIUS < 5 px and fail the paper's size cut (seed 3: one of 40).
    chunks, catalogue, truth = field
    is_lrg, is_refined, funnel = selected(chunks, LRGCuts())
    big = catalogue["flux_radius"] >= 5.0
    np.testing.assert_array_equal(is_lrg, truth["is_lrg"] & big)
    np.testing.assert_array_equal(is_refined, truth["is_lrg"] & big & ~truth["masked"])
    assert funnel[0] == ("sources in", len(truth))
    assert funnel[-2][1] == is_lrg.sum() and funnel[-1][1] == is_refined.sum()


def test_it_selects_exactly_the_simulated_fields_lrgs_with_a_4_pixel_size_cut(field):
    chunks, _, truth = field
    is_lrg, is_refined, _ = selected(chunks, LRGCuts(flux_radius_min=4.0))
    assert truth["is_lens"].sum() > 0 and (is_lrg[truth["is_lens"]]).all()
    np.testing.assert_array_equal(is_lrg, truth["is_lrg"])
    np.testing.assert_array_equal(is_refined, truth["is_lrg"] & ~truth["masked"])
