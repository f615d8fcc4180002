"""Drawing the relationship pipeline chart (insights.pipeline_chart's data) as SVG or PNG.

The SVG is written directly (`svg_text`): one `<g id="bubble-N">` per bubble (N its
place in the data), holding its hover text as `<title>` and a link (`<a href>`, same
tab) around its `<circle>`, then the axes, ticks, grid, legend and the caption with
the employment notice (insights.notice). Every text is XML-escaped. Drawing it this
way takes about a millisecond per hundred bubbles; matplotlib took seconds for a
manager's 650 (one artist per bubble, so that each could carry its id and link).

The PNG (`png_bytes`, for `rapport pipeline chart --out x.png`) is drawn by
matplotlib, offline (the Agg backend), imported only then, with one scatter call
for all the bubbles: the same geometry, colours and legend.

Plain data in, text or bytes out, no file and no clock (the SVG and PNG carry no
date): `rapport pipeline chart` writes them to a file
(insights/pipeline_chart_render.py), the web app inlines the SVG (web/pipeline.py).
"""

from __future__ import annotations

import calendar
import io
import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, cast
from xml.sax.saxutils import escape, quoteattr

from insights.notice import EMPLOYMENT_NOTICE
from insights.pipeline_chart import COLOUR_HEX, COLOUR_LABEL, ChartData, Colour, bubble_title

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BUBBLE_ID = "bubble-{}"
WIDTH_IN, HEIGHT_IN, PNG_DPI = 10.0, 6.0, 100
# The SVG's user units are the PNG's pixels: 1000 x 600.
WIDTH, HEIGHT = int(WIDTH_IN * PNG_DPI), int(HEIGHT_IN * PNG_DPI)
# The plot area, as fractions of the figure (left, bottom, width, height).
AXES = (0.08, 0.22, 0.68, 0.70)
Y_LOW, Y_HIGH = -8.0, 108.0
Y_TICKS = (0, 20, 40, 60, 80, 100)
GRID, INK, MUTED = "#e0e0e0", "#212121", "#424242"
PX_PER_POINT = PNG_DPI / 72.0


def _date_span(data: ChartData) -> tuple[date, date]:
    """The x axis's first and last day: the close dates with a margin each side."""
    dates = [bubble.close_date for bubble in data.bubbles] or [data.as_of]
    first, last = min(dates), max(dates)
    margin = max(2, (last - first).days // 20)
    return first - timedelta(days=margin), last + timedelta(days=margin)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def date_ticks(first: date, last: date, most: int = 8) -> list[date]:
    """Round dates between first and last, at most `most` of them: every day, week,
    two weeks, or every 1, 2, 3, 6, 12 ... months (on the 1st)."""
    span = (last - first).days
    for step in (1, 2, 7, 14):
        if span // step + 1 <= most:
            start = first if step < 7 else first + timedelta(days=(7 - first.weekday()) % 7)
            return [
                start + timedelta(days=n)
                for n in range(0, last.toordinal() - start.toordinal() + 1, step)
            ]
    for months in (1, 2, 3, 6, 12, 24, 60, 120, 600):
        # The 1st of a month on or after `first` whose month is a multiple of the step.
        tick = first if first.day == 1 else _add_months(first.replace(day=1), 1)
        while (tick.year * 12 + tick.month - 1) % months:
            tick = _add_months(tick, 1)
        ticks = []
        while tick <= last:
            ticks.append(tick)
            tick = _add_months(tick, months)
        if len(ticks) <= most:
            return ticks
    return [first, last]


class _Svg:
    """A small SVG writer: elements with escaped attributes and text, in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def open(self, tag: str, **attributes: object) -> None:
        self.parts.append(f"<{tag}{_attributes(attributes)}>")

    def close(self, tag: str) -> None:
        self.parts.append(f"</{tag}>")

    def empty(self, tag: str, **attributes: object) -> None:
        self.parts.append(f"<{tag}{_attributes(attributes)}/>")

    def text(self, tag: str, content: str, **attributes: object) -> None:
        self.parts.append(f"<{tag}{_attributes(attributes)}>{escape(content)}</{tag}>")

    def document(self) -> str:
        return "\n".join(self.parts) + "\n"


def _attributes(attributes: dict[str, object]) -> str:
    return "".join(
        f" {name.rstrip('_').replace('_', '-')}={quoteattr(_number(value))}"
        for name, value in attributes.items()
        if value is not None
    )


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def radius(area: float) -> float:
    """A bubble's radius in the SVG's units for its area (matplotlib's scatter `s`,
    points²: the marker's diameter is sqrt(s) points)."""
    return math.sqrt(area) / 2 * PX_PER_POINT


def svg_text(data: ChartData, title: str) -> str:
    """The chart as an SVG document, each bubble with its <title> and link."""
    left, bottom, width, height = AXES
    x0, x1 = left * WIDTH, (left + width) * WIDTH
    y1, y0 = (1 - bottom) * HEIGHT, (1 - bottom - height) * HEIGHT  # y1 below y0
    first, last = _date_span(data)
    days = max(1, (last - first).days)

    def x_of(day: date) -> float:
        return x0 + (x1 - x0) * (day - first).days / days

    def y_of(score: float) -> float:
        return y1 - (y1 - y0) * (score - Y_LOW) / (Y_HIGH - Y_LOW)

    svg = _Svg()
    svg.open(
        "svg",
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        width=WIDTH,
        height=HEIGHT,
        role="img",
        aria_label=title,
        font_family="DejaVu Sans, Arial, sans-serif",
        font_size=12,
        fill=INK,
    )
    svg.empty("rect", x=0, y=0, width=WIDTH, height=HEIGHT, fill="#ffffff")
    svg.text("text", title, x=(x0 + x1) / 2, y=y0 - 12, text_anchor="middle", font_size=14)
    _y_axis(svg, x0, x1, y_of)
    ticks = date_ticks(first, last) if data.bubbles else []
    _x_axis(svg, ticks, x_of, y0, y1)
    svg.empty("rect", x=x0, y=y0, width=x1 - x0, height=y1 - y0, fill="none", stroke=INK)
    svg.text(
        "text",
        "Relationship health score",
        x=22,
        y=(y0 + y1) / 2,
        text_anchor="middle",
        transform=f"rotate(-90 22 {(y0 + y1) / 2:.2f})",
    )
    svg.text("text", "Estimated close date", x=(x0 + x1) / 2, y=HEIGHT - 40, text_anchor="middle")
    if not data.bubbles:
        svg.text(
            "text",
            f"No open opportunity closes on or after {data.as_of.isoformat()}",
            x=(x0 + x1) / 2,
            y=(y0 + y1) / 2,
            text_anchor="middle",
        )
    svg.open("g", id="bubbles")
    for number, bubble in enumerate(data.bubbles):
        svg.open("g", id=BUBBLE_ID.format(number))
        svg.text("title", bubble_title(bubble))
        svg.open("a", href=bubble.link)
        svg.empty(
            "circle",
            cx=x_of(bubble.close_date),
            cy=y_of(bubble.health_score),
            r=radius(bubble.area),
            fill=COLOUR_HEX[bubble.colour],
            stroke="#ffffff",
            stroke_width=1.1,
        )
        svg.close("a")
        svg.close("g")
    svg.close("g")
    _legend(svg, x1 + 0.01 * WIDTH, y0)
    svg.text("text", EMPLOYMENT_NOTICE, x=10, y=HEIGHT - 9, font_size=11, fill=MUTED)
    svg.close("svg")
    return svg.document()


def _y_axis(svg: _Svg, x0: float, x1: float, y_of: Callable[[float], float]) -> None:
    svg.open("g", id="y-axis")
    for tick in Y_TICKS:
        y = y_of(tick)
        svg.empty("line", x1=x0, y1=y, x2=x1, y2=y, stroke=GRID)
        svg.empty("line", x1=x0 - 4, y1=y, x2=x0, y2=y, stroke=INK)
        svg.text("text", str(tick), x=x0 - 7, y=y + 4, text_anchor="end")
    svg.close("g")


def _x_axis(
    svg: _Svg, ticks: Sequence[date], x_of: Callable[[date], float], y0: float, y1: float
) -> None:
    svg.open("g", id="x-axis")
    for tick in ticks:
        x = x_of(tick)
        svg.empty("line", x1=x, y1=y0, x2=x, y2=y1, stroke=GRID)
        svg.empty("line", x1=x, y1=y1, x2=x, y2=y1 + 4, stroke=INK)
        svg.text(
            "text",
            tick.isoformat(),
            x=x,
            y=y1 + 16,
            text_anchor="end",
            transform=f"rotate(-30 {x:.2f} {y1 + 16:.2f})",
        )
    svg.close("g")


def _legend(svg: _Svg, x: float, y: float) -> None:
    svg.open("g", id="legend")
    svg.text("text", "Health", x=x + 4, y=y + 12)
    for row, colour in enumerate(Colour):
        cy = y + 32 + row * 22
        svg.empty("circle", cx=x + 12, cy=cy, r=6.25, fill=COLOUR_HEX[colour], stroke="#ffffff")
        svg.text("text", COLOUR_LABEL[colour], x=x + 26, y=cy + 4)
    svg.text("text", "Bubble size:", x=x, y=0.6 * HEIGHT + 12)
    svg.text("text", "estimated revenue", x=x, y=0.6 * HEIGHT + 27)
    svg.close("g")


def _figure(data: ChartData, title: str) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import dates
    from matplotlib.figure import Figure

    date2num = cast(Callable[[date], float], dates.date2num)  # untyped upstream

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
    axes = figure.add_axes(AXES)
    # One scatter for every bubble, in the data's order (largest first: small ones on top).
    axes.scatter(
        [date2num(bubble.close_date) for bubble in data.bubbles],
        [bubble.health_score for bubble in data.bubbles],
        s=[bubble.area for bubble in data.bubbles],
        c=[COLOUR_HEX[bubble.colour] for bubble in data.bubbles],
        edgecolors="white",
        linewidths=0.8,
        zorder=2,
    )
    axes.xaxis_date()
    axes.set_ylim(Y_LOW, Y_HIGH)
    axes.set_ylabel("Relationship health score")
    axes.set_xlabel("Estimated close date")
    axes.set_title(title)
    axes.grid(True, color=GRID, zorder=0)
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
    _png_legend(figure, axes)
    figure.text(0.01, 0.015, EMPLOYMENT_NOTICE, fontsize=8, color=MUTED)
    return figure


def _png_legend(figure: Figure, axes: Any) -> None:
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


def png_bytes(data: ChartData, title: str) -> bytes:
    """The chart as a PNG image."""
    buffer = io.BytesIO()
    _figure(data, title).savefig(buffer, format="png", dpi=PNG_DPI, metadata={"Software": None})
    return buffer.getvalue()
