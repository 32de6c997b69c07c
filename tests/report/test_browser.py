"""report.html in a real browser: headless Chromium renders it, with every plot decoded and drawn.

Three renderings of the synthetic report:
1. a test-only copy with a small probe script (the report itself has none) that, once loaded, writes
   each image's decoded size and on-page box into the DOM, which --dump-dom hands back;
2. the report itself, untouched: a screenshot whose plot boxes must hold a drawn figure, and the
   console log, where Chromium reports anything the report's Content-Security-Policy blocked;
3. a copy with an external image added, which must show up in that log: the check can fail.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from browser import CHROMIUM, run_chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian package `chromium`)"),
]
WIDTH = 1280
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => {
    const r = i.getBoundingClientRect();
    return {alt: i.alt, complete: i.complete, natural: [i.naturalWidth, i.naturalHeight],
            box: [r.left + scrollX, r.top + scrollY, r.width, r.height]};
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, height: document.documentElement.scrollHeight});
  document.body.append(out);
});
</script>"""


def _chromium(tmp: Path, page: Path, *args: str, height: int = 2000) -> subprocess.CompletedProcess:
    return run_chromium(tmp, page.as_uri(), WIDTH, height, *args)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def rendered(synthetic_report_files, tmp_path_factory):
    directory, paths = synthetic_report_files
    tmp = tmp_path_factory.mktemp("browser")
    html = (directory / "report.html").read_text(encoding="utf-8")

    probe_page = tmp / "probe.html"  # test-only: the report, plus a script allowed to run
    probe_page.write_text(html.replace(CSP, CSP + "; script-src 'unsafe-inline'").replace("</body>", PROBE + "</body>"),
                          encoding="utf-8")
    dom = _chromium(tmp, probe_page, "--dump-dom").stdout
    probe = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))

    shot = tmp / "report.png"
    log = _chromium(tmp, directory / "report.html", f"--screenshot={shot}", "--enable-logging=stderr", "--v=0",
                    height=probe["height"]).stderr
    return {"pngs": [p for p in paths if p.suffix == ".png"], "probe": probe, "shot": shot, "log": log,
            "tmp": tmp, "html": html}


def test_every_plot_is_decoded_at_its_size(rendered):
    images = rendered["probe"]["images"]
    assert [i["alt"] for i in images] == ["Loss curves", "Accuracy against size on disk", "Latency with its spread",
                                          "Confusion matrices"]
    for image, png in zip(images, rendered["pngs"], strict=True):
        assert image["complete"] is True
        assert tuple(image["natural"]) == _png_size(png), image["alt"]  # 0x0 would mean it did not decode


def test_the_plots_are_drawn_on_the_page(rendered):
    from matplotlib.image import imread

    shot = imread(rendered["shot"])[..., :3]
    assert shot.shape[1] == WIDTH and shot.shape[0] >= rendered["probe"]["height"] - 5
    assert shot.std() > 0.05  # not a blank page
    for image in rendered["probe"]["images"]:
        x, y, w, h = (int(round(v)) for v in image["box"])
        assert w >= 500 and h >= 200, image  # laid out at a readable size, not collapsed
        assert x + w <= WIDTH, image  # fits the page width instead of overflowing it
        region = shot[y:y + h, x:x + w]
        colours = len(np.unique((region * 255).astype(np.uint8).reshape(-1, 3), axis=0))
        assert region.std() > 0.05 and colours > 50, image["alt"]  # a figure, not an empty or broken box


def test_the_report_loads_nothing_from_outside(rendered):
    assert "Content Security Policy" not in rendered["log"]


def test_an_outside_reference_would_be_caught(rendered):
    tmp = rendered["tmp"]
    leaky = tmp / "leaky.html"
    leaky.write_text(rendered["html"].replace("</main>", '<img src="http://127.0.0.1:9/x.png" alt=""></main>'),
                     encoding="utf-8")
    log = _chromium(tmp, leaky, "--dump-dom", "--enable-logging=stderr", "--v=0").stderr
    assert "Content Security Policy" in log and "127.0.0.1:9/x.png" in log
