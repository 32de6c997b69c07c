"""The report's figures: drawn from a plain Report, saying what the data says, saved as real PNGs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from quantrack.report import plots
from quantrack.core.results import FASTER, SAME, SLOWER, Latency, VariantResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def _all_texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def _pixels(path):
    from matplotlib.image import imread

    return imread(path)


def test_write_plots_saves_every_figure_as_a_drawn_png(synthetic_report, tmp_path):
    drawn = plots.write_plots(synthetic_report, tmp_path / "plots")
    assert [p.name for p in drawn] == ["loss", "accuracy_vs_size", "latency", "confusion"]
    for p in drawn:
        assert p.path == tmp_path / "plots" / f"{p.name}.png"
        assert p.path.read_bytes()[:8] == PNG_SIGNATURE
        img = _pixels(p.path)
        assert img.shape[1] >= 600 and img.shape[0] >= 300, p.name  # readable, not a thumbnail
        assert img[..., :3].std() > 0.05, f"{p.name} is blank"
        assert p.title and p.caption


def test_same_report_draws_the_same_bytes(synthetic_report, tmp_path):
    a = plots.write_plots(synthetic_report, tmp_path / "a")
    b = plots.write_plots(synthetic_report, tmp_path / "b")
    assert [p.path.read_bytes() for p in a] == [p.path.read_bytes() for p in b]


def test_loss_figure_marks_the_kept_epoch(synthetic_report):
    fig = plots.loss_figure(synthetic_report)
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert list(lines["train loss"].get_ydata()) == synthetic_report.train_loss
    assert list(lines["validation loss"].get_xdata()) == [1, 2, 3, 4]  # epochs are 1-based like the metric steps
    kept = next(ln for label, ln in lines.items() if label.startswith("kept: epoch 3"))
    assert list(kept.get_xdata()) == [3] and list(kept.get_ydata()) == [0.9]
    assert ax.get_xlabel() == "epoch"
    on_test = dataclasses.replace(synthetic_report, test_loss=synthetic_report.val_loss, val_loss=[])
    labels = [ln.get_label() for ln in plots.loss_figure(on_test).axes[0].get_lines()]
    assert "test loss" in labels and "kept: epoch 3 (test loss 0.9000)" in labels  # --checkpoint-on test


def test_loss_figure_needs_losses(synthetic_report):
    assert plots.loss_figure(dataclasses.replace(synthetic_report, train_loss=[], test_loss=[], val_loss=[])) is None


def test_accuracy_size_figure_highlights_the_champion_and_draws_the_budget(synthetic_report):
    fig = plots.accuracy_size_figure(synthetic_report)
    legend = _legend_texts(fig)
    assert "dynamic-int8  ★ champion" in legend and "fp32" in legend
    assert "budget: fp32 − 1 pt = 95.11%" in legend  # 96.11% minus the configured 1.0 point
    assert not any("onnx-int8-static" in t for t in legend)  # unavailable: nothing to place
    assert any(t == "not run: onnx-int8-static" for t in _all_texts(fig))
    ax = fig.axes[0]
    offsets = np.vstack([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    assert {(float(x), round(float(y), 2)) for x, y in offsets} == {(4453.0, 96.11), (3293.0, 95.83)}


def test_accuracy_size_figure_uses_a_log_axis_for_sizes_far_apart(synthetic_report):
    tiny = dataclasses.replace(synthetic_report.variants[1], file_bytes=100)
    report = dataclasses.replace(synthetic_report, variants=[synthetic_report.variants[0], tiny])
    assert plots.accuracy_size_figure(report).axes[0].get_xscale() == "log"
    assert plots.accuracy_size_figure(synthetic_report).axes[0].get_xscale() == "linear"


def test_latency_figure_has_a_panel_per_batch_size_coloured_by_verdict(synthetic_report):
    fig = plots.latency_figure(synthetic_report)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["batch 1", "batch 360 (whole test split)"]
    assert [t.get_text() for t in panels[0].get_yticklabels()] == ["fp32", "dynamic-int8 ★"]
    for ax, bs in zip(panels, (1, 360), strict=True):
        boxes = [p for p in ax.patches if p.get_height() == 0.5]  # the p25–p75 boxes, one per variant
        assert len(boxes) == 2
        int8 = synthetic_report.variant("dynamic-int8").latency_at(bs)
        box = next(b for b in boxes if abs(b.get_x() - int8.p25_us) < 1e-9)
        assert box.get_width() == pytest.approx(int8.p75_us - int8.p25_us)
        from matplotlib.colors import to_hex

        assert to_hex(box.get_facecolor(), keep_alpha=False) == plots.VERDICT_COLORS["slower"]
        labels = [t.get_text() for t in ax.texts]
        assert f"{int8.p50_us:,.1f} µs  {int8.speedup:.2f}x" in labels


def test_confusion_figure_shows_fp32_and_the_champion_with_class_names(synthetic_report):
    fig = plots.confusion_figure(synthetic_report)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert [ax.get_title() for ax in images] == ["fp32 (baseline, 96.11%)", "dynamic-int8 (champion, 95.83%)"]
    assert np.array_equal(images[1].get_images()[0].get_array(), synthetic_report.variant("dynamic-int8").confusion)
    assert [t.get_text() for t in images[0].get_xticklabels()] == ["zero", "one", "two"]
    assert "3" in [t.get_text() for t in images[1].texts]  # the off-diagonal count is written in its cell


def test_confusion_figure_has_one_panel_when_fp32_is_the_champion(synthetic_report):
    report = dataclasses.replace(synthetic_report, champion="fp32")
    images = [ax for ax in plots.confusion_figure(report).axes if ax.get_images()]
    assert [ax.get_title() for ax in images] == ["fp32 (champion, 96.11%)"]


def test_figures_without_data_are_skipped(synthetic_report, tmp_path):
    only_unavailable = dataclasses.replace(
        synthetic_report, train_loss=[], test_loss=[], val_loss=[],
        variants=[VariantResult("fp32", available=False, reason="broken"), synthetic_report.variants[2]])
    assert plots.write_plots(only_unavailable, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_many_variants_some_unavailable_still_draw(synthetic_report, tmp_path):
    base = synthetic_report.variants[0]
    many = [base]
    for i in range(10):
        lat = [Latency(bs, 1, 40, *(p * (0.5 + i / 5) for p in (9, 9.5, 10, 10.5, 11, 15)), stable=True,
                       speedup=1 / (0.5 + i / 5), windows=6, verdict=(FASTER, SAME, SLOWER)[min(i // 3, 2)])
               for bs in (1, 360)]
        many.append(VariantResult(f"method-{i}", accuracy=0.95 - i / 200, file_bytes=4000 - 300 * i, latency=lat,
                                  confusion=base.confusion))
    many += [VariantResult("gone-1", available=False, reason="missing package"),
             VariantResult("gone-2", available=False, reason="does not apply to cnn")]
    report = dataclasses.replace(synthetic_report, variants=many, champion="method-3")
    drawn = {p.name: p.path for p in plots.write_plots(report, tmp_path)}
    assert set(drawn) == {"loss", "accuracy_vs_size", "latency", "confusion"}
    few = {p.name: p.path for p in plots.write_plots(synthetic_report, tmp_path / "few")}
    # The latency chart grows with the number of variants instead of squeezing their rows.
    assert _pixels(drawn["latency"]).shape[0] > 2 * _pixels(few["latency"]).shape[0]
    legend = _legend_texts(plots.accuracy_size_figure(report))
    assert sum(t.startswith("method-") for t in legend) == 10 and "method-3  ★ champion" in legend


def test_importing_the_report_modules_does_not_load_matplotlib():
    code = "import sys, quantrack.report.plots, quantrack.report.writers; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_variants_on_one_point_are_named_together_and_drawn_side_by_side(synthetic_report):
    """fp16 and bf16 often have the same file size and accuracy: one marker would hide the other."""
    int8 = synthetic_report.variants[1]
    fp16, bf16 = (dataclasses.replace(int8, name=n) for n in ("fp16", "bf16"))
    report = dataclasses.replace(synthetic_report, variants=[synthetic_report.variants[0], fp16, bf16])
    fig = plots.accuracy_size_figure(report)
    assert "fp16, bf16" in _all_texts(fig)
    fig.canvas.draw()
    ax = fig.axes[0]
    drawn = [c for c in ax.collections if len(c.get_offsets()) and c.get_sizes()[0] == 90]
    centres = {tuple(np.round(c.get_offset_transform().transform(c.get_offsets())[0], 1)) for c in drawn}
    assert len(centres) == 3  # fp32, and fp16 beside bf16 on screen though their data is the same
