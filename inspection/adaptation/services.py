"""Adapt a network to the survey being searched (He et al. 2020's r-Net as one
action): a semi-real set from the survey's own LRG stamps, fine-tuning from
the network, evaluation beside the parent, registration with provenance.

One code path for ``manage.py adapt_network`` (in the foreground, with a
progress bar) and the survey page (the ``inspection.jobs.adapt_network`` background job).

Choices:
- **Split by LRG, not by stamp.** The survey's LRGs with a whole stamp (not
  padded at a tile edge, not outside every tile) are shuffled with the seed
  and split 70/10/20 into training, validation and test LRGs; each semi-real
  set draws only from its own LRGs, so the test figures are on galaxies the
  network never saw. Below ``MIN_LRGS`` whole stamps the test split would be
  too small to say anything: refused.
- **Both classes are real LRGs with injected light** (``simulations.semireal``):
  lenses get a lensed arc, non-lenses either nothing or an unlensed
  look-alike feature (rings, tidal arcs, chance alignments, compact sources)
  as bright as the arcs, and both are turned by the same exact symmetries of
  the pixel grid. The survey's own noise and PSF stay as they are.
- **PSF**: the stamps' ``psf_fwhm`` columns where the survey has them, else
  the seeing range of the network's simulated survey (recorded).
- **Fine-tuning** starts from the parent's weights at a tenth of its
  architecture's rate (``train_network --init-from``): a few epochs adapt it
  without forgetting what the simulations taught it.
- **Evaluated twice, beside the parent**: on the held-out semi-real test
  split (the new network's stored evaluation, so its thresholds are this
  survey's) and on a cross-simulator set (``cross_test``, or rendered with
  lenstronomy where it is installed; otherwise the record says why not).
- **Nothing half-made**: every check runs before any work, and a failure at
  any step leaves the registry as it was and removes the sets.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings

from classifier.models import Network
from core.files import sha256_of
from inspection.models import FLAG_EDGE, FLAG_OUTSIDE, Survey
from inspection.scoring.services import network_fit
from simulations.errors import SimulationError
from simulations.surveys import survey_for_bands

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from classifier.models import Experiment
    from core.progress import Progress


# The checks import no torch (the web process runs them before queueing);
# the work imports the classifier's services and the simulator when it runs.

MIN_LRGS = 200
SPLIT = {"train": 0.7, "val": 0.1, "test": 0.2}
DEFAULT_LENSES = 4000  # training lenses, and as many non-lenses
DEFAULT_EPOCHS = 4
CROSS_STAMPS = 500  # lenses, and as many non-lenses, of a rendered cross-check set
# Stamps per semi-real set for validation and test, per class, at most.
HELD_OUT_STAMPS = {"val": 1000, "test": 2000}


class AdaptError(Exception):
    """Adaptation refused or failed; the message says why and what to do."""


class UnconfirmedWarnings(AdaptError):
    """The network fits the survey only with warnings nobody has accepted."""

    def __init__(self, warnings):
        self.warnings = list(warnings)
        super().__init__(
            " ".join(self.warnings) + " Adapt anyway with --accept-warnings (or the form's box)."
        )


def usable_rows(survey: Survey) -> np.ndarray:
    """Stamp-set rows of the survey's LRGs with a whole stamp."""
    rows = survey.sources.exclude(stamp_flags__gte=FLAG_OUTSIDE).exclude(stamp_flags=FLAG_EDGE)
    return np.sort(np.fromiter(rows.values_list("stamp_index", flat=True), np.int64))


def check_adaptation(
    survey: Survey, parent: Network, name: str | None, accept_warnings: bool = False
) -> np.ndarray:
    """Everything that can be refused before any work; returns the usable rows.
    Raises ``AdaptError`` naming the problem and the fix. ``name`` None: the
    name is chosen later (an experiment's r-Net) and not checked here."""
    if name is not None and Network.objects.filter(name=name).exists():
        raise AdaptError(f"A network named {name!r} exists already: choose another name.")
    if parent.is_committee:
        raise AdaptError(
            f"{parent.name} is a committee: adapt one of its members "
            f"({', '.join(m['name'] for m in parent.training['members'])}) instead."
        )
    fit = network_fit(survey, parent)
    if fit.errors:
        raise AdaptError(" ".join(fit.errors))
    if fit.warnings and not accept_warnings:
        raise UnconfirmedWarnings(fit.warnings)
    if not survey.stamps_file().is_file():
        raise AdaptError(
            f"Survey {survey.name} has no stamp file at {survey.stamps_file()}: ingest it again."
        )
    rows = usable_rows(survey)
    if len(rows) < MIN_LRGS:
        raise AdaptError(
            f"Survey {survey.name} has {len(rows)} LRGs with a whole stamp; adapting needs at "
            f"least {MIN_LRGS}, so that its held-out test LRGs (20%) say something. Ingest a "
            "larger area, or loosen the LRG cuts."
        )
    try:
        survey_for_bands(parent.band_list)
    except SimulationError as exc:
        raise AdaptError(str(exc)) from exc
    return rows


def split_rows(rows: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Training, validation and test LRG rows: disjoint, by ``SPLIT``."""
    shuffled = np.random.default_rng(seed).permutation(rows)
    n_train = int(round(SPLIT["train"] * len(rows)))
    n_val = int(round(SPLIT["val"] * len(rows)))
    return {
        "train": np.sort(shuffled[:n_train]),
        "val": np.sort(shuffled[n_train : n_train + n_val]),
        "test": np.sort(shuffled[n_train + n_val :]),
    }


def psf_range(survey: Survey, parent: Network) -> tuple[float, float] | None:
    """None where the survey's stamps carry PSF columns, else the seeing range
    (arcsec) of the network's simulated survey in its reference band."""
    from simulations import render
    from simulations.stampset import read_stampset
    from simulations.surveys import get_survey

    columns = read_stampset(survey.stamps_file()).meta.colnames
    if any(c == "psf_fwhm" or c.startswith("psf_fwhm_") for c in columns):
        return None
    config = get_survey(survey_for_bands(parent.band_list))
    band = render.reference_band(config)
    return tuple(config["seeing"][band]["range_arcsec"])


def _cross_set(parent: Network, folder: Path, seed: int, cross_test: str | None):
    """A cross-simulator test set: the one given, or a small one rendered with
    lenstronomy (a development dependency) when it is installed."""
    if cross_test:
        return Path(cross_test), "given"
    try:
        from crosscheck.lenstronomy_sets import SURVEYS, make_set
    except ImportError:
        return None, "lenstronomy is not installed (a development dependency): give --cross-test"

    key = survey_for_bands(parent.band_list)
    if key not in SURVEYS:
        return None, f"the lenstronomy renderer has no {key} configuration"
    path = folder / "cross.fits"
    make_set(key, CROSS_STAMPS, CROSS_STAMPS, seed + 104, path, workers=1)
    return path, f"rendered with lenstronomy ({key}, {CROSS_STAMPS} + {CROSS_STAMPS} stamps)"


def _brief(report: dict) -> dict:
    keep = ("n_lenses", "n_nonlenses", "auc", "tpr0", "tpr_at_fpr", "threshold_logit_at_fpr")
    return {k: report[k] for k in keep if k in report}


def adapt_network(
    survey: Survey,
    parent: Network,
    name: str,
    *,
    lenses: int = DEFAULT_LENSES,
    epochs: int = DEFAULT_EPOCHS,
    lr: float | None = None,
    seed: int = 0,
    accept_warnings: bool = False,
    cross_test: str | None = None,
    user: User | None = None,
    progress: Callable[[str, float], None] | None = None,
    device: str | None = None,
) -> Network:
    """Build the semi-real sets, fine-tune ``parent`` into ``name``, evaluate
    both and register the new network; see the module docstring.
    ``progress(message, fraction)`` hears each step (fraction 0-1)."""
    from classifier.services import NetworkError, evaluate, settings_for, train_and_register
    from simulations.semireal import semireal_stampset

    rows = check_adaptation(survey, parent, name, accept_warnings)
    if lenses < 10:
        raise AdaptError(f"Give at least 10 training lenses, not {lenses}.")
    say = progress or (lambda message, fraction: None)
    folder = Path(settings.DATA_DIR) / "adapt" / name
    if folder.exists():
        shutil.rmtree(folder)  # a dead earlier try under this (unregistered) name
    folder.mkdir(parents=True)
    network = None
    try:
        splits = split_rows(rows, seed)
        psf = psf_range(survey, parent)
        counts = {
            "train": lenses,
            "val": min(HELD_OUT_STAMPS["val"], max(lenses // 4, 50)),
            "test": min(HELD_OUT_STAMPS["test"], max(lenses // 2, 100)),
        }
        sets, shares = {}, {"train": 0.30, "val": 0.05, "test": 0.05}
        start = 0.0
        for k, part in enumerate(("train", "val", "test")):
            sets[part] = folder / f"{part}.fits"
            n = counts[part]

            def step(done, total, part=part, start=start):
                say(
                    f"semi-real {part} set: {done}/{total} stamps",
                    start + shares[part] * done / max(total, 1),
                )

            semireal_stampset(
                survey.stamps_file(),
                n,
                n,
                seed * 10 + k,
                sets[part],
                psf,
                step,
                rows=splits[part],
                bands=parent.band_list,
            )
            start += shares[part]
        say("fine-tuning", 0.4)
        train_settings = settings_for(
            parent.architecture,
            epochs=epochs,
            seed=seed,
            lr=lr if lr is not None else settings_for(parent.architecture).lr / 10,
        )

        def epoch_done(epoch, total, loss, val_auc):
            auc = f", validation AUC {val_auc:.4f}" if val_auc is not None else ""
            say(
                f"fine-tuning: epoch {epoch}/{total}, loss {loss:.4f}{auc}",
                0.4 + 0.45 * epoch / total,
            )

        network = train_and_register(
            name, sets["train"], train_settings, sets["val"], user, epoch_done, device, parent
        )
        say("evaluating on the held-out LRGs", 0.86)
        test_new = evaluate(network, sets["test"], save=True, device=device)[0]
        test_parent = evaluate(parent, sets["test"], device=device)[0]
        say("evaluating on the cross-simulator set", 0.92)
        cross_path, cross_how = _cross_set(parent, folder, seed, cross_test)
        cross = None
        if cross_path is not None:
            cross = {
                # A rendered set is removed with the others: its hash names it.
                "file": str(cross_path) if cross_test else None,
                "sha256": sha256_of(cross_path),
                "how": cross_how,
                name: _brief(evaluate(network, cross_path, device=device)[0]),
                parent.name: _brief(evaluate(parent, cross_path, device=device)[0]),
            }
        network.training = {
            **network.training,
            "adaptation": {
                "parent": parent.name,
                "parent_weights_sha256": parent.weights_sha256,
                "survey": survey.name,
                "survey_stamps": str(survey.stamps_path),
                "lens_prior": survey.lens_prior,
                "lrgs": {part: int(len(r)) for part, r in splits.items()},
                "stamps_per_class": counts,
                "sets_sha256": {part: sha256_of(path) for part, path in sets.items()},
                "psf_fwhm_arcsec": "the stamps' psf_fwhm columns" if psf is None else list(psf),
                "seed": seed,
                "test": {name: _brief(test_new), parent.name: _brief(test_parent)},
                "cross_simulator": cross or {"skipped": cross_how},
            },
        }
        network.save(update_fields=["training"])
        say("done", 1.0)
        return network
    except BaseException as exc:
        _unregister(network, name)
        if isinstance(exc, (NetworkError, SimulationError)):
            raise AdaptError(str(exc)) from exc
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _unregister(network, name):
    """Undo a registration of this adaptation: the row, its weights, and the
    checkpoint an interrupted fine-tuning keeps to resume from."""
    if network is not None:
        weights = Path(network.weights_path)
        network.delete()
        (weights if weights.is_absolute() else Path(settings.DATA_DIR) / weights).unlink(
            missing_ok=True
        )
    shutil.rmtree(Path(settings.DATA_DIR) / "training" / name, ignore_errors=True)


# --- s-Net against r-Net (He et al. 2020 Table 3), an experiment -------------------


def run_snet_rnet(experiment: Experiment, out: Path, progress: Progress) -> tuple[dict, dict]:
    """The network (s-Net, trained on simulations) and its adaptation to the
    survey (r-Net, ``adapt_network``) score the survey's LRGs; their
    candidates are compared at each network's own 1%-FPR threshold and at
    a common count, and, for each campaign graded on the survey, against its
    high-probability list. The r-Net is registered as the experiment's
    product (``training["experiment"]``). Runs in a worker
    (``inspection.jobs.run_snet_rnet``)."""
    from classifier import experiments
    from classifier.experiment_runs import stepper
    from classifier.services import load_scorer
    from inspection.catalogues.services import CatalogueError, build
    from inspection.models import Campaign
    from inspection.scoring.stamp_batches import stamp_batches
    from simulations.stampset import read_stampset

    params, seed = experiment.parameters, experiment.seed
    survey = Survey.objects.get(name=params["survey"])
    s_net = Network.objects.get(name=params["network"])
    step = stepper(progress, 100, unit="%")
    name = f"experiment-{experiment.pk}-{s_net.name}-rnet"

    def adapting(message, fraction):
        progress.update(int(97 * fraction), message=f"r-Net: {message}")

    r_net = adapt_network(
        survey, s_net, name, lenses=params["lenses"], epochs=params["epochs"], seed=seed,
        accept_warnings=params.get("accept_warnings", False), user=experiment.created_by,
        progress=adapting,
    )  # fmt: skip
    r_net.training = {**r_net.training, "experiment": experiment.pk}
    r_net.save(update_fields=["training"])
    progress.update(97, message="scoring the survey's LRGs with both networks", force=True)
    sources = list(survey.sample().order_by("stamp_index").values_list("pk", "stamp_index"))
    ids = [pk for pk, _ in sources]
    rows = np.array([row for _, row in sources], np.int64)
    stampset = read_stampset(survey.stamps_file())
    scores, candidates, thresholds = {}, {}, {}
    for role, network in (("s-Net", s_net), ("r-Net", r_net)):
        scorer = load_scorer(network, variant="fp32", compile=False, output="log-odds")
        bands = [survey.band_list.index(b) for b in scorer.bands]
        logits = np.concatenate([
            scorer.score(block, survey.pixscale_arcsec)
            for _, block in stamp_batches(stampset.cube, rows, bands)
        ])  # fmt: skip
        scores[role] = logits
        thresholds[role] = network.threshold_logit_fpr_1pct
        candidates[role] = [i for i, z in zip(ids, logits, strict=True) if z >= thresholds[role]]
        step(f"scored with the {role} ({network.name})")
    n_top = params.get("top") or len(candidates["s-Net"]) or 1
    tops = {role: experiments.top(ids, scores[role], n_top) for role in scores}
    overlaps = {
        "at each network's 1%-FPR threshold": experiments.overlap(
            candidates["s-Net"], candidates["r-Net"]
        ),
        f"top {n_top} of each": experiments.overlap(tops["s-Net"], tops["r-Net"]),
    }
    campaigns = []
    for campaign in Campaign.objects.filter(run__survey=survey, parent__isnull=True):
        try:
            catalogue = build(campaign)
        except CatalogueError:
            continue  # a run not scored to the end: no list to compare with
        high = [catalogue.sources[i].pk for i in np.flatnonzero(catalogue.high)]
        if not catalogue.grades.size or not np.isfinite(catalogue.grades).any():
            continue  # nobody graded it yet
        record = {"campaign": campaign.name, "campaign_id": campaign.pk, "n_high": len(high)}
        for role in scores:
            record[f"{role} candidates"] = len(set(high) & set(candidates[role]))
            record[f"{role} top {n_top}"] = len(set(high) & set(tops[role]))
        campaigns.append(record)
    step("compared the candidate lists")
    results = {
        "survey": survey.name,
        "s_net": s_net.name,
        "r_net": r_net.name,
        "n_lrgs": len(ids),
        "thresholds_logit": thresholds,
        "n_candidates": {role: len(c) for role, c in candidates.items()},
        "top": n_top,
        "overlaps": overlaps,
        "campaigns": campaigns,
        "adaptation": {k: r_net.training["adaptation"][k] for k in ("test", "cross_simulator")},
        "score_correlation": float(
            np.corrcoef(np.argsort(np.argsort(scores["s-Net"])),
                        np.argsort(np.argsort(scores["r-Net"])))[0, 1]
        ) if len(ids) > 1 else None,
    }  # fmt: skip
    provenance = {
        "sets": [
            {"role": "survey stamps", "file": str(survey.stamps_file()),
             "sha256": sha256_of(survey.stamps_file())},
            *({"role": f"semi-real {part}", "file": None, "sha256": sha}
              for part, sha in r_net.training["adaptation"]["sets_sha256"].items()),
        ],
        "networks": [s_net.member_record(), r_net.member_record()],
    }  # fmt: skip
    return results, provenance
