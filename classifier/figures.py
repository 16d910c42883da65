"""Plotly figures for the classifier pages, built from plain lists (no Django)."""

import plotly.graph_objects as go

from core.plots import LAYOUT


def roc_figure(curves):
    """ROC curves: ``curves`` maps a label to (fpr, tpr) lists."""
    fig = go.Figure(layout=LAYOUT)
    for label, (fpr, tpr) in curves.items():
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=label))
    fig.update_xaxes(title="false positive rate", type="log", range=[-4, 0])
    fig.update_yaxes(title="true positive rate (completeness)", range=[0, 1.02])
    return fig


def reliability_figure(curves):
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


def loss_figure(history):
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
