"""Temperatures in the scorer, test-time augmentation over D4 and committees:
the scorer against the same sums done by hand, and committees registered,
refused and loaded through the command and ``services.load_scorer``."""

import io
import json

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command
from scipy.special import expit

from classifier.inference import Committee, Scorer, supported_variants
from classifier.models import Network
from classifier.networks import build
from classifier.preprocessing import Preprocessor, resample
from classifier.services import (
    SHIPPED_DIR,
    NetworkError,
    evaluate,
    load_scorer,
    make_committee,
)
from core.files import sha256_of
from simulations import render
from simulations.surveys import get_survey


@pytest.fixture(scope="module")
def cnns():
    """The shipped kids-r CNN and a freshly initialised one, with the
    shipped preprocessor at 0.42"/px (the binned input; the shipped network
    reads native 0.21"/px crops): these tests are about TTA and committees,
    and binned stamps make preprocessing exact under rotation."""
    manifest = json.loads((SHIPPED_DIR / "kids-r-cnn.json").read_text())
    shipped = build("he2020-cnn")
    state = torch.load(SHIPPED_DIR / "kids-r-cnn.pt", weights_only=True)
    shipped.load_state_dict({k: v.float() for k, v in state.items()})
    torch.manual_seed(0)
    fresh = build("he2020-cnn")
    pre = Preprocessor.from_dict({**manifest["preprocessing"], "pixscale_arcsec": 0.42})
    return shipped.eval(), fresh.eval(), pre


@pytest.fixture(scope="module")
def stamps():
    """KiDS-r lenses and non-lenses binned to the CNN's 49 px at 0.42"/px, so
    that preprocessing them is exact under rotation (no resampling)."""
    labels = np.repeat(np.array([1, 0], np.int16), 12)
    raw, _ = render.simulate_batch(get_survey("kids-r"), labels, np.random.default_rng(7))
    return resample(raw, 0.21, 0.42, 49).numpy()


D4 = [lambda s, k=k: np.rot90(s, k, axes=(-2, -1)) for k in range(4)] + [
    lambda s, k=k: np.rot90(s, k, axes=(-2, -1))[..., ::-1] for k in range(4)
]


@pytest.mark.parametrize("variant", supported_variants("cpu"))
def test_tta_gives_a_stamp_and_its_rotations_and_flips_the_same_score(cnns, stamps, variant):
    model, _, pre = cnns
    tta = Scorer(model, pre, "cpu", batch_size=16, variant=variant, output="log-odds", tta=True)
    plain = Scorer(model, pre, "cpu", batch_size=16, variant=variant, output="log-odds")
    base, plain_base = tta.score(stamps, 0.42), plain.score(stamps, 0.42)
    for transform in D4[1:]:
        moved = np.ascontiguousarray(transform(stamps))
        # The same 8 inputs, summed in sorted order: equal (to the last bit on
        # this CPU; the tolerance leaves room for other kernels).
        np.testing.assert_allclose(tta.score(moved, 0.42), base, rtol=1e-6, atol=1e-6)
        # Without TTA the network itself is far from invariant.
        assert np.abs(plain.score(moved, 0.42) - plain_base).max() > 0.1


def test_tta_is_the_mean_log_odds_of_the_8_rotations_and_flips(cnns, stamps):
    model, _, pre = cnns
    plain = Scorer(model, pre, "cpu", output="log-odds")
    by_hand = np.mean([plain.score(np.ascontiguousarray(t(stamps)), 0.42) for t in D4], axis=0)
    tta = Scorer(model, pre, "cpu", output="log-odds", tta=True).score(stamps, 0.42)
    np.testing.assert_allclose(tta, by_hand, rtol=1e-5, atol=1e-4)
    # Probabilities are the sigmoid of the averaged log-odds, not the mean of probabilities.
    p = Scorer(model, pre, "cpu", tta=True).score(stamps, 0.42)
    np.testing.assert_allclose(p, expit(tta), atol=1e-6)


def test_the_scorer_divides_the_log_odds_by_the_temperature(cnns, stamps):
    model, _, pre = cnns
    raw = Scorer(model, pre, "cpu", output="log-odds").score(stamps, 0.42)
    cooled = Scorer(model, pre, "cpu", output="log-odds", temperature=2.5).score(stamps, 0.42)
    np.testing.assert_allclose(cooled, raw / 2.5, rtol=1e-6)
    p = Scorer(model, pre, "cpu", temperature=2.5).score(stamps, 0.42)
    np.testing.assert_allclose(p, expit(raw / 2.5), atol=1e-6)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature must be a positive number"):
            Scorer(model, pre, "cpu", temperature=bad)


def test_a_committee_scores_the_mean_of_its_members_calibrated_log_odds(cnns, stamps):
    shipped, fresh, pre = cnns
    members = [Scorer(shipped, pre, "cpu", output="log-odds", temperature=2.0),
               Scorer(fresh, pre, "cpu", output="log-odds")]  # fmt: skip
    each = [m.score(stamps, 0.42) for m in members]
    log_odds = Committee(members, output="log-odds").score(stamps, 0.42)
    np.testing.assert_allclose(log_odds, (each[0] + each[1]) / 2, rtol=1e-12)
    assert not np.allclose(log_odds, each[0]) and not np.allclose(log_odds, each[1])
    # The committee's own temperature divides the mean.
    p = Committee(members, temperature=1.5).score(stamps, 0.42)
    np.testing.assert_allclose(p, expit((each[0] + each[1]) / 2 / 1.5), rtol=1e-12)


def test_a_committee_refuses_one_member_and_members_with_other_bands(cnns):
    shipped, _, pre = cnns
    one = Scorer(shipped, pre, "cpu", output="log-odds")
    with pytest.raises(ValueError, match="at least 2 members"):
        Committee([one])
    gri = Preprocessor(bands=["g", "r", "i"], pixscale_arcsec=0.42, size_px=49)
    other = Scorer(build("he2020-cnn", 3), gri, "cpu", output="log-odds")
    with pytest.raises(ValueError, match="same bands"):
        Committee([one, other])
    with pytest.raises(ValueError, match="must output log-odds"):
        Committee([one, Scorer(shipped, pre, "cpu")])


# --- Committees in the registry ------------------------------------------------


def register(data_dir, name, model, pre, temperature=None, **fields):
    weights = data_dir / f"{name}.pt"
    torch.save(model.state_dict(), weights)
    training = {"train_prior": 0.5}
    if temperature:
        training["calibration"] = {"temperature": temperature}
    values = {"architecture": "he2020-cnn", "bands": ",".join(pre.bands),
              "pixscale_arcsec": pre.pixscale_arcsec, "stamp_size": pre.size_px,
              "preprocessing": pre.to_dict(), "weights_path": weights.name,
              "weights_sha256": sha256_of(weights), "training": training, **fields}  # fmt: skip
    return Network.objects.create(name=name, **values)


@pytest.fixture
def registry(data_dir, cnns):
    shipped, fresh, pre = cnns
    a = register(data_dir, "a", shipped, pre, temperature=2.0)
    b = register(data_dir, "b", fresh, pre)
    gri = Preprocessor(bands=["g", "r", "i"], pixscale_arcsec=0.42, size_px=49)
    register(data_dir, "g3", build("he2020-cnn", 3), gri)
    register(data_dir, "fine", fresh, pre, pixscale_arcsec=0.21)
    register(data_dir, "big", fresh, pre, stamp_size=45)
    return a, b


def test_make_committee_registers_a_committee_that_load_scorer_loads(registry, stamps, tmp_path):
    a, b = registry
    out = io.StringIO()
    call_command("make_committee", "duo", "--members", "a,b", stdout=out)
    assert "Registered committee duo of a, b" in out.getvalue()
    duo = Network.objects.get(name="duo")
    assert duo.is_committee and duo.bands == "r" and duo.stamp_size == 49
    assert [m["name"] for m in duo.training["members"]] == ["a", "b"]
    assert duo.training["members"][0]["temperature"] == 2.0 and duo.train_prior == 0.5
    scorer = load_scorer(duo, "cpu", output="log-odds")
    assert isinstance(scorer, Committee) and scorer.bands == ["r"]
    # Members' log-odds divided by their own temperatures (a's 2), then averaged.
    each = [load_scorer(m, "cpu", output="log-odds").score(stamps, 0.42) for m in (a, b)]
    raw_a = load_scorer(a, "cpu", output="log-odds", temperature=1.0).score(stamps, 0.42)
    np.testing.assert_allclose(each[0], raw_a / 2.0, rtol=1e-6)
    np.testing.assert_allclose(scorer.score(stamps, 0.42), np.mean(each, axis=0), rtol=1e-12)
    tta = load_scorer(duo, "cpu", tta=True)
    assert all(m.tta for m in tta.members)
    # A committee is evaluated (and its variant chosen) like any network.
    test_set = tmp_path / "test.fits"
    call_command("simulate", "--lenses", "12", "--nonlenses", "12", "--seed", "3",
                 "--out", str(test_set), verbosity=0)  # fmt: skip
    report, _, _ = evaluate(duo, test_set, save=True, device="cpu")
    duo.refresh_from_db()
    assert duo.evaluation["inference"]["variant"] in supported_variants("cpu")
    assert 0 <= report["auc"] <= 1 and report["calibration"]["temperature"] == 1.0


@pytest.mark.parametrize(
    "members, message",
    [
        ("a", r"A committee needs at least 2 members; got 1 \(a\)"),
        ("a,nope,zilch", "No network named 'nope', 'zilch'"),
        ("a,b,a", "listed twice: a"),
        ("a,g3", r"their bands differ \(a r, g3 g,r,i\)"),
        ("a,fine", r"their pixel scales differ \(a 0.42, fine 0.21\)"),
        ("b,big", r"their stamp sizes differ \(b 49, big 45\)"),
    ],
)
def test_bad_committees_are_refused_with_the_problem_named(registry, members, message):
    with pytest.raises(CommandError, match=message):
        call_command("make_committee", "bad", "--members", members)
    assert not Network.objects.filter(architecture=Network.COMMITTEE).exists()


def test_a_committee_of_committees_a_taken_name_and_a_bad_name_are_refused(registry):
    make_committee("duo", ["a", "b"])
    with pytest.raises(NetworkError, match="duo is a committee itself.*its members: a, b"):
        make_committee("trio", ["duo", "b"])
    with pytest.raises(NetworkError, match="'duo' exists already"):
        make_committee("duo", ["a", "b"])
    with pytest.raises(NetworkError, match="not a valid name"):
        make_committee("two words", ["a", "b"])
    assert list(Network.objects.filter(architecture=Network.COMMITTEE)) == [
        Network.objects.get(name="duo")
    ]


def test_a_committee_whose_member_changed_or_went_refuses_to_score(registry):
    a, b = registry
    duo = make_committee("duo", "a,b")
    a.training = {**a.training, "calibration": {"temperature": 3.0}}
    a.save()
    with pytest.raises(NetworkError, match="member a has changed since the committee was made"):
        load_scorer(duo, "cpu")
    a.training = {**a.training, "calibration": {"temperature": 2.0}}  # as it was
    a.save()
    assert isinstance(load_scorer(duo, "cpu"), Committee)
    b.delete()
    with pytest.raises(NetworkError, match="member 'b' is no longer registered"):
        load_scorer(duo, "cpu")


def test_the_network_pages_show_a_committee_and_the_train_form_does_not_offer_one(
    registry, admin_client
):
    from django.urls import reverse

    make_committee("duo", "a,b")
    page = admin_client.get(reverse("classifier:network", args=["duo"]))
    assert page.status_code == 200 and "Committee of networks" in page.content.decode()
    assert "duo" in admin_client.get(reverse("classifier:networks")).content.decode()
    form = admin_client.get(reverse("classifier:train")).content.decode()
    assert "he2020-cnn" in form and "committee" not in form
