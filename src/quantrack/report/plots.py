"""The report's figures, drawn from a plain report: PNG files, no torch or MLflow needed.

matplotlib is imported inside the functions (``quantrack --help`` stays fast), and only its
object API is used: ``Figure`` + ``savefig`` renders through Agg without pyplot's global
state, so nothing depends on a display and figures are freed when they go out of scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from quantrack.core.results import ReportData, VariantResult
from quantrack.report.sensitivity import sensitivity_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110
# One colour per verdict, the same in the plot and in the HTML tables.
VERDICT_COLORS = {"baseline": "#1f77b4", "faster": "#2ca02c", "slower": "#d62728",
                  "no measurable difference": "#7f7f7f"}
CHAMPION_COLOR = "#ff7f0e"


@dataclass(frozen=True)
class Plot:
    name: str  # file stem, also the anchor in report.html
    title: str
    caption: str
    path: Path


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No date or version in the PNG metadata: the same report draws the same bytes.
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _bytes_label(n: float, _pos: object = None) -> str:
    """Decimal units, as file managers show sizes: 680 B, 3.4 kB, 4.51 MB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def _measured(report: ReportData) -> list[VariantResult]:
    return [v for v in report.variants if v.available]


def loss_figure(report: ReportData) -> Figure | None:
    """Train loss and the held-out loss the checkpoint was chosen on (validation, or test with
    --checkpoint-on test) per epoch, the kept epoch marked."""
    from matplotlib.ticker import MaxNLocator

    held, which = (report.val_loss, "validation") if report.val_loss else (report.test_loss, "test")
    if not report.train_loss and not held:
        return None
    fig = _figure(7.5, 4.2)
    ax = fig.add_subplot()
    if report.train_loss:
        ax.plot(range(1, len(report.train_loss) + 1), report.train_loss, label="train loss", color="#1f77b4", lw=2)
    if held:
        ax.plot(range(1, len(held) + 1), held, label=f"{which} loss", color="#d62728", lw=2)
    best = report.best_epoch
    if held and 1 <= best <= len(held):
        y = held[best - 1]
        ax.axvline(best, color="#555555", ls="--", lw=1)
        ax.plot([best], [y], marker="o", ms=9, mfc="white", mec="#d62728", mew=2, zorder=5,
                label=f"kept: epoch {best} ({which} loss {y:.4f})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("Training: loss per epoch")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    return fig


def coincident(points: list[VariantResult], y) -> dict[tuple[float, float], list[str]]:
    """{(file bytes, score): [names]} of the plotted variants, the names of one spot together."""
    groups: dict[tuple[float, float], list[str]] = {}
    for v in points:
        groups.setdefault((v.file_bytes, round(y(v), 9)), []).append(v.name)
    return groups


def accuracy_size_figure(report: ReportData) -> Figure | None:
    """The score (test accuracy, or the user's metric) against the saved artifact's bytes on disk,
    with fp32's budget."""
    from matplotlib.lines import Line2D

    is_accuracy = report.score_name == "accuracy"
    scale = 100.0 if is_accuracy else 1.0  # accuracy in %, a metric as it is

    def y(v) -> float:
        return scale * v.score

    points = [v for v in _measured(report) if v.score is not None and v.file_bytes]
    if not points:
        return None
    fig = _figure(8.5, 4.8)
    ax = fig.add_subplot()
    markers = "osD^vP*Xh<>p"
    handles = []
    from matplotlib.transforms import offset_copy

    groups = coincident(points, y)
    for names in groups.values():  # variants on one point (fp16 and bf16 often are): named together there
        if len(names) > 1:
            first = next(v for v in points if v.name == names[0])
            ax.annotate(", ".join(names), (first.file_bytes, y(first)), xytext=(0, 11), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, color="#333333", zorder=6)
    for i, v in enumerate(points):
        color = f"C{i % 10}"
        champion = v.name == report.champion
        names = groups[(v.file_bytes, round(y(v), 9))]
        # side by side, 8 points apart, so a marker never hides another on the same spot
        dx = 8.0 * (names.index(v.name) - (len(names) - 1) / 2)
        where = offset_copy(ax.transData, fig=fig, x=dx, y=0, units="points")
        ax.scatter(v.file_bytes, y(v), s=90, marker=markers[i % len(markers)], color=color,
                   edgecolor="black", linewidth=0.6, zorder=4, transform=where)
        if champion:
            ax.scatter(v.file_bytes, y(v), s=420, facecolor="none", edgecolor=CHAMPION_COLOR,
                       linewidth=2.5, zorder=5, transform=where)
        handles.append(Line2D([], [], ls="", marker=markers[i % len(markers)], color=color, mec="black", mew=0.6,
                              ms=9, label=v.name + ("  ★ champion" if champion else "")))
    base = report.variant("fp32")
    drop = None if report.max_drop is None else scale * report.max_drop
    if base is not None and base.score is not None:
        ax.axhline(y(base), color="#1f77b4", ls=":", lw=1.2)
        handles.append(Line2D([], [], color="#1f77b4", ls=":", label=f"fp32 {report.score_name} {y(base):.2f}%" if is_accuracy
                              else f"fp32 {report.score_name} {y(base):.4f}"))
        if drop is not None:
            floor = y(base) - float(drop)
            ax.axhline(floor, color="#d62728", ls="--", lw=1.5)
            ax.axhspan(min(floor, *(y(v) for v in points)) - 100, floor, color="#d62728", alpha=0.06)
            handles.append(Line2D([], [], color="#d62728", ls="--",
                                  label=(f"budget: fp32 − {float(drop):g} pt = {floor:.2f}%" if is_accuracy
                                         else f"budget: fp32 − {float(drop):g} = {floor:.4f}")))
    sizes = [v.file_bytes for v in points]
    accs = [y(v) for v in points]
    if max(sizes) / min(sizes) > 8:
        ax.set_xscale("log")
    lo_x, hi_x = min(sizes), max(sizes)
    pad = (hi_x - lo_x) * 0.08 or lo_x * 0.1
    if ax.get_xscale() == "log":
        ax.set_xlim(lo_x / 1.3, hi_x * 1.3)
    else:
        ax.set_xlim(max(0, lo_x - pad), hi_x + pad)
    ys = accs + ([y(base) - float(drop)] if base and base.score is not None and drop is not None else [])
    span = max(ys) - min(ys)
    margin = max(0.5 if is_accuracy else 0.005, 0.15 * span)
    ax.set_ylim(min(ys) - margin, (min(100.5, max(ys) + margin)) if is_accuracy else max(ys) + margin)
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(_bytes_label))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("file size on disk" + (" (log scale)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel("test accuracy (%)" if is_accuracy else report.score_name)
    ax.set_title(f"{report.score_name.capitalize()} against size on disk")
    ax.grid(alpha=0.3, which="both")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    missing = [v.name for v in report.variants if not v.available]
    if missing:
        fig.text(0.01, 0.005, "not run: " + ", ".join(missing), fontsize=8, color="#555555", ha="left", va="bottom")
    return fig


def latency_figure(report: ReportData) -> Figure | None:
    """Per batch size: each variant's median with p25–p75 (box) and p10–p90 (whiskers)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import NullFormatter, StrMethodFormatter

    batch_sizes = report.batch_sizes or sorted({lat.batch_size for v in report.variants for lat in v.latency})
    rows = [v for v in _measured(report) if v.latency]
    if not rows or not batch_sizes:
        return None
    n = len(rows)
    fig = _figure(11, max(2.8, 1.5 + 0.45 * n))
    axes = fig.subplots(1, len(batch_sizes), sharey=True, squeeze=False)[0]
    for ax, bs in zip(axes, batch_sizes, strict=True):
        base = next((v.latency_at(bs) for v in rows if v.name == "fp32"), None)
        if base is not None:  # fp32's interquartile band, for reference (verdicts come from side-by-side windows)
            ax.axvspan(base.p25_us, base.p75_us, color=VERDICT_COLORS["baseline"], alpha=0.12, lw=0)
        values = []
        for y, v in enumerate(rows):
            lat = v.latency_at(bs)
            if lat is None:
                ax.text(0.5, y, "not measured", transform=ax.get_yaxis_transform(), va="center", fontsize=8)
                continue
            color = VERDICT_COLORS.get(lat.verdict or "baseline", "#7f7f7f")
            ax.hlines(y, lat.p10_us, lat.p90_us, color=color, lw=1.4)
            for end in (lat.p10_us, lat.p90_us):
                ax.vlines(end, y - 0.15, y + 0.15, color=color, lw=1.4)
            ax.barh(y, lat.p75_us - lat.p25_us, left=lat.p25_us, height=0.5, color=color, alpha=0.45,
                    edgecolor=color)
            ax.vlines(lat.p50_us, y - 0.25, y + 0.25, color="black", lw=2)
            label = f"{lat.p50_us:,.1f} µs" + (f"  {lat.speedup:.2f}x" if lat.speedup is not None else "")
            ax.annotate(label, (lat.p90_us, y), xytext=(6, 0), textcoords="offset points", va="center",
                        fontsize=8)
            values += [lat.p10_us, lat.p90_us]
        if values:
            lo, hi = min(values), max(values)
            if lo > 0 and hi / lo > 20:
                ax.set_xscale("log")
                ax.set_xlim(lo / 1.5, hi * 6)  # room on the right for the labels
            else:
                ax.set_xlim(max(0.0, lo - 0.1 * (hi - lo)), hi + 0.55 * (hi - lo) + 1e-9)
        ax.set_title(f"batch {bs:,}" + (" (whole test split)" if bs == batch_sizes[-1] and bs != 1 else ""))
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}" if max(values or [0]) >= 100 else "{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("µs per call" + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.grid(axis="x", alpha=0.3, which="both")
    axes[0].set_yticks(range(n), [v.name + (" ★" if v.name == report.champion else "") for v in rows])
    axes[0].set_ylim(n - 0.5, -0.5)  # first variant on top
    threads = next((lat.threads for v in rows for lat in v.latency), None)
    fig.suptitle("Latency per variant: median (black), p25–p75 (box), p10–p90 (whiskers)"
                 + (f", {threads} thread(s)" if threads else ""), fontsize=11)
    fig.legend(handles=[Patch(color=c, alpha=0.6, label=k) for k, c in VERDICT_COLORS.items()],
               loc="outside lower center", ncols=4, fontsize=9, frameon=False)
    return fig


def confusion_figure(report: ReportData) -> Figure | None:
    """Confusion matrices of fp32 and of the champion (one panel when fp32 is the champion)."""
    import numpy as np

    shown = [v for v in (report.variant("fp32"), report.variant(report.champion))
             if v is not None and v.available and v.confusion]
    shown = list({v.name: v for v in shown}.values())
    if not shown:
        return None
    k = len(shown[0].confusion)
    names = report.class_names if len(report.class_names) == k else [str(i) for i in range(k)]
    cell = 0.36 if k <= 12 else 0.25
    side = max(3.6, 1.6 + cell * k)
    fig = _figure(side * len(shown) + 0.6, side + 0.4)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    vmax = max(max(max(row) for row in v.confusion) for v in shown) or 1
    image = None
    for ax, v in zip(axes, shown, strict=True):
        m = np.asarray(v.confusion)
        image = ax.imshow(m, cmap="Blues", vmin=0, vmax=vmax)
        if k <= 20:  # counts stay readable up to about 20 classes
            for (i, j), count in np.ndenumerate(m):
                if count:
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=9.5 if k <= 12 else 6,
                            color="white" if count > 0.55 * vmax else ("#b00000" if i != j else "black"))
        ax.set_xticks(range(k), names, rotation=90 if max(map(len, names)) > 3 else 0, fontsize=9)
        ax.set_yticks(range(k), names, fontsize=9)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        role = "champion" if v.name == report.champion else "baseline"
        acc = f", {100 * v.accuracy:.2f}%" if v.accuracy is not None else ""
        ax.set_title(f"{v.name} ({role}{acc})", color=CHAMPION_COLOR if role == "champion" else "black")
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="test rows")
    fig.suptitle("Confusion matrices on the test split (off-diagonal counts in red)", fontsize=11)
    return fig


FigureFn = Callable[[ReportData], "Figure | None"]
# (file stem, title, caption, builder); a builder returns None when the report lacks its data.
PLOTS: list[tuple[str, str, str, FigureFn]] = [
    ("loss", "Loss curves", "Train loss and the held-out loss the checkpoint was chosen on, per epoch; the marked epoch is the checkpoint kept.", loss_figure),
    ("accuracy_vs_size", "Accuracy against size on disk",
     "Every measured variant; the ringed point is the champion, the dashed line the accuracy budget.",
     accuracy_size_figure),
    ("latency", "Latency with its spread",
     "Median, p25–p75 and p10–p90 of single calls; the shaded band is fp32's p25–p75. Colours are the "
     "verdicts, judged side by side with fp32.", latency_figure),
    ("confusion", "Confusion matrices", "fp32 and the champion on the test split.", confusion_figure),
    ("sensitivity", "Per-layer sensitivity",
     "The drop each layer causes when quantized alone, largest first; orange: kept in float by the mixed variant.",
     sensitivity_figure),
]


def write_plots(report: ReportData, directory: Path) -> list[Plot]:
    """Draw every figure the report has data for into ``directory``; return what was drawn."""
    drawn = []
    for name, title, caption, build in PLOTS:
        fig = build(report)
        if fig is not None:
            drawn.append(Plot(name, title, caption, save_png(fig, directory / f"{name}.png")))
    return drawn
