"""The independent lenstronomy renderer: stamp sets any reader takes,
reproducible, with visible arcs, sharing no code with simulations/."""

import subprocess
import sys

import numpy as np
import pytest

from crosscheck.lenstronomy_sets import NONLENS_SHARES, CrosscheckError, arc_snr, make_set
from simulations.stampset import read_stampset
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def kids(tmp_path_factory):
    out = tmp_path_factory.mktemp("cc") / "kids.fits"
    return read_stampset(make_set("kids-r", 12, 24, 3, out, workers=1))


def test_it_writes_a_stamp_set_with_labels_kinds_and_arcs(kids):
    assert kids.cube.shape == (36, 1, 97, 97) and kids.pixscale_arcsec == 0.21
    assert kids.bands == ["r"] and kids.units == "e-/s"
    lens = kids.labels == 1
    assert lens.sum() == 12 and set(kids.meta["kind"][lens]) == {"lens"}
    assert set(kids.meta["kind"][~lens]) <= set(NONLENS_SHARES)
    theta, snr = np.asarray(kids.meta["theta_e"]), np.asarray(kids.meta["snr"])
    assert np.all((theta[lens] >= 1.0) & (theta[lens] <= 3.5)) and np.all(theta[~lens] == 0)
    assert np.all(snr[lens] > 0) and np.all(snr[~lens] == 0)
    assert np.all(np.isfinite(kids.stamps()))
    psf = np.asarray(kids.meta["psf_fwhm"])
    assert np.all((psf >= 0.55) & (psf <= 0.85))


def test_the_same_seed_gives_the_same_file_and_workers_do_not_matter(tmp_path):
    a = make_set("lsst-g", 3, 3, 9, tmp_path / "a.fits", workers=1)
    b = make_set("lsst-g", 3, 3, 9, tmp_path / "b.fits", workers=2)
    c = make_set("lsst-g", 3, 3, 10, tmp_path / "c.fits", workers=1)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    s = read_stampset(a)
    assert s.cube.shape == (6, 1, 45, 45) and s.pixscale_arcsec == 0.18


def test_gri_lenses_are_red_and_their_arcs_blue(tmp_path):
    s = read_stampset(make_set("kids-gri", 4, 0, 2, tmp_path / "gri.fits", workers=1))
    assert s.bands == ["g", "r", "i"]
    core = s.stamps()[:, :, 46:51, 46:51].sum(axis=(2, 3))
    assert np.all(core[:, 0] < core[:, 2])  # the lens galaxy: fainter in g than in i


def test_arc_snr_is_lanusse_eq_10():
    arc = np.zeros((10, 10))
    arc[2:4, 2:5] = 10.0
    arc[8, 8] = 0.4
    assert arc_snr(arc, 1.0) == pytest.approx(60 / np.sqrt(6))
    assert arc_snr(np.zeros((4, 4)), 1.0) == 0.0


def test_it_refuses_bad_requests_and_leaves_nothing(tmp_path):
    with pytest.raises(CrosscheckError, match="Unknown survey 'hsc-i'"):
        make_set("hsc-i", 1, 1, 0, tmp_path / "x.fits")
    with pytest.raises(CrosscheckError, match="positive number of stamps"):
        make_set("kids-r", 0, 0, 0, tmp_path / "x.fits")
    assert list(tmp_path.iterdir()) == []


def test_it_shares_no_code_with_the_project_simulator():
    code = (
        "import sys; import crosscheck.lenstronomy_sets\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('simulations', 'classifier', 'inspection', 'core')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
