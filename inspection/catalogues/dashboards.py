"""Plotly figures for the consensus and catalogue dashboard of a search (pure: no Django).

After He et al. (2020, Sect. 4): how the numbers shrink from the catalogue to
the high-probability lenses, the histogram of total scores (their Fig. 6), the
network score against the inspectors' consensus, the candidates on the sky and
how the inspectors agree; and a scoring run's scores as log-odds. Each
function takes plain lists or arrays and returns a
``plotly.graph_objects.Figure``; empty inputs give an empty figure that says
"no data yet". Render with :func:`core.plots.to_div`.
"""

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike
from plotly.subplots import make_subplots

from core.logodds import format_p_lens, logit_bin_edges
from core.plots import LAYOUT, empty_figure

GREY, AMBER, STRONG, BLUE = "#9e9e9e", "#f0a202", "#c0392b", "#1f6fb2"
KINDS = ("candidate", "known", "new")  # drawing order: the interesting ones on top
_KIND_STYLE = {
    "candidate": {"color": GREY, "size": 5, "symbol": "circle", "opacity": 0.6},
    "known": {"color": BLUE, "size": 9, "symbol": "diamond"},
    "new": {"color": STRONG, "size": 11, "symbol": "star"},
}


def _floats(values, name):
    array = np.asarray([np.nan if v is None else v for v in values], np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat list of numbers, not shape {array.shape}.")
    return array


def _same_length(**arrays):
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"These must have one length each: {lengths}.")


def funnel_figure(stages: Sequence[tuple[str, int]]) -> go.Figure:
    """How many objects survive each stage of the search.

    Parameters
    ----------
    stages : sequence of (str, number)
        ``(label, count)`` from the catalogue down to the high-probability
        lenses, e.g. ``[("catalogue", 1e6), ("LRGs", 28815), ...]``.

    Notes
    -----
    The counts span five or more decades, so the bar widths are
    ``log10(1 + count)`` (a linear funnel shows nothing after the LRG cut);
    the text and hover give the counts themselves and the fraction of the
    previous stage.
    """
    if not stages:
        return empty_figure()
    labels = [str(label) for label, _ in stages]
    counts = _floats([count for _, count in stages], "counts")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError(f"Stage counts must be finite and >= 0, not {counts.tolist()}.")
    text = [f"{counts[0]:,.0f}"] + [
        f"{c:,.0f} ({c / p:.2%} of previous)" if p > 0 else f"{c:,.0f}"
        for p, c in zip(counts[:-1], counts[1:], strict=True)
    ]
    fig = go.Figure(layout=LAYOUT)
    fig.add_trace(
        go.Funnel(
            y=labels,
            x=np.log10(1 + counts),
            customdata=counts,
            text=text,
            textinfo="text",
            hovertemplate="%{y}: %{customdata:,.0f}<extra></extra>",
            marker={"color": BLUE},
        )
    )
    fig.update_xaxes(visible=False)
    return fig


def total_score_figure(counts: Sequence[int], min_total: int = 4, vote_total: int = 3) -> go.Figure:
    """Histogram of the candidates' total scores (He et al. 2020, Fig. 6).

    Parameters
    ----------
    counts : sequence of int
        ``counts[k]`` candidates have total score ``k`` (the sum of the
        inspectors' grades).
    min_total : int
        Totals ``>= min_total`` are high-probability lenses.
    vote_total : int
        Totals from ``vote_total`` up to ``min_total - 1`` go to a further
        vote; lower totals are rejected.

    Returns
    -------
    Figure
        One bar trace per class (rejected, further vote, high probability),
        so that the legend names the colours.
    """
    if vote_total > min_total:
        raise ValueError(f"vote_total ({vote_total}) must not exceed min_total ({min_total}).")
    if len(counts) == 0:
        return empty_figure()
    totals = np.arange(len(counts))
    counts = np.asarray(counts)
    classes = [
        ("rejected", totals < vote_total, GREY),
        ("further vote", (totals >= vote_total) & (totals < min_total), AMBER),
        ("high probability", totals >= min_total, STRONG),
    ]
    fig = go.Figure(layout=LAYOUT)
    for name, chosen, colour in classes:
        if chosen.any():
            fig.add_trace(
                go.Bar(x=totals[chosen], y=counts[chosen], name=name, marker={"color": colour})
            )
    fig.update_layout(bargap=0.1)
    fig.update_xaxes(title="total score", dtick=1)
    fig.update_yaxes(title="candidates")
    return fig


def score_vs_consensus_figure(
    network_scores: Sequence[float],
    totals: Sequence[int],
    posteriors: Sequence[float],
    names: Sequence[str],
) -> go.Figure:
    """Network score (0-1) against the inspectors' total score, coloured by posterior.

    ``posteriors`` may hold None (not computed yet); those points are grey.
    """
    if len(network_scores) == 0:
        return empty_figure()
    scores = _floats(network_scores, "network_scores")
    totals = _floats(totals, "totals")
    posteriors = _floats(posteriors, "posteriors")
    _same_length(network_scores=scores, totals=totals, posteriors=posteriors, names=names)
    fig = go.Figure(layout=LAYOUT)
    fig.add_trace(
        go.Scatter(
            x=scores,
            y=totals,
            mode="markers",
            text=[str(n) for n in names],
            customdata=posteriors,
            hovertemplate="%{text}<br>score %{x:.3f}, total %{y}, posterior %{customdata:.3f}"
            "<extra></extra>",
            marker={
                "color": posteriors,
                "cmin": 0,
                "cmax": 1,
                "colorscale": "Viridis",
                "colorbar": {"title": "posterior"},
                "size": 8,
                "opacity": 0.8,
                "line": {"width": 0.5, "color": "white"},
            },
        )
    )
    fig.update_xaxes(title="network score", range=[-0.02, 1.02])
    fig.update_yaxes(title="total score", dtick=1)
    return fig


def logit_histogram(
    logits: ArrayLike, threshold_logit: float | None, bins: int = 40
) -> tuple[list[int], list[float]]:
    """Counts of a run's log-odds in ``bins`` equal bins.

    The bins span the scores, and the threshold when it lies within one span
    of them (a threshold of P = 0, log-odds -744, would squash every score
    into one bin); log-odds below ``core.logodds.LOGIT_SHOWN_MIN`` count in the first bin.

    Returns
    -------
    counts, edges : list
        ``bins`` counts and ``bins + 1`` edges (log-odds); both empty when no
        score is finite.
    """
    x = np.asarray(logits, np.float64)
    x = x[np.isfinite(x)]
    edges = logit_bin_edges(x, threshold_logit, bins)
    if not edges.size:
        return [], []
    counts, edges = np.histogram(np.maximum(x, edges[0]), bins=edges)
    return counts.tolist(), edges.tolist()


def score_histogram_figure(
    counts: Sequence[int], edges: Sequence[float], threshold_logit: float | None
) -> go.Figure:
    """A run's scores on a log-odds axis, the threshold a vertical line.

    Probabilities pile up in the last bin of [0, 1] (every confident stamp
    rounds to 1); log-odds spread them out. Counts are on a log axis: the
    non-lenses outnumber the candidates by orders of magnitude.

    Parameters
    ----------
    counts, edges : sequence
        From :func:`logit_histogram`.
    threshold_logit : float
        The run's threshold, log-odds; when it lies off the bins an
        annotation says where.
    """
    if len(counts) == 0 or sum(counts) == 0:
        return empty_figure("no scores yet")
    edges = np.asarray(edges, np.float64)
    fig = go.Figure(layout=LAYOUT)
    fig.add_trace(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.diff(edges),
            customdata=np.stack([edges[:-1], edges[1:]], axis=-1),
            hovertemplate="log-odds %{customdata[0]:.2f} to %{customdata[1]:.2f}: %{y} sources"
            "<extra></extra>",
            marker={"color": BLUE},
            name="sources",
        )
    )
    label = f"threshold: P ≥ {format_p_lens(threshold_logit)}, log-odds ≥ {threshold_logit:.4g}"
    if edges[0] <= threshold_logit <= edges[-1]:
        fig.add_vline(
            x=threshold_logit,
            line={"color": STRONG, "width": 2, "dash": "dash"},
            annotation_text=label,
            annotation_position="top",
        )
    else:
        fig.add_annotation(
            text=label + " (off the axis)",
            showarrow=False,
            x=0.5,
            y=1.05,
            xref="paper",
            yref="paper",
        )
    fig.update_layout(bargap=0, showlegend=False)
    fig.update_xaxes(
        title="log-odds ln P/(1−P)   (0: P = 0.5; 6.9: 0.999; 13.8: 0.999999)",
        range=[float(edges[0]), float(edges[-1])],
    )
    fig.update_yaxes(title="sources", type="log")
    return fig


def _ra_axis(ra):
    """RA values to plot and axis settings; fields across RA = 0 are shifted to [-180, 180)."""
    finite = ra[np.isfinite(ra)]
    shifted = (finite + 180) % 360 - 180
    if finite.size == 0 or np.ptp(shifted) >= np.ptp(finite):
        return 0.0, {}
    # e.g. KiDS-South, 330 < RA < 52: ticks say 340, 350, 0, 10 rather than -20, -10.
    step = next((s for s in (1, 2, 5, 10, 15, 30, 45, 60, 90) if np.ptp(shifted) / s <= 8), 90)
    ticks = np.arange(np.floor(shifted.min() / step) * step, shifted.max() + step, step)
    return -360.0, {"tickvals": ticks, "ticktext": [f"{t % 360:g}" for t in ticks]}


def sky_figure(
    ra_deg: Sequence[float],
    dec_deg: Sequence[float],
    names: Sequence[str],
    kind: Sequence[str],
    prior_ra_deg: Sequence[float] = (),
    prior_dec_deg: Sequence[float] = (),
    prior_names: Sequence[str] = (),
) -> go.Figure:
    """The candidates on the sky, RA increasing to the left as astronomers draw it.

    Parameters
    ----------
    ra_deg, dec_deg : sequence of float
        Degrees.
    names : sequence of str
    kind : sequence of str
        Per candidate, one of :data:`KINDS`: ``"new"`` (a high-probability
        lens not in the prior list), ``"known"`` (matched to the prior list)
        or ``"candidate"`` (not high probability).
    prior_ra_deg, prior_dec_deg, prior_names : sequence
        A prior list of lenses or candidates, drawn as open circles.

    Returns
    -------
    Figure
        One trace per kind that occurs (in the order of :data:`KINDS`), then
        one "prior list" trace if there is one.
    """
    ra, dec = _floats(ra_deg, "ra_deg"), _floats(dec_deg, "dec_deg")
    pra, pdec = _floats(prior_ra_deg, "prior_ra_deg"), _floats(prior_dec_deg, "prior_dec_deg")
    _same_length(ra_deg=ra, dec_deg=dec, names=names, kind=kind)
    _same_length(prior_ra_deg=pra, prior_dec_deg=pdec, prior_names=prior_names)
    unknown = set(kind) - set(KINDS)
    if unknown:
        raise ValueError(f"Unknown kind(s) {sorted(unknown)}: use {', '.join(KINDS)}.")
    if len(ra) + len(pra) == 0:
        return empty_figure()
    offset, ticks = _ra_axis(np.concatenate([ra, pra]))
    kind, names = np.asarray(kind, object), np.asarray(names, object)

    def x(values):  # shifted RA; the hover shows the true one
        return np.where(values >= 180, values + offset, values) if offset else values

    hover = "%{text}<br>RA %{customdata:.5f}, Dec %{y:.5f}<extra></extra>"
    fig = go.Figure(layout=LAYOUT)
    for k in KINDS:
        chosen = kind == k
        if chosen.any():
            fig.add_trace(
                go.Scatter(
                    x=x(ra[chosen]),
                    y=dec[chosen],
                    mode="markers",
                    name=k,
                    text=names[chosen],
                    customdata=ra[chosen],
                    hovertemplate=hover,
                    marker=_KIND_STYLE[k],
                )
            )
    if len(pra):
        fig.add_trace(
            go.Scatter(
                x=x(pra),
                y=pdec,
                mode="markers",
                name="prior list",
                text=[str(n) for n in prior_names],
                customdata=pra,
                hovertemplate=hover,
                marker={"symbol": "circle-open", "size": 14, "color": "black"},
            )
        )
    fig.update_xaxes(title="RA (deg)", autorange="reversed", **ticks)
    fig.update_yaxes(title="Dec (deg)")
    return fig


def agreement_figure(
    codes: Sequence[str], bias: Sequence[float], scatter: Sequence[float], pairwise: ArrayLike
) -> go.Figure:
    """How the inspectors agree: bias ± scatter per inspector, and pairwise agreement.

    Parameters
    ----------
    codes : sequence of str
        Inspector codes (initials).
    bias, scatter : sequence of float
        Per inspector, in grade units: mean and standard deviation of the
        inspector's grade minus the others' mean. NaN or None where unknown.
    pairwise : array_like, shape (N, N)
        Agreement between each pair of inspectors, NaN where they share no
        candidates.
    """
    if len(codes) == 0:
        return empty_figure()
    codes = [str(c) for c in codes]
    bias, scatter = _floats(bias, "bias"), _floats(scatter, "scatter")
    _same_length(codes=codes, bias=bias, scatter=scatter)
    pairwise = np.array([[np.nan if v is None else v for v in row] for row in pairwise], float)
    if pairwise.shape != (len(codes), len(codes)):
        raise ValueError(
            f"pairwise must be {len(codes)} x {len(codes)} (one row and column per code), "
            f"not shape {pairwise.shape}."
        )
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.45, 0.55],
        horizontal_spacing=0.12,
        subplot_titles=("bias per inspector", "pairwise agreement"),
    )
    fig.add_trace(
        go.Scatter(
            x=codes,
            y=bias,
            mode="markers",
            name="bias",
            error_y={"type": "data", "array": scatter, "visible": True},
            marker={"color": BLUE, "size": 9},
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    fig.add_hline(y=0, line={"color": GREY, "dash": "dot"}, row=1, col=1)
    fig.add_trace(
        go.Heatmap(
            z=pairwise,
            x=codes,
            y=codes,
            colorscale="Viridis",
            texttemplate="%{z:.2f}",
            hovertemplate="%{y} vs %{x}: %{z:.3f}<extra></extra>",
            colorbar={"title": "agreement"},
        ),
        row=1,
        col=2,
    )
    fig.update_layout(**LAYOUT)
    fig.update_xaxes(title="inspector", row=1, col=1)
    fig.update_yaxes(title="bias (grade)", row=1, col=1)
    fig.update_yaxes(autorange="reversed", row=1, col=2)  # first code at the top, like a table
    return fig
