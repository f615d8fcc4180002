"""Drawing the relationship pipeline chart (insights.pipeline_chart's data) as SVG or PNG.

Matplotlib draws it, offline (the Agg and SVG backends, no display, no network),
imported only when a chart is drawn so that no other command pays for it. Plain
data in, text or bytes out, no file and no clock (the SVG and PNG carry no date):
`rapport pipeline chart` writes them to a file (insights/pipeline_chart_render.py),
the web app inlines the SVG in its page (web/pipeline.py).

Each bubble is its own scatter artist with an SVG id (`bubble-N`, N its place
in the data) and a URL (`set_urls`: matplotlib wraps it in an `<a>` element).
Matplotlib has no way to give an artist an SVG `<title>` (the hover text), so
one is inserted right after each bubble's `<g id="bubble-N">` opening tag: a
text insertion at an id matplotlib wrote, escaped, that leaves the rest of the
document as matplotlib wrote it. The caption under the chart carries the
employment notice (insights.notice).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, cast
from xml.sax.saxutils import escape

from insights.notice import EMPLOYMENT_NOTICE
from insights.pipeline_chart import COLOUR_HEX, COLOUR_LABEL, ChartData, Colour, bubble_title

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BUBBLE_ID = "bubble-{}"
WIDTH_IN, HEIGHT_IN, PNG_DPI = 10.0, 6.0, 100


def _figure(data: ChartData, title: str) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import dates
    from matplotlib.figure import Figure

    date2num = cast(Callable[[date], float], dates.date2num)  # untyped upstream

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    axes = figure.add_axes((0.08, 0.22, 0.68, 0.70))
    for number, bubble in enumerate(data.bubbles):
        dot = axes.scatter(
            [date2num(bubble.close_date)],
            [bubble.health_score],
            s=[bubble.area],
            c=COLOUR_HEX[bubble.colour],
            edgecolors="white",
            linewidths=0.8,
            zorder=2 + number,
        )
        dot.set_gid(BUBBLE_ID.format(number))
        dot.set_urls([bubble.link])
    axes.xaxis_date()
    axes.set_ylim(-8, 108)
    axes.set_ylabel("Relationship health score")
    axes.set_xlabel("Estimated close date")
    axes.set_title(title)
    axes.grid(True, color="#e0e0e0", zorder=0)
    if not data.bubbles:
        axes.text(
            0.5,
            0.5,
            f"No open opportunity closes on or after {data.as_of.isoformat()}",
            ha="center",
            transform=axes.transAxes,
        )
        axes.set_xticks([])
    else:
        figure.autofmt_xdate()
    _legend(figure, axes)
    figure.text(0.01, 0.015, EMPLOYMENT_NOTICE, fontsize=8, color="#424242")
    return figure


def _legend(figure: Figure, axes: Any) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=9,
            markerfacecolor=COLOUR_HEX[colour],
            markeredgecolor="white",
            label=COLOUR_LABEL[colour],
        )
        for colour in Colour
    ]
    axes.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        title="Health",
        fontsize=9,
    )
    figure.text(0.78, 0.4, "Bubble size:\nestimated revenue", fontsize=9, va="top")


def _after_opening(title: str) -> Callable[[re.Match[str]], str]:
    def insert(opening: re.Match[str]) -> str:
        return opening.group(1) + title

    return insert


def _with_titles(svg: str, data: ChartData) -> str:
    """Insert each bubble's <title> as the first child of its <g id="bubble-N">."""
    for number, bubble in enumerate(data.bubbles):
        opening = re.compile(rf'(<g id="{BUBBLE_ID.format(number)}">)')
        title = f"\n   <title>{escape(bubble_title(bubble))}</title>"
        svg, found = opening.subn(_after_opening(title), svg, 1)
        if not found:  # matplotlib changed how it writes ids: fail loudly, not silently
            raise RuntimeError(f"chart: no SVG group for {BUBBLE_ID.format(number)}")
    return svg


def svg_text(data: ChartData, title: str) -> str:
    """The chart as an SVG document, each bubble with its <title> (the web app inlines it)."""
    import matplotlib

    figure = _figure(data, title)
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "rapport"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return _with_titles(buffer.getvalue(), data)


def png_bytes(data: ChartData, title: str) -> bytes:
    """The chart as a PNG image."""
    buffer = io.BytesIO()
    _figure(data, title).savefig(buffer, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return buffer.getvalue()
