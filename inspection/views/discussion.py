"""Discussion after blind grading, and the context of a candidate: the
campaign's discussion index, a candidate's thread (admins: on the campaign
item's page; inspectors: through their own graded assignment), the admins'
final decisions, FITS stamps, and the admins' page of a run's candidate.
Thin: each view checks access and calls ``inspection.discussion.services``.

An inspector reaches a thread only after grading that candidate and every
other one the campaign shows them (403 before; 404 for anything not
theirs), so blind grading stays blind.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.forms import form_errors
from core.roles import admin_required, inspector_required
from inspection.discussion import services as discussion
from inspection.forms import CommentForm, DecisionForm
from inspection.grading import services as grading
from inspection.models import Campaign, CampaignItem, Score, ScoringRun, Source


def _fits(response_bytes, source, band):
    response = HttpResponse(response_bytes, content_type="application/fits")
    filename = f"{source.name.replace(' ', '_')}-{band}.fits"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _refusal(exc):
    return HttpResponse(str(exc), status=exc.http_status, content_type="text/plain")


# --- The discussion index ---------------------------------------------------------


@admin_required
def discussion_index(request: HttpRequest, pk: int) -> HttpResponse:
    """Every candidate of a campaign for discussion, disagreements first."""
    campaign = get_object_or_404(Campaign, pk=pk)
    rows, n = discussion.discussion_index(campaign)
    return render(
        request,
        "inspection/discussion.html",
        {"campaign": campaign, "rows": rows, "n": n, "link": "inspection:campaign_item"},
    )


@inspector_required
def my_discussion(request: HttpRequest, pk: int) -> HttpResponse:
    """The candidates the inspector has graded in their campaign, disagreements first."""
    campaign = get_object_or_404(
        Campaign, pk=pk, inspectors=request.user, status__in=Campaign.VISIBLE
    )
    left = discussion.pending(request.user, campaign.pk)
    rows, n = discussion.discussion_index(campaign, inspector=request.user)
    return render(
        request,
        "inspection/discussion.html",
        {"campaign": campaign, "rows": rows, "n": n, "left": left,
         "link": "inspection:graded_candidate"},
    )  # fmt: skip


# --- An inspector's graded candidate ---------------------------------------------


@inspector_required
def graded_candidate(request: HttpRequest, pk: int, assignment_pk: int) -> HttpResponse:
    """The inspector's own graded candidate: its stamps, everyone's grades,
    its context and its thread; a POST adds a comment."""
    try:
        assignment = discussion.graded_assignment(request.user, pk, assignment_pk)
    except discussion.DiscussionError as exc:
        return _refusal(exc)
    item = assignment.item
    form = CommentForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        discussion.add_comment(item, request.user, form.cleaned_data["text"])
        return redirect(request.path + "#thread")
    survey = assignment.campaign.run.survey
    context = {
        "campaign": assignment.campaign,
        "assignment": assignment,
        "item": item,
        "source": item.source,
        "images": {
            k: reverse("inspection:grade_stamp", args=[pk, assignment.pk, k])
            for k in grading.kinds_of(survey)
        },
        "graders": discussion.graders(item),
        "comments": discussion.thread(item),
        "form": form,
        "errors": form_errors(form) if form.is_bound else [],
        "comment_url": request.path,
        "fits": [
            (b, reverse("inspection:graded_fits", args=[pk, assignment.pk, b]))
            for b in survey.band_list
        ],
        **discussion.candidate_context(survey, item.source),
    }
    status = 400 if form.is_bound else 200
    return render(request, "inspection/graded_candidate.html", context, status=status)


@inspector_required
def graded_fits(request: HttpRequest, pk: int, assignment_pk: int, band: str) -> HttpResponse:
    try:
        assignment = discussion.graded_assignment(request.user, pk, assignment_pk)
        source = assignment.item.source
        return _fits(discussion.stamp_fits(source, band), source, band)
    except discussion.DiscussionError as exc:
        return _refusal(exc)


# --- Admins: comments, decisions, stamps, a run's candidate -------------------------


def admin_item_context(item: CampaignItem) -> dict:
    """What the admins' page of a campaign's candidate adds for the discussion
    (``grading.campaign_item``): its context, thread and the two forms."""
    source = item.source
    survey = source.survey
    return {
        "comments": discussion.thread(item),
        "comment_form": CommentForm(),
        "decision_form": DecisionForm(
            initial={"verdict": item.decision.verdict, "reason": item.decision.reason}
            if hasattr(item, "decision")
            else None
        ),
        "decision": getattr(item, "decision", None),
        "fits": [
            (b, reverse("inspection:stamp_fits", args=[survey.name, source.stamp_index, b]))
            for b in survey.band_list
        ],
        **discussion.candidate_context(survey, source),
    }


def _campaign_candidate(pk, item_pk):
    return get_object_or_404(
        CampaignItem.objects.select_related("source__survey"),
        pk=item_pk,
        campaign_id=pk,
        source__isnull=False,
    )


@admin_required
@require_POST
def item_comment(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    from inspection.views.grading import campaign_item

    item = _campaign_candidate(pk, item_pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        return campaign_item(request, pk, item_pk, form_errors(form), status=400)
    discussion.add_comment(item, request.user, form.cleaned_data["text"])
    return redirect(reverse("inspection:campaign_item", args=[pk, item_pk]) + "#thread")


@admin_required
@require_POST
def item_decision(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    from inspection.views.grading import campaign_item

    item = _campaign_candidate(pk, item_pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        return campaign_item(request, pk, item_pk, form_errors(form), status=400)
    data = form.cleaned_data
    discussion.decide(item, request.user, data["verdict"], data["reason"])
    return redirect(reverse("inspection:campaign_item", args=[pk, item_pk]) + "#decision")


@admin_required
def stamp_fits(request: HttpRequest, name: str, index: int, band: str) -> HttpResponse:
    """One band of a survey's stamp as FITS (``discussion.stamp_fits``)."""
    source = get_object_or_404(
        Source.objects.select_related("survey"), survey__name=name, stamp_index=index
    )
    try:
        return _fits(discussion.stamp_fits(source, band), source, band)
    except discussion.DiscussionError as exc:
        return _refusal(exc)


@admin_required
def run_candidate(request: HttpRequest, pk: int, source_pk: int) -> HttpResponse:
    """A source scored by a run: stamps, score, context, and its campaign items."""
    run = get_object_or_404(ScoringRun.objects.select_related("survey", "network"), pk=pk)
    score = Score.objects.filter(run=run, source_id=source_pk).select_related("source").first()
    if score is None:
        raise Http404(f"No source {source_pk} scored by run {run.label}.")
    source = score.source
    items = CampaignItem.objects.filter(campaign__run=run, source=source).select_related("campaign")
    context = {
        "run": run,
        "source": source,
        "score": score,
        "is_candidate": score.logit >= run.threshold_logit,
        "has_rgb": grading.rgb_bands(run.survey) is not None,
        "items": items,
        "fits": [
            (b, reverse("inspection:stamp_fits", args=[run.survey.name, source.stamp_index, b]))
            for b in run.survey.band_list
        ],
        **discussion.candidate_context(run.survey, source),
    }
    return render(request, "inspection/run_candidate.html", context)
