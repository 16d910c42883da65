"""Pages of the human half: training, blind grading, and the admins' campaign views.

Inspectors see only their own assignments; a forged id answers 404. Grading
is blind: the item JSON carries no network score and no other grade, and
every image comes through its assignment's URL (``grade_stamp``), which
says nothing of whether the item is a candidate or a known item.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core import display, queue, uploads
from core.forms import form_errors
from core.roles import admin_required, inspector_required, is_inspector
from inspection.catalogues import consensus
from inspection.catalogues import services as catalogues
from inspection.forms import (
    AdaptiveSettingsForm,
    CampaignForm,
    CampaignStatusForm,
    KnownSetForm,
    TrainingAnswerForm,
    TrainingPolicyForm,
    inspectors,
)
from inspection.grading import effort, grade_body
from inspection.grading import services as grading
from inspection.grading.services import KINDS as PREVIEW_KINDS
from inspection.grading.services import PreviewError, render_preview
from inspection.models import (
    Campaign,
    CampaignItem,
    Grade,
    KnownSet,
    TrainingPolicy,
)

STRETCH_PRESETS = ["asinh", "asinh-bright", "asinh-blue", "linear", "log"]


def _server_stretch(preset):
    """The PNG stretch behind a preset; bright/blue are display filters on it."""
    return preset.split("-")[0] if preset in STRETCH_PRESETS else "asinh"


def _item_urls(item, request):
    stretch = _server_stretch(request.GET.get("stretch", "asinh"))
    if item.source_id:
        survey = item.source.survey
        args = [survey.name, item.source.stamp_index]
        name = "inspection:preview"
    elif item.injection_id:
        args = [item.campaign_id, item.injection.stamp_index]
        name = "inspection:injection_preview"
    else:
        args = [item.known.known_set.name, item.known.stamp_index]
        name = "inspection:known_preview"
    return {k: reverse(name, args=[*args, k]) + f"?stretch={stretch}" for k in PREVIEW_KINDS}


def _png(png):
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@admin_required
def known_preview(request, name: str, index: int, kind: str) -> HttpResponse:
    """A known set's stamp as it is, for admins: inspectors see known items
    only through their training (``training_stamp``) and their assignments."""
    known = get_object_or_404(KnownSet, name=name)
    if kind not in PREVIEW_KINDS:
        return HttpResponse("Previews are r or rgb.", status=404)
    stretch = _server_stretch(request.GET.get("stretch", "asinh"))
    try:
        png = render_preview(known, index, kind, stretch, cache_key=f"known-{known.pk}")
    except PreviewError as exc:
        return HttpResponse(str(exc), status=404)
    return _png(png)


@admin_required
def injection_preview(request, pk: int, index: int, kind: str) -> HttpResponse:
    """An injected lens's stamp, for admins (inspectors see it only as one
    of their assignments, through ``grade_stamp``)."""
    from inspection.completeness.services import InjectionStamps

    campaign = get_object_or_404(Campaign.objects.select_related("run__survey"), pk=pk)
    if kind not in grading.kinds_of(campaign.run.survey):
        return HttpResponse("No such preview.", status=404)
    if not campaign.injections.filter(stamp_index=index).exists():
        return HttpResponse("No such injected lens.", status=404)
    stamps = InjectionStamps(campaign.pk, campaign.run.survey)
    stretch = _server_stretch(request.GET.get("stretch", "asinh"))
    try:
        png = render_preview(stamps, index, kind, stretch, cache_key=stamps.pk)
    except PreviewError as exc:
        return HttpResponse(str(exc), status=404)
    return _png(png)


def json_api(view):
    """Every refusal of the grading API as JSON ``{"error": ...}``: the
    page's script shows ``error`` and decides from the status whether to
    retry. The CSRF check runs here rather than in the middleware, so that
    its refusal (a stale token after a new login) is JSON too."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
        if refused is not None:
            return JsonResponse(
                {
                    "error": "The security token is missing or stale: log in "
                    "again (the grading page keeps retrying its unsaved "
                    "grades)."
                },
                status=403,
            )
        try:
            return view(request, *args, **kwargs)
        except PermissionDenied as exc:
            return JsonResponse({"error": str(exc) or "Not yours to see."}, status=403)
        except Http404 as exc:
            return JsonResponse({"error": str(exc) or "No such thing."}, status=404)

    return csrf_exempt(wrapper)


# --- Training ----------------------------------------------------------------------


#: The view that reveals a training item's arc after the answer: the
#: imaging layer's ``unsharp`` stretch (the stamp minus its Gaussian-smoothed
#: self, ``core.display.UNSHARP_SMOOTH_PX``): the lens galaxy's smooth light
#: goes, thin arcs and rings stay. ``zscale``, tried first, saturated the
#: inner halo of bright lenses, right where the arcs are.
REVEAL_STRETCH = "unsharp"


@inspector_required
def training(request: HttpRequest) -> HttpResponse:
    """The training page; without JavaScript, an answer posted by its form
    comes back here with its feedback (``training_answer``)."""
    feedback = request.session.pop("training_feedback", None)
    return render(request, "inspection/training.html", _training_context(request.user, feedback))


def _training_context(user, feedback=None):
    """What the training page and its JSON answers show: the next item, the
    feedback on the last answer (the same stamps, their truth, the reveal
    view and the Einstein circle) and, once every item is answered, the
    outcome and the review of the mistakes."""
    items, answers, passed, fraction = grading.training_state(user)
    pending = [i for i in items if i.pk not in answers]
    by_pk = {i.pk: i for i in items}
    finished = bool(items) and not pending
    return {
        "items": items,
        "n_answered": len(answers),
        "passed": passed,
        "fraction": fraction,
        "item": pending[0] if pending else None,
        "urls": _training_urls(pending[0]) if pending else None,
        "feedback": (
            {**feedback, **_shown_truth(by_pk[feedback["item"]])}
            if feedback and feedback.get("item") in by_pk and feedback["item"] in answers
            else None
        ),
        "policy": TrainingPolicy.current(),
        "failed": not passed and finished,
        "review": [{"answer": a, **_shown_truth(i)} for i, a in grading.training_review(user)]
        if finished
        else [],
        "attempt": grading.current_attempt(user),
    }


def _training_urls(item):
    return {k: reverse("inspection:training_stamp", args=[item.pk, k]) for k in PREVIEW_KINDS}


def _shown_truth(item):
    """An answered item's stamps, its reveal view and its Einstein circle
    (a fraction of the stamp's width; None for a non-lens)."""
    try:
        circle = grading.einstein_circle(item)
    except PreviewError:
        circle = None  # its stamps cannot be read: the images say so
    return {
        "item": item.pk,
        "known": item,
        "urls": _training_urls(item),
        "reveal_url": reverse("inspection:training_reveal", args=[item.pk]),
        "circle": circle,
        "rgb": display.has_rgb(item.known_set.band_list),
    }


def _training_png(known, index, kind, stretch):
    try:
        png = render_preview(known, index, kind, stretch, cache_key=f"known-{known.pk}")
    except PreviewError as exc:
        raise Http404(str(exc)) from exc
    return _png(png)


@inspector_required
def training_stamp(request, item_pk: int, kind: str) -> HttpResponse:
    """A stamp of the inspector's own training set (any other: 404)."""
    item = next((i for i in grading.training_items(request.user) if i.pk == item_pk), None)
    if item is None or kind not in PREVIEW_KINDS:
        raise Http404("Not one of your training stamps.")
    return _training_png(item.known_set, item.stamp_index, kind, "asinh")


@inspector_required
def training_reveal(request: HttpRequest, item_pk: int) -> HttpResponse:
    """The reveal view of one of the inspector's training items, once they
    have answered it (before: 403, or the training would give its answers
    away; another's item: 404)."""
    try:
        item = grading.answered_item(request.user, item_pk)
    except grading.NotAnsweredYet as exc:
        raise PermissionDenied(str(exc)) from None
    except grading.NotInTraining as exc:
        raise Http404(str(exc)) from None
    response = _training_png(item.known_set, item.stamp_index, "r", REVEAL_STRETCH)
    response["Cache-Control"] = "private, no-store"  # no answer must find it cached
    return response


@inspector_required
@require_POST
def training_answer(request: HttpRequest) -> HttpResponse:
    """An answer from the training page's form (the page without
    JavaScript): its feedback is shown on the page it redirects to."""
    form = TrainingAnswerForm(request.POST)
    if not form.is_valid():
        return HttpResponse(" ".join(form_errors(form)), status=400, content_type="text/plain")
    try:
        feedback = grading.answer_training(
            request.user, form.cleaned_data["item"], form.cleaned_data["grade"]
        )
    except grading.GradingError as exc:
        return HttpResponse(str(exc), status=exc.http_status, content_type="text/plain")
    request.session["training_feedback"] = feedback
    return redirect("inspection:training")


@json_api
@inspector_required
@require_POST
def training_answer_json(request: HttpRequest) -> JsonResponse:
    """An answer from the training page's script, ``{"id": item, "grade":
    0|1|2}`` (``grade_body.parse_grade_body``): the feedback, the next item
    and, at the end, the outcome with the review of the mistakes, as data
    and as the page's own HTML (one template for both ways of answering)."""
    raw = request.body if request.content_type == "application/json" else b""
    try:
        body = grade_body.parse_grade_body(raw, request.content_type)
        feedback = grading.answer_training(request.user, body.id, body.grade)
    except grade_body.GradeBodyError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except grading.GradingError as exc:
        return JsonResponse({"error": str(exc)}, status=exc.http_status)
    context = _training_context(request.user, feedback)
    following = context["item"]
    answer = {
        "feedback": {**feedback, "circle": (context["feedback"] or {}).get("circle")},
        "feedback_html": render_to_string(
            "inspection/_training_feedback.html", context, request=request
        ),
        "next": {
            "id": following.pk,
            "number": context["n_answered"] + 1,
            "images": context["urls"],
        }
        if following
        else None,
        "done_html": None
        if following
        else render_to_string("inspection/_training_done.html", context, request=request),
    }
    return JsonResponse(answer)


@inspector_required
@require_POST
def training_retake(request: HttpRequest) -> HttpResponse:
    try:
        grading.retake_training(request.user)
    except grading.GradingError as exc:
        messages.info(request, str(exc))
    return redirect("inspection:training")


# --- Grading -----------------------------------------------------------------------

TRAINING_FIRST = "Pass the training first: it takes a few minutes."


def _campaign_for(request, pk):
    """The inspector's own open or closed campaign, else 404."""
    return get_object_or_404(Campaign, pk=pk, inspectors=request.user, status__in=Campaign.VISIBLE)


def _require_training(user, passed=None, required=None):
    if not grading.may_grade(user, passed, required):
        raise PermissionDenied(TRAINING_FIRST)


def _own_assignment(request, pk, assignment_pk, with_survey=False):
    """The inspector's own assignment in their campaign ``pk`` (else 404),
    once they have passed the training (else 403). The role is checked in
    the same query (``grading.own_assignment``), not by a decorator's own
    query: these are the requests of every key press; a refused request may
    spend one more query on saying why."""
    assignment = grading.own_assignment(request.user, pk, assignment_pk, with_survey)
    if assignment is not None:
        request.user._lensfinder_is_inspector = assignment.is_inspector
    if not is_inspector(request.user):
        raise PermissionDenied("This page is for inspectors.")
    if assignment is None:
        raise Http404("No such assignment of yours in this campaign.")
    _require_training(request.user, assignment.passed, assignment.training_required)
    return assignment


@inspector_required
def grade_page(request, pk: int) -> HttpResponse:
    campaign = _campaign_for(request, pk)
    if grading.needs_training(request.user):
        messages.info(request, TRAINING_FIRST)
        return redirect("inspection:training")
    context = {
        "campaign": campaign,
        "items_url": reverse("inspection:grade_items", args=[campaign.pk]),
        "grade_url": reverse("inspection:grade_submit", args=[campaign.pk]),
        "presets": STRETCH_PRESETS,
        "kinds": grading.kinds_of(campaign.run.survey),
        "max_comment": grade_body.MAX_COMMENT,
    }
    return render(request, "inspection/grade.html", context)


@json_api
@inspector_required
def grade_items(request, pk: int) -> JsonResponse:
    """The inspector's items in their order, with their own grades only."""
    campaign = _campaign_for(request, pk)
    _require_training(request.user)
    kinds = grading.kinds_of(campaign.run.survey)
    stretch = _server_stretch(request.GET.get("stretch", "asinh"))
    items = []
    for a in grading.assignments_for(campaign, request.user):
        grade = getattr(a, "grade", None)
        images = {
            k: reverse("inspection:grade_stamp", args=[campaign.pk, a.pk, k])
            + f"?stretch={stretch}"
            for k in kinds
        }
        items.append(
            {
                "id": a.pk,
                "position": a.position,
                "images": images,
                "grade": grade.grade if grade else None,
                "comment": grade.comment if grade else "",
            }
        )
    return JsonResponse({"campaign": campaign.name, "status": campaign.status, "items": items})


def grade_stamp(request, pk: int, assignment_pk: int, kind: str) -> HttpResponse:
    """The picture of one of the inspector's own assignments; a known item
    is cut and rendered exactly as the survey's stamps are (the inspector
    role is checked by ``_own_assignment``)."""
    assignment = _own_assignment(request, pk, assignment_pk, with_survey=True)
    survey = assignment.campaign.run.survey
    if kind not in grading.kinds_of(survey):
        raise Http404(f"Previews of {survey.name} are {', '.join(grading.kinds_of(survey))}.")
    stretch = _server_stretch(request.GET.get("stretch", "asinh"))
    try:
        png = grading.render_item(assignment.item, survey, kind, stretch)
    except PreviewError as exc:
        raise Http404(str(exc)) from exc
    return _png(png)


@json_api
@require_POST
def grade_submit(request, pk: int) -> JsonResponse:
    """Save one grade (the request on every key press: one query finds the
    assignment and checks the campaign, the owner, the inspector role and the
    training, so that it stays fast under many inspectors)."""
    # A form or multipart body is never read: the CSRF check may have read
    # its stream already, and it is refused for its type in any case.
    raw = request.body if request.content_type == "application/json" else b""
    try:
        body = grade_body.parse_grade_body(raw, request.content_type)
    except grade_body.GradeBodyError as exc:
        if not is_inspector(request.user):  # the role first, as on every other page
            raise PermissionDenied("This page is for inspectors.") from None
        return JsonResponse({"error": str(exc)}, status=400)
    assignment = _own_assignment(request, pk, body.id)
    try:
        grade, changed = grading.record_grade(
            assignment, body.grade, body.comment, body.view, body.seconds
        )
    except grading.GradingError as exc:
        return JsonResponse({"error": str(exc)}, status=exc.http_status)
    answer = {"id": assignment.pk, "grade": grade.grade, "changed": changed}
    if grading.policy_of(assignment.campaign).retire_after is not None:
        # Items retired meanwhile: the page drops them from its list.
        answer["withdrawn"] = grading.withdrawn_ids(assignment.campaign, request.user)
    return JsonResponse(answer)


# --- Admin -------------------------------------------------------------------------


@admin_required
def campaign_list(
    request: HttpRequest, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    """The Campaigns page; a refused form re-renders it with its reasons
    (``errors``) and the refusal's status, the values posted kept in its
    fields (file inputs cannot be refilled: the browser keeps them only until
    the page is left)."""
    from inspection.models import ScoringRun

    context = {
        "campaigns": Campaign.objects.select_related("run__network", "run__survey"),
        "runs": ScoringRun.objects.select_related("network", "survey"),
        "inspectors": inspectors(),
        "known_sets": KnownSet.objects.all(),
        "policy": TrainingPolicy.current(),
        "policy_sets": list(TrainingPolicy.current().known_sets.all()),
        "skills": grading.skills_table(),
        "class_defaults": consensus.CLASS_DEFAULTS,
        "errors": errors or [],
        # The refused form (the name of the view it was posted to), so that
        # its reasons and values go back to it: the page's three forms share
        # field names ("name").
        "refused": request.resolver_match.url_name if errors else "",
        "kept": {request.resolver_match.url_name: request.POST} if errors else {},
    }
    return render(request, "inspection/campaigns.html", context, status=status)


@admin_required
@require_POST
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST)
    if not form.is_valid():
        return campaign_list(request, form_errors(form), status=400)
    data = form.cleaned_data
    try:
        campaign = grading.create_campaign(
            data["run"],
            data["name"],
            data["inspectors"],
            known_fraction=data["known_fraction"],
            parent=data["parent"],
            parent_total=data["parent_total"],
            user=request.user,
            class_bounds=(data["class_a_min"], data["class_b_min"], data["class_c_min"]),
            inject_lenses=data["inject_lenses"],
        )
    except grading.GradingError as exc:
        return campaign_list(request, [str(exc)], status=exc.http_status)
    if campaign.inject_lenses:
        try:
            queue.launch(
                "inspection.jobs.build_injections",
                campaign.pk,
                title=f"Injected lenses for {campaign.name}",
                queue="scoring",
                user=request.user,
                unit="%",
            )
        except queue.QueueUnavailable:
            messages.warning(
                request,
                "The queue does not answer: the injected lenses are not made, and the campaign "
                "cannot open until they are. Start a worker and create it again.",
            )
    return redirect("inspection:campaign", pk=campaign.pk)


@admin_required
@require_POST
def campaign_status(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    form = CampaignStatusForm(request.POST)
    if not form.is_valid():
        return campaign_detail(request, pk, form_errors(form), status=400)
    try:
        grading.set_status(campaign, form.cleaned_data["status"])
    except grading.GradingError as exc:
        return campaign_detail(request, pk, [str(exc)], status=exc.http_status)
    if campaign.status == Campaign.Status.OPEN:
        try:
            queue.launch(
                "inspection.jobs.prerender_campaign",
                campaign.pk,
                title=f"Previews for {campaign.name}",
                user=request.user,
                unit="items",
            )
        except queue.QueueUnavailable:
            messages.warning(
                request,
                "The queue does not answer: previews will be rendered on first view instead.",
            )
    return redirect("inspection:campaign", pk=campaign.pk)


@admin_required
@require_POST
def training_policy(request: HttpRequest) -> HttpResponse:
    form = TrainingPolicyForm(request.POST)
    if not form.is_valid():
        return campaign_list(request, form_errors(form), status=400)
    policy = TrainingPolicy.current()
    policy.pass_mark = form.cleaned_data["pass_mark"]
    policy.n_items = form.cleaned_data["n_items"]
    policy.save()
    policy.known_sets.set(form.cleaned_data["known_sets"])
    messages.success(
        request, f"Training: {policy.n_items} items, pass mark {policy.pass_mark:.0%}."
    )
    return redirect("inspection:campaigns")


@admin_required
@require_POST
def known_set_add(request):
    """Register known items: a labelled stamp set (path or upload), or FITS
    images of real lenses (or non-lenses). The form is checked before an
    upload is saved; uploads and the stamps made of them go into a new
    folder of their own (never an existing set's), removed if the set is
    refused."""
    form = KnownSetForm(request.POST, request.FILES)
    if not form.is_valid():
        return campaign_list(request, form.messages(), status=400)
    data = form.cleaned_data
    name = data["name"]
    folder = None
    try:
        if data["images"] or data["stamps"]:
            folder = uploads.upload_folder(settings.DATA_DIR / "known", name)
        if data["images"]:
            paths = [uploads.save_upload(f, folder / "upload") for f in data["images"]]
            known = grading.known_set_from_images(
                name,
                paths,
                is_lens=data["label"] != "nonlens",
                pixscale_arcsec=data["pixscale"],
                folder=folder,
                description=data["description"],
            )
        else:
            path = str(uploads.save_upload(data["stamps"], folder)) if folder else data["path"]
            known = grading.add_known_set(name, path, data["description"])
    except grading.GradingError as exc:
        uploads.discard(folder)
        return campaign_list(request, [str(exc)], status=400)
    except BaseException:
        uploads.discard(folder)
        raise
    TrainingPolicy.current().known_sets.add(known)
    messages.success(
        request,
        f"Known set {known.name}: {known.items.count()} items, "
        f"{known.items.filter(for_training=True).count()} for training and the rest to mix "
        "into campaigns.",
    )
    return redirect("inspection:campaigns")


@admin_required
def campaign_detail(
    request: HttpRequest, pk: int, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    """A campaign's progress and grades; ``errors``: why its status form was refused."""
    campaign = get_object_or_404(
        Campaign.objects.select_related("run__survey", "run__network"), pk=pk
    )
    flagged = grading.disagreements(campaign)
    totals = grading.totals_by_source(campaign)
    grades = (
        Grade.objects.filter(assignment__campaign=campaign)
        .select_related(
            "assignment__inspector", "assignment__item__source", "assignment__item__known"
        )
        .order_by("-updated_at")[:100]
    )
    items = campaign.items.filter(source__isnull=False).select_related("source")
    rows = sorted(
        ((totals.get(i.source_id), i) for i in items), key=lambda t: (-(t[0] or -1), t[1].pk)
    )
    context = {
        "campaign": campaign,
        "progress": grading.progress_by_inspector(campaign),
        "grades": grades,
        "flagged": flagged,
        "rows": rows[:200],
        "n_known": campaign.items.filter(known__isnull=False).count(),
        "n_injected": campaign.items.filter(injection__isnull=False).count(),
        "errors": errors or [],
        **_adaptive_context(campaign, request),
    }
    return render(request, "inspection/campaign_detail.html", context, status=status)


def _adaptive_context(campaign, request):
    """Retirement, escalation and effort for the campaign page."""
    timed = grading.effort_rows(campaign)
    names = grading.inspector_codes_of(campaign)
    kept = request.POST if request.resolver_match.url_name == "campaign_adaptive" else None
    return {
        "adaptive_form": AdaptiveSettingsForm(
            kept,
            initial={
                "retire_after": campaign.retire_after,
                "escalate_to": campaign.escalate_to,
                "escalate_extra": campaign.escalate_extra,
                "escalate_band": campaign.escalate_band,
            },
        ),
        "retirement": grading.retirement_cost(campaign),
        "escalated": grading.escalated_items(campaign)[:200],
        "effort": [(names.get(e.inspector, e.inspector), e) for e in effort.by_inspector(timed)],
        "effort_median": effort.median_seconds(timed),
        "effort_by_grade": effort.median_by_grade(timed),
        "idle_cutoff_s": effort.IDLE_CUTOFF_S,
    }


@admin_required
@require_POST
def campaign_adaptive(request: HttpRequest, pk: int) -> HttpResponse:
    """Save a campaign's retirement and escalation settings, applied at once
    to the grades already given."""
    campaign = get_object_or_404(Campaign, pk=pk)
    form = AdaptiveSettingsForm(request.POST)
    if not form.is_valid():
        return campaign_detail(request, pk, form_errors(form), status=400)
    n = grading.set_policy(campaign, form.policy())
    messages.success(request, f"Retirement and escalation saved; {n} graded items re-examined.")
    return redirect("inspection:campaign", pk=pk)


EFFORT_TABLES = ("grades", "inspectors")


@admin_required
def campaign_effort(request: HttpRequest, pk: int, which: str, fmt: str) -> HttpResponse:
    """Time on task: every grade's seconds (``grades``) or each inspector's
    summary (``inspectors``), as CSV or JSON; inspectors by code."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if which not in EFFORT_TABLES or fmt not in ("csv", "json"):
        raise Http404(f"Effort exports: {', '.join(EFFORT_TABLES)} as csv or json.")
    timed = grading.effort_rows(campaign)
    if which == "grades":
        records, columns = effort.grade_records(timed), effort.GRADE_COLUMNS
    else:
        records = effort.inspector_records(effort.by_inspector(timed))
        columns = effort.INSPECTOR_COLUMNS
    name = f"campaign{campaign.pk}-effort-{which}.{fmt}"
    if fmt == "json":
        body = {
            "campaign": campaign.pk,
            "idle_cutoff_s": effort.IDLE_CUTOFF_S,
            "columns": list(columns),
            which: records,
        }
        if which == "inspectors":
            body["median_s"] = effort.median_seconds(timed)
            body["median_s_by_grade"] = {
                str(g): v for g, v in effort.median_by_grade(timed).items()
            }
        response = JsonResponse(body)
    else:
        response = HttpResponse(effort.to_csv(records, columns), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin_required
def campaign_item(
    request: HttpRequest, pk: int, item_pk: int, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    """A campaign item's stamps, score, grades and posterior; a candidate's
    discussion (``views.discussion``); ``errors``: why a form was refused."""
    from inspection.views.discussion import admin_item_context

    campaign = get_object_or_404(Campaign, pk=pk)
    item = get_object_or_404(
        CampaignItem.objects.select_related("source__survey", "known", "injection__source"),
        pk=item_pk,
        campaign=campaign,
    )
    logit = None  # the network's log-odds: shown as P, apart where P rounds to 1
    if item.source_id:
        found = campaign.run.scores.filter(source_id=item.source_id).first()
        logit = found.logit if found else None
    grades = Grade.objects.filter(assignment__item=item).select_related("assignment__inspector")
    path = catalogues.posterior_path(campaign, item.source) if item.source_id else []
    context = {
        "campaign": campaign,
        "item": item,
        "urls": _item_urls(item, request),
        "logit": logit,
        "grades": grades.prefetch_related("history"),
        "posterior_path": path,
        "errors": errors or [],
        **(admin_item_context(item) if item.source_id else {}),
    }
    return render(request, "inspection/campaign_item.html", context, status=status)
