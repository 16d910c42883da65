"""Stream a simulated stamp set to disk, chunk by chunk.

Memory stays flat whatever the size of the set (a chunk of stamps at a time),
and the same arguments give the same bytes: each chunk draws from its own
random stream, spawned from the seed by chunk index.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np

from simulations import audit, render
from simulations.errors import SimulationError
from simulations.stampset import StampSetWriter
from simulations.surveys import get_survey, validate

CHUNK = 256
GENERATOR_VERSION = "lensfinder-sim-3"
# Below this many stamps torch.compile's one-off cost (~30 s) outweighs its gain.
COMPILE_FROM = 10_000


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def parse_psf_range(text: str) -> tuple[float, float]:
    """``"0.5,0.9"`` -> (0.5, 0.9) arcsec, checked."""
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise SimulationError(
            f"--psf-fwhm {text!r}: give a range in arcsec as LOW,HIGH, e.g. 0.55,0.75."
        ) from None
    if not 0 < low <= high:
        raise SimulationError(f"--psf-fwhm {text!r}: need 0 < LOW <= HIGH (arcsec).")
    return low, high


def check_output(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise SimulationError(f"{path} is a directory: give a file name such as {path}/set.fits.")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SimulationError(f"Cannot write {path}: the folder {parent} does not exist.")
    probe = parent / f".{path.name}.write-test"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise SimulationError(f"Cannot write {path}: {exc.strerror}.") from exc
    return path


def check_counts(n_lenses: int, n_nonlenses: int) -> int:
    """The total number of stamps, after checking both counts."""
    for name, n in (("lenses", n_lenses), ("non-lenses", n_nonlenses)):
        if int(n) != n or n < 0:
            raise SimulationError(f"The number of {name} must be a whole number >= 0, not {n}.")
    total = int(n_lenses) + int(n_nonlenses)
    if total == 0:
        raise SimulationError("Nothing to simulate: ask for at least one lens or non-lens.")
    return total


def write_labelled_set(
    out: Path,
    n_lenses: int,
    n_nonlenses: int,
    seed: int,
    layout: dict,
    id_prefix: str,
    make_chunk: Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, dict]],
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Stream a labelled set to ``out`` chunk by chunk, with its shortcut audit.

    Labels are shuffled through the set; chunk ``k`` draws from its own
    stream, spawned from ``seed``, and ``make_chunk(labels, rng)`` returns
    its stamps and META columns. ``layout`` holds the writer's geometry and
    header: bands, size, pixscale_arcsec, survey, units, header. The audit
    (``simulations.audit``) of the whole set goes into the header (``AUD_*``).
    """
    total = int(n_lenses) + int(n_nonlenses)
    order_seed, *chunk_seeds = np.random.SeedSequence(seed).spawn(1 + (total + CHUNK - 1) // CHUNK)
    labels = np.random.default_rng(order_seed).permutation(
        np.repeat(np.array([1, 0], np.int16), [n_lenses, n_nonlenses])
    )
    size = layout["size"]
    checks = audit.Audit(layout["pixscale_arcsec"], audit.reference_band_index(layout["bands"]))
    # Placeholders keep the header's size fixed: the audit is written in place.
    reserved = {key: (-1.0, "shortcut audit (-1: not computed)") for key in audit.HEADER_KEYS}
    reserved["AUD_PASS"] = (False, "shortcut audit passed")
    with StampSetWriter(
        out,
        total,
        layout["bands"],
        (size, size),
        layout["pixscale_arcsec"],
        survey=layout["survey"],
        units=layout["units"],
        header={**layout["header"], **reserved},
    ) as writer:
        for k, chunk_seed in enumerate(chunk_seeds):
            chunk_labels = labels[k * CHUNK : (k + 1) * CHUNK]
            stamps, meta = make_chunk(chunk_labels, np.random.default_rng(chunk_seed))
            meta["id"] = [
                f"{id_prefix}-{seed}-{k * CHUNK + i:07d}" for i in range(len(chunk_labels))
            ]
            writer.write(stamps, meta)
            checks.add(stamps, chunk_labels, meta)
            if progress:
                progress(min((k + 1) * CHUNK, total), total)
        writer.set_header(audit.header_cards(checks.result()))
    return out


def _layout(config: dict, survey: str | dict, seed: int, **header: object) -> dict:
    """``write_labelled_set``'s layout of a simulated set: the survey's
    geometry, and the header's seed, generator and configuration name plus
    ``header``."""
    return {
        "bands": config["bands"],
        "size": config["size_px"],
        "pixscale_arcsec": config["pixscale_arcsec"],
        "survey": config["label"],
        "units": config["units"],
        "header": {
            "SEED": seed,
            "GENERATR": GENERATOR_VERSION,
            "SURVEYCF": survey if isinstance(survey, str) and len(survey) <= 60 else "custom",
            **header,
        },
    }


def simulate_stampset(
    survey: str,
    n_lenses: int,
    n_nonlenses: int,
    seed: int,
    out: str | Path,
    psf_fwhm: tuple[float, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
    compile: bool | None = None,
    device: str | None = None,
) -> Path:
    """Simulate ``n_lenses`` lenses and ``n_nonlenses`` non-lenses into ``out``.

    Parameters
    ----------
    survey : str or dict
        A name from ``simulations.surveys.SURVEYS``, a JSON file holding a
        configuration, or a configuration dict; checked before any stamp.
    psf_fwhm : (float, float), optional
        Override of the survey's seeing: FWHM uniform in this range, arcsec,
        for every band.
    progress : callable, optional
        Called as ``progress(done, total)`` after each chunk.
    compile : bool, optional
        Fuse the rendering kernels with ``torch.compile``; by default only
        for sets of ``COMPILE_FROM`` stamps or more. The same seed gives the
        same bytes for the same choice (compiled kernels round differently).
    device : str, optional
        Torch device for rendering; CUDA when available by default.

    Returns the output path.
    """
    config = get_survey(survey)
    total = check_counts(n_lenses, n_nonlenses)
    if psf_fwhm is not None:
        config["seeing"] = {band: {"range_arcsec": tuple(psf_fwhm)} for band in config["bands"]}
        validate(config)
    out = check_output(out)
    if compile is None:
        compile = total >= COMPILE_FROM
    device = device or default_device()
    layout = _layout(config, survey, seed, COMPILED=bool(compile))

    def make_chunk(labels, rng):
        return render.simulate_batch(config, labels, rng, device, compile)

    return write_labelled_set(out, n_lenses, n_nonlenses, seed, layout, "sim", make_chunk, progress)


def simulate_psf_series(
    survey: str | dict,
    factors: list[float],
    reference_fwhm: dict[str, float],
    n_lenses: int,
    n_nonlenses: int,
    seed: int,
    folder: str | Path,
    progress: Callable[[int, int], None] | None = None,
    device: str | None = None,
) -> dict[float, Path]:
    """One labelled set per PSF factor, all holding the same objects and
    noise draws (He et al. 2020 Sect. 5.1).

    Every stamp of the set for factor ``f`` is seen with the FWHM
    ``f * reference_fwhm[band]`` (arcsec) in each band, its Moffat beta as
    drawn; everything else (objects, their light, the noise's random draws,
    ids) is the same in every set, drawn from ``seed`` as ``simulate_stampset``
    draws it, and the sky noise is the very same pixels (``render``'s
    ``same_sky``; only the Poisson noise of the sources follows their light).
    Each feature keeps the flux it has under the reference PSF (factor 1): a
    wider PSF lowers its measured S/N (META ``snr``) instead of the floor
    brightening it again. Returns ``{factor: path}``, the files
    ``psf-<factor>.fits`` in ``folder``.
    """
    from simulations import populations

    config = get_survey(survey)
    total = check_counts(n_lenses, n_nonlenses)
    missing = [b for b in config["bands"] if not reference_fwhm.get(b, 0) > 0]
    if missing:
        raise SimulationError(f"No reference PSF FWHM for band(s) {', '.join(missing)}.")
    if not factors or any(not f > 0 for f in factors):
        raise SimulationError(f"PSF factors must be > 0, not {factors}.")
    device = device or default_device()
    reference = np.array([reference_fwhm[b] for b in config["bands"]], np.float64)
    folder = Path(folder)
    paths = {}
    for k, factor in enumerate(factors):

        def make_chunk(labels, rng, factor=factor):
            scene = populations.sample(config, labels, rng)
            scene["psf_fwhm"] = np.broadcast_to(reference, scene["psf_fwhm"].shape).copy()
            _, measured = render.render(scene, config, device)
            scene = {**scene, "psf_fwhm": scene["psf_fwhm"] * factor}
            stamps, measured = render.render(
                scene, config, device, feature_flux=measured["flux"], same_sky=True
            )
            return stamps, render.metadata(scene, measured, config)

        layout = _layout(
            config,
            survey,
            seed,
            PSFFACT=(float(factor), "PSF FWHM / the reference FWHM"),
            PSFREF=(float(reference[0]), "reference FWHM, first band, arcsec"),
        )
        out = check_output(folder / f"psf-{factor:g}.fits")

        def chunk_progress(done, _total, k=k):
            if progress:
                progress(k * total + done, len(factors) * total)

        paths[factor] = write_labelled_set(
            out, n_lenses, n_nonlenses, seed, layout, "psf", make_chunk, chunk_progress
        )
    return paths
