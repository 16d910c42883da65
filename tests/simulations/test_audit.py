"""The shortcut audit: single no-learning summaries must not tell lenses
from non-lenses in the shipped survey defaults, and must catch a set that
hands a network a shortcut."""

import numpy as np
import pytest

from simulations import audit
from simulations.generate import simulate_stampset
from simulations.stampset import StampSetWriter, read_stampset


def toy_set(rng, n=400, lens_radius=1.0, lens_noise=1.0):
    """Gaussian blobs in noise: lenses' blobs ``lens_radius`` times wider and
    their noise ``lens_noise`` times higher than the non-lenses'."""
    labels = np.repeat([1, 0], n // 2)
    yy, xx = np.mgrid[:61, :61] - 30.0
    width = np.where(labels == 1, 3.0 * lens_radius, 3.0) * rng.uniform(0.8, 1.2, n)
    flux = 3e4 * rng.uniform(0.5, 2.0, n)
    blob = np.exp(-0.5 * (xx**2 + yy**2)[None] / width[:, None, None] ** 2)
    blob *= (flux / (2 * np.pi * width**2))[:, None, None]
    noise = np.where(labels == 1, lens_noise, 1.0)[:, None, None]
    stamps = blob + 10 * noise * rng.standard_normal((n, 61, 61))
    return stamps[:, None].astype(np.float32), labels


def test_a_fair_set_passes():
    stamps, labels = toy_set(np.random.default_rng(0))
    result = audit.Audit(0.2)
    result.add(stamps, labels)
    values = result.result()
    assert audit.problems(values) == []
    assert values["n_lenses"] == 200 and values["concentration"] == pytest.approx(0.5, abs=0.1)


def test_bigger_lens_galaxies_are_flagged():
    stamps, labels = toy_set(np.random.default_rng(1), lens_radius=2.0)
    values = audit.aucs(audit.summaries(stamps, 0.2), labels)
    flagged = " ".join(audit.problems(values))
    assert "concentration" in flagged and "peak" in flagged
    assert values["concentration"] < 0.2


def test_noise_that_depends_on_the_label_is_flagged():
    stamps, labels = toy_set(np.random.default_rng(2), n=2000, lens_noise=1.15)
    values = audit.aucs(audit.summaries(stamps, 0.2), labels)
    assert [p.split()[0] for p in audit.problems(values)] == ["noise_sigma"]


def test_small_sets_are_judged_within_their_standard_error():
    # 20 + 20 stamps measure an AUC only to +- 0.09: 0.62 is not a finding.
    values = {"noise_sigma": 0.62, "peak": 0.99, "n_lenses": 20, "n_nonlenses": 20}
    assert [p.split()[0] for p in audit.problems(values)] == ["peak"]
    assert audit.auc_standard_error(20, 20) == pytest.approx(0.0932, abs=1e-3)


@pytest.mark.parametrize("survey, n", [("kids-r", 600), ("kids-gri", 400), ("lsst-g", 1500)])
def test_the_shipped_survey_defaults_pass_and_store_it_in_the_header(tmp_path, survey, n):
    out = simulate_stampset(survey, n, n, 5, tmp_path / "set.fits", compile=False)
    header = read_stampset(out).header
    stored = audit.from_header(header)
    assert header["AUD_PASS"] is True and stored["n_lenses"] == n
    assert set(stored) >= set(audit.SUMMARIES)
    for name, value in stored.items():
        if name in audit.SUMMARIES:
            low, high = audit.NOISE_AUC_RANGE if name == "noise_sigma" else audit.AUC_RANGE
            se = audit.auc_standard_error(n, n)
            assert low - 2 * se <= value <= high + 2 * se, name
    # The stored figures are the audit of the file as read back.
    again = audit.audit_stampset(read_stampset(out))
    assert again["peak"] == pytest.approx(stored["peak"], abs=1e-4)


def test_a_set_of_one_class_has_no_audit(tmp_path):
    path = tmp_path / "one.fits"
    with StampSetWriter(path, 2, ["r"], (21, 21), 0.2, header={"AUD_PEAK": -1.0}) as writer:
        writer.write(np.zeros((2, 1, 21, 21)), {"id": ["a", "b"], "label": [1, 1]})
    assert audit.from_header(read_stampset(path).header) == {}
    assert audit.audit_stampset(read_stampset(path)) == {}
