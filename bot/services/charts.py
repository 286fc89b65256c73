"""Charts drawn by matplotlib, with no Slack and no network: SVG for the report, PNG for the digest.

Figures are built with `matplotlib.figure.Figure` (no pyplot, so no global state and no GUI
backend: `savefig(format="png")` draws with Agg); `savefig(format="svg")` renders through matplotlib's SVG backend with text as paths
(`svg.fonttype = "path"`, a generic sans-serif family), so a chart needs no font and no file
beside it. Metadata that would date or sign the file (creator, date) is left out, and the SVG's
XML prolog and DOCTYPE (which names an external DTD) are cut before it is inlined.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@functools.cache
def _matplotlib() -> type[Figure]:
    """matplotlib, set up once, on first use: importing it costs more than half a second, which
    every CLI command and every start would pay for a chart most of them never draw."""
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    rcParams["svg.fonttype"] = "path"
    rcParams["svg.hashsalt"] = "ai-signal"  # stable ids: the same data draws the same file
    rcParams["font.family"] = "sans-serif"
    return Figure


# Colour-blind friendly (Okabe–Ito), one per series, in order.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#999999",
)
SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
PNG_METADATA = {"Software": None}
_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_METADATA_ELEMENT = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(href="|url\()#')


def _label(day: date, grain: str) -> str:
    return day.strftime("%d %b") if grain == "week" else day.strftime("%b %Y")


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def stacked_bars(
    *,
    columns: Sequence[str],
    series: Mapping[str, Sequence[int]],
    title: str,
    horizontal: bool = False,
    size: tuple[float, float] = (7.5, 3.2),
) -> Figure:
    """Bars per column, one stacked segment per series (series order = stacking order)."""
    figure = _matplotlib()(figsize=size, dpi=100)
    axes = figure.add_subplot()
    positions = list(range(len(columns)))
    bottom = [0] * len(columns)
    for index, (name, counts) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        if horizontal:
            axes.barh(positions, counts, left=bottom, label=name, color=colour)
        else:
            axes.bar(positions, counts, bottom=bottom, label=name, color=colour)
        bottom = [a + b for a, b in zip(bottom, counts, strict=True)]
    if horizontal:
        axes.set_yticks(positions, [_short(name) for name in columns], fontsize=8)
        axes.invert_yaxis()
        axes.xaxis.get_major_locator().set_params(integer=True)
    else:
        axes.set_xticks(
            positions, list(columns), rotation=45 if len(columns) > 6 else 0, fontsize=8
        )
        axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(title, fontsize=11)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if series:
        axes.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    # Fixed margins, room for the legend on the right: tight_layout would draw every chart an
    # extra time to measure it.
    figure.subplots_adjust(
        left=0.3 if horizontal else 0.07, right=0.72, top=0.88, bottom=0.12 if horizontal else 0.22
    )
    return figure


def over_time(
    *, buckets: Sequence[date], grain: str, series: Mapping[str, Sequence[int]], title: str
) -> Figure:
    return stacked_bars(columns=[_label(day, grain) for day in buckets], series=series, title=title)


def to_svg(figure: Figure, *, prefix: str = "c") -> str:
    """The figure as an `<svg>` element to inline in HTML: no prolog, DOCTYPE or metadata.

    Every id (glyphs, markers, clip paths) gets `prefix`, so several charts in one page never
    share an id (a `#ref` resolves to the first element of that id in the whole document)."""
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata=SVG_METADATA)
    text = _PROLOG.sub("", out.getvalue(), count=1)
    text = _METADATA_ELEMENT.sub("", text, count=1).strip()
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    return _REF.sub(lambda m: f"{m.group(1)}#{prefix}-", text)


def to_png(figure: Figure, *, dpi: int = 100) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=dpi, metadata=PNG_METADATA)
    return out.getvalue()


def digest_chart_png(
    *, weeks: Sequence[date], series: Mapping[str, Sequence[int]], title: str
) -> bytes:
    """The digest's small chart: signals by kind per week (PNG, Agg)."""
    figure = over_time(buckets=weeks, grain="week", series=series, title=title)
    figure.set_size_inches(6.4, 2.8)
    return to_png(figure)
