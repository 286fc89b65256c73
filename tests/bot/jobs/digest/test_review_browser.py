"""The review report's HTML in a real browser (Debian's headless Chromium): it opens from a file
with the network off, and its charts are drawn — each inline SVG has a size and marks in it.

Chromium comes from `make browser` (which `make test` runs); without it these tests are skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.services.report_render import render
from bot.services.review import ReviewPeriod, ReviewService
from tests.bot.jobs.digest.conftest import add_signal

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None,
    reason=f"{CHROMIUM} is not installed (run `make browser`: apt-get install chromium)",
)

# Appended to a copy of the page: after load, write each chart's rendered size and how many
# drawn elements it holds into the DOM, which --dump-dom then prints.
MEASURE = """<script>
addEventListener("load", () => {
  const found = [...document.querySelectorAll("figure.chart svg")].map((svg) => {
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll("path, use")].filter((e) => {
      const r = e.getBoundingClientRect();
      return r.width > 0 || r.height > 0;
    }).length;
    return `${Math.round(box.width)}x${Math.round(box.height)}x${marks}`;
  });
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = found.join(" ");
  document.body.append(out);
});
</script>"""


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "profile"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # Any request that leaves the page would fail: the page must need none.
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=5000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def report_page(database, tmp_path: Path) -> str:
    start = datetime(2026, 10, 5, 10, tzinfo=UTC)
    for i in range(9):
        add_signal(
            database.sessions,
            kind=("drift", "bias", "governance")[i % 3],
            system=("fraud-model", "loan-model")[i % 2],
            created_at=start + timedelta(days=7 * i),
            status="resolved",
            resolved_at=start + timedelta(days=7 * i + 1),
            pattern=("data-optimism", "governance-lag")[i % 2],
        )
    service = ReviewService(sessions=database.sessions)
    report = service.report(
        period=ReviewPeriod(first=start.date(), last=start.date() + timedelta(days=80))
    )
    return render(report, "html")


def test_the_report_opens_offline_and_every_chart_is_drawn(report_page, tmp_path):
    # Nothing outside the page: no link, script or image source, only SVG namespace names.
    outside = set(re.findall(r"https?://[^\"' )]+", report_page))
    assert outside <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert "<script" not in report_page and "@import" not in report_page
    page = tmp_path / "report.html"
    page.write_text(report_page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())

    match = re.search(r'<pre id="measured">([^<]*)</pre>', dom)
    assert match is not None, dom[-2000:]
    charts = [tuple(int(n) for n in item.split("x")) for item in match.group(1).split()]
    assert len(charts) == 3
    for width, height, marks in charts:
        assert width > 300 and height > 150
        assert marks > 20  # bars, axes, ticks and glyphs


def test_the_report_prints_to_pdf(report_page, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(report_page, encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    # A4, as the print stylesheet asks (595 x 842 points), on more than one page.
    boxes = re.findall(rb"/MediaBox\s*\[0 0 ([\d.]+) ([\d.]+)\]", data)
    assert len(boxes) >= 2
    for width, height in boxes:
        assert (round(float(width)), round(float(height))) == (595, 842)
