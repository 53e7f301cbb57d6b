"""The patient report's charts, drawn with matplotlib and placed on the page as pictures.

matplotlib is used through its object API (:class:`matplotlib.figure.Figure` with the Agg
canvas): no pyplot, no global backend or ``rcParams`` change. Text in the charts uses the
report's Korean font (NanumGothic) by file, so Hangul renders whatever fonts the machine has.
Every number a chart shows is also written as text on the page, where it can be extracted.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from PIL import Image

from integrations.report.fonts import korean_font_path

__all__ = ["ScoreBar", "TrendSeries", "score_bars", "trend_charts", "zone_faces"]

#: Resolution of the chart pictures (dots per inch of the drawn size).
DPI = 150
#: Colours: this visit, previous visit.
_NOW = "#1f5a99"
_BEFORE = "#b7c4d4"
_VERDICT_COLOURS = {
    "improved": "#0d8026",
    "worsened": "#cc1414",
    "stable": "#8c8c8c",
    "no_mdc": "#4d4d4d",
}
_ZONE_CMAP = "YlOrBr"


def _font(bold: bool = False) -> FontProperties | None:
    path = korean_font_path(bold)
    return FontProperties(fname=str(path)) if path is not None else None


def _to_image(fig: Figure) -> Image.Image:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=DPI,
        metadata={"Software": None},
        bbox_inches="tight",
        pad_inches=0.04,
    )
    buf.seek(0)
    return Image.open(buf).convert("RGB")


@dataclass(frozen=True, slots=True)
class ScoreBar:
    """One concern's bars: its label, this visit's score and the previous visit's (or None)."""

    label: str
    current: float
    previous: float | None


def score_bars(
    bars: Sequence[ScoreBar],
    now_label: str,
    before_label: str | None,
    axis_label: str,
    size_in: tuple[float, float],
) -> Image.Image:
    """Horizontal bars of the concern scores, this visit against the previous one."""
    font, bold = _font(), _font(bold=True)
    fig = Figure(figsize=size_in, dpi=DPI)
    ax = fig.add_subplot()
    n = len(bars)
    ys = np.arange(n)[::-1].astype(float)
    has_before = before_label is not None and any(b.previous is not None for b in bars)
    h = 0.38 if has_before else 0.6
    ax.barh(
        ys + (h / 2 if has_before else 0), [b.current for b in bars], h, color=_NOW, label=now_label
    )
    for y, b in zip(ys, bars, strict=True):
        ax.text(
            b.current + 1.5,
            y + (h / 2 if has_before else 0),
            f"{b.current:.0f}",
            va="center",
            fontsize=8,
            fontproperties=bold,
            color=_NOW,
        )
    if has_before:
        prev = [b.previous if b.previous is not None else 0.0 for b in bars]
        ax.barh(ys - h / 2, prev, h, color=_BEFORE, label=before_label)
        for y, b in zip(ys, bars, strict=True):
            if b.previous is not None:
                ax.text(
                    b.previous + 1.5,
                    y - h / 2,
                    f"{b.previous:.0f}",
                    va="center",
                    fontsize=7,
                    fontproperties=font,
                    color="#555555",
                )
    ax.set_yticks(ys, [b.label for b in bars], fontproperties=font, fontsize=8)
    ax.set_xlim(0, 108)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel(axis_label, fontproperties=font, fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    small = _font()
    if small is not None:
        small.set_size(7.5)
    ax.legend(prop=small, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    fig.tight_layout(pad=0.4)
    return _to_image(fig)


def zone_faces(
    photo: npt.NDArray[np.uint8],
    zones: Sequence[tuple[str, npt.NDArray[np.bool_]]],
    panels: Sequence[tuple[str, Mapping[str, float]]],
    size_in: tuple[float, float],
) -> Image.Image:
    """The face once per panel, each zone filled by its score (0-100) for that panel's concern.

    Parameters
    ----------
    photo
        RGB uint8 photo, at drawing size.
    zones
        ``(region, mask)`` at the photo's size.
    panels
        ``(title, {region: score})`` per concern; a zone without a score stays grey.
    size_in
        Figure size in inches.
    """
    font = _font(bold=True)
    fig = Figure(figsize=size_in, dpi=DPI)
    cmap = colormaps[_ZONE_CMAP]
    norm = Normalize(0.0, 100.0)
    grey = photo.astype(np.float32).mean(axis=2) * 0.55 + 90.0
    base = np.repeat(grey[..., None], 3, axis=2) / 255.0
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    mappable = None
    for ax, (title, scores) in zip(axes, panels, strict=False):
        out = base.copy()
        for region, mask in zones:
            if region in ("face", "skin") or mask.shape != grey.shape:
                continue
            score = scores.get(region)
            if score is None:
                out[mask] = 0.7 * out[mask] + 0.3 * 0.6
                continue
            colour = np.asarray(cmap(norm(score))[:3], np.float32)
            out[mask] = 0.35 * out[mask] + 0.65 * colour
        ax.imshow(np.clip(out, 0, 1))
        mappable = ax.images[0]
        ax.set_title(title, fontproperties=font, fontsize=8)
        ax.set_axis_off()
    if mappable is not None:
        sm = ScalarMappable(norm=norm, cmap=cmap)
        bar = fig.colorbar(sm, ax=list(axes), fraction=0.025, pad=0.02)
        bar.ax.tick_params(labelsize=6)
    return _to_image(fig)


@dataclass(frozen=True, slots=True)
class TrendSeries:
    """One concern's score at each visit, and the verdict on its latest change."""

    label: str
    dates: tuple[dt.date, ...]
    scores: tuple[float, ...]
    verdict: str  # analysis.progress.ChangeLabel value, or "" without a verdict


def trend_charts(
    series: Sequence[TrendSeries],
    axis_label: str,
    size_in: tuple[float, float],
    *,
    marker: dt.date | None = None,
    scale: tuple[float, float] | None = (0.0, 100.0),
) -> Image.Image:
    """Small line charts, one per concern, of the score over the visits (last segment in the
    verdict's colour: green improved, red worsened, grey stable).

    *marker*: a dashed vertical line where that date falls between the visits (a treatment
    course's start). *scale*: the y range (None: fitted to each series, for raw values)."""
    font, bold = _font(), _font(bold=True)
    fig = Figure(figsize=size_in, dpi=DPI)
    cols = 3
    rows = max(1, (len(series) + cols - 1) // cols)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(series):
            ax.set_axis_off()
            continue
        s = series[i]
        xs = list(range(len(s.dates)))
        ax.plot(xs, s.scores, color=_NOW, marker="o", markersize=3, linewidth=1.2)
        if len(xs) >= 2:
            colour = _VERDICT_COLOURS.get(s.verdict, _NOW)
            ax.plot(xs[-2:], s.scores[-2:], color=colour, linewidth=2.0, marker="o", markersize=4)
        if scale is not None:
            ax.set_ylim(*scale)
            ax.set_yticks([scale[0], (scale[0] + scale[1]) / 2, scale[1]])
        if marker is not None:
            before = sum(1 for d in s.dates if d <= marker)
            ax.axvline(before - 0.5, color="#555555", linestyle="--", linewidth=0.9)
        ax.set_xticks(xs, [d.strftime("%y-%m-%d") for d in s.dates], fontsize=6)
        ax.tick_params(axis="y", labelsize=6)
        ax.set_title(s.label, fontproperties=bold, fontsize=7.5)
        if i % cols == 0:
            ax.set_ylabel(axis_label, fontproperties=font, fontsize=6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout(pad=0.5)
    return _to_image(fig)
