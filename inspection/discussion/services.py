"""Discussion after blind grading: who may see a candidate's thread, its
comments, the admins' final decisions, the discussion index of a campaign,
and a candidate's context (prior-list matches, FITS stamps). One code path
for the admins' and the inspectors' pages; the pure parts are in
``inspection.discussion.context``.

Blindness: a thread belongs to one campaign item. Admins see every thread;
an inspector sees the thread of an item only through their own assignment
to it, once they have graded it (before: 403; an item not theirs, a known
item or a draft campaign: 404). Until then nothing of the others' grades
or comments reaches them.

And only once they have graded everything the campaign shows them
(``pending``): known and injected lenses have no thread, so a discussion
page open mid-campaign would tell an inspector which of their grades were
tests, and what the next test looks like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.db import transaction
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from inspection.catalogues import prior_lists as priors
from inspection.discussion import context
from inspection.grading import services as grading
from inspection.models import (
    Assignment,
    Campaign,
    CampaignItem,
    Comment,
    Decision,
    Grade,
    PriorLens,
    Source,
    Survey,
)
from simulations.stampset import StampSetError, read_stampset

if TYPE_CHECKING:
    from django.contrib.auth.models import User

#: Rows the discussion index shows: every flagged candidate, then the rest
#: up to this many (a campaign may hold 8,000 candidates).
INDEX_SHOWN = 500


class DiscussionError(ValueError):
    """A thread, decision or stamp cannot be had as asked; ``http_status``
    is the page's answer (the views read the type, never the wording)."""

    http_status = 404


class GradeFirst(DiscussionError):
    """The inspector's own candidate, not graded yet: its thread stays closed."""

    http_status = 403


# --- Access ------------------------------------------------------------------------


def pending(user: User, campaign_pk: int) -> int:
    """How many of the inspector's assignments in the campaign are still to
    grade (not graded, not withdrawn): their discussion opens at 0."""
    return Assignment.objects.filter(
        campaign_id=campaign_pk, inspector=user, grade__isnull=True, withdrawn_at__isnull=True
    ).count()


def graded_assignment(user: User, campaign_pk: int, assignment_pk: int) -> Assignment:
    """The inspector's own graded assignment to a candidate in their open or
    closed campaign.

    Raises
    ------
    DiscussionError
        Not theirs, a known item, or a draft campaign (404: the same answer
        for each, so that nothing tells them apart).
    GradeFirst
        Theirs, not graded yet, or other candidates of the campaign still to
        grade (403).
    """
    found = (
        Assignment.objects.select_related("campaign__run__survey", "item__source", "grade")
        .filter(
            pk=assignment_pk,
            campaign_id=campaign_pk,
            inspector=user,
            campaign__status__in=Campaign.VISIBLE,
            item__source__isnull=False,
        )
        .first()
    )
    if found is None:
        raise DiscussionError("No such candidate of yours in this campaign.")
    if getattr(found, "grade", None) is None:
        raise GradeFirst(
            "Grade this candidate first: its discussion opens once you have graded it."
        )
    left = pending(user, campaign_pk)
    if left:
        raise GradeFirst(
            f"Finish grading this campaign first ({left} left): its discussion opens once "
            "you have graded all your candidates, so that it tells nothing about the rest."
        )
    return found


# --- Threads and decisions ------------------------------------------------------------


def thread(item: CampaignItem) -> list[Comment]:
    """The item's comments, oldest first, with their authors."""
    return list(item.comments.select_related("author"))


def graders(item: CampaignItem) -> list[tuple[str, int]]:
    """(username, grade) of everyone who graded the item, by username."""
    rows = Grade.objects.filter(assignment__item=item).values_list(
        "assignment__inspector__username", "grade"
    )
    return sorted(rows)


def add_comment(item: CampaignItem, author: User, text: str) -> Comment:
    """Append a comment (``text`` as validated by ``CommentForm``)."""
    return Comment.objects.create(item=item, author=author, text=text)


def decide(item: CampaignItem, admin: User, verdict: str, reason: str) -> Decision:
    """Store (or replace) the final decision on a candidate."""
    if item.source_id is None:
        raise DiscussionError("Known items are decided by their truth, not by an admin.")
    if verdict not in Decision.Verdict.values:
        raise DiscussionError(
            f"A decision is {', '.join(Decision.Verdict.values)}, not {verdict!r}."
        )
    with transaction.atomic():
        decision, _ = Decision.objects.update_or_create(
            item=item,
            defaults={
                "verdict": verdict,
                "reason": reason,
                "decided_by": admin,
                "decided_at": timezone.now(),
            },
        )
    return decision


def final_decisions(campaign: Campaign) -> dict[int, Decision]:
    """Source id -> the latest decision on it in the campaign or in its
    further votes (the catalogue of a campaign holds both rounds)."""
    rounds = [campaign.pk, *Campaign.objects.filter(parent=campaign).values_list("pk", flat=True)]
    found = {}
    for d in Decision.objects.filter(item__campaign_id__in=rounds).select_related("item"):
        kept = found.get(d.item.source_id)
        if kept is None or (d.decided_at, d.pk) > (kept.decided_at, kept.pk):
            found[d.item.source_id] = d
    return found


# --- The discussion index ------------------------------------------------------------------


@dataclass
class IndexRow:
    """One candidate on a campaign's discussion index."""

    item: CampaignItem
    link_pk: int  # the item (admins) or the inspector's assignment to it
    n_grades: int
    total: int | None
    spread: int | None  # highest minus lowest grade
    flagged: bool  # grades differ by 2 or more
    n_comments: int
    decision: Decision | None


def discussion_index(
    campaign: Campaign, inspector: User | None = None
) -> tuple[list[IndexRow], int]:
    """The campaign's candidates for discussion, flagged disagreements first
    (grades differing by 2 or more, the catalogues' rule), then those with
    comments, then by total; for an inspector, only the candidates they have
    graded, linked through their assignments, and none until they have graded
    everything the campaign shows them (:func:`pending`): known and injected
    items have no row, so a partial index would tell which grades were tests.
    Returns the rows shown (at most :data:`INDEX_SHOWN` beyond the flagged
    ones) and the count of all."""
    items = campaign.items.filter(source__isnull=False).select_related("source")
    links = {}
    if inspector is not None:
        if pending(inspector, campaign.pk):
            return [], 0
        mine = Assignment.objects.filter(
            campaign=campaign, inspector=inspector, grade__isnull=False, item__source__isnull=False
        ).values_list("item_id", "pk")
        links = dict(mine)
        items = items.filter(pk__in=list(links))
    stats = {
        r["assignment__item_id"]: r
        for r in Grade.objects.filter(
            assignment__campaign=campaign, assignment__item__source__isnull=False
        )
        .values("assignment__item_id")
        .annotate(n=Count("id"), total=Sum("grade"), low=Min("grade"), high=Max("grade"))
    }
    comments = dict(
        Comment.objects.filter(item__campaign=campaign)
        .values_list("item_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    decisions = {d.item_id: d for d in Decision.objects.filter(item__campaign=campaign)}
    flagged = grading.disagreements(campaign)
    rows = []
    for item in items:
        s = stats.get(item.pk)
        rows.append(
            IndexRow(
                item=item,
                link_pk=links.get(item.pk, item.pk),
                n_grades=s["n"] if s else 0,
                total=s["total"] if s else None,
                spread=s["high"] - s["low"] if s else None,
                flagged=item.pk in flagged,
                n_comments=comments.get(item.pk, 0),
                decision=decisions.get(item.pk),
            )
        )
    rows.sort(key=lambda r: (not r.flagged, not r.n_comments, -(r.total or 0), r.item.source.name))
    n_flagged = sum(r.flagged for r in rows)
    return rows[: max(n_flagged, INDEX_SHOWN)], len(rows)


# --- Context: prior lists and FITS stamps ------------------------------------------------


def prior_matches(
    ra_deg: float, dec_deg: float, radius_arcsec: float = context.CONTEXT_RADIUS_ARCSEC
) -> list[dict]:
    """Entries of every prior list within ``radius_arcsec`` of a position,
    nearest first: ``list``, ``name``, ``grade``, ``ra``, ``dec`` (deg) and
    ``separation`` (arcsec). The database narrows the lists to a band of
    declination; the one cross-match (``prior_lists.crossmatch``) decides."""
    band = radius_arcsec / 3600.0
    near = list(
        PriorLens.objects.filter(
            dec_deg__gte=dec_deg - band, dec_deg__lte=dec_deg + band
        ).select_related("prior_list")
    )
    if not near:
        return []
    ra = np.array([p.ra_deg for p in near])
    dec = np.array([p.dec_deg for p in near])
    # Every entry whose nearest "candidate" (the only one) is close enough.
    idx, _, sep = priors.crossmatch(ra, dec, [ra_deg], [dec_deg], radius_arcsec)
    found = [
        {
            "list": near[i].prior_list.name,
            "name": near[i].name,
            "grade": near[i].grade,
            "ra": near[i].ra_deg,
            "dec": near[i].dec_deg,
            "separation": float(s),
        }
        for i, s in zip(idx, sep, strict=True)
    ]
    return sorted(found, key=lambda m: (m["separation"], m["list"], m["name"]))


def stamp_fits(source: Source, band: str) -> bytes:
    """One band of a source's stamp as FITS bytes, read from its survey's
    stamp set (``context.stamp_fits`` says what the header holds)."""
    survey, stamp_index = source.survey, source.stamp_index
    if band not in survey.band_list:
        raise DiscussionError(f"{survey.name} has the bands {survey.bands}, not {band!r}.")
    try:
        stamps = read_stampset(survey.stamps_file())
    except StampSetError as exc:
        raise DiscussionError(f"The stamps of {survey.name} cannot be read: {exc}") from exc
    if not 0 <= stamp_index < len(stamps):
        raise DiscussionError("No such stamp.")
    image = stamps.cube[stamp_index, stamps.bands.index(band)]
    return context.stamp_fits(
        image,
        ra_deg=source.ra_deg,
        dec_deg=source.dec_deg,
        pixscale_arcsec=stamps.pixscale_arcsec,
        band=band,
        name=source.name,
        survey=survey.name,
        units=stamps.units,
    )


def candidate_context(survey: Survey, source: Source) -> dict:
    """What a candidate's page shows around it: prior-list matches within
    :data:`context.CONTEXT_RADIUS_ARCSEC`, the sky-viewer link, the bands."""
    return {
        "prior_matches": prior_matches(source.ra_deg, source.dec_deg),
        "radius_arcsec": context.CONTEXT_RADIUS_ARCSEC,
        "viewer_url": context.legacy_viewer_url(source.ra_deg, source.dec_deg),
        "bands": survey.band_list,
    }
