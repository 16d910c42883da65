import json
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from classifier import experiments, figures
from classifier.experiments import KINDS
from classifier.forms import ARCHITECTURES, EXPERIMENT_FORMS, TrainForm
from classifier.models import Experiment, Network
from core import queue
from core.forms import form_errors
from core.models import Job
from core.plots import to_div
from core.roles import admin_required


@admin_required
def network_list(request):
    return render(request, "classifier/network_list.html", {"networks": Network.objects.all()})


@admin_required
def network_detail(request, name):
    network = get_object_or_404(Network, name=name)
    ev = network.evaluation or {}
    roc = (
        to_div(figures.roc_figure({network.name: (ev["roc"]["fpr"], ev["roc"]["tpr"])}))
        if "roc" in ev
        else None
    )
    history = network.training.get("history") or []
    loss = to_div(figures.loss_figure(history)) if history else None
    context = {"network": network, "ev": ev, "roc": roc, "loss": loss,
               "members": _members(network), **_adaptation(network)}  # fmt: skip
    return render(request, "classifier/network_detail.html", context)


def _members(network):
    """A committee's members as it records them (``training["members"]``,
    made by ``services.make_committee``): each record with the registered
    network of that name (None where it went), its bands and TTA, and
    whether its weights or temperature changed since (the committee then
    refuses to score). Empty for a network that is no committee."""
    if not network.is_committee:
        return []
    records = network.training.get("members") or []
    found = Network.objects.in_bulk([r["name"] for r in records], field_name="name")
    rows = []
    for record in records:
        member = found.get(record["name"])
        # What ``services.committee_networks`` checks before scoring.
        changed = member is not None and member.member_record() != record
        rows.append({"name": record["name"], "network": member, "record": record,
                     "temperature": record.get("temperature"), "changed": changed})  # fmt: skip
    return rows


def _adaptation(network):
    """An adapted network's record, its figures beside its parent's, and a
    link comparing their latest runs' candidates on its survey (He et al.
    2020 Table 3)."""
    record = network.training.get("adaptation")
    if not record:
        return {}
    rows = [
        (label, part.get(network.name) or {}, part.get(record["parent"]) or {})
        for label, part in (("held-out LRGs (semi-real)", record.get("test") or {}),
                            ("cross-simulator set", record.get("cross_simulator") or {}))
        if network.name in part
    ]  # fmt: skip
    parent = Network.objects.filter(name=record["parent"]).first()
    latest = [
        n.runs.filter(survey__name=record["survey"]).order_by("-pk").values_list("pk", flat=True)
        .first() for n in (network, parent) if n is not None
    ]  # fmt: skip
    compare = None
    if len(latest) == 2 and all(latest):
        compare = reverse("inspection:run_compare") + "?" + urlencode({"runs": latest}, doseq=True)
    return {"adaptation": record, "adaptation_rows": rows, "compare_url": compare,
            "parent": parent}  # fmt: skip


def _train_form(
    request: HttpRequest, errors: list[str] | None = None, status: int = 200
) -> HttpResponse:
    context = {"architectures": ARCHITECTURES, "errors": errors or [], "form": request.POST}
    return render(request, "classifier/train.html", context, status=status)


@admin_required
def train(request: HttpRequest) -> HttpResponse:
    return _train_form(request)


@admin_required
@require_POST
def train_launch(request: HttpRequest) -> HttpResponse:
    form = TrainForm(request.POST)
    if not form.is_valid():
        return _train_form(request, form_errors(form), status=400)
    data = form.cleaned_data
    try:
        job = queue.launch(
            "classifier.jobs.train_network", data["name"], data["architecture"],
            data["train_path"], data["val_path"], form.options(), request.user.pk,
            title=f"Train {data['name']} ({data['architecture']})", queue="scoring",
            user=request.user, unit="epochs", timeout=7 * 24 * 3600,
        )  # fmt: skip
    except queue.QueueUnavailable as exc:
        return _train_form(request, [str(exc)], status=503)
    return redirect("classifier:training", pk=job.pk)


@admin_required
def training(request, pk):
    job = queue.reconcile(get_object_or_404(Job, pk=pk, function="classifier.jobs.train_network"))
    history = (job.result or {}).get("history") or []
    loss = to_div(figures.loss_figure(history), div_id="loss-curve") if history else None
    return render(request, "classifier/training.html", {"job": job, "loss": loss})


# --- Experiments -----------------------------------------------------------------


def _experiment_forms(bound=None):
    """A launch form per experiment kind; ``bound``: the one posted (kept, with its errors)."""
    return [
        (kind, KINDS[kind], bound if bound is not None and bound.kind == kind else form())
        for kind, form in EXPERIMENT_FORMS.items()
    ]


def _experiment_list(request, bound=None, errors=None, status=200):
    context = {
        "experiments": Experiment.objects.select_related("job"),
        "forms": _experiment_forms(bound),
        "errors": errors or [],
        "posted": bound.kind if bound is not None else "",
    }
    return render(request, "classifier/experiment_list.html", context, status=status)


@admin_required
def experiment_list(request: HttpRequest) -> HttpResponse:
    return _experiment_list(request)


@admin_required
@require_POST
def experiment_launch(request: HttpRequest, kind: str) -> HttpResponse:
    form_class = EXPERIMENT_FORMS.get(kind)
    if form_class is None:
        raise Http404(f"No experiment {kind!r}.")
    form = form_class(request.POST)
    if not form.is_valid():
        return _experiment_list(request, form, form_errors(form), status=400)
    try:
        # Imported here: launching needs no torch, the module's runners do.
        from classifier.experiment_services import launch

        experiment = launch(kind, form.parameters(), form.cleaned_data["seed"], request.user)
    except queue.QueueUnavailable as exc:
        return _experiment_list(request, form, [str(exc)], status=503)
    return redirect("classifier:experiment", pk=experiment.pk)


@admin_required
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment.objects.select_related("job"), pk=pk)
    if experiment.job is not None:
        experiment.job = queue.reconcile(experiment.job)
    results = experiment.results or {}
    plots = []
    if results and experiment.kind == "psf":
        fig = figures.psf_figure(results["rows"])
        plots.append(("Figures of merit against the PSF width", to_div(fig)))
    elif results and experiment.kind == "volume":
        fig = figures.volume_figure(results["rows"], results["tests"])
        plots.append(("Figures of merit against the training-set size", to_div(fig)))
    elif results and experiment.kind == "complexity":
        for test, fig in figures.complexity_roc_figures(results["matrix"]).items():
            plots.append((f"ROC curves on the {test} set", to_div(fig)))
    table = experiments.results_table(experiment.kind, results) if results else []
    columns = experiments.table_columns(table)
    context = {
        "experiment": experiment,
        "job": experiment.job,
        "plots": plots,
        "columns": columns,
        "rows": [[_cell(row.get(c)) for c in columns] for row in table],
        "results": results,
    }
    return render(request, "classifier/experiment_detail.html", context)


def _cell(value) -> str:
    """A table cell: floats to 4 significant digits, a dash for nothing."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@admin_required
def experiment_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    if fmt not in ("json", "csv"):
        raise Http404(f"Experiments export as .json or .csv, not .{fmt}.")
    experiment = get_object_or_404(Experiment, pk=pk)
    if not experiment.results:
        return HttpResponse(
            f"Experiment {pk} has no results yet ({experiment.status}).",
            status=409,
            content_type="text/plain",
        )
    name = f"experiment-{pk}-{experiment.kind}"
    if fmt == "json":
        body = json.dumps(
            {"id": pk, "kind": experiment.kind, "parameters": experiment.parameters,
             "seed": experiment.seed, "results": experiment.results,
             "provenance": experiment.provenance}, indent=2,
        )  # fmt: skip
        response = HttpResponse(body, content_type="application/json")
    else:
        body = experiments.results_csv(experiment.kind, experiment.results)
        response = HttpResponse(body, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response
