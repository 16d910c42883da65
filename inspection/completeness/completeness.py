"""The catalogue's own completeness, measured with injected lenses (pure: no
Django).

A lens on an LRG of the survey reaches the catalogue only if the network
scores it above the run's threshold *and* the inspectors keep it (summed
grade >= the campaign's high-probability total, the rule that makes a
candidate a catalogue entry). Injected lenses go through both:

- every injection is scored by the run's network: P(pass network) is the
  fraction of injections at or above the threshold;
- only those that pass reach the inspectors, as candidates do (all of them
  passed): P(kept | passed) is the fraction of those the inspectors have
  decided on (every assignment graded or withdrawn) that they kept;
- the end-to-end completeness is P(pass network) x P(kept | passed), per bin
  of Einstein radius, arc S/N or lens magnitude.

Errors are Wilson score intervals at 1 sigma (``classifier.experiments.wilson``).
Once the inspectors have decided on every injection of a bin that passed,
the end-to-end fraction is the binomial fraction kept / injected (kept
implies passed) and gets its exact Wilson interval; before, it is the
product of two fractions and its interval the product of their bounds
(wider than the binomial's), and the row says it is provisional.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike
from plotly.subplots import make_subplots

from classifier.experiments import wilson
from core.plots import LAYOUT, empty_figure

#: The quantities binned, with their labels and units.
AXES = {
    "theta_e_arcsec": "Einstein radius θ_E (arcsec)",
    "arc_snr": "arc S/N",
    "mag_r": "lens r magnitude (catalogue)",
}
DEFAULT_BINS = 5


def kept_by_inspectors(totals: ArrayLike, high_total: int) -> np.ndarray:
    """Whether each item's summed first-round grade makes it a
    high-probability catalogue entry (He et al. 2020: total >= 4 of 12)."""
    return np.asarray(totals, np.float64) >= high_total


def bin_edges(values: ArrayLike, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Edges of up to ``n_bins`` bins holding about equal numbers of the
    finite ``values`` (quantiles; ties merge bins). The last edge is the
    largest value, which falls in the last bin."""
    if n_bins < 1:
        raise ValueError(f"Give at least one bin, not {n_bins}.")
    finite = np.asarray(values, np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return np.array([], np.float64)
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)))
    if edges.size == 1:  # every value the same: one bin around it
        edges = np.array([edges[0], edges[0]])
    return edges


def _bin_index(values, edges):
    """The bin of each value (-1: NaN or outside the edges); closed on the right
    for the last bin."""
    index = np.searchsorted(edges, values, side="right") - 1
    index[values == edges[-1]] = len(edges) - 2
    index[~np.isfinite(values) | (values < edges[0]) | (values > edges[-1])] = -1
    return index


@dataclass(frozen=True)
class Row:
    """The completeness of one bin (or of all injections: ``low`` and
    ``high`` None)."""

    low: float | None
    high: float | None
    injected: int
    passed: int
    decided: int  # of those passed
    kept: int  # of those decided
    p_network: float | None
    p_network_interval: tuple[float | None, float | None]
    p_inspectors: float | None
    p_inspectors_interval: tuple[float | None, float | None]
    end_to_end: float | None
    end_to_end_interval: tuple[float | None, float | None]
    provisional: bool  # some injections that passed are not decided yet

    def as_dict(self) -> dict:
        return {
            "low": self.low,
            "high": self.high,
            "injected": self.injected,
            "passed_network": self.passed,
            "decided": self.decided,
            "kept": self.kept,
            "p_network": self.p_network,
            "p_network_low": self.p_network_interval[0],
            "p_network_high": self.p_network_interval[1],
            "p_inspectors": self.p_inspectors,
            "p_inspectors_low": self.p_inspectors_interval[0],
            "p_inspectors_high": self.p_inspectors_interval[1],
            "end_to_end": self.end_to_end,
            "end_to_end_low": self.end_to_end_interval[0],
            "end_to_end_high": self.end_to_end_interval[1],
            "provisional": self.provisional,
        }


def completeness_row(
    passed: ArrayLike,
    decided: ArrayLike,
    kept: ArrayLike,
    low: float | None = None,
    high: float | None = None,
) -> Row:
    """The completeness of a set of injections.

    Parameters
    ----------
    passed : array of bool
        The network scored it at or above the run's threshold.
    decided : array of bool
        The inspectors are done with it (only meaningful where ``passed``).
    kept : array of bool
        The inspectors kept it (only meaningful where ``passed & decided``).
    """
    passed = np.asarray(passed, bool)
    decided = passed & np.asarray(decided, bool)
    kept = decided & np.asarray(kept, bool)
    n, n_pass, n_dec, n_kept = len(passed), int(passed.sum()), int(decided.sum()), int(kept.sum())
    p_net = n_pass / n if n else None
    p_insp = n_kept / n_dec if n_dec else None
    net_interval, insp_interval = wilson(n_pass, n), wilson(n_kept, n_dec)
    provisional = n_dec < n_pass
    if n == 0:
        end, interval = None, (None, None)
    elif not provisional:
        # Kept implies passed: kept / injected is one binomial fraction.
        end, interval = n_kept / n, wilson(n_kept, n)
    elif p_insp is None:
        end, interval = None, (None, None)
    else:
        end = p_net * p_insp
        interval = (net_interval[0] * insp_interval[0], net_interval[1] * insp_interval[1])
    return Row(
        low=low,
        high=high,
        injected=n,
        passed=n_pass,
        decided=n_dec,
        kept=n_kept,
        p_network=p_net,
        p_network_interval=net_interval,
        p_inspectors=p_insp,
        p_inspectors_interval=insp_interval,
        end_to_end=end,
        end_to_end_interval=interval,
        provisional=provisional,
    )


def completeness_by_bin(
    values: ArrayLike,
    passed: ArrayLike,
    decided: ArrayLike,
    kept: ArrayLike,
    edges: Sequence[float] | None = None,
) -> list[Row]:
    """:func:`completeness_row` in each bin of ``values`` (default edges:
    :func:`bin_edges`); injections whose value is NaN (an LRG without an r
    magnitude) or outside the edges are in no bin."""
    values = np.asarray(values, np.float64)
    arrays = [np.asarray(a, bool) for a in (passed, decided, kept)]
    if any(len(a) != len(values) for a in arrays):
        raise ValueError("values, passed, decided and kept must have one length.")
    edges = bin_edges(values) if edges is None else np.asarray(edges, np.float64)
    if len(edges) < 2:
        return []
    index = _bin_index(values, edges)
    return [
        completeness_row(*(a[index == b] for a in arrays), low=float(lo), high=float(hi))
        for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]


def completeness_figure(tables: dict[str, list[Row]]) -> go.Figure:
    """End-to-end completeness (network x inspectors, with Wilson errors) and
    the network's pass fraction, against each quantity of :data:`AXES`
    (``tables``: axis -> rows of :func:`completeness_by_bin`)."""
    axes = [a for a in AXES if tables.get(a)]
    if not axes:
        return empty_figure("no injected lenses")
    fig = make_subplots(rows=1, cols=len(axes), shared_yaxes=True, horizontal_spacing=0.04)
    for col, axis in enumerate(axes, 1):
        rows = tables[axis]
        x = [(r.low + r.high) / 2 for r in rows]
        half = [(r.high - r.low) / 2 for r in rows]
        for name, value, interval, style in (
            ("end to end", "end_to_end", "end_to_end_interval", {"color": "#c0392b"}),
            ("network", "p_network", "p_network_interval", {"color": "#9e9e9e", "dash": "dot"}),
        ):
            y = [getattr(r, value) for r in rows]
            lo = [getattr(r, interval)[0] for r in rows]
            hi = [getattr(r, interval)[1] for r in rows]
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line=style,
                    error_x={"type": "data", "array": half, "visible": True, "thickness": 1},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [
                            None if h is None or v is None else h - v
                            for h, v in zip(hi, y, strict=True)
                        ],  # fmt: skip
                        "arrayminus": [
                            None if lw is None or v is None else v - lw
                            for lw, v in zip(lo, y, strict=True)
                        ],  # fmt: skip
                    },
                    customdata=[[r.injected, r.passed, r.kept] for r in rows],
                    hovertemplate="%{y:.2f}<br>injected %{customdata[0]}, passed "
                    "%{customdata[1]}, kept %{customdata[2]}<extra>" + name + "</extra>",
                )
            )
        fig.update_xaxes(title_text=AXES[axis], row=1, col=col)
    fig.update_yaxes(title_text="completeness", range=[0, 1.05], row=1, col=1)
    fig.update_layout(**LAYOUT)
    return fig
