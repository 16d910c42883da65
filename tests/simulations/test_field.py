"""The simulated survey field used by demos and end-to-end tests."""

import json

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from django.core.management import CommandError, call_command

from simulations.field import kids_name, simulate_field


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    folder = tmp_path_factory.mktemp("f") / "field"
    simulate_field(folder, seed=11, n_lenses=6)
    return folder


def test_it_writes_tiles_with_a_celestial_wcs_a_catalogue_and_the_truth(field):
    manifest = json.loads((field / "field.json").read_text())
    assert manifest["bands"] == ["g", "r", "i"] and manifest["counts"]["lens"] == 6
    cat = Table.read(field / "catalogue.fits")
    truth = Table.read(field / "truth.fits")
    for column in ["ID", "RAJ2000", "DECJ2000", "MAG_GAAP_u", "MAG_GAAP_g", "MAG_GAAP_r",
                   "MAG_GAAP_i", "MAG_AUTO", "CLASS_STAR", "FLUX_RADIUS", "FLAG_R"]:  # fmt: skip
        assert column in cat.colnames
    assert cat["RAJ2000"].unit == "deg" and cat["FLUX_RADIUS"].unit == "pix"
    assert list(cat["ID"]) == list(truth["ID"]) and len(set(cat["ID"])) == len(cat)
    for band in "gri":
        with fits.open(field / f"{band}.fits") as hdul:
            header, data = hdul[0].header, hdul[0].data
        wcs = WCS(header)
        assert wcs.has_celestial and header["BAND"] == band and header["PIXSCALE"] == 0.21
        ra, dec = wcs.pixel_to_world_values(truth["x_pix"], truth["y_pix"])
        assert np.allclose(ra, cat["RAJ2000"]) and np.allclose(dec, cat["DECJ2000"])
        assert data.shape == (manifest["size_px"], manifest["size_px"])


def test_objects_sit_where_the_catalogue_says(field):
    truth = Table.read(field / "truth.fits")
    r = fits.getdata(field / "r.fits")
    stars = np.flatnonzero((truth["kind"] == "star") & (truth["mag_r"] < 20))
    for k in stars[:10]:
        x, y = int(round(truth["x_pix"][k])), int(round(truth["y_pix"][k]))
        box = r[y - 3 : y + 4, x - 3 : x + 4]
        peak = np.unravel_index(np.argmax(box), box.shape)
        assert abs(peak[0] - 3) <= 1 and abs(peak[1] - 3) <= 1
        # The star's flux (zero point 33, photons) is in the box.
        expected = 10 ** (-0.4 * (truth["mag_r"][k] - 33.0))
        assert box.sum() == pytest.approx(expected, rel=0.2)


def test_the_colour_cuts_select_the_lrgs_and_the_flags_mask_two(field):
    cat = Table.read(field / "catalogue.fits")
    truth = Table.read(field / "truth.fits")
    g, r, i = (np.asarray(cat[f"MAG_GAAP_{b}"]) for b in "gri")
    c_par = 0.7 * (g - r) + 1.2 * ((r - i) - 0.18)
    c_perp = (r - i) - (g - r) / 4 - 0.18
    detected = np.asarray(cat["MAG_GAAP_u"]) < 90
    selected = (
        (cat["CLASS_STAR"] < 0.8) & detected & (r < 20) & (np.abs(c_perp) < 0.2)
        & (r < 14 + c_par / 0.3)
    )  # fmt: skip
    assert set(truth["kind"][selected]) == {"lrg", "lens"}
    assert selected.sum() == (truth["is_lrg"] | truth["is_lens"]).sum()
    assert (selected & (cat["FLAG_R"] > 0)).sum() == 2  # two LRGs beside the masked stars
    assert (~detected).sum() > 0  # faint objects are u non-detections (99)
    assert np.all(cat["MAG_GAAP_u"][~detected] == 99.0)
    assert truth["x_pix"][truth["is_lrg"]].min() < 30  # some stamps will need padding


def test_lenses_show_blue_arcs_around_them(field):
    truth = Table.read(field / "truth.fits")
    g, r = fits.getdata(field / "g.fits"), fits.getdata(field / "r.fits")

    def annulus_colour(k):
        # A plain LRG has no Einstein radius: look at the ring a lens of 2" would light.
        theta = max(float(truth["theta_e"][k]), 2.0) if truth["is_lens"][k] else 2.0
        x, y = truth["x_pix"][k], truth["y_pix"][k]
        yy, xx = np.mgrid[: r.shape[0], : r.shape[1]]
        d = np.hypot(xx - x, yy - y) * 0.21
        ring = (d > theta - 0.6) & (d < theta + 0.6)
        return g[ring].sum() / r[ring].sum()

    lenses = np.flatnonzero(truth["is_lens"])
    # LRGs that are not lenses (a lens is an LRG too: comparing lenses with
    # themselves tied the medians).
    plain = np.flatnonzero(truth["is_lrg"] & ~truth["is_lens"] & (truth["x_pix"] > 100))[:6]
    assert len(plain) == 6
    assert np.all(truth["theta_e"][lenses] >= 1.0) and np.all(truth["snr"][lenses] >= 25)
    assert np.median([annulus_colour(k) for k in lenses]) > np.median(
        [annulus_colour(k) for k in plain]
    )


def test_it_is_reproducible_and_replaces_a_previous_field(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    simulate_field(a, seed=2, n_lenses=2, n_galaxies=20, n_stars=5, n_lrgs=5, n_faint_red=2,
                   size_px=400)  # fmt: skip
    simulate_field(b, seed=2, n_lenses=2, n_galaxies=20, n_stars=5, n_lrgs=5, n_faint_red=2,
                   size_px=400)  # fmt: skip
    for name in ["g.fits", "r.fits", "i.fits", "catalogue.fits", "truth.fits"]:
        assert (a / name).read_bytes() == (b / name).read_bytes()
    simulate_field(a, seed=3, n_lenses=1, n_galaxies=10, n_stars=5, n_lrgs=5, n_faint_red=2,
                   size_px=400)  # fmt: skip
    assert json.loads((a / "field.json").read_text())["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_it_refuses_bad_requests(tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(CommandError, match="exists and is not a simulated field"):
        call_command("simulate", "--field", str(other), verbosity=0)
    assert (other / "thesis.tex").read_text() == "precious"
    with pytest.raises(CommandError, match="Only LRGs are lensed"):
        call_command("simulate", "--field", str(tmp_path / "x"), "--lenses", "500", verbosity=0)


def test_names_follow_the_kids_convention():
    ra = (2 + 49 / 60 + 8.165 / 3600) * 15
    dec = -(30 + 59 / 60 + 42.405 / 3600)
    assert kids_name(ra, dec) == "KIDS J024908.16-305942.40"
    assert kids_name(0.5, 1.25).startswith("KIDS J000200.00+011500.0")
