"""The review-board report as JSON, Markdown or one self-contained HTML page. No Slack.

The HTML page carries its charts as inline SVG (bot.services.charts) and its styles inline: no
script, no font, no image file and no link to anything outside the page, so it opens without a
network and prints (a print stylesheet keeps each chart and table on one page). Every table also
says in numbers what its chart draws. User-typed text is HTML-escaped; nothing names a person.
"""

from __future__ import annotations

import html
import json
from datetime import timedelta
from typing import Any

from bot.services import charts
from bot.services.review import (
    NOT_ON_RECORD,
    OTHER,
    REVIEW_QUESTIONS,
    AckTimes,
    ReviewReport,
    kind_label,
    pattern_label,
)
from models import SignalStatus as S

FORMATS = ("html", "md", "json")
PRIVACY_NOTE = (
    "Names no person: no reporter, lead or owner. Breakdown cells of fewer than {n} signals of "
    "one system are merged into “other”."
)
STAGE_NOTE = "Stages come from the systems' records; a system without one says “not on record”."


def render(report: ReviewReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(to_dict(report), ensure_ascii=False, indent=2) + "\n"
    if fmt == "md":
        return to_markdown(report)
    if fmt == "html":
        return to_html(report)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def duration_text(value: timedelta | None) -> str:
    if value is None:
        return "–"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _ack_dict(times: AckTimes) -> dict[str, Any]:
    return {
        "posted": times.posted,
        "acknowledged": times.acknowledged,
        "median_seconds": _seconds(times.median),
        "p90_seconds": _seconds(times.p90),
    }


def to_dict(report: ReviewReport) -> dict[str, Any]:
    """Plain JSON-able data: dates as ISO days, durations in seconds."""
    return {
        "period": {
            "from": report.period.first.isoformat(),
            "to": report.period.last.isoformat(),
            "label": report.period.label,
            "grain": report.period.grain,
        },
        "system": report.system,
        "generated_at": report.generated_at.isoformat(),
        "note": PRIVACY_NOTE.format(n=report.min_bucket),
        "min_bucket": report.min_bucket,
        "signals": report.total,
        "buckets": [day.isoformat() for day in report.buckets],
        "kinds_over_time": {k: list(v) for k, v in report.kinds_over_time.items()},
        "patterns_over_time": {k: list(v) for k, v in report.patterns_over_time.items()},
        "systems_by_kind": report.system_kinds,
        "merged_cells": report.merged_cells,
        "recurring_patterns": [
            {"system": s, "pattern": p, "signals": n} for s, p, n in report.recurring_patterns
        ],
        "recurring_assumptions": [
            {"assumption": a, "signals": n} for a, n in report.recurring_assumptions
        ],
        "time_to_acknowledge": {
            "named": _ack_dict(report.ack_named),
            "anonymous": _ack_dict(report.ack_anonymous),
        },
        "statuses": report.statuses,
        "declined_share": report.share(S.DECLINED.value),
        "duplicate_share": report.share(S.DUPLICATE.value),
        "key_lessons": {
            pattern: [{"ref": r, "system": s, "lesson": lesson} for r, s, lesson in items]
            for pattern, items in report.key_lessons.items()
        },
        "systems": [
            {
                "system": review.system,
                "stage": review.stage,
                "resolved": _shown_count(review.resolved, report.min_bucket),
                "answers": {k: list(v) for k, v in review.answers.items()},
            }
            for review in report.systems
        ],
    }


def _shown_count(count: int, min_bucket: int) -> int | str:
    return count if count >= min_bucket else f"fewer than {min_bucket}"


# -- the sections, as (title, rows) shared by Markdown and HTML ------------------------------


def _title(report: ReviewReport) -> str:
    scope = f" — {report.system}" if report.system else ""
    return f"AI signals review, {report.period.label}{scope}"


def _summary_rows(report: ReviewReport) -> list[list[str]]:
    return [
        ["Signals filed", str(report.total)],
        ["Resolved", str(report.statuses.get(S.RESOLVED.value, 0))],
        ["Declined", _percent(report.share(S.DECLINED.value))],
        ["Duplicates", _percent(report.share(S.DUPLICATE.value))],
        ["Still open", str(sum(report.statuses.get(s, 0) for s in _OPEN))],
    ]


_OPEN = (S.NEW.value, S.ACKNOWLEDGED.value, S.INVESTIGATING.value)


def _over_time_rows(report: ReviewReport, series: dict[str, tuple[int, ...]], label: Any) -> list:
    head = [report.period.grain.capitalize() + " of", *(label(name) for name in series)]
    rows = [
        [day.isoformat(), *(str(counts[i]) for counts in series.values())]
        for i, day in enumerate(report.buckets)
    ]
    return [head, *rows]


def _system_rows(report: ReviewReport) -> list[list[str]]:
    kinds = sorted({k for cells in report.system_kinds.values() for k in cells})
    head = ["System", *(kind_label(k) for k in kinds), "Total"]
    rows = []
    for system in sorted(report.system_kinds, key=lambda s: (s == OTHER, s.lower())):
        cells = report.system_kinds[system]
        name = "other (small cells merged)" if system == OTHER else system
        rows.append([name, *(str(cells.get(k, 0)) for k in kinds), str(sum(cells.values()))])
    return [head, *rows]


def _ack_rows(report: ReviewReport) -> list[list[str]]:
    head = ["Reporter", "Posted", "Acknowledged", "Median", "90th percentile"]
    rows = [
        [
            who,
            str(times.posted),
            str(times.acknowledged),
            duration_text(times.median),
            duration_text(times.p90),
        ]
        for who, times in (("Named", report.ack_named), ("Anonymous", report.ack_anonymous))
    ]
    return [head, *rows]


def _system_series(report: ReviewReport) -> tuple[list[str], dict[str, list[int]]]:
    systems = sorted(report.system_kinds, key=lambda s: (s == OTHER, s.lower()))
    kinds = sorted({k for cells in report.system_kinds.values() for k in cells})
    series = {
        kind_label(kind): [report.system_kinds[s].get(kind, 0) for s in systems] for kind in kinds
    }
    return systems, series


# -- Markdown ----------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(rows: list[list[str]]) -> str:
    if len(rows) < 2:
        return "_Nothing in this period._\n"
    lines = ["| " + " | ".join(_md_cell(c) for c in rows[0]) + " |"]
    lines.append("|" + "---|" * len(rows[0]))
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines) + "\n"


def to_markdown(report: ReviewReport) -> str:
    parts = [f"# {_title(report)}\n", f"_{PRIVACY_NOTE.format(n=report.min_bucket)}_\n"]
    for title, rows in _tables(report):
        parts.append(f"## {title}\n")
        parts.append(_md_table(rows))
    parts.append("## Key lessons by pattern\n")
    parts.append(_md_lessons(report))
    parts.append("## Each system's review\n")
    parts.append(f"_{STAGE_NOTE}_\n")
    for review in report.systems:
        parts.append(f"### {_md_cell(review.system)}\n")
        resolved = _shown_count(review.resolved, report.min_bucket)
        parts.append(f"Stage: {review.stage}. Resolved in the period: {resolved}.\n")
        for key, question in REVIEW_QUESTIONS.items():
            answers = review.answers.get(key) or ()
            said = "; ".join(_md_cell(a) for a in answers) if answers else "no answer recorded"
            parts.append(f"- {question} {said}")
        parts.append("")
    if not report.systems:
        parts.append("_No resolved signal named a system._\n")
    return "\n".join(parts)


def _md_lessons(report: ReviewReport) -> str:
    if not report.key_lessons:
        return "_No key lesson was marked in this period._\n"
    lines = []
    for pattern, items in report.key_lessons.items():
        lines.append(f"**{pattern_label(pattern)}**\n")
        for ref, system, lesson in items:
            where = f" ({_md_cell(system)})" if system else ""
            lines.append(f"- {ref}{where}: {_md_cell(lesson)}")
        lines.append("")
    return "\n".join(lines)


def _tables(report: ReviewReport) -> list[tuple[str, list[list[str]]]]:
    return [
        ("Summary", [["Figure", "Value"], *_summary_rows(report)]),
        (
            "Signals by kind over time",
            _over_time_rows(report, report.kinds_over_time, kind_label),
        ),
        (
            "Resolved signals by pattern over time",
            _over_time_rows(report, report.patterns_over_time, pattern_label),
        ),
        ("Signals by system and kind", _system_rows(report)),
        (
            "Systems with recurring patterns",
            [
                ["System", "Pattern", "Resolved signals"],
                *([s, pattern_label(p), str(n)] for s, p, n in report.recurring_patterns),
            ],
        ),
        (
            "Failed assumptions that recur",
            [
                ["Failed assumption", "Signals"],
                *([a, str(n)] for a, n in report.recurring_assumptions),
            ],
        ),
        ("Time to acknowledge", _ack_rows(report)),
    ]


# -- HTML --------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
  max-width: 60rem; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
.note { color: #555; font-size: .9rem; }
figure.chart { margin: 1rem 0; }
figure.chart svg { width: 100%; height: auto; display: block; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
@page { size: A4; margin: 14mm; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  figure.chart, table, section.system { break-inside: avoid; }
}
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(rows: list[list[str]]) -> str:
    if len(rows) < 2:
        return '<p class="note">Nothing in this period.</p>'

    def cell(tag: str, text: str, index: int) -> str:
        numeric = index > 0 and (text.replace("%", "").replace("–", "").isdigit() or text == "–")
        return f"<{tag}{' class=n' if numeric else ''}>{_esc(text)}</{tag}>"

    head = "".join(cell("th", c, i) for i, c in enumerate(rows[0]))
    body = "".join(
        "<tr>" + "".join(cell("td", c, i) for i, c in enumerate(row)) + "</tr>" for row in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(svg: str, caption: str) -> str:
    return (
        f'<figure class="chart" role="img" aria-label="{_esc(caption)}">{svg}'
        f"<figcaption class=note>{_esc(caption)}</figcaption></figure>"
    )


def _html_charts(report: ReviewReport) -> dict[str, str]:
    """The section title -> the inline SVG chart drawn above its table."""
    found: dict[str, str] = {}
    grain = report.period.grain
    if report.kinds_over_time:
        series = {kind_label(k): v for k, v in report.kinds_over_time.items()}
        figure = charts.over_time(
            buckets=report.buckets, grain=grain, series=series, title=f"Signals by kind per {grain}"
        )
        found["Signals by kind over time"] = _figure(
            charts.to_svg(figure, prefix="kinds"), "Signals by kind"
        )
    if report.patterns_over_time:
        series = {pattern_label(k): v for k, v in report.patterns_over_time.items()}
        figure = charts.over_time(
            buckets=report.buckets,
            grain=grain,
            series=series,
            title=f"Resolved signals by pattern per {grain}",
        )
        found["Resolved signals by pattern over time"] = _figure(
            charts.to_svg(figure, prefix="patterns"), "Resolved signals by pattern"
        )
    if report.system_kinds:
        systems, series = _system_series(report)
        height = max(2.4, 0.45 * len(systems) + 1.2)
        figure = charts.stacked_bars(
            columns=systems,
            series=series,
            title="Signals by system and kind",
            horizontal=True,
            size=(7.5, height),
        )
        found["Signals by system and kind"] = _figure(
            charts.to_svg(figure, prefix="systems"), "Signals by system and kind"
        )
    return found


def to_html(report: ReviewReport) -> str:
    title = _title(report)
    drawn = _html_charts(report)
    sections = []
    for name, rows in _tables(report):
        sections.append(f"<section><h2>{_esc(name)}</h2>{drawn.get(name, '')}")
        sections.append(_html_table(rows) + "</section>")
    sections.append("<section><h2>Key lessons by pattern</h2>" + _html_lessons(report))
    sections.append("</section><section><h2>Each system's review</h2>")
    sections.append(f'<p class="note">{_esc(STAGE_NOTE)}</p>{_html_systems(report)}</section>')
    generated = report.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_esc(title)}</h1>"
        f'<p class="note">{_esc(PRIVACY_NOTE.format(n=report.min_bucket))} '
        f"Generated {generated}.</p></header><main>" + "".join(sections) + "</main></body></html>\n"
    )


def _html_lessons(report: ReviewReport) -> str:
    if not report.key_lessons:
        return '<p class="note">No key lesson was marked in this period.</p>'
    parts = []
    for pattern, items in report.key_lessons.items():
        entries = "".join(
            f"<li><strong>{_esc(ref)}</strong>{f' ({_esc(system)})' if system else ''}: "
            f"{_esc(lesson)}</li>"
            for ref, system, lesson in items
        )
        parts.append(f"<h3>{_esc(pattern_label(pattern))}</h3><ul>{entries}</ul>")
    return "".join(parts)


def _html_systems(report: ReviewReport) -> str:
    if not report.systems:
        return '<p class="note">No resolved signal named a system.</p>'
    parts = []
    for review in report.systems:
        resolved = _shown_count(review.resolved, report.min_bucket)
        stage = review.stage if review.stage != NOT_ON_RECORD else "not on record"
        answers = "".join(
            f"<dt>{_esc(question)}</dt><dd>"
            + (
                "<br>".join(_esc(a) for a in review.answers.get(key) or ())
                or "<span class=note>no answer recorded</span>"
            )
            + "</dd>"
            for key, question in REVIEW_QUESTIONS.items()
        )
        parts.append(
            f'<section class="system"><h3>{_esc(review.system)}</h3>'
            f"<p>Stage: {_esc(stage)}. Resolved in the period: {_esc(str(resolved))}.</p>"
            f"<dl>{answers}</dl></section>"
        )
    return "".join(parts)
