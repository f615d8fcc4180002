"""Writing the relationship pipeline chart to a file for `rapport pipeline chart`:
SVG or PNG by the file's extension, drawn by insights.pipeline_chart_image.
"""

from __future__ import annotations

from pathlib import Path

from insights.pipeline_chart import ChartData
from insights.pipeline_chart_image import png_bytes, svg_text

FORMATS = ("svg", "png")


def chart_format(out: Path) -> str:
    """The image format a file name asks for (.svg or .png)."""
    return out.suffix.lower().lstrip(".")


def render(data: ChartData, out: Path, title: str) -> None:
    """Write the chart to `out`, SVG or PNG by its extension."""
    if chart_format(out) == "svg":
        out.write_text(svg_text(data, title), encoding="utf-8")
    else:
        out.write_bytes(png_bytes(data, title))
