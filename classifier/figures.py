"""Plotly figures for the classifier pages, built from plain lists (no Django)."""

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from core.logodds import format_p_lens, logit_bin_edges
from core.plots import LAYOUT


def roc_figure(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> go.Figure:
    """ROC curves: ``curves`` maps a label to (fpr, tpr) lists."""
    fig = go.Figure(layout=LAYOUT)
    for label, (fpr, tpr) in curves.items():
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=label))
    fig.update_xaxes(title="false positive rate", type="log", range=[-4, 0])
    fig.update_yaxes(title="true positive rate (completeness)", range=[0, 1.02])
    return fig


def reliability_figure(curves: Mapping[str, Mapping[str, list]]) -> go.Figure:
    """Reliability diagram: the fraction of lenses against the mean predicted
    P(lens) in each bin. ``curves`` maps a label to a bins dict
    (``classifier.calibration.reliability``); marker areas follow the
    number of stamps in each bin. The diagonal is perfect calibration."""
    fig = go.Figure(layout=LAYOUT)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated",
                             line={"dash": "dot", "color": "grey"}))  # fmt: skip
    for label, bins in curves.items():
        n = bins["n"]
        size = [6 + 14 * (k / max(n)) ** 0.5 for k in n] if n else []
        fig.add_trace(go.Scatter(
            x=bins["mean_probability"], y=bins["fraction_lenses"], mode="lines+markers",
            name=label, marker={"size": size}, customdata=n,
            hovertemplate="mean P %{x:.3f}<br>lenses %{y:.3f}<br>%{customdata} stamps",
        ))  # fmt: skip
    fig.update_xaxes(title="mean predicted P(lens) in the bin", range=[0, 1])
    fig.update_yaxes(title="fraction of lenses", range=[0, 1.02])
    return fig


def loss_figure(history: Sequence[Mapping[str, float]]) -> go.Figure:
    """Training loss and validation AUC by epoch."""
    epochs = [h["epoch"] for h in history]
    fig = go.Figure(layout=LAYOUT)
    fig.add_trace(go.Scatter(x=epochs, y=[h["loss"] for h in history], name="training loss"))
    if any(h.get("val_auc") is not None for h in history):
        auc = [h.get("val_auc") for h in history]
        fig.add_trace(go.Scatter(x=epochs, y=auc, name="validation AUC", yaxis="y2"))
        fig.update_layout(yaxis2={"title": "AUC", "overlaying": "y", "side": "right"})
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="loss")
    return fig


def logit_histogram_figure(
    groups: Mapping[str, ArrayLike],
    threshold_logit: float | None = None,
    threshold_name: str = "threshold",
    bins: int = 50,
) -> go.Figure:
    """Scores on a log-odds axis, one overlaid histogram per group, the
    threshold a vertical line.

    Probabilities of confident stamps pile up in the end bins of [0, 1]
    (float32 ones round to 0 or 1); their log-odds spread them out.

    Parameters
    ----------
    groups : dict
        Label -> log-odds (``core.logodds.logit`` of the scores); every group
        is binned on the same edges, which span the scores (log-odds below
        ``core.logodds.LOGIT_SHOWN_MIN`` count in the first bin) and the threshold.
    threshold_logit : float or None
        Drawn as a dashed line, e.g. the network's 1% FPR threshold; when it
        lies off the bins an annotation says where.
    threshold_name : str
        What the line's label calls it.
    bins : int
        Number of equal bins.
    """
    values = {k: np.asarray(v, np.float64) for k, v in groups.items()}
    values = {k: v[np.isfinite(v)] for k, v in values.items()}
    every = np.concatenate([np.zeros(0), *values.values()])
    fig = go.Figure(layout={**LAYOUT, "barmode": "overlay"})
    edges = logit_bin_edges(every, threshold_logit, bins)
    if not edges.size:
        return fig
    lo, hi = float(edges[0]), float(edges[-1])
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    for label, x in values.items():
        counts, _ = np.histogram(np.maximum(x, lo), bins=edges)
        fig.add_trace(go.Bar(
            x=centres, y=counts, width=widths, name=label, opacity=0.6,
            customdata=np.stack([edges[:-1], edges[1:]], axis=-1),
            hovertemplate="log-odds %{customdata[0]:.2f} to %{customdata[1]:.2f}: %{y} stamps",
        ))  # fmt: skip
    if threshold_logit is not None:
        label = (
            f"{threshold_name}: P ≥ {format_p_lens(threshold_logit)}, "
            f"log-odds ≥ {threshold_logit:.4g}"
        )
        if lo <= threshold_logit <= hi:
            fig.add_vline(x=threshold_logit, line={"color": "#c0392b", "width": 2, "dash": "dash"},
                          annotation_text=label, annotation_position="top")  # fmt: skip
        else:
            fig.add_annotation(text=label + " (off the axis)", showarrow=False, x=0.5, y=1.05,
                               xref="paper", yref="paper")  # fmt: skip
    fig.update_layout(bargap=0)
    fig.update_xaxes(
        title="log-odds ln P/(1−P)   (0: P = 0.5; 6.9: 0.999; 13.8: 0.999999)",
        range=[float(lo), float(hi)],
    )
    fig.update_yaxes(title="stamps", type="log")
    return fig


# --- Experiments (``classifier.experiments`` results) ---------------------------


def _fraction_trace(x, figures, name, key=None, dash=None):
    """A line with Wilson error bars of a fraction (``{"value", "low", "high"}``
    per point); AUCs with their Hanley-McNeil errors when ``key`` is "auc"."""
    if key == "auc":
        y = [f["auc"] for f in figures]
        err = {"type": "data", "array": [f["auc_error"] for f in figures]}
    else:
        fractions = [f[key] for f in figures]
        y = [f["value"] for f in fractions]
        err = {
            "type": "data",
            "symmetric": False,
            "array": [None if f["high"] is None else f["high"] - f["value"] for f in fractions],
            "arrayminus": [None if f["low"] is None else f["value"] - f["low"] for f in fractions],
        }
    return go.Scatter(x=x, y=y, error_y=err, mode="lines+markers", name=name,
                      line={"dash": dash} if dash else None)  # fmt: skip


PSF_CURVES = (
    ("auc", "AUC", None),
    ("accuracy", "accuracy at the network's threshold", "dot"),
    ("completeness", "completeness at the network's threshold", "dash"),
    ("tpr_at_1pct", "TPR at 1% FPR of each set", "dashdot"),
)


def psf_figure(rows: Sequence[Mapping]) -> go.Figure:
    """The PSF experiment: each figure of merit against the PSF factor, with
    its error bars, and factor 1 (the training set's median) marked."""
    fig = go.Figure(layout=LAYOUT)
    x = [r["factor"] for r in rows]
    for key, name, dash in PSF_CURVES:
        if all(key in r for r in rows):
            fig.add_trace(_fraction_trace(x, rows, name, key, dash))
    fig.add_vline(x=1.0, line={"dash": "dot", "color": "grey"})
    fig.update_xaxes(title="PSF FWHM / the training set's median FWHM")
    fig.update_yaxes(title="figure of merit", range=[0, 1.02])
    return fig


def volume_figure(rows: Sequence[Mapping], tests: Sequence[str]) -> go.Figure:
    """The training-volume experiment: AUC and TPR at 1% FPR on each test set
    against the number of training stamps (log axis)."""
    fig = go.Figure(layout=LAYOUT)
    x = [r["size"] for r in rows]
    for test, dash in zip(tests, (None, "dash", "dot"), strict=False):
        figures = [r[test] for r in rows]
        fig.add_trace(_fraction_trace(x, figures, f"AUC, {test}", "auc", dash))
        fig.add_trace(_fraction_trace(x, figures, f"TPR at 1% FPR, {test}", "tpr_at_1pct", dash))
    fig.update_xaxes(title="training stamps", type="log")
    fig.update_yaxes(title="figure of merit", range=[0, 1.02])
    return fig


def complexity_roc_figures(matrix: Sequence[Mapping]) -> dict[str, go.Figure]:
    """The complexity experiment: per test set, the ROC curves of the four
    networks overlaid (the network's name and AUC in the legend)."""
    figures: dict[str, go.Figure] = {}
    for entry in matrix:
        label = f"{entry['network']} (AUC {entry['auc']:.3f})"
        curves = {label: (entry["roc"]["fpr"], entry["roc"]["tpr"])}
        if entry["test"] not in figures:
            figures[entry["test"]] = roc_figure(curves)
        else:
            fig = figures[entry["test"]]
            fig.add_trace(go.Scatter(x=curves[label][0], y=curves[label][1], mode="lines",
                                     name=label))  # fmt: skip
    return figures
