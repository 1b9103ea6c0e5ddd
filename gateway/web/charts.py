"""Chart geometry for the dashboard, computed on the server and drawn by the templates as SVG.

No chart library and no script: the numbers become rectangles here, the template only writes them out
(escaped), so the dashboard works offline and under a Content-Security-Policy without 'unsafe-inline'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.audit.query import Bucket, Ranked, TrafficPoint

# Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
WIDTH = 760
HEIGHT = 260
LEFT = 48
RIGHT = 12
TOP = 12
BOTTOM = 56
MAX_LABELS = 12
# Past this many buckets the axis shows only those with traffic: thinner bars would be unreadable anyway.
MAX_BUCKETS = 400


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str  # shown by the browser on hover


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"  # SVG text-anchor


@dataclass(frozen=True, slots=True)
class LegendItem:
    name: str
    fill: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Rect, ...]
    x_labels: tuple[Label, ...]
    y_labels: tuple[Label, ...]
    legend: tuple[LegendItem, ...]

    @property
    def empty(self) -> bool:
        return not self.bars


def _ticks(top: int) -> list[int]:
    if top <= 0:
        return [0]
    step = max(1, -(-top // 4))
    return list(range(0, top + step, step))


def bucket_range(since: datetime, until: datetime, unit: Bucket) -> list[str]:
    """Every bucket label from ``since`` up to ``until`` (UTC), as the queries name them; empty when
    there would be more than MAX_BUCKETS."""
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    pattern = "%Y-%m-%d %H" if unit == "hour" else "%Y-%m-%d"
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if unit == "day":
        start = start.replace(hour=0)
    end = until.astimezone(UTC)
    if (end - start) / step > MAX_BUCKETS:
        return []
    out = []
    moment = start
    while moment < end:
        out.append(moment.strftime(pattern))
        moment += step
    return out


def stacked_traffic(points: Sequence[TrafficPoint], axis: Sequence[str] = ()) -> Chart:
    """One stacked bar per time bucket, one colour per destination (jurisdiction).  ``axis``: the
    buckets to show even without traffic, so that gaps in time show as gaps."""
    buckets = sorted({p.bucket for p in points} | set(axis))
    series = sorted({f"{p.destination} ({p.jurisdiction})" for p in points})
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    totals = {b: sum(p.requests for p in points if p.bucket == b) for b in buckets}
    ticks = _ticks(max(totals.values(), default=0))
    if not points:
        buckets = []
    scale_top = ticks[-1] or 1
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(buckets), 1)
    bars: list[Rect] = []
    for i, bucket in enumerate(buckets):
        base = 0
        for point in sorted(
            (p for p in points if p.bucket == bucket), key=lambda p: f"{p.destination} ({p.jurisdiction})"
        ):
            name = f"{point.destination} ({point.jurisdiction})"
            height = plot_h * point.requests / scale_top
            y = TOP + plot_h - plot_h * (base + point.requests) / scale_top
            bars.append(
                Rect(
                    round(LEFT + i * slot + slot * 0.15, 2),
                    round(y, 2),
                    round(slot * 0.7, 2),
                    round(height, 2),
                    colour[name],
                    f"{bucket}: {name}: {point.requests}",
                )
            )
            base += point.requests
    every = max(1, -(-len(buckets) // MAX_LABELS))
    x_labels = tuple(
        Label(round(LEFT + i * slot + slot / 2, 2), HEIGHT - BOTTOM + 16, bucket)
        for i, bucket in enumerate(buckets)
        if i % every == 0
    )
    y_labels = tuple(
        Label(LEFT - 6, round(TOP + plot_h - plot_h * t / scale_top + 4, 2), str(t), "end") for t in ticks
    )
    legend = tuple(LegendItem(name, colour[name]) for name in series)
    return Chart(WIDTH, HEIGHT, tuple(bars), x_labels, y_labels, legend)


def horizontal(items: Sequence[Ranked], *, fill: str = PALETTE[0], unit: str = "requests") -> Chart:
    """One bar per item, longest first as given, labelled with its name."""
    label_w = 220
    row = 26
    height = TOP + row * max(len(items), 1) + 8
    top = max((item.requests for item in items), default=0) or 1
    plot_w = WIDTH - label_w - RIGHT - 60
    bars = tuple(
        Rect(
            label_w,
            TOP + i * row,
            round(max(plot_w * item.requests / top, 1.0), 2),
            row - 8,
            fill,
            f"{item.name}: {item.requests} {unit}",
        )
        for i, item in enumerate(items)
    )
    names = tuple(
        Label(label_w - 8, TOP + i * row + 13, item.name[:40], "end") for i, item in enumerate(items)
    )
    values = tuple(
        Label(round(label_w + bar.width + 6, 2), TOP + i * row + 13, str(item.requests), "start")
        for i, (item, bar) in enumerate(zip(items, bars, strict=True))
    )
    return Chart(WIDTH, height, bars, values, names, ())
