"""Semi-real sets (He et al. 2020 Section 4.2)."""

import numpy as np
import pytest
from astropy.io import fits
from django.core.management import CommandError, call_command

from simulations.semireal import lrg_flux, rotate_and_crop
from simulations.stampset import StampSetWriter, read_stampset


@pytest.fixture
def lrgs(tmp_path):
    """Stand-in 'real' LRG stamps: simulated non-lenses, given ra/dec."""
    path = tmp_path / "lrgs.fits"
    call_command("simulate", "--nonlenses", "12", "--seed", "7", "--out", str(path), verbosity=0)
    return path


def semi(tmp_path, lrg_path, *args):
    out = tmp_path / "semi.fits"
    call_command("simulate", "--semi-real", str(lrg_path), "--out", str(out), *args, verbosity=0)
    return read_stampset(out)


def test_it_adds_arcs_to_real_lrgs_at_the_drawn_brightness(tmp_path, lrgs):
    s = semi(tmp_path, lrgs, "--lenses", "20", "--nonlenses", "10", "--seed", "3")
    source = read_stampset(lrgs)
    assert len(s) == 30 and s.pixscale_arcsec == source.pixscale_arcsec and s.bands == ["r"]
    lens = s.labels == 1
    assert set(s.meta["kind"][lens]) == {"semi-real"} and set(s.meta["kind"][~lens]) == {"real"}
    ratio = np.asarray(s.meta["brightness_ratio"][lens])
    assert np.all((ratio >= 0.02) & (ratio <= 0.12))
    assert np.all(s.meta["theta_e"][lens] >= 1.0)
    # He et al.'s brightness ratio leaves a few arcs of faint LRGs below 0.5
    # sigma in every pixel: S/N 0 by Lanusse et al.'s segmentation.
    snr = np.asarray(s.meta["snr"][lens])
    assert np.all(snr >= 0) and np.mean(snr > 0) >= 0.8
    # Positive = its LRG + an arc: the difference holds the drawn share of the LRG's flux.
    by_id = {i: k for k, i in enumerate(source.ids)}
    base = source.stamps([by_id[i] for i in s.meta["lrg_id"][lens]])
    added = (s.stamps()[lens] - base)[:, 0].sum(axis=(1, 2))
    expected = ratio * lrg_flux(base, s.pixscale_arcsec, 0)
    # Shot noise of the arc and PSF wings outside the stamp allow a few per
    # cent (masked LRG stamps, whose NaN pixels stay NaN, are left out).
    whole = np.isfinite(base).all(axis=(1, 2, 3))
    assert whole.sum() >= 10
    error = np.abs(added - expected)[whole]
    assert np.all(error <= 0.05 * expected[whole] + 3 * np.sqrt(expected[whole]))


def test_negatives_are_rotated_and_cropped_lrgs(tmp_path, lrgs):
    s = semi(tmp_path, lrgs, "--nonlenses", "10", "--seed", "4")
    assert np.all((s.meta["rotation_deg"] >= 0) & (s.meta["rotation_deg"] < 360))
    assert np.all((s.meta["crop_px"] >= 0) & (s.meta["crop_px"] <= 5))
    source = read_stampset(lrgs)
    by_id = {i: k for k, i in enumerate(source.ids)}
    for k in range(len(s)):
        original = source.stamps(by_id[s.meta["lrg_id"][k]])[0]
        # Rotation and cropping keep the galaxy's central brightness.
        c = original.shape[-1] // 2
        assert s.stamps(k)[0, c, c] == pytest.approx(original[c, c], rel=0.2, abs=50)


def test_rotating_by_90_degrees_without_crop_turns_the_stamp():
    stamp = np.zeros((1, 1, 9, 9), np.float32)
    stamp[0, 0, 4, 6] = 1.0  # right of centre
    turned = rotate_and_crop(stamp, np.array([90.0]), np.array([0]), np.random.default_rng(0))
    peak = np.unravel_index(np.argmax(turned[0, 0]), (9, 9))
    assert peak in {(2, 4), (6, 4)}  # moved to above or below the centre (image y axis)
    assert turned[0, 0].sum() == pytest.approx(1.0, abs=0.05)


def test_it_is_reproducible(tmp_path, lrgs):
    a = tmp_path / "a.fits"
    b = tmp_path / "b.fits"
    for out in (a, b):
        call_command("simulate", "--semi-real", str(lrgs), "--lenses", "4", "--nonlenses", "4",
                     "--seed", "5", "--out", str(out), verbosity=0)  # fmt: skip
    assert a.read_bytes() == b.read_bytes()


def test_it_explains_a_wrong_input_and_leaves_nothing(tmp_path):
    not_fits = tmp_path / "lrgs.txt"
    not_fits.write_text("ra,dec\n1,2\n")
    with pytest.raises(CommandError, match="needs a stamp-set file of LRG stamps"):
        semi(tmp_path, not_fits, "--lenses", "2")
    no_psf = tmp_path / "nopsf.fits"
    with StampSetWriter(no_psf, 2, ["r"], (21, 21), 0.2) as w:
        w.write(np.ones((2, 1, 21, 21), np.float32), {"id": ["a", "b"], "label": [-1, -1]})
    with pytest.raises(CommandError, match="has no psf_fwhm column: give the PSF range"):
        semi(tmp_path, no_psf, "--lenses", "2")
    wrong_bands = tmp_path / "ugriz.fits"
    with StampSetWriter(wrong_bands, 1, ["u", "z"], (21, 21), 0.2) as w:
        w.write(np.ones((1, 2, 21, 21), np.float32), {"id": ["a"], "label": [-1]})
    with pytest.raises(CommandError, match="No KiDS-like configuration has the bands u,z"):
        semi(tmp_path, wrong_bands, "--lenses", "2")
    assert not (tmp_path / "semi.fits").exists()
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_a_psf_range_stands_in_for_missing_psf_columns(tmp_path):
    no_psf = tmp_path / "nopsf.fits"
    rng = np.random.default_rng(0)
    with StampSetWriter(no_psf, 3, ["r"], (41, 41), 0.2) as w:
        cube = rng.normal(0, 1, (3, 1, 41, 41)).astype(np.float32)
        cube[:, 0, 18:23, 18:23] += 200
        w.write(cube, {"id": ["a", "b", "c"], "label": [-1, -1, -1]})
    s = semi(tmp_path, no_psf, "--lenses", "3", "--psf-fwhm", "0.6,0.7")
    assert np.all((s.meta["psf_fwhm"] >= 0.6) & (s.meta["psf_fwhm"] <= 0.7))
    with fits.open(tmp_path / "semi.fits") as hdul:
        assert hdul[0].header["PIXSCALE"] == 0.2
