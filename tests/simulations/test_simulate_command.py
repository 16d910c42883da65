"""`manage.py simulate`: stamp sets on disk, reproducible, streamed, with clear errors."""

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from core.display import label_band_px
from simulations.generate import CHUNK
from simulations.stampset import read_stampset


def simulate(tmp_path, name="set.fits", *args, **kwargs):
    out = tmp_path / name
    call_command("simulate", "--out", str(out), *args, verbosity=0, **kwargs)
    return out


def test_it_writes_a_labelled_kids_set_with_the_stampset_metadata(tmp_path):
    out = simulate(tmp_path, "set.fits", "--lenses", "30", "--nonlenses", "20", "--seed", "4")
    s = read_stampset(out)
    assert len(s) == 50 and s.cube.shape[1:] == (1, 97, 97)
    assert s.pixscale_arcsec == 0.21 and s.bands == ["r"] and s.survey == "KiDS-like"
    assert (s.labels == 1).sum() == 30 and (s.labels == 0).sum() == 20
    for column in [
        "id",
        "label",
        "kind",
        "theta_e",
        "snr",
        "psf_fwhm",
        "noise_sigma",
        "z_lens",
        "z_source",
        "sigma_v",
        "source_mag",
        "magnification",
    ]:
        assert column in s.meta.colnames
    lens = s.labels == 1
    assert np.all(s.meta["theta_e"][lens] >= 1.0) and np.all(s.meta["theta_e"][~lens] == 0)
    assert np.all(s.meta["snr"][lens] > 0) and np.all(s.meta["snr"][~lens] == 0)
    # Masked pixels (NaN) only in the stamps META marks, never at the centre.
    finite = np.isfinite(s.stamps()).all(axis=(1, 2, 3))
    assert np.array_equal(~finite, np.asarray(s.meta["masked"]))
    assert np.isfinite(s.stamps()[:, :, 44:53, 44:53]).all()
    # The noise level is what the metadata says: check it on the stamp borders.
    border = np.concatenate(
        [s.stamps()[:, 0, :5, :].reshape(50, -1), s.stamps()[:, 0, -5:, :].reshape(50, -1)], 1
    )
    med = np.nanmedian(border, 1, keepdims=True)
    measured = np.nanmedian(np.abs(border - med), 1) * 1.4826
    assert np.median(measured / s.meta["noise_sigma"]) == pytest.approx(1.0, abs=0.15)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = simulate(tmp_path, "a.fits", "--lenses", "5", "--nonlenses", "5", "--seed", "9")
    b = simulate(tmp_path, "b.fits", "--lenses", "5", "--nonlenses", "5", "--seed", "9")
    c = simulate(tmp_path, "c.fits", "--lenses", "5", "--nonlenses", "5", "--seed", "10")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_it_streams_several_chunks(tmp_path):
    n = CHUNK + 7
    out = simulate(
        tmp_path, "big.fits", "--lenses", str(n), "--nonlenses", "0", "--survey", "lsst-g"
    )
    s = read_stampset(out)
    assert len(s) == n and len(set(s.ids)) == n and s.cube.shape[1:] == (1, 45, 45)
    # Chunks draw independent streams: no two stamps are the same.
    flat = s.stamps().reshape(n, -1)
    assert len(np.unique(flat[:, 1000])) == n


def test_it_simulates_gri_with_red_lenses_and_blue_sources(tmp_path):
    out = simulate(tmp_path, "gri.fits", "--survey", "kids-gri", "--lenses", "8", "--seed", "2")
    s = read_stampset(out)
    assert s.bands == ["g", "r", "i"]
    for band in "gri":
        assert f"psf_fwhm_{band}" in s.meta.colnames and f"noise_sigma_{band}" in s.meta.colnames
    centre = s.stamps()[:, :, 46:51, 46:51].sum(axis=(2, 3))
    assert np.all(centre[:, 0] < centre[:, 2])  # the lens is red: fainter in g than in i


def test_it_narrows_the_psf_on_request(tmp_path):
    out = simulate(tmp_path, "psf.fits", "--lenses", "6", "--psf-fwhm", "0.9,1.0")
    psf = read_stampset(out).meta["psf_fwhm"]
    assert np.all((psf >= 0.9) & (psf <= 1.0))


def test_it_writes_a_contact_sheet_with_a_row_per_kind_and_subkind(tmp_path):
    sheet = tmp_path / "sheet.png"
    out = simulate(
        tmp_path,
        "s.fits",
        "--lenses",
        "20",
        "--nonlenses",
        "60",
        "--seed",
        "1",
        "--contact-sheet",
        str(sheet),
    )
    meta = read_stampset(out).meta
    groups = {(str(k), str(s)) for k, s in zip(meta["kind"], meta["subkind"], strict=True)}
    assert len(groups) >= 10  # lens configurations and look-alike subkinds
    with Image.open(sheet) as img:
        assert img.mode == "RGB" and img.size[0] == 150 + 8 * 97 * 1
        # Rows of 97 px stamps plus a caption line: one row per group.
        assert img.size[1] == len(groups) * (97 + label_band_px(["one line"], 97))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--survey", "euclid-vis", "--lenses", "1"], "Unknown survey 'euclid-vis': choose one of"),
        (["--lenses", "-3"], "whole number >= 0"),
        (["--lenses", "0", "--nonlenses", "0"], "Nothing to simulate"),
        (["--lenses", "1", "--psf-fwhm", "0.9"], "give a range in arcsec as LOW,HIGH"),
        (["--lenses", "1", "--psf-fwhm", "0.9,0.5"], "need 0 < LOW <= HIGH"),
    ],
)
def test_it_explains_bad_input(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        simulate(tmp_path, "bad.fits", *args)
    assert list(tmp_path.iterdir()) == []


def test_it_refuses_an_unwritable_output_and_leaves_nothing(tmp_path):
    with pytest.raises(CommandError, match="the folder .* does not exist"):
        call_command("simulate", "--lenses", "1", "--out", str(tmp_path / "no" / "x.fits"))
    # /proc takes no new files, even from root.
    with pytest.raises(CommandError, match="Cannot write /proc/lensfinder-test.fits"):
        call_command("simulate", "--lenses", "1", "--out", "/proc/lensfinder-test.fits")
    with pytest.raises(CommandError, match="is a directory"):
        call_command("simulate", "--lenses", "1", "--out", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_it_prints_the_shortcut_audit_and_warns_of_a_shortcut(tmp_path):
    import io
    import json

    from simulations.surveys import get_survey

    out, err = io.StringIO(), io.StringIO()
    call_command("simulate", "--lenses", "60", "--nonlenses", "60", "--seed", "2", "--out",
                 str(tmp_path / "fair.fits"), stdout=out, stderr=err)  # fmt: skip
    text = out.getvalue()
    assert "Shortcut audit" in text and "concentration" in text and "noise_sigma" in text
    assert "Warning" not in err.getvalue()
    # Glaring arcs on plain ellipticals: the lenses' fluxes give the label away.
    config = get_survey("kids-r")
    config["source"].update(snr_min=3000.0)
    config["nonlens_kinds"] = {"elliptical": 1.0}
    survey = tmp_path / "glaring.json"
    survey.write_text(json.dumps(config))
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate", "--survey", str(survey), "--lenses", "60", "--nonlenses", "60",
                 "--out", str(tmp_path / "shortcut.fits"), stdout=out, stderr=err)  # fmt: skip
    assert "<-- shortcut" in out.getvalue()
    assert "Warning: total_flux" in err.getvalue() or "Warning: flux_1" in err.getvalue()
