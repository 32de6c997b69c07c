"""report.json, report.md and report.html written from a hand-built Report."""

from __future__ import annotations

import base64
import dataclasses
import json
from html.parser import HTMLParser

import pytest

from quantrack.report.writers import TABLE_HEADERS, table_rows, to_html, to_markdown, write_all
from quantrack.core.results import VariantResult


class _Page(HTMLParser):
    """Tags with their attributes, and table rows as lists of (cell attributes, cell text)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[list[tuple[dict, list[tuple[dict, str]]]]] = []
        self.text: list[str] = []
        self._row: tuple[dict, list] | None = None
        self._cell: tuple[dict, list[str]] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = (a, [])
        elif tag in ("td", "th"):
            self._cell = (a, [])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row[1].append((self._cell[0], "".join(self._cell[1])))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell[1].append(data)

    def of(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]


@pytest.fixture
def written(synthetic_report_files):
    return synthetic_report_files


def test_write_all_returns_every_file_it_wrote(written):
    directory, paths = written
    rel = [p.relative_to(directory).as_posix() for p in paths]
    assert rel == ["report.json", "plots/loss.png", "plots/accuracy_vs_size.png", "plots/latency.png",
                   "plots/confusion.png", "report.md", "report.html"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()) == sorted(rel)


def test_json_holds_every_variant_and_the_champion(written, synthetic_report):
    data = json.loads((written[0] / "report.json").read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(synthetic_report.to_dict()))
    assert data["champion"] == "dynamic-int8"
    by_name = {v["name"]: v for v in data["variants"]}
    assert by_name["onnx-int8-static"]["available"] is False
    assert by_name["onnx-int8-static"]["reason"] == "needs <onnxruntime> & a calibration set"
    int8 = by_name["dynamic-int8"]["latency"]
    assert [(lat["batch_size"], lat["verdict"]) for lat in int8] == [(1, "slower"), (360, "slower")]
    assert int8[1]["speedup"] == pytest.approx(20.0 / 35.0, abs=1e-3)


def test_markdown_has_the_tables_the_reasons_and_links_to_the_plots(written):
    directory = written[0]
    md = (directory / "report.md").read_text(encoding="utf-8")
    assert ("- champion: **dynamic-int8** (rule: point estimate, the measured drop is within the budget (intervals "
            "not used)) — smallest file within 1 point of fp32 &lt;b&gt;really&lt;/b&gt;") in md
    assert "- split: 1293 train / 144 val / 360 test rows; checkpoint chosen on the validation rows" in md
    assert "- CPU: AMD EPYC, 2 of 2 cores usable; has avx2; lacks avx512f, avx512_vnni; torch kernels AVX2" in md
    assert "| " + " | ".join(TABLE_HEADERS) + " |" in md
    assert ("| dynamic-int8 ★ | 95.83% (93.25–97.45) | 0.28 (-0.61 to 1.55) | 1.000 | 99.00% | 650 | 680 | 3,293 "
            "| 0.74x | 25.0 vs 5.0 | 35.0 vs 20.0 | 0.57x [0.51–0.63] | slower |") in md
    # 60 calls: no p99 to speak of, and the row says how many calls there were
    assert "| fp32 | 360 | 1 | 60 | 20.0 | 22.0 | – (60 calls) | 19.0–21.0 | – | – | baseline |" in md
    assert "| dynamic-int8 | 360 | 1 | 60 | 35.0 | 38.5 | – (60 calls) | 33.2–36.8 | 20.0 / 22.0 / – |" in md
    assert "- **dynamic-int8**: slower at batch 1, slower at batch 360: no VNNI here &lt;avx2&gt;" in md
    assert "- **onnx-int8-static**: needs &lt;onnxruntime&gt; &amp; a calibration set" in md
    links = [line[line.index("](") + 2:-1] for line in md.splitlines() if line.startswith("![")]
    assert links == ["plots/loss.png", "plots/accuracy_vs_size.png", "plots/latency.png", "plots/confusion.png"]
    assert all((directory / link).is_file() for link in links)


def test_markdown_table_cells_survive_a_pipe_in_a_reason(synthetic_report):
    odd = dataclasses.replace(synthetic_report.variants[2], reason="exporter says a|b")
    report = dataclasses.replace(synthetic_report, variants=[*synthetic_report.variants[:2], odd])
    row = next(line for line in to_markdown(report).splitlines() if line.startswith("| onnx-int8-static"))
    assert "a\\|b" in row
    assert row.replace("\\|", "").count("|") == len(TABLE_HEADERS) + 1


def test_html_is_self_contained_and_embeds_the_plots(written):
    directory, paths = written
    page = _Page((directory / "report.html").read_text(encoding="utf-8"))
    tags = {t for t, _ in page.tags}
    assert "script" not in tags and "link" not in tags and "iframe" not in tags
    for tag, attrs in page.tags:  # nothing to fetch: every reference is inline
        for key in ("src", "href"):
            assert attrs.get(key) is None or attrs[key].startswith("data:image/png;base64,"), (tag, attrs)
    csp = next(a["content"] for a in page.of("meta") if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "script-src" not in csp
    images = page.of("img")
    pngs = [p for p in paths if p.suffix == ".png"]
    assert len(images) == len(pngs) == 4
    for img, png in zip(images, pngs, strict=True):
        assert base64.b64decode(img["src"].split(",", 1)[1], validate=True) == png.read_bytes()
        assert img["alt"]


def test_html_escapes_every_text(written):
    raw = (written[0] / "report.html").read_text(encoding="utf-8")
    assert "<b>really</b>" not in raw and "&lt;b&gt;really&lt;/b&gt;" in raw
    assert "<onnxruntime>" not in raw and "needs &lt;onnxruntime&gt; &amp; a calibration set" in raw
    assert "digits&lt;&amp;&gt;" in raw
    page = _Page(raw)
    assert "smallest file within 1 point of fp32 <b>really</b>" in "".join(page.text)  # as the reader sees it


def test_html_summary_names_dataset_fingerprint_model_best_epoch_and_champion(synthetic_report):
    page = _Page(to_html(synthetic_report))
    text = " ".join("".join(page.text).split())
    assert "digits<&> (sklearn:digits), 1797 rows × 64 columns" in text
    assert "sha256 " + "ab" * 32 in text  # the whole fingerprint, not a prefix
    assert "logreg, 4 epochs, SGD lr 0.01, batch 32, seed 42" in text
    assert "best epoch3 (lowest val loss), training took 0.25 s" in text  # <dt>best epoch</dt><dd>3 (…
    assert "at most 1 point below fp32, shown at 95% confidence" in text
    assert "CPUAMD EPYC, 2 of 2 cores usable; has avx2; lacks avx512f, avx512_vnni" in text
    assert ("champion: dynamic-int8 (rule: point estimate, the measured drop is within the budget (intervals not "
            "used)) — smallest file within 1 point of fp32 <b>really</b>") in text
    assert "dynamic-int8: slower at batch 1, slower at batch 360: no VNNI here <avx2>" in text
    assert "0123456789abcdef" in text


def test_html_tables_match_the_report(synthetic_report):
    page = _Page(to_html(synthetic_report))
    variants, latency = page.tables
    header, *rows = variants
    assert [text.replace("\xad", "") for _, text in header[1]] == TABLE_HEADERS  # soft hyphens aside
    assert [[text for _, text in cells] for _, cells in rows[:2]] == table_rows(synthetic_report)[:2]
    assert [attrs.get("class") for attrs, _ in rows] == [None, "champion", "unavailable"]
    unavailable = rows[2][1]
    assert unavailable[1][0]["colspan"] == str(len(TABLE_HEADERS) - 1)
    assert unavailable[1][1] == "unavailable: needs <onnxruntime> & a calibration set"
    assert rows[1][1][-1] == ({"class": "verdict-slower"}, "slower")
    lat_header, *lat_rows = latency
    assert len(lat_rows) == sum(len(v.latency) for v in synthetic_report.variants) == 4
    cells = {h: c for (_, h), c in zip(lat_header[1], lat_rows[3][1], strict=True)}
    assert [cells[k][1] for k in ("variant", "batch", "p50 µs", "p99 µs", "p25–p75 µs", "p10–p90 µs",
                                  "fp32 p50 / p90 / p99 µs (same windows)", "speed-up [95% CI]", "verdict")] \
        == ["dynamic-int8", "360", "35.0", "– (60 calls)", "33.2–36.8", "31.5–38.5", "20.0 / 22.0 / –",
            "0.57x [0.51–0.63] (p25–p75 0.54–0.60)", "slower"]
    assert "onnx-int8-static" not in [c[0][1] for _, c in lat_rows]  # never measured


def test_html_lists_the_methods_that_did_not_run(synthetic_report):
    raw = to_html(synthetic_report)
    assert '<section id="unavailable">' in raw
    assert "<li><strong>onnx-int8-static</strong>: needs &lt;onnxruntime&gt; &amp; a calibration set</li>" in raw
    everything_ran = dataclasses.replace(synthetic_report, variants=synthetic_report.variants[:2])
    assert 'id="unavailable"' not in to_html(everything_ran)


def test_html_without_plots_has_no_plot_section(synthetic_report):
    raw = to_html(synthetic_report)
    assert "<img" not in raw and 'id="plots"' not in raw


def test_reports_handle_a_run_where_only_fp32_ran(synthetic_report, tmp_path):
    report = dataclasses.replace(
        synthetic_report, champion="fp32", champion_reason="no quantized variant could run, so fp32 is shipped",
        variants=[synthetic_report.variants[0], VariantResult("static-int8", available=False, reason="no engine")])
    paths = write_all(report, tmp_path)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'class="champion"' in html and "static-int8" in html
    assert len([p for p in paths if p.suffix == ".png"]) == 4
