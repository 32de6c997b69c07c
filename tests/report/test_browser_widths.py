"""report.html at 800 and 1,920 px in headless Chromium: every table column on screen, the verdict drawn.

The report holds a variant for every method (the longest names) and every verdict. Two renderings
per width: a test-only copy with a probe script that writes each table's frame and last header
box into the DOM (the report itself has no script), and a screenshot of the untouched report,
whose pixels must show the verdict column: its header's text, and the verdicts' own colours.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from browser import CHROMIUM, run_chromium
from wide_report import every_method_report

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package `chromium`)"),
]
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
PROBE = """<script>
window.addEventListener("load", () => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, r.height]; };
  const tables = [...document.querySelectorAll(".table-wrap")].map(w => ({
    scroll: w.scrollWidth, client: w.clientWidth, last_th: box(w.querySelector("thead th:last-child")),
    slower: [...w.querySelectorAll("td.verdict-slower")].map(box)}));
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({tables, width: innerWidth, page: document.documentElement.scrollWidth,
                                    height: document.documentElement.scrollHeight});
  document.body.append(out);
});
</script>"""
SLOWER_RED = np.array([0xC6, 0x28, 0x28])


def chromium(tmp: Path, page: Path, width: int, height: int, *args: str) -> subprocess.CompletedProcess:
    return run_chromium(tmp, page.as_uri(), width, height, *args)


@pytest.fixture(scope="module")
def page(tmp_path_factory, make_synthetic_report):
    from quantrack.report.writers import write_all

    tmp = tmp_path_factory.mktemp("widths")
    write_all(every_method_report(make_synthetic_report()), tmp, plots=[])  # tables only: plots are tested elsewhere
    return tmp


@pytest.mark.parametrize("width", [800, 1920])
def test_every_column_is_on_screen_and_the_verdict_is_drawn(page, width):
    from matplotlib.image import imread

    html = (page / "report.html").read_text(encoding="utf-8")
    probe_page = page / f"probe-{width}.html"
    probe_page.write_text(html.replace(CSP, CSP + "; script-src 'unsafe-inline'").replace("</body>", PROBE + "</body>"),
                          encoding="utf-8")
    dom = chromium(page, probe_page, width, 1200, "--dump-dom").stdout
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    assert probe["page"] <= probe["width"]  # no sideways scrolling of the page itself
    for table in probe["tables"]:
        assert table["scroll"] <= table["client"], table  # nothing hidden behind a scroll
        x, _, w, _ = table["last_th"]
        assert x + w <= width, table  # the verdict header is inside the window

    shot = page / f"report-{width}.png"
    chromium(page, page / "report.html", width, probe["height"], f"--screenshot={shot}")
    pixels = (imread(shot)[..., :3] * 255).round().astype(int)
    variants = probe["tables"][0]
    x, y, w, h = (int(round(v)) for v in variants["last_th"])
    header = pixels[y + 2:y + h - 2, x + 2:x + w - 2]
    assert (header.sum(axis=2) < 300).sum() > 20  # dark text ("verdict (b=all)") drawn in the header box
    assert variants["slower"], "the report has slower verdicts"
    for x, y, w, h in ((int(round(v)) for v in box) for box in variants["slower"]):
        cell = pixels[y:y + h, x:x + w]
        red = (np.abs(cell - SLOWER_RED).sum(axis=2) < 60).sum()
        assert red > 15, (width, x, y)  # the word "slower" in its red, visible on screen


def test_below_760_px_each_row_is_a_card_with_every_figure_labelled(page):
    """MLflow's artifact viewer beside its side panels, or a phone: no column may drop out of sight."""
    html = (page / "report.html").read_text(encoding="utf-8")
    probe_page = page / "probe-cards.html"
    script = PROBE.replace(
        "document.body.append(out);",
        "out.dataset.verdict = getComputedStyle(document.querySelector('#variants tbody td:last-child'), '::before')"
        ".content; document.body.append(out);")
    probe_page.write_text(html.replace(CSP, CSP + "; script-src 'unsafe-inline'").replace("</body>", script + "</body>"),
                          encoding="utf-8")
    dom = chromium(page, probe_page, 560, 1200, "--dump-dom").stdout
    probe = json.loads(re.search(r'<pre id="probe"[^>]*>(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    assert probe["page"] <= probe["width"]
    for table in probe["tables"]:
        assert table["scroll"] <= table["client"], table
    assert re.search(r'data-verdict="&quot;verdict \(b=all\): &quot;"', dom)  # the verdict, labelled, on each card
    for x, _, w, _ in probe["tables"][0]["slower"]:
        assert x + w <= 560


NB_PROBE = """<script>
window.addEventListener("load", () => {
  const broken = [...document.querySelectorAll(".nb, td:first-child, strong")]
    .filter(e => e.getClientRects().length > 1 || (e.tagName === "SPAN" && e.getBoundingClientRect().height > 1.6 *
             parseFloat(getComputedStyle(e).fontSize)))
    .map(e => e.textContent);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({broken, units: document.querySelectorAll(".nb").length});
  document.body.append(out);
});
</script>"""


@pytest.mark.parametrize("width", [800, 1280])
def test_intervals_numbers_and_names_never_break_inside(page, width):
    """At 1,280 px every interval broke at its dash ("(92.24–" / "96.81)") and the champion's name wrapped."""
    html = (page / "report.html").read_text(encoding="utf-8")
    probe_page = page / f"nb-{width}.html"
    probe_page.write_text(html.replace(CSP, CSP + "; script-src 'unsafe-inline'").replace("</body>",
                                                                                       NB_PROBE + "</body>"),
                          encoding="utf-8")
    dom = chromium(page, probe_page, width, 1200, "--dump-dom").stdout
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    assert probe["units"] > 100  # the interval cells are made of unbreakable units
    assert probe["broken"] == [], probe["broken"][:10]
