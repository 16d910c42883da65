"""Semi-real sets (He et al. 2020 Section 4.2)."""

import numpy as np
import pytest
from astropy.io import fits
from django.core.management import CommandError, call_command

from simulations.semireal import dihedral, lrg_flux, rotate_and_crop
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
    assert set(s.meta["subkind"][lens]) == {"lensed"}
    ratio = np.asarray(s.meta["brightness_ratio"][lens])
    assert np.all((ratio >= 0.02) & (ratio <= 0.12))
    assert np.all(s.meta["theta_e"][lens] >= 1.0)
    # He et al.'s brightness ratio leaves a few arcs of faint LRGs below 0.5
    # sigma in every pixel: S/N 0 by Lanusse et al.'s segmentation.
    snr = np.asarray(s.meta["snr"][lens])
    assert np.all(snr >= 0) and np.mean(snr > 0) >= 0.8
    # Positive = its LRG, turned and mirrored as recorded, + an arc: the
    # difference holds the drawn share of the LRG's flux.
    by_id = {i: k for k, i in enumerate(source.ids)}
    base = dihedral(
        source.stamps([by_id[i] for i in s.meta["lrg_id"][lens]]),
        np.asarray(s.meta["rotation_deg"][lens]) // 90,
        np.asarray(s.meta["flipped"][lens]),
    )
    added = (s.stamps()[lens] - base)[:, 0].sum(axis=(1, 2))
    expected = ratio * lrg_flux(base, s.pixscale_arcsec, 0)
    # Shot noise of the arc and PSF wings outside the stamp allow a few per
    # cent (masked LRG stamps, whose NaN pixels stay NaN, are left out).
    whole = np.isfinite(base).all(axis=(1, 2, 3))
    assert whole.sum() >= 10
    error = np.abs(added - expected)[whole]
    assert np.all(error <= 0.05 * expected[whole] + 3 * np.sqrt(expected[whole]))


def test_he_et_al_rotation_and_crop_turns_both_classes(tmp_path, lrgs):
    s = semi(tmp_path, lrgs, "--lenses", "10", "--nonlenses", "10", "--seed", "4",
             "--semi-real-transform", "rotate-crop")  # fmt: skip
    assert len(set(np.round(s.meta["rotation_deg"][s.labels == 1], 3))) == 10
    assert np.all((s.meta["rotation_deg"] >= 0) & (s.meta["rotation_deg"] < 360))
    assert np.all((s.meta["crop_px"] >= 0) & (s.meta["crop_px"] <= 5))
    source = read_stampset(lrgs)
    by_id = {i: k for k, i in enumerate(source.ids)}
    for k in np.flatnonzero(s.labels == 0):
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
    with pytest.raises(CommandError, match="No survey configuration has the bands u,z"):
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


def audit_noise_auc(path):
    with fits.open(path) as hdul:
        return hdul[0].header["AUD_NOIS"]


@pytest.mark.parametrize("transform", ["dihedral", "rotate-crop"])
def test_both_classes_share_the_noise_of_their_lrgs(tmp_path, lrgs, transform):
    # He et al. resampled the negatives only: their smoother noise told them
    # apart (noise-sigma AUC far from 0.5). Both classes are turned alike now.
    semi(tmp_path, lrgs, "--lenses", "150", "--nonlenses", "150", "--seed", "8",
         "--semi-real-transform", transform)  # fmt: skip
    assert 0.4 <= audit_noise_auc(tmp_path / "semi.fits") <= 0.6


def test_non_lenses_carry_look_alike_features_as_bright_as_arcs(tmp_path, lrgs):
    s = semi(tmp_path, lrgs, "--nonlenses", "60", "--seed", "9")
    source = read_stampset(lrgs)
    by_id = {i: k for k, i in enumerate(source.ids)}
    featured = np.flatnonzero(s.meta["subkind"] != "plain")
    kinds = {str(k).split("/")[0] for k in s.meta["subkind"][featured]}
    assert len(featured) >= 10 and kinds <= {"ring", "tidal", "alignment", "compact", "group"}
    assert len(kinds) >= 2
    ratio = np.asarray(s.meta["brightness_ratio"])
    assert np.all((ratio[featured] >= 0.02) & (ratio[featured] <= 0.12))
    assert np.all(ratio[s.meta["subkind"] == "plain"] == 0)
    base = dihedral(
        source.stamps([by_id[i] for i in s.meta["lrg_id"][featured]]),
        np.asarray(s.meta["rotation_deg"][featured]) // 90,
        np.asarray(s.meta["flipped"][featured]),
    )
    added = (s.stamps(featured) - base)[:, 0].sum(axis=(1, 2))
    expected = ratio[featured] * lrg_flux(base, s.pixscale_arcsec, 0)
    whole = np.isfinite(base).all(axis=(1, 2, 3))
    assert np.median((added / expected)[whole]) == pytest.approx(1.0, abs=0.1)


def test_rows_and_bands_restrict_the_draws(tmp_path):
    from simulations.semireal import semireal_stampset

    gri = tmp_path / "gri.fits"
    call_command("simulate", "--survey", "kids-gri", "--nonlenses", "10", "--seed", "2",
                 "--out", str(gri), verbosity=0)  # fmt: skip
    source = read_stampset(gri)
    out = tmp_path / "r.fits"
    semireal_stampset(gri, 8, 8, 1, out, rows=[2, 5], bands=["r"])
    s = read_stampset(out)
    assert s.bands == ["r"] and set(s.meta["lrg_id"]) <= {source.ids[2], source.ids[5]}
    plain = np.flatnonzero((s.labels == 0) & (s.meta["subkind"] == "plain"))
    k = plain[0]
    original = source.stamps(list(source.ids).index(s.meta["lrg_id"][k]))[1]
    turned = dihedral(original[None, None], [s.meta["rotation_deg"][k] // 90],
                      [s.meta["flipped"][k]])[0, 0]  # fmt: skip
    np.testing.assert_array_equal(s.stamps(k)[0], turned)
    with pytest.raises(Exception, match="has bands g,r,i, not z"):
        semireal_stampset(gri, 2, 2, 1, tmp_path / "z.fits", bands=["z"])
    with pytest.raises(Exception, match="non-empty selection"):
        semireal_stampset(gri, 2, 2, 1, tmp_path / "e.fits", rows=[])
