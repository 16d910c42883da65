"""Survey configurations: bad ones are refused with the key and the fix,
before any stamp is written; a JSON file can hold one."""

import json

import pytest
from django.core.management import CommandError, call_command

from simulations.errors import SimulationError
from simulations.surveys import SURVEYS, get_survey


@pytest.mark.parametrize("name", SURVEYS)
def test_the_shipped_configurations_are_valid(name):
    assert get_survey(name)["bands"]


def broken(change):
    config = get_survey("kids-r")
    change(config)
    return config


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda c: c["nonlens_kinds"].update(elliptical=0.5),
            r"nonlens_kinds: the shares sum to 1.25, not 1: scale them",
        ),
        (
            lambda c: c["nonlens_kinds"].update(unicorn=0.0),
            r"nonlens_kinds: unknown kind 'unicorn'; choose among elliptical, spiral",
        ),
        (
            lambda c: c["subkinds"]["ring"].update(ring=0.0),
            r"subkinds.ring: the shares sum to 0.6",
        ),
        (
            lambda c: c["lookalikes"].update(ring_knotted=(0.5, 1.5)),
            r"lookalikes.ring_knotted = \[0.5, 1.5\] must lie within \[0, 1\]",
        ),
        (
            lambda c: c.pop("lookalikes"),
            r"The survey configuration lacks 'lookalikes.ring_knotted': add it",
        ),
        (
            lambda c: c["psf"].update(moffat_beta=(0.8, 3.0)),
            r"psf.moffat_beta = \[0.8, 3.0\]: a Moffat profile needs beta > 1",
        ),
        (
            lambda c: c["seeing"]["r"].update(range_arcsec=(0.0, 1.0)),
            r"seeing.r.range_arcsec = \[0.0, 1.0\] must lie within \(0.0, 5.0\]",
        ),
        (
            lambda c: c["seeing"]["r"].update(range_arcsec=(0.5, 7.0)),
            r"seeing.r.range_arcsec = \[0.5, 7.0\] must lie within \(0.0, 5.0\]",
        ),
        (
            lambda c: c["seeing"]["r"].update(median_arcsec=1.5),
            r"seeing.r.median_arcsec must lie within its range_arcsec",
        ),
        (
            lambda c: c["lens"]["configurations"].update(einstein_cross=0.1),
            r"lens.configurations: unknown kind 'einstein_cross'",
        ),
        (lambda c: c["depth"].pop("exposure_s"), r"lacks 'depth.exposure_s.r'"),
        (lambda c: c.update(size_px=96), r"size_px must be an odd whole number"),
        (
            lambda c: c["environment"].update(masked_block_share=1.5),
            r"environment.masked_block_share must be a fraction in \[0, 1\]",
        ),
    ],
)
def test_a_bad_configuration_names_the_key_and_the_fix(change, message):
    with pytest.raises(SimulationError, match=message):
        get_survey(broken(change))


def test_the_simulate_command_takes_a_json_survey_and_refuses_a_bad_one(tmp_path):
    config = get_survey("lsst-g")
    good = tmp_path / "mine.json"
    good.write_text(json.dumps(config))
    out = tmp_path / "set.fits"
    call_command(
        "simulate",
        "--survey",
        str(good),
        "--lenses",
        "3",
        "--nonlenses",
        "3",
        "--out",
        str(out),
        verbosity=0,
    )
    assert out.exists()
    config["nonlens_kinds"]["spiral"] = 0.9
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(config))
    with pytest.raises(CommandError, match="nonlens_kinds: the shares sum to 1.75"):
        call_command(
            "simulate",
            "--survey",
            str(bad),
            "--lenses",
            "3",
            "--out",
            str(tmp_path / "no.fits"),
            verbosity=0,
        )
    assert not (tmp_path / "no.fits").exists() and not list(tmp_path.glob(".no.fits*"))
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(CommandError, match="is not valid JSON"):
        call_command(
            "simulate",
            "--survey",
            str(tmp_path / "broken.json"),
            "--lenses",
            "1",
            "--out",
            str(tmp_path / "no.fits"),
            verbosity=0,
        )
