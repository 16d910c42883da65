"""The evaluation report as a self-contained HTML page (plotly.js inlined once).

ROC curves per lens subset (Lanusse et al. 2018 Fig. 6; all lenses: the
evaluation's own ``roc``), the reliability diagram before and after the
network's temperature with its ECE (Guo et al. 2017), log-odds histograms by
class and by kind of non-lens with the 1% FPR threshold, and the stamps of
the most confident false positives and the most missed lenses (their
Fig. 8). Pure: no Django.
"""

import base64
import html

import numpy as np
import plotly.graph_objects as go
from astropy.table import Table
from numpy.typing import ArrayLike

from classifier import metrics
from classifier.figures import logit_histogram_figure, reliability_figure, roc_figure
from core import display
from core.logodds import logit
from simulations.stampset import StampSet

CUTS = [("all lenses", 0.0, 0.0), ("θE > 1.4″", 1.4, 0.0), ("S/N > 20", 0.0, 20.0),
        ("θE > 1.4″, S/N > 20", 1.4, 20.0), ("θE > 2″, S/N > 40", 2.0, 40.0)]  # fmt: skip
N_STAMPS = 12


def _png(stamp, stampset):
    """A stamp as the web pages show it (``core.display``), twice its size, base64."""
    picture = display.stamp_picture(stamp, stampset.bands)
    png = display.render_png(picture, scale=2, pixscale_arcsec=stampset.pixscale_arcsec)
    return base64.b64encode(png).decode()


def _gallery(title, indices, stampset, scores):
    cells = []
    for i in indices:
        meta = stampset.meta
        caption = f"{html.escape(str(meta['id'][i]))}<br>score {scores[i]:.4f}"
        if "kind" in meta.colnames:
            caption += f" · {html.escape(str(meta['kind'][i]))}"
        if "theta_e" in meta.colnames and meta["theta_e"][i] > 0:
            caption += f"<br>θE {meta['theta_e'][i]:.2f}″ S/N {meta['snr'][i]:.0f}"
        img = _png(stampset.stamps(int(i)), stampset)
        cells.append(
            f'<figure><img src="data:image/png;base64,{img}">'
            + f"<figcaption>{caption}</figcaption></figure>"
        )
    return f"<h2>{title}</h2><div class='gallery'>{''.join(cells) or '<p>none</p>'}</div>"


def _reliability(calibration):
    """The reliability section from an evaluation's ``calibration`` block."""
    if not calibration:
        return ""
    t, before, after = (calibration[k] for k in ("temperature", "uncalibrated", "calibrated"))
    curves = {f"as trained (ECE {before['ece']:.3f})": before["reliability"]}
    if t != 1.0:
        curves[f"T = {t:.3g} (ECE {after['ece']:.3f})"] = after["reliability"]
        fitted_on = calibration.get("fitted_on")
        where = f" (fitted on {html.escape(str(fitted_on))})" if fitted_on else ""
        text = (
            f"Temperature T = {t:.4g}{where}: ECE {before['ece']:.4f} → {after['ece']:.4f}, "
            f"NLL {before['nll']:.4f} → {after['nll']:.4f} nats per stamp"
        )
    else:
        text = (
            f"No temperature fitted (T = 1): ECE {before['ece']:.4f}, NLL "
            f"{before['nll']:.4f} nats per stamp"
        )
    fig_html = reliability_figure(curves).to_html(include_plotlyjs=False, full_html=False)
    return (
        f"<h2>Reliability</h2><p>{text}; {calibration['n_bins']} equal-width bins of "
        f"P(lens).</p>{fig_html}"
    )


def threshold_logit_1pct(report: dict) -> float | None:
    """The evaluation's 1% FPR threshold as log-odds: as recorded
    (``threshold_logit_at_fpr``), or the log-odds of the probability one of
    an older report; None without either."""
    recorded = (report.get("threshold_logit_at_fpr") or {}).get("0.01")
    if recorded is not None:
        return float(recorded)
    p = (report.get("threshold_at_fpr") or {}).get("0.01")
    return None if p is None else logit(p)


def score_histogram(report: dict, scores: np.ndarray, labels: np.ndarray, meta: Table) -> go.Figure:
    """The scores of the lenses and of each kind of non-lens on a log-odds
    axis (probabilities saturate at 0 and 1), the 1% FPR threshold marked."""
    x = logit(scores)
    negatives = labels == 0
    kinds = (
        np.asarray(meta["kind"]).astype(str)
        if "kind" in meta.colnames
        else np.full(len(labels), "non-lens")
    )
    groups = {"lenses": x[labels == 1]}
    for kind in sorted(set(kinds[negatives])):
        groups[kind] = x[negatives & (kinds == kind)]
    return logit_histogram_figure(groups, threshold_logit_1pct(report), "1% FPR threshold")


def evaluation_html(network_name: str, report: dict, scores: ArrayLike, stampset: StampSet) -> str:
    """The evaluation report of ``network_name`` on ``stampset`` as one
    standalone HTML page: ``report`` is the evaluation dict
    (``classifier.services.evaluation_report``), ``scores`` P(lens) per stamp."""
    labels = stampset.labels
    meta = stampset.meta
    theta = np.asarray(meta["theta_e"]) if "theta_e" in meta.colnames else np.zeros(len(labels))
    snr = np.asarray(meta["snr"]) if "snr" in meta.colnames else np.zeros(len(labels))
    negatives = labels == 0
    curves = {}
    for label, t_min, s_min in CUTS:
        if t_min == s_min == 0.0 and "roc" in report:
            # Every lens: the evaluation's own ROC, not computed again.
            curves[label] = (report["roc"]["fpr"], report["roc"]["tpr"])
            continue
        chosen = negatives | ((labels == 1) & (theta > t_min) & (snr > s_min))
        if (labels[chosen] == 1).any():
            fpr, tpr, _ = metrics.roc_curve(scores[chosen], labels[chosen])
            curves[label] = (fpr.tolist(), tpr.tolist())
    roc = roc_figure(curves)
    hist = score_histogram(report, scores, labels, meta)

    false_pos = np.flatnonzero(negatives)[np.argsort(-scores[negatives])][:N_STAMPS]
    missed = np.flatnonzero(labels == 1)[np.argsort(scores[labels == 1])][:N_STAMPS]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in report.items()
        if k not in ("completeness_grid", "roc", "calibration", "by_kind")
    )  # fmt: skip
    grid = ""
    for g in report.get("completeness_grid", []):
        value = "–" if g["completeness"] is None else f"{g['completeness']:.3f}"
        grid += f"<tr><td>{g['theta_e_min']}</td><td>{g['snr_min']}</td><td>{g['n']}</td>"
        grid += f"<td>{value}</td></tr>"
    kinds = ""
    for kind, k in (report.get("by_kind") or {}).items():
        share = k["share_of_false_positives"]
        kinds += f"<tr><td>{html.escape(kind)}</td><td>{k['n']}</td><td>{k['auc']:.3f}</td>"
        kinds += f"<td>{k['fpr']:.3f}</td><td>{'–' if share is None else f'{share:.2f}'}</td></tr>"
    kinds_html = (
        "<h2>Non-lens kinds at 1% FPR</h2><table><tr><th>kind</th><th>n</th>"
        "<th>AUC, lenses against it</th><th>share passing the threshold</th>"
        f"<th>share of the false positives</th></tr>{kinds}</table>"
        if kinds
        else ""
    )
    roc_html = roc.to_html(include_plotlyjs="inline", full_html=False)
    hist_html = hist.to_html(include_plotlyjs=False, full_html=False)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(network_name)} evaluation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}}
table{{border-collapse:collapse}}
td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}}
.gallery{{display:flex;flex-wrap:wrap;gap:.5rem}}figure{{margin:0;font-size:.75rem}}</style></head><body>
<h1>{html.escape(network_name)} on {html.escape(str(stampset.path.name))}</h1>
<table>{rows}</table>
<h2>ROC by lens subset</h2>{roc_html}
{_reliability(report.get("calibration"))}
<h2>Completeness at 1% FPR</h2>
<table><tr><th>θE &gt;</th><th>S/N &gt;</th><th>n</th><th>completeness</th></tr>{grid}</table>
{kinds_html}
<h2>Log-odds by class and kind</h2>{hist_html}
{_gallery("Most confident false positives", false_pos, stampset, scores)}
{_gallery("Most missed lenses", missed, stampset, scores)}
</body></html>"""
