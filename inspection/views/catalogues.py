"""Catalogue pages: consensus, agreement, prior lists, exports, gallery and
dashboards. Thin: each view calls ``inspection.catalogues.services`` (the code path of
``manage.py export_catalogue`` and ``add_prior_list``) and renders."""

import csv
import io
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.db.models import Count, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core import tables, uploads
from core.forms import form_errors
from core.plots import to_div
from core.roles import admin_required
from inspection.catalogues import services as catalogues
from inspection.completeness import completeness
from inspection.completeness import services as injections
from inspection.forms import CatalogueSettingsForm, PriorListForm
from inspection.grading import services as grading
from inspection.models import Campaign, PriorList

EXPORT_SUFFIXES = tables.DOWNLOADS
RANKED_SHOWN = 50


def _chosen_priors(request):
    """The prior lists chosen on the page (``?prior=ID``), else all of them."""
    ids = [int(i) for i in request.GET.getlist("prior") if i.isdigit()]
    lists = PriorList.objects.all()
    return list(lists.filter(pk__in=ids) if ids else lists)


def _report(request, cat, chosen=None):
    radius = request.GET.get("radius") or catalogues.DEFAULT_RADIUS_ARCSEC
    return catalogues.prior_report(
        cat, _chosen_priors(request) if chosen is None else chosen, radius
    )


@admin_required
def catalogue_list(
    request: HttpRequest, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    campaigns = Campaign.objects.select_related("run__survey", "run__network").annotate(
        # distinct: the two joins multiply each other's rows.
        n_candidates=Count("items", filter=Q(items__source__isnull=False), distinct=True),
        n_grades=Count(
            "assignments__grade", filter=Q(assignments__item__source__isnull=False), distinct=True
        ),
    )
    context = {
        "campaigns": campaigns,
        "prior_lists": PriorList.objects.annotate(n=Count("lenses")),
        "errors": errors or [],
        "has_lenscat": PriorList.objects.filter(name="lenscat").exists(),
        "kept": request.POST if errors else {},  # the refused form's values, back in its fields
    }
    return render(request, "inspection/catalogues.html", context, status=status)


@admin_required
def catalogue_detail(
    request: HttpRequest, pk: int, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    """A campaign's catalogue; ``errors``: why its settings form was refused."""
    campaign = get_object_or_404(
        Campaign.objects.select_related("run__survey", "run__network", "parent"), pk=pk
    )
    chosen = _chosen_priors(request)
    try:
        cat = catalogues.build(campaign)
        report = _report(request, cat, chosen)
    except catalogues.CatalogueError as exc:
        if errors:  # a refused settings form: say both, not only that the catalogue failed
            return catalogue_list(request, [*errors, str(exc)], status=status)
        messages.error(request, str(exc))
        return redirect("inspection:catalogues")
    agree = catalogues.agreement(cat)
    graded = int((cat.n_grades > 0).sum())
    high = cat.select("high")
    figures = catalogues.dashboard_figures(cat, report, agree)
    found = None
    if campaign.inject_lenses:
        found = injections.campaign_completeness(campaign)
        figures["completeness"] = completeness.completeness_figure(found["bins"])

    def ranked(order):
        rows = cat.ordered("candidates", report, order)[:RANKED_SHOWN]
        return [_row(cat, report, i) for i in rows]

    query = request.GET.urlencode()
    context = {
        "campaign": campaign,
        "cat": cat,
        "n": len(cat.sources),
        "graded": graded,
        "n_high": len(high),
        "n_vote": int(cat.vote.sum()),
        "agree": agree,
        "report": report,
        "by_total": ranked("total"),
        "by_posterior": ranked("posterior"),
        "by_ds": ranked("ds"),
        "ds": cat.ds,
        "ds_matrices": cat.ds.matrices(),
        "class_counts": {k: int((cat.grade_class == k).sum()) for k in "ABC"},
        "figures": {k: to_div(f, div_id=f"fig-{k}") for k, f in figures.items()},
        "prior_lists": PriorList.objects.all(),
        "chosen_priors": [p.pk for p in chosen],
        "radius": report.radius_arcsec,
        "query": f"?{query}" if query else "",
        "selections": catalogues.SELECTIONS,
        "formats": list(EXPORT_SUFFIXES),
        "children": cat.children,
        "codes": cat.codes,
        "vote_child": next(
            (c for c in cat.children if c.parent_total == campaign.vote_total), None
        ),
        "errors": errors or [],
        "kept": request.POST if errors else {},
        "completeness": found,
    }
    return render(request, "inspection/catalogue_detail.html", context, status=status)


def _row(cat, report, i):
    source = cat.sources[i]
    return {
        "index": i,
        "item_pk": cat.item_ids[i],
        "source": source,
        "score": cat.scores[i],
        "logit": cat.logits[i],
        "posterior": cat.posterior[i],
        "p_ds": cat.p_ds[i],
        "grade_class": str(cat.grade_class[i]),
        "mean_grade": None if cat.n_grades[i] == 0 else float(cat.mean_grades[i]),
        "total": int(cat.totals[i]),
        "grades": ["–" if g != g else int(g) for g in cat.grades[i]],
        "high": bool(cat.high[i]),
        "second": None if cat.second_total[i] != cat.second_total[i] else int(cat.second_total[i]),
        "flags": cat.flags(i),
        "match": report.match[i],
        "new": bool(report.new[i]),
    }


@admin_required
@require_POST
def catalogue_settings(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("run__survey"), pk=pk)
    form = CatalogueSettingsForm(request.POST, class_fallback=campaign.class_bounds)
    if not form.is_valid():
        return catalogue_detail(request, pk, form_errors(form), status=400)
    data = form.cleaned_data
    fields = ["high_total", "vote_total", "class_a_min", "class_b_min", "class_c_min"]
    for name in fields:
        setattr(campaign, name, data[name])
    campaign.save(update_fields=fields)
    survey = campaign.run.survey
    survey.lens_prior = data["lens_prior"]
    survey.save(update_fields=["lens_prior"])
    messages.success(
        request,
        f"High probability at total ≥ {campaign.high_total}; further "
        f"vote at {campaign.vote_total}; classes A, B, C from mean grades "
        f"{campaign.class_a_min:g}, {campaign.class_b_min:g}, {campaign.class_c_min:g}; "
        f"lens prior {survey.lens_prior:g}.",
    )
    return redirect("inspection:catalogue", pk=pk)


@admin_required
@require_POST
def further_vote(request, pk):
    """The paper's further vote in one click: a campaign over the candidates
    whose total equals the vote total, for the same inspectors."""
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        child = grading.create_campaign(
            campaign.run,
            f"{campaign.name}: further vote on total {campaign.vote_total}",
            campaign.inspectors.all(),
            known_fraction=campaign.known_fraction,
            parent=campaign,
            parent_total=campaign.vote_total,
            user=request.user,
            class_bounds=campaign.class_bounds,
        )
    except grading.GradingError as exc:
        messages.error(request, str(exc))
        return redirect("inspection:catalogue", pk=pk)
    messages.success(
        request,
        f"Further-vote campaign created with {child.items.count()} "
        "items: open it when the inspectors are ready.",
    )
    return redirect("inspection:campaign", pk=child.pk)


@admin_required
def catalogue_export(request, pk, which, fmt):
    campaign = get_object_or_404(Campaign, pk=pk)
    suffix = EXPORT_SUFFIXES.get(fmt)
    if suffix is None or which not in catalogues.SELECTIONS:
        raise Http404(
            f"Exports: {', '.join(catalogues.SELECTIONS)} as {', '.join(EXPORT_SUFFIXES)}."
        )
    try:
        cat = catalogues.build(campaign)
        report = _report(request, cat)
        folder = Path(settings.DATA_DIR) / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"campaign{campaign.pk}-{which}{suffix}"
        catalogues.export_catalogue(cat, path, which, report, request.GET.get("order", "total"))
    except catalogues.CatalogueError as exc:
        return HttpResponse(str(exc), status=exc.http_status, content_type="text/plain")
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@admin_required
def completeness_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The completeness measured by the campaign's injected lenses: per bin
    and overall as CSV, with every injection's outcome as JSON."""
    campaign = get_object_or_404(Campaign.objects.select_related("run"), pk=pk)
    if fmt not in ("csv", "json"):
        raise Http404("The completeness exports as csv or json.")
    found = injections.campaign_completeness(campaign)
    name = f"campaign{campaign.pk}-completeness.{fmt}"
    if fmt == "json":
        response = JsonResponse(injections.completeness_json(found))
    else:
        rows = injections.completeness_csv_rows(found)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin_required
def catalogue_gallery(request, pk, which):
    campaign = get_object_or_404(Campaign, pk=pk)
    if which not in catalogues.SELECTIONS:
        raise Http404(f"Galleries: {', '.join(catalogues.SELECTIONS)}.")
    try:
        cat = catalogues.build(campaign)
        # Only the "new" selection needs the cross-match; labels do not.
        report = _report(request, cat) if which == "new" else None
        png = catalogues.gallery_png(cat, which, report, request.GET.get("order", "total"))
    except catalogues.CatalogueError as exc:
        return HttpResponse(str(exc), status=exc.http_status, content_type="text/plain")
    response = HttpResponse(png, content_type="image/png")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="campaign{pk}-{which}.png"'
    return response


@admin_required
@require_POST
def prior_list_add(request: HttpRequest) -> HttpResponse:
    """A prior lens list from an upload or a server path (under the ingest
    roots), or the built-in lenscat. An upload is saved once the whole form
    is valid and removed if the list cannot be read."""
    form = PriorListForm(request.POST, request.FILES)
    if not form.is_valid():
        return catalogue_list(request, form_errors(form), status=400)
    data = form.cleaned_data
    folder = None
    try:
        if data["lenscat"]:
            prior = catalogues.add_lenscat(data["name"])
        else:
            path = data["path"]
            if data["file"]:
                folder = uploads.upload_folder(settings.DATA_DIR / "priors", data["name"])
                path = str(uploads.save_upload(data["file"], folder))
            prior = catalogues.add_prior_list(
                data["name"], path, data["columns"], data["description"]
            )
    except catalogues.CatalogueError as exc:
        uploads.discard(folder)
        return catalogue_list(request, [str(exc)], status=exc.http_status)
    except BaseException:
        uploads.discard(folder)
        raise
    dup = f" ({prior.n_duplicates} duplicate rows merged)" if prior.n_duplicates else ""
    messages.success(request, f"Prior list {prior.name}: {prior.lenses.count()} entries{dup}.")
    return redirect(reverse("inspection:catalogues"))


@admin_required
@require_POST
def prior_list_delete(request, pk):
    prior = get_object_or_404(PriorList, pk=pk)
    prior.delete()
    messages.success(request, f"Prior list {prior.name} deleted.")
    return redirect("inspection:catalogues")
