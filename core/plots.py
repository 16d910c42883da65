"""The one place plotly figures get their look and their HTML (pure: plotly
only, no Django). Both apps build figures from plain lists with ``LAYOUT``
and hand them to templates through :func:`to_div`; plotly.js itself is
served locally and loaded once per page by ``templates/partials/plotly.html``
(pages with figures fill the base template's ``plotly`` block with it)."""

import plotly.graph_objects as go

LAYOUT = {"margin": {"l": 50, "r": 20, "t": 30, "b": 45}, "height": 360, "template": "plotly_white"}


def empty_figure(message: str = "no data yet") -> go.Figure:
    """A figure that says ``message`` instead of showing empty axes."""
    fig = go.Figure(layout=LAYOUT)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def to_div(fig: go.Figure, div_id: str | None = None) -> str:
    """HTML for a figure; plotly.js itself comes from the page (served locally)."""
    # responsive: the figure follows its card's width (cards sit in CSS grids).
    return fig.to_html(
        include_plotlyjs=False, full_html=False, div_id=div_id, config={"responsive": True}
    )
