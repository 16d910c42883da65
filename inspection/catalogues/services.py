"""Consensus catalogues: grades turned into the science output of a search
(He et al. 2020 Sect. 4.1 and 4.3). One code path for the Catalogues pages and
``manage.py export_catalogue`` / ``add_prior_list``; the maths is in the pure
modules beside it: ``consensus``, ``prior_lists``, ``dashboards`` and
``gallery``.

Choices (where the paper is silent):

- The total score is the sum of a candidate's 0/1/2 grades in a campaign
  (0-12 with six inspectors). Known items mixed into the campaign count for
  skills only, never for a catalogue.
- High probability: total >= ``Campaign.high_total`` (4); further vote:
  total == ``Campaign.vote_total`` (3). A further-vote campaign (one whose
  ``parent`` is this campaign) decides the candidates it holds: they are high
  probability when their second-round total reaches its own ``high_total``.
- Skill-weighted posterior (Space Warps, Marshall et al. 2016): it starts at
  the network score (calibrated: the scorer applies the network's
  temperature, ``classifier.calibration``) mapped from the training set's
  lens fraction to the survey's ``lens_prior`` (Lanusse et al. 2018 eq. 5,
  ``classifier.calibration.prior_shift``), then takes Bayes' rule
  with every grade of both rounds, a 1 or a 2 saying "lens" (as the skills
  count them), with each inspector's current skill. Scores are clipped to
  [1e-3, 1 - 1e-3] first: a network's probability is not calibrated beyond
  about one part in its test set's size (10^3-10^4 stamps), and a score of
  exactly 1 (float32 saturates) would otherwise fix the posterior at 1
  whatever the inspectors say. A network without a recorded training prior
  is taken as trained on balanced classes.
- Dawid-Skene posterior (``dawid_skene``): the whole 0/1/2 scale, each
  inspector's 3x2 confusion matrix fitted by EM over the grades of both
  rounds (one matrix per inspector across rounds) and over every grade of
  an item of known truth the inspector has given: training answers and
  known items mixed into any campaign, as the skills count them (a
  retaken training's answers are gone; its skill counts stay). Known items
  are clamped to their truth and anchor the matrices. Each candidate's
  prior is the same prior-mapped score as the Space Warps posterior's;
  ``build`` refuses a run with a candidate unscored, so the campaign-level
  prior that the pure module fits for items without a score is unused here.
- Grade classes A, B, C from the mean of the first round's grades, with the
  campaign's bounds (``consensus.CLASS_DEFAULTS``), beside He et al.'s
  summed-total rule.
- Inspectors appear in exports by code (``I1``, ``I2``, ... in the order of
  their user ids), never by login.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from django.db import transaction
from django.db.models import Q

from classifier.calibration import prior_shift
from core import tables
from core.logodds import format_p_lens
from inspection.catalogues import consensus, dashboards, dawid_skene, gallery
from inspection.catalogues import prior_lists as priors
from inspection.catalogues.consensus import inspector_codes
from inspection.discussion import services as discussion
from inspection.grading import services as grading
from inspection.models import (
    Assignment,
    Campaign,
    Grade,
    PriorLens,
    PriorList,
    Score,
    ScoringRun,
    Skill,
    TrainingAnswer,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from astropy.table import Table


SELECTIONS = {
    "candidates": "every candidate of the campaign",
    "high": "the high-probability catalogue",
    "vote": "the further-vote set",
    "disagree": "candidates whose grades differ by 2 or more",
    "new": "high-probability candidates in no prior list",
}
ORDERS = ("total", "posterior", "ds", "score")
SCORE_CLIP = 1e-3  # see the module docstring
DEFAULT_RADIUS_ARCSEC = 2.0
GALLERY_MAX = 300


class CatalogueError(ValueError):
    """A catalogue, prior list or export cannot be made as asked; the message says why.

    ``http_status``: what a page answers when it refuses for this reason (the
    views read the type, never the message's wording)."""

    http_status = 400


def _grade_matrix(campaign, index):
    """A campaign's grades of the sources in ``index`` (source id -> row),
    ``[rows, inspectors]`` (NaN: not graded), and the inspector ids of the
    columns."""
    inspector_ids = sorted(campaign.inspectors.values_list("pk", flat=True))
    column = {pk: n for n, pk in enumerate(inspector_ids)}
    grades = np.full((len(index), len(inspector_ids)), np.nan)
    rows = Grade.objects.filter(
        assignment__campaign=campaign, assignment__item__source__isnull=False
    )
    if len(index) <= 100:  # one candidate's page: not the whole campaign's grades
        rows = rows.filter(assignment__item__source_id__in=list(index))
    rows = rows.values_list("assignment__item__source_id", "assignment__inspector_id", "grade")
    for source_id, inspector_id, value in rows:
        if source_id in index and inspector_id in column:
            grades[index[source_id], column[inspector_id]] = value
    return grades, inspector_ids


def inspector_skills(inspector_ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """P("lens"|lens) and P("not"|not) per inspector; 0.5 (no information)
    for one who has never seen a known item."""
    found = {s.inspector_id: s for s in Skill.objects.filter(inspector_id__in=inspector_ids)}
    p_lens = np.array([found[i].p_lens if i in found else 0.5 for i in inspector_ids])
    p_not = np.array([found[i].p_not if i in found else 0.5 for i in inspector_ids])
    return p_lens, p_not


@dataclass
class Catalogue:
    """Every candidate of a campaign with its grades, total, posterior and flags."""

    campaign: Campaign
    sources: list
    item_ids: list  # the CampaignItem of each row
    inspector_ids: list
    grades: np.ndarray  # first round, [candidates, inspectors], NaN = not graded
    scores: np.ndarray
    logits: np.ndarray  # the network's log-odds: they rank where scores tie at 1.0
    p_prior: np.ndarray
    posterior: np.ndarray
    second_total: np.ndarray  # NaN where a candidate had no further vote
    second_high: np.ndarray
    ds: DawidSkene  # the Dawid-Skene fit: P(lens) on the whole 0/1/2 scale
    children: list = field(default_factory=list)
    # First-round assignments that still ask for a grade (not withdrawn by
    # retirement) or hold one, per candidate: escalation adds some, retirement
    # withdraws some, so "every inspector" is not the count to expect.
    holders: np.ndarray | None = None
    retired: np.ndarray | None = None  # retired by its first grades (retirement)

    @property
    def codes(self) -> list[str]:
        return inspector_codes(self.inspector_ids)

    @cached_property
    def totals(self) -> np.ndarray:
        return consensus.total_scores(self.grades)

    @cached_property
    def n_grades(self) -> np.ndarray:
        return consensus.n_grades(self.grades)

    @property
    def p_ds(self) -> np.ndarray:
        """Dawid-Skene P(lens) per candidate."""
        return self.ds.posterior

    @cached_property
    def mean_grades(self) -> np.ndarray:
        """Mean first-round grade (0-2) per candidate; NaN where ungraded."""
        return consensus.mean_grades(self.grades)

    @cached_property
    def grade_class(self) -> np.ndarray:
        """ "A", "B", "C" or "" per candidate, by the campaign's bounds."""
        return consensus.grade_classes(self.mean_grades, *self.campaign.class_bounds)

    @cached_property
    def vote(self) -> np.ndarray:
        return consensus.further_vote(self.totals, self.campaign.vote_total)

    @cached_property
    def high(self) -> np.ndarray:
        first = consensus.high_probability(self.totals, self.campaign.high_total)
        return first | self.second_high

    @cached_property
    def disagree(self) -> np.ndarray:
        return consensus.disagreements(self.grades)

    def rank(self, order: str) -> np.ndarray:
        """Indices best first: by total (then posterior), by posterior, by
        Dawid-Skene posterior, or by network score."""
        if order not in ORDERS:
            raise CatalogueError(f"Order by one of {', '.join(ORDERS)}, not {order!r}.")
        second = np.nan_to_num(self.second_total, nan=-1)
        keys = {
            "total": (-self.posterior, -second, -self.totals),
            "posterior": (-self.logits, -self.totals, -self.posterior),
            "ds": (-self.logits, -self.totals, -self.p_ds),
            "score": (-self.totals, -self.posterior, -self.logits),
        }[order]
        return np.lexsort(keys) if len(self.sources) else np.zeros(0, int)

    def select(self, which: str, new: np.ndarray | None = None) -> np.ndarray:
        """Indices of a selection (:data:`SELECTIONS`); ``new`` is the
        not-in-any-prior-list mask the "new" selection needs."""
        if which not in SELECTIONS:
            raise CatalogueError(
                f"Choose a selection among {', '.join(SELECTIONS)}, not {which!r}."
            )
        mask = {
            "candidates": np.ones(len(self.sources), bool),
            "high": self.high,
            "vote": self.vote,
            "disagree": self.disagree,
        }.get(which)
        if which == "new":
            if new is None:
                raise CatalogueError("The 'new' selection needs a cross-match with prior lists.")
            mask = self.high & new
        return np.flatnonzero(mask)

    def ordered(
        self, which: str, report: PriorReport | None = None, order: str = "total"
    ) -> list[int]:
        """Indices of a selection, best first."""
        chosen = set(self.select(which, None if report is None else report.new).tolist())
        return [int(i) for i in self.rank(order) if i in chosen]

    def flags(self, i: int) -> str:
        out = []
        if self.disagree[i]:
            out.append("disagree")
        if self.vote[i]:
            out.append("further-vote")
        expected = len(self.inspector_ids) if self.holders is None else self.holders[i]
        if self.retired is not None and self.retired[i]:
            out.append("retired")
        elif self.n_grades[i] < expected:
            out.append("incomplete")
        if self.sources[i].at_edge:
            out.append("edge")
        return ",".join(out)


def build(campaign: Campaign) -> Catalogue:
    """The catalogue of a campaign (and of its further-vote campaigns)."""
    run = campaign.run
    items = (
        campaign.items.filter(source__isnull=False)
        .select_related("source")
        .order_by("source__stamp_index")
    )
    item_ids = [item.pk for item in items]
    sources = [item.source for item in items]
    index = {s.pk: n for n, s in enumerate(sources)}
    grades, inspector_ids = _grade_matrix(campaign, index)
    holders = np.zeros(len(sources), int)
    held = Assignment.objects.filter(campaign=campaign, item__source__isnull=False).filter(
        Q(withdrawn_at__isnull=True) | Q(grade__isnull=False)
    )
    for source_id in held.values_list("item__source_id", flat=True):
        if source_id in index:
            holders[index[source_id]] += 1
    retired = np.array([item.retired_at is not None for item in items], bool)
    scores = np.full(len(sources), np.nan)
    logits = np.full(len(sources), np.nan)
    for source_id, score, logit in Score.objects.filter(
        run=run, source__campaignitem__campaign=campaign
    ).values_list("source_id", "score", "logit"):
        scores[index[source_id]] = score
        logits[index[source_id]] = logit
    if np.isnan(scores).any():
        raise CatalogueError(
            f"Run {run.label} has no score for {int(np.isnan(scores).sum())} candidate(s) of "
            f"campaign {campaign.name!r}: finish or resume the run first."
        )
    p_prior = np.atleast_1d(prior_p_lens(run, scores))
    # Every grade of both rounds is evidence for the posterior.
    p_lens, p_not = inspector_skills(inspector_ids)
    posterior = consensus.space_warps_posterior(p_prior, grades, p_lens, p_not)
    second_total = np.full(len(sources), np.nan)
    second_high = np.zeros(len(sources), bool)
    children = list(Campaign.objects.filter(parent=campaign).order_by("created_at", "pk"))
    rounds = [(grades, inspector_ids)]
    for child in children:
        child_grades, child_ids = _grade_matrix(child, index)
        held = np.zeros(len(sources), bool)
        held[
            [
                index[s]
                for s in child.items.filter(source__isnull=False).values_list(
                    "source_id", flat=True
                )
                if s in index
            ]
        ] = True
        totals = consensus.total_scores(child_grades).astype(float)
        second_total[held] = totals[held]
        second_high[held] = totals[held] >= child.high_total
        posterior = consensus.space_warps_posterior(
            posterior, child_grades, *inspector_skills(child_ids)
        )
        rounds.append((child_grades, child_ids))
    return Catalogue(
        campaign=campaign,
        sources=sources,
        item_ids=item_ids,
        inspector_ids=inspector_ids,
        grades=grades,
        scores=scores,
        logits=logits,
        p_prior=p_prior,
        posterior=posterior,
        second_total=second_total,
        second_high=second_high,
        ds=fit_dawid_skene(rounds, p_prior),
        children=children,
        holders=holders,
        retired=retired,
    )


@dataclass
class DawidSkene:
    """A campaign's Dawid-Skene fit: candidates first, then the known items."""

    inspector_ids: list  # the raters: the first round's inspectors, then any new in later rounds
    fit: dawid_skene.DawidSkeneFit
    n_candidates: int
    n_known: np.ndarray  # grades of known items per inspector (training and campaigns)
    n_graded: np.ndarray  # grades of the campaign's candidates per inspector (every round)

    @property
    def posterior(self) -> np.ndarray:
        return self.fit.posterior[: self.n_candidates]

    @property
    def codes(self) -> list[str]:
        return inspector_codes(self.inspector_ids)

    def matrices(self) -> list[dict]:
        """Per inspector: code, P(grade g | lens) and P(grade g | non-lens)
        for g = 0, 1, 2, and how many grades of known items and of
        candidates the matrix rests on."""
        return [
            {
                "code": code,
                "lens": self.fit.confusion[r, 1].tolist(),
                "non_lens": self.fit.confusion[r, 0].tolist(),
                "n_known": int(self.n_known[r]),
                "n_graded": int(self.n_graded[r]),
            }
            for r, code in enumerate(self.codes)
        ]


def _known_grades(inspector_ids):
    """Every grade these inspectors gave an item of known truth: ``(key,
    inspector id, grade, is_lens)`` rows of their training answers, of the
    known items mixed into any campaign and of the injected lenses (as
    ``Skill`` counts); ``key`` is one per item (``("known", id)`` or
    ``("injection", id)``)."""
    rows = [
        (("known", k), i, g, t)
        for k, i, g, t in TrainingAnswer.objects.filter(inspector_id__in=inspector_ids).values_list(
            "item_id", "inspector_id", "grade", "item__is_lens"
        )
    ]
    rows += [
        (("known", k), i, g, t)
        for k, i, g, t in Grade.objects.filter(
            assignment__inspector_id__in=inspector_ids, assignment__item__known__isnull=False
        ).values_list(
            "assignment__item__known_id",
            "assignment__inspector_id",
            "grade",
            "assignment__item__known__is_lens",
        )
    ]
    rows += [
        (("injection", k), i, g, True)
        for k, i, g in Grade.objects.filter(
            assignment__inspector_id__in=inspector_ids,
            assignment__item__injection__isnull=False,
        ).values_list("assignment__item__injection_id", "assignment__inspector_id", "grade")
    ]
    return rows


def fit_dawid_skene(rounds: list[tuple[np.ndarray, list[int]]], p_prior: np.ndarray) -> DawidSkene:
    """The Dawid-Skene fit of a campaign's candidates.

    Parameters
    ----------
    rounds : list of (grades [candidates, inspectors], inspector ids)
        The first round, then each further vote, on the same candidate rows.
    p_prior : array [candidates]
        Each candidate's prior P(lens): the network score at the survey prior.
    """
    n_candidates = len(p_prior)
    inspector_ids = list(rounds[0][1])
    inspector_ids += sorted({i for _, ids in rounds[1:] for i in ids} - set(inspector_ids))
    rater_of = {pk: r for r, pk in enumerate(inspector_ids)}
    items, raters, values = [], [], []
    for grades, ids in rounds:
        item, column, grade = dawid_skene.observations(grades)
        items.append(item)
        raters.append(np.array([rater_of[ids[c]] for c in column], np.int64))
        values.append(grade)
    n_graded = np.bincount(np.concatenate(raters), minlength=len(inspector_ids))
    known_row, truth = {}, []
    for known_id, inspector_id, grade, is_lens in _known_grades(inspector_ids):
        if known_id not in known_row:
            known_row[known_id] = n_candidates + len(truth)
            truth.append(float(is_lens))
        items.append(np.array([known_row[known_id]], np.int64))
        raters.append(np.array([rater_of[inspector_id]], np.int64))
        values.append(np.array([grade], np.int64))
    n_items = n_candidates + len(truth)
    item, rater = np.concatenate(items), np.concatenate(raters)
    known = item >= n_candidates
    fit = dawid_skene.fit(
        item,
        rater,
        np.concatenate(values),
        n_items,
        len(inspector_ids),
        prior=np.concatenate([p_prior, np.full(len(truth), np.nan)]),
        truth=np.concatenate([np.full(n_candidates, np.nan), truth]),
    )
    return DawidSkene(
        inspector_ids=inspector_ids,
        fit=fit,
        n_candidates=n_candidates,
        n_known=np.bincount(rater[known], minlength=len(inspector_ids)),
        n_graded=n_graded,
    )


def prior_p_lens(run: ScoringRun, score: float | np.ndarray) -> np.ndarray:
    """The network score as the starting probability of the posterior: the
    run's stored score is the network's calibrated probability (its scorer
    divides the log-odds by the network's temperature), which eq. 5 needs."""
    score = np.clip(np.asarray(score, np.float64), SCORE_CLIP, 1 - SCORE_CLIP)
    return prior_shift(score, run.network.train_prior or 0.5, run.survey.lens_prior)


def posterior_path(campaign: Campaign, source: int) -> list[tuple[str, int | None, float]]:
    """One candidate's Space Warps posterior, step by step: ``[(label,
    grade, p)]`` from the network's prior-mapped score through each grade of
    the campaign and of its further votes (inspectors by code)."""
    while campaign.parent_id is not None:  # a further vote: start from the first round
        campaign = campaign.parent
    run = campaign.run
    score = Score.objects.filter(run=run, source=source).values_list("score", flat=True).first()
    if score is None:
        return []
    p = float(prior_p_lens(run, score))
    path = [("network score at the survey prior", None, p)]
    rounds = [campaign, *Campaign.objects.filter(parent=campaign).order_by("created_at", "pk")]
    for n, c in enumerate(rounds):
        grades, inspector_ids = _grade_matrix(c, {source.pk: 0})
        p_lens, p_not = inspector_skills(inspector_ids)
        steps = consensus.space_warps_trajectory(p, grades[0], p_lens, p_not)
        graded = [k for k in range(len(inspector_ids)) if not np.isnan(grades[0, k])]
        for k, p in zip(graded, steps, strict=True):
            label = f"{inspector_codes(inspector_ids)[k]}" + (f" (round {n + 1})" if n else "")
            path.append((label, int(grades[0, k]), p))
    return path


def agreement(cat: Catalogue) -> dict:
    """Fleiss' kappa, ordinal Krippendorff's alpha and each inspector's bias
    and scatter against the mean of the others (first round only)."""
    bias, scatter, n = consensus.rater_bias(cat.grades)

    def value(x):  # None where undefined (too few grades), for pages and JSON
        return None if np.isnan(x) else float(x)

    return {
        "fleiss_kappa": value(consensus.fleiss_kappa(cat.grades)),
        "alpha_ordinal": value(consensus.krippendorff_alpha(cat.grades, "ordinal")),
        "inspectors": [
            {"code": c, "bias": value(b), "scatter": value(s), "n": int(k)}
            for c, b, s, k in zip(cat.codes, bias, scatter, n, strict=True)
        ],
        "pairwise": consensus.pairwise_agreement(cat.grades),
        "n_disagree": int(cat.disagree.sum()),
    }


# --- Prior lists ---------------------------------------------------------------


def _store_prior_list(name, table, origin, description):
    if PriorList.objects.filter(name=name).exists():
        raise CatalogueError(f"A prior list named {name!r} exists already: choose another name.")
    with transaction.atomic():
        prior = PriorList.objects.create(
            name=name,
            description=description,
            origin=str(origin),
            n_read=table.meta.get("n_read", len(table)),
            n_duplicates=table.meta.get("n_duplicates", 0),
        )
        PriorLens.objects.bulk_create(
            (
                PriorLens(
                    prior_list=prior,
                    name=str(n)[:80],
                    ra_deg=float(r),
                    dec_deg=float(d),
                    grade=str(g)[:40],
                )
                for n, r, d, g in zip(
                    table["name"], table["ra"], table["dec"], table["grade"], strict=True
                )
            ),
            batch_size=5000,
        )
    return prior


PRIOR_FIELDS = ("ra", "dec", "name", "grade")


def parse_columns(text: str | None) -> dict[str, str] | None:
    """``"ra=RAJ2000,dec=DEJ2000"`` -> ``{"ra": "RAJ2000", "dec": "DEJ2000"}``
    (None when empty); a malformed pair is an error."""
    columns = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        field, sep, column = (x.strip() for x in part.partition("="))
        if not sep or field not in PRIOR_FIELDS or not column:
            raise CatalogueError(
                f"Map columns as field=COLUMN with fields {', '.join(PRIOR_FIELDS)}, not {part!r}."
            )
        columns[field] = column
    return columns or None


def add_prior_list(
    name: str, path: str | Path, columns: dict[str, str] | None = None, description: str = ""
) -> PriorList:
    """Read a prior lens list (CSV, FITS, ECSV or VOTable) and store it; a
    list that cannot be read stores nothing."""
    try:
        table = priors.read_prior_list(path, columns=columns)
    except priors.PriorListError as exc:
        raise CatalogueError(str(exc)) from exc
    return _store_prior_list(name, table, path, description)


def add_lenscat(name: str = "lenscat") -> PriorList:
    """The lenscat catalogue of known lenses and candidates (Vujeva et al.),
    read from the CSV its package bundles; nothing is fetched."""
    try:
        table = priors.read_lenscat()
        origin = priors.lenscat_csv_path()
    except priors.PriorListError as exc:
        raise CatalogueError(str(exc)) from exc
    return _store_prior_list(name, table, origin, "lenscat: known lenses and candidates")


def _positions(queryset):
    """(pk, ra_deg, dec_deg) of every row as three arrays: one query, and one
    C-level conversion (building them row by row cost a third of the page)."""
    rows = np.array(list(queryset.values_list("pk", "ra_deg", "dec_deg")), np.float64)
    rows = rows.reshape(-1, 3)
    return rows[:, 0].astype(np.int64), rows[:, 1], rows[:, 2]


@dataclass
class PriorReport:
    """He et al. 2020 Sect. 4.3.1: how a prior list meets the search."""

    radius_arcsec: float
    lists: list  # per list: name, n, in_sample, selected, kept
    match: list  # per catalogue row: "list:name" of the nearest prior entry, or ""
    separation_arcsec: np.ndarray  # NaN where unmatched
    new: np.ndarray  # high-probability rows in no prior list
    matched: dict = field(default_factory=dict)  # row -> (name, ra_deg, dec_deg) of its match

    @property
    def n_new(self) -> int:
        return int(self.new.sum())


def prior_report(
    cat: Catalogue,
    prior_lists: Iterable[PriorList] | None = None,
    radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
) -> PriorReport:
    """Cross-match prior lists with the run's LRG sample, its candidates and
    the catalogue: how many of each list fall in our LRG sample, how many of
    those the network selected, how many the inspectors kept, and which
    high-probability candidates are new."""
    try:
        radius_arcsec = float(radius_arcsec)
    except (TypeError, ValueError):
        raise CatalogueError(f"The radius is in arcsec, not {radius_arcsec!r}.") from None
    if not 0 < radius_arcsec <= 60:
        raise CatalogueError(f"The match radius must be in (0, 60] arcsec, not {radius_arcsec}.")
    prior_lists = list(PriorList.objects.all() if prior_lists is None else prior_lists)
    run = cat.campaign.run
    sample_ids, sample_ra, sample_dec = _positions(run.sources())
    selected_ids = set(run.candidates().values_list("source_id", flat=True))
    kept_ids = {cat.sources[i].pk for i in np.flatnonzero(cat.high)}
    cat_ra = np.array([s.ra_deg for s in cat.sources])
    cat_dec = np.array([s.dec_deg for s in cat.sources])
    best_sep = np.full(len(cat.sources), np.nan)
    match = [""] * len(cat.sources)
    matched = {}
    lists = []
    for prior in prior_lists:
        pks, ra, dec = _positions(prior.lenses.order_by("pk"))
        i_prior, i_sample, _ = priors.crossmatch(ra, dec, sample_ra, sample_dec, radius_arcsec)
        hit = {int(p): int(sample_ids[s]) for p, s in zip(i_prior, i_sample, strict=True)}
        lists.append(
            {
                "name": prior.name,
                "n": len(ra),
                "in_sample": len(hit),
                "selected": sum(s in selected_ids for s in hit.values()),
                "kept": sum(s in kept_ids for s in hit.values()),
            }
        )
        i_cat, i_list, sep = priors.crossmatch(cat_ra, cat_dec, ra, dec, radius_arcsec)
        names = dict(prior.lenses.filter(pk__in=pks[i_list].tolist()).values_list("pk", "name"))
        for c, p, s in zip(i_cat, i_list, sep, strict=True):
            if not s >= best_sep[c]:  # NaN (no match yet) or a closer one
                name = names[int(pks[p])]
                best_sep[c], match[c] = s, f"{prior.name}:{name}"
                matched[int(c)] = (name, float(ra[p]), float(dec[p]))
    new = cat.high & np.isnan(best_sep)
    return PriorReport(radius_arcsec, lists, match, best_sep, new, matched)


def dashboard_figures(cat: Catalogue, report: PriorReport, agree: dict) -> dict[str, go.Figure]:
    """The Catalogues page's plotly figures (``inspection.catalogues.dashboards``)."""
    run, survey = cat.campaign.run, cat.campaign.run.survey
    names = [s.name for s in cat.sources]
    kind = [
        "known" if report.match[i] else ("new" if cat.high[i] else "candidate")
        for i in range(len(cat.sources))
    ]
    # The sky map shows the prior entries matched to a candidate, not a
    # whole-sky list of 30,000 lenses.
    prior = list(report.matched.values())
    return {
        "funnel": dashboards.funnel_figure(
            [
                ("catalogue sources", survey.n_catalogue),
                ("LRGs scored", run.n_sources),
                ("candidates", run.candidates().count()),
                ("graded", int((cat.n_grades > 0).sum())),
                ("high probability", int(cat.high.sum())),
            ]
        ),
        "totals": dashboards.total_score_figure(
            consensus.total_distribution(cat.totals, 2 * len(cat.inspector_ids)),
            cat.campaign.high_total,
            cat.campaign.vote_total,
        ),
        "score": dashboards.score_vs_consensus_figure(
            cat.scores.tolist(), cat.totals.tolist(), cat.posterior.tolist(), names
        ),
        "sky": dashboards.sky_figure(
            [s.ra_deg for s in cat.sources],
            [s.dec_deg for s in cat.sources],
            names,
            kind,
            [ra for _, ra, _ in prior],
            [dec for _, _, dec in prior],
            [name for name, _, _ in prior],
        ),
        "agreement": dashboards.agreement_figure(
            cat.codes,
            [r["bias"] for r in agree["inspectors"]],
            [r["scatter"] for r in agree["inspectors"]],
            agree["pairwise"],
        ),
    }


# --- Tables, exports, gallery ------------------------------------------------------


def catalogue_table(
    cat: Catalogue,
    which: str = "candidates",
    report: PriorReport | None = None,
    order: str = "total",
) -> Table:
    """An astropy table of a selection, best first: names, positions, network
    score, every inspector's grade (masked where not graded), totals, mean
    grade and grade class, the Space Warps and Dawid-Skene posteriors, ranks
    by total and by each posterior, flags and prior-list matches."""
    from astropy.table import MaskedColumn, Table

    rows = np.asarray(cat.ordered(which, report, order), dtype=int)
    rank_total = np.empty(len(cat.sources), int)
    rank_total[cat.rank("total")] = np.arange(1, len(cat.sources) + 1)
    rank_post = np.empty(len(cat.sources), int)
    rank_post[cat.rank("posterior")] = np.arange(1, len(cat.sources) + 1)
    rank_ds = np.empty(len(cat.sources), int)
    rank_ds[cat.rank("ds")] = np.arange(1, len(cat.sources) + 1)
    src = [cat.sources[i] for i in rows]
    t = Table()
    t["name"] = np.array([s.name for s in src], dtype=str)
    t["catalogue_id"] = np.array([s.catalogue_id for s in src], dtype=str)
    t["ra"] = np.array([s.ra_deg for s in src], np.float64)
    t["dec"] = np.array([s.dec_deg for s in src], np.float64)
    t["score"] = cat.scores[rows]
    t["score"].description = "network P(lens) at the training prior"
    t["logit"] = cat.logits[rows]
    t["p_prior"] = cat.p_prior[rows]
    t["posterior"] = cat.posterior[rows]
    t["p_ds"] = cat.p_ds[rows]
    for col, code in enumerate(cat.codes):
        values = cat.grades[rows, col]
        t[f"grade_{code}"] = MaskedColumn(
            np.nan_to_num(values, nan=0).astype(np.int16),
            mask=np.isnan(values),
            description=f"grade of inspector {code}: 0 non-lens, 1 possible, 2 definite",
        )
    t["total"] = cat.totals[rows].astype(np.int16)
    t["n_grades"] = cat.n_grades[rows].astype(np.int16)
    t["mean_grade"] = cat.mean_grades[rows]
    t["grade_class"] = np.array(cat.grade_class[rows], dtype="<U1")
    if cat.children:
        second = cat.second_total[rows]
        t["second_total"] = MaskedColumn(
            np.nan_to_num(second, nan=0).astype(np.int16),
            mask=np.isnan(second),
        )
    t["rank_total"] = rank_total[rows]
    t["rank_posterior"] = rank_post[rows]
    t["rank_ds"] = rank_ds[rows]
    t["high_probability"] = cat.high[rows]
    t["flags"] = np.array([cat.flags(i) for i in rows], dtype=str)
    # The admins' final decisions after the discussion (inspection.discussion).
    decisions = discussion.final_decisions(cat.campaign)
    decided = [decisions.get(s.pk) for s in src]
    t["decision"] = np.array([d.verdict if d else "" for d in decided], dtype=str)
    t["decision"].description = "admin's final decision: lens, not-lens, unsure ('' if none)"
    t["decision_reason"] = np.array([d.reason if d else "" for d in decided], dtype=str)
    t["decision_reason"].description = "the reason given with the decision"
    if report is not None:
        t["prior_match"] = np.array([report.match[i] for i in rows], dtype=str)
        t["prior_sep"] = report.separation_arcsec[rows]
        t["new"] = report.new[rows]
    campaign = cat.campaign
    t.meta.update(
        {
            "CAMPAIGN": campaign.pk,
            "RUN": campaign.run.pk,
            "NETWORK": campaign.run.network.name,
            "SURVEY": campaign.run.survey.name,
            "SELECT": which,
            "HIGHTOT": campaign.high_total,
            "VOTETOT": campaign.vote_total,
            "CLASSA": campaign.class_a_min,
            "CLASSB": campaign.class_b_min,
            "CLASSC": campaign.class_c_min,
            "LENSPRI": campaign.run.survey.lens_prior,
        }
    )
    if report is not None:
        t.meta["MATCHRAD"] = report.radius_arcsec
    return tables.describe(t)


def export_catalogue(
    cat: Catalogue,
    path: str | Path,
    which: str = "high",
    report: PriorReport | None = None,
    order: str = "total",
) -> int:
    """Write a selection as CSV, FITS, ECSV or VOTable (by suffix); atomic."""
    tables.write_format(path, CatalogueError)  # before the table is built
    return tables.write_table(catalogue_table(cat, which, report, order), path, CatalogueError)


def gallery_png(
    cat: Catalogue,
    which: str = "high",
    report: PriorReport | None = None,
    order: str = "total",
    limit: int = GALLERY_MAX,
    columns: int = 6,
) -> bytes:
    """A contact sheet (He et al. 2020 Fig. 7): each candidate's g,r,i
    composite (r band where the survey has no g and i) with its name,
    network score, total, grade class and both posteriors."""
    rows = cat.ordered(which, report, order)
    survey = cat.campaign.run.survey
    kind = "rgb" if grading.rgb_bands(survey) else "r"
    shown = rows[:limit]
    tiles, labels = [], []
    for i in shown:
        source = cat.sources[i]
        tiles.append(grading.stamp_image(survey, source.stamp_index, kind))
        second = "" if np.isnan(cat.second_total[i]) else f"+{int(cat.second_total[i])}"
        p = format_p_lens(cat.logits[i], 3, minus="-")  # the default font may lack U+2212
        labels.append(
            f"{source.name}\np={p} T={int(cat.totals[i])}{second} {cat.grade_class[i]}\n"
            f"P={cat.posterior[i]:.2f} DS={cat.p_ds[i]:.2f}"
        )
    title = f"{cat.campaign.name}: {SELECTIONS[which]} ({len(rows)}"
    title += f", first {limit} shown)" if len(rows) > limit else ")"
    return gallery.contact_sheet(
        tiles, labels, columns=columns, title=title, pixscale_arcsec=survey.pixscale_arcsec
    )
