"""Injected lenses and the catalogue's completeness: the ORM side.

A campaign created with ``inject_lenses`` = n gets n lenses simulated onto
LRGs of its run's survey that are **not candidates** of the run (whole
stamps the run scored below its threshold), by the one injector of the
semi-real sets (``simulations.semireal.semireal_stampset``: an arc from the
survey's lens population, convolved with the stamp's PSF, with its own
Poisson noise on the stamp's own noise). Each is scored by the run's
network through the scoring path of the run's chunks (``load_scorer`` in
log-odds, ``stamp_batches``, the network-unchanged check); those at or above
the run's threshold become campaign items like any candidate: every
inspector gets them at random places of their order, the same stamp URLs,
the same rendering. They never enter the candidate catalogue (its items are
``source`` items; these are ``injection`` items), nor its exports or
consensus; their grades count for the inspectors' skills and anchor the
Dawid-Skene matrices as known lenses do (their truth is known).

Choices:
- Only the injections that pass the network reach the inspectors: every
  candidate passed it, so an injection that had not would be a tell (and
  grading it would measure nothing the catalogue does). The completeness is
  P(pass network) x P(kept | passed) (``completeness.completeness_row``).
- The PSF: the stamps' own ``psf_fwhm`` columns where the survey's stamp set
  has them; else the seeing (``SEEING`` or ``PSF_FWHM``, arcsec) in the
  headers of the survey's tiles of the network's reference band; else the
  seeing range of the network's simulated survey (as the adaptation does).
- An LRG without flux within 3" of its centre gets no arc from the injector
  (arcs are scaled to a share of it): such draws are dropped.
- One injection per LRG: the injector draws LRGs with replacement, so a
  few more are drawn and the second arc on an LRG is dropped (two stamps of
  one galaxy would tell an inspector something); with few hosts a campaign
  gets fewer injections than asked, and says so.
- The dihedral turn of the semi-real sets is kept: it moves pixels exactly,
  so the stamp keeps its noise, and the galaxy is not shown as it is in the
  survey's own stamp should both ever be seen.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from core.logodds import sigmoid
from inspection.completeness import completeness
from inspection.models import Assignment, Campaign, CampaignItem, Injection, Source, Survey

if TYPE_CHECKING:
    from classifier.inference import Committee, Scorer

#: LRGs drawn per injection asked, so that dropping repeated LRGs leaves enough.
OVERDRAW = 1.5
MAX_INJECTIONS = 5000


class CompletenessError(ValueError):
    """Injections cannot be made or measured; the message says why."""


def check_injections(n: int) -> int:
    """The number of lenses to inject, checked (0: none)."""
    if int(n) != n or not 0 <= n <= MAX_INJECTIONS:
        raise CompletenessError(f"Inject 0-{MAX_INJECTIONS} lenses, not {n}.")
    return int(n)


def host_rows(campaign: Campaign) -> tuple[np.ndarray, np.ndarray]:
    """``(source ids, stamp rows)`` of the LRGs an arc may go on: in the run's
    sample, scored below its threshold (not candidates), with a whole stamp
    (not padded at a tile edge, not outside every tile), by stamp row."""
    run = campaign.run
    rows = (
        run.scores.filter(logit__lt=run.threshold_logit, source__stamp_flags=0)
        .order_by("source__stamp_index")
        .values_list("source_id", "source__stamp_index")
    )
    rows = list(rows)
    ids = np.array([r[0] for r in rows], np.int64)
    return ids, np.array([r[1] for r in rows], np.int64)


def _tile_seeing(survey, band):
    """(min, max) seeing (arcsec) in the headers of the survey's tiles of
    ``band``, or None."""
    values = []
    for tile in survey.tiles.filter(band=band):
        try:
            header = fits.getheader(tile.path)
        except OSError:
            continue
        for key in ("PSF_FWHM", "SEEING"):
            if key in header and float(header[key]) > 0:
                values.append(float(header[key]))
                break
    return (min(values), max(values)) if values else None


def injection_psf(campaign: Campaign) -> tuple[float, float] | None:
    """The PSF FWHM range (arcsec) to give the injector, or None where the
    survey's stamps carry their own (module docstring)."""
    from inspection.adaptation.services import psf_range
    from simulations import render
    from simulations.surveys import get_survey, survey_for_bands

    survey, network = campaign.run.survey, campaign.run.network
    fallback = psf_range(survey, network)
    if fallback is None:
        return None  # the stamps' own psf_fwhm columns
    band = render.reference_band(get_survey(survey_for_bands(network.band_list)))
    return _tile_seeing(survey, band) or fallback


def injection_path(campaign_pk: int) -> Path:
    """The stamp set of a campaign's injected lenses (in the data dir)."""
    return Path(settings.DATA_DIR) / "injections" / f"campaign{campaign_pk}.fits"


def build_injections(
    campaign: Campaign,
    scorer: Scorer | Committee | None = None,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
) -> int:
    """Make, score and mix in the campaign's injected lenses (module
    docstring); returns how many were made. ``scorer``: the run's network
    as ``classifier.services.load_scorer(..., output="log-odds")`` gives it
    (the job passes the worker's loaded one). ``progress(message, fraction)``."""
    from classifier.services import load_scorer
    from inspection.scoring.services import check_network_unchanged
    from inspection.scoring.stamp_batches import BATCH, stamp_batches
    from simulations.errors import SimulationError
    from simulations.semireal import semireal_stampset
    from simulations.stampset import read_stampset

    say = progress or (lambda message, fraction: None)
    n = check_injections(campaign.inject_lenses)
    if n == 0:
        return 0
    if campaign.status != Campaign.Status.DRAFT or campaign.injections_built_at is not None:
        raise CompletenessError(
            f"Campaign {campaign.name!r}: lenses are injected once, into a draft campaign."
        )
    run, survey = campaign.run, campaign.run.survey
    source_ids, stamp_rows = host_rows(campaign)
    if len(stamp_rows) == 0:
        raise CompletenessError(
            f"Run {run.label} has no scored LRG with a whole stamp below its threshold to "
            "inject a lens into."
        )
    check_network_unchanged(run)
    out = injection_path(campaign.pk)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)  # left by a failed attempt
    say("simulating the lenses", 0.0)
    try:
        semireal_stampset(
            survey.stamps_file(),
            n_lenses=int(np.ceil(n * OVERDRAW)) + 5,
            n_nonlenses=0,
            seed=seed + campaign.pk,
            out=out,
            psf_fwhm=injection_psf(campaign),
            rows=stamp_rows,
            lookalikes=False,
            progress=lambda done, total: say("simulating the lenses", 0.6 * done / total),
        )
        made = read_stampset(out)
        meta = made.meta
        survey_ids = read_stampset(survey.stamps_file()).ids
        by_id = {survey_ids[row]: k for k, row in enumerate(stamp_rows)}
        host = np.array([by_id[str(i)] for i in np.asarray(meta["lrg_id"]).astype(str)])
        # The injector scales an arc to a share of the LRG's flux within 3":
        # an LRG with none there gets no arc (S/N 0), which is no lens.
        lit = np.flatnonzero(np.asarray(meta["snr"], np.float64) > 0)
        _, first = np.unique(host[lit], return_index=True)
        keep = lit[np.sort(first)][:n]  # the first arc on each LRG
        say("scoring with the run's network", 0.6)
        scorer = scorer or load_scorer(run.network, output="log-odds")
        bands = [survey.band_list.index(b) for b in scorer.bands]
        logits = np.empty(len(keep))
        for start, cube in stamp_batches(made.cube, keep, bands, BATCH):
            logits[start : start + len(cube)] = scorer.score(cube, survey.pixscale_arcsec)
            say("scoring with the run's network", 0.6 + 0.3 * (start + len(cube)) / len(keep))
    except SimulationError as exc:
        out.unlink(missing_ok=True)
        raise CompletenessError(str(exc)) from exc
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    theta = np.asarray(meta["theta_e"], np.float64)
    snr = np.asarray(meta["snr"], np.float64)
    hosts = source_ids[host[keep]]
    mags = dict(Source.objects.filter(pk__in=hosts.tolist()).values_list("pk", "mag_r"))
    say("mixing them into the campaign", 0.9)
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status != Campaign.Status.DRAFT or campaign.injections_built_at is not None:
            out.unlink(missing_ok=True)
            raise CompletenessError(f"Campaign {campaign.name!r} changed while lenses were made.")
        injections = Injection.objects.bulk_create(
            Injection(
                campaign=campaign,
                source_id=int(hosts[j]),
                stamp_index=int(row),
                theta_e_arcsec=float(theta[row]),
                arc_snr=float(snr[row]),
                mag_r=mags.get(int(hosts[j])),
                score=float(sigmoid(logits[j])),
                logit=float(logits[j]),
                passed=bool(logits[j] >= run.threshold_logit),
            )
            for j, row in enumerate(keep)
        )
        items = CampaignItem.objects.bulk_create(
            CampaignItem(campaign=campaign, injection=i) for i in injections if i.passed
        )
        _mix_in(campaign, items, seed)
        campaign.injection_stamps = str(out.relative_to(settings.DATA_DIR))
        campaign.injections_built_at = timezone.now()
        campaign.save(update_fields=["injection_stamps", "injections_built_at"])
    say("done", 1.0)
    return len(injections)


def _mix_in(campaign, items, seed):
    """Give every inspector the new items at random places of their order
    (the campaign is a draft: nobody has graded yet)."""
    if not items:
        return
    existing = list(campaign.assignments.order_by("inspector_id", "position"))
    # Out of the way first: (campaign, inspector, position) is unique.
    offset = len(existing) + len(items) + 1
    campaign.assignments.update(position=F("position") + offset)
    by_inspector: dict[int, list] = {}
    for a in existing:
        by_inspector.setdefault(a.inspector_id, []).append(a)
    new = []
    for inspector in campaign.inspectors.order_by("pk").values_list("pk", flat=True):
        order = list(by_inspector.get(inspector, []))
        rng = random.Random(f"inject-{campaign.pk}-{inspector}-{seed}")
        for item in items:
            order.insert(rng.randint(0, len(order)), item)
        for p, entry in enumerate(order):
            if isinstance(entry, Assignment):
                entry.position = p
            else:
                new.append(
                    Assignment(campaign=campaign, inspector_id=inspector, item=entry, position=p)
                )
    Assignment.objects.bulk_update(existing, ["position"], batch_size=2000)
    Assignment.objects.bulk_create(new, batch_size=2000)


class InjectionStamps:
    """A campaign's injected stamps as ``grading.render_preview`` reads a
    survey's: the survey's bands and pixel scale, the campaign's file."""

    def __init__(self, campaign_pk: int, survey: Survey):
        self.pk = f"injections-{campaign_pk}"
        self.name = f"campaign {campaign_pk} injections"
        self.band_list = survey.band_list
        self.pixscale_arcsec = survey.pixscale_arcsec
        self._path = injection_path(campaign_pk)

    def stamps_file(self) -> Path:
        return self._path


# --- Completeness ------------------------------------------------------------------


def injection_outcomes(campaign: Campaign) -> list[dict]:
    """Every injection of the campaign with its truth, network verdict and
    what the inspectors made of it (``decided``: every assignment graded or
    withdrawn; ``total``: summed grades; ``kept``: total >= high total)."""
    rows = (
        campaign.injections.order_by("stamp_index")
        .annotate(
            n_assigned=Count("item__assignments", distinct=True),
            n_open=Count(
                "item__assignments",
                filter=Q(
                    item__assignments__grade__isnull=True,
                    item__assignments__withdrawn_at__isnull=True,
                ),
                distinct=True,
            ),
            total=Sum("item__assignments__grade__grade"),
            n_graded=Count("item__assignments__grade", distinct=True),
        )
        .values(
            "pk",
            "source__name",
            "theta_e_arcsec",
            "arc_snr",
            "mag_r",
            "score",
            "logit",
            "passed",
            "n_assigned",
            "n_open",
            "total",
            "n_graded",
            "item__retired_at",
        )  # fmt: skip
    )
    out, high = [], campaign.high_total
    for r in rows:
        decided = bool(r["passed"] and r["n_assigned"] and r["n_open"] == 0)
        total = r["total"] or 0
        out.append(
            {
                "injection": r["pk"],
                "lrg": r["source__name"],
                "theta_e_arcsec": r["theta_e_arcsec"],
                "arc_snr": r["arc_snr"],
                "mag_r": r["mag_r"],
                "score": r["score"],
                "logit": r["logit"],
                "passed_network": r["passed"],
                "graded": r["n_graded"],
                "retired": r["item__retired_at"] is not None,
                "total": total if r["passed"] else None,
                "decided": decided,
                "kept": decided and bool(completeness.kept_by_inspectors(total, high)),
            }
        )
    return out


def campaign_completeness(campaign: Campaign) -> dict:
    """The completeness of the campaign's catalogue, overall and in bins of
    each of ``completeness.AXES``, with every injection's outcome."""
    outcomes = injection_outcomes(campaign)
    arrays = {
        k: np.array([o[k] for o in outcomes], bool) for k in ("passed_network", "decided", "kept")
    }
    flags = (arrays["passed_network"], arrays["decided"], arrays["kept"])
    bins = {}
    for axis in completeness.AXES:
        values = np.array([np.nan if o[axis] is None else o[axis] for o in outcomes], float)
        bins[axis] = completeness.completeness_by_bin(values, *flags)
    return {
        "campaign": campaign.pk,
        "threshold_logit": campaign.run.threshold_logit,
        "high_total": campaign.high_total,
        "asked": campaign.inject_lenses,
        "built": campaign.injections_built_at is not None,
        "overall": completeness.completeness_row(*flags),
        "bins": bins,
        "injections": outcomes,
    }


def completeness_json(result: dict) -> dict:
    """:func:`campaign_completeness` as plain JSON."""
    return {
        **{k: result[k] for k in ("campaign", "threshold_logit", "high_total", "asked", "built")},
        "overall": result["overall"].as_dict(),
        "bins": {axis: [r.as_dict() for r in rows] for axis, rows in result["bins"].items()},
        "injections": result["injections"],
    }


def completeness_csv_rows(result: dict) -> list[dict]:
    """One row per bin of each axis, then the overall row (axis ``all``)."""
    rows = [{"axis": axis, **r.as_dict()} for axis, bins in result["bins"].items() for r in bins]
    return rows + [{"axis": "all", **result["overall"].as_dict()}]
