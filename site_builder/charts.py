"""Score charts as static SVG, made at build time: no script, nothing fetched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    label: str
    colour: str


# The published severity bands (Kroenke 2001 for PHQ-9; Spitzer 2006 for GAD-7).
SCALES: dict[str, tuple[str, float, list[Band]]] = {
    "phq9": (
        "PHQ-9",
        27,
        [
            Band(0, 4, "minimal", "#e8f5e9"),
            Band(5, 9, "mild", "#f1f8e9"),
            Band(10, 14, "moderate", "#fff8e1"),
            Band(15, 19, "moderately severe", "#fff3e0"),
            Band(20, 27, "severe", "#ffebee"),
        ],
    ),
    "gad7": (
        "GAD-7",
        21,
        [
            Band(0, 4, "minimal", "#e8f5e9"),
            Band(5, 9, "mild", "#f1f8e9"),
            Band(10, 14, "moderate", "#fff8e1"),
            Band(15, 21, "severe", "#ffebee"),
        ],
    ),
}
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 240, 44, 120, 12, 28


def band_of(scale: str, score: float) -> str:
    for band in SCALES.get(scale, ("", 0, []))[2]:
        if band.low <= score <= band.high + 0.999:
            return band.label
    return ""


def y_ticks(top: float, most: int = 6) -> list[int]:
    """Whole-number score ticks from 0, at a step of 1, 2 or 5 times a power of ten: a
    practitioner reads "10, 15, 20" at a glance, never "13.5"."""
    step = 1
    while top / step > most:
        for factor in (2, 5 / 2, 2):  # 1 -> 2 -> 5 -> 10 -> 20 -> 50 ...
            step = round(step * factor)
            if top / step <= most:
                break
    return list(range(0, int(top) + 1, step))


def x_ticks(days: Sequence[dt.date], most: int = 6) -> list[tuple[dt.date, str]]:
    """Date ticks under a chart: the first of each month across a long span ("Mar 2026"),
    else the session dates themselves ("05 Jan"); thinned to at most MOST, the latest kept."""
    if not days:
        return []
    first, last = min(days), max(days)
    if (last - first).days >= 60:
        months, day = [], dt.date(first.year, first.month, 1)
        while day <= last:
            if day >= first:
                months.append(day)
            day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        chosen, label = months, "%b %Y"
    else:
        chosen, label = sorted(set(days)), "%d %b"
    every = -(-len(chosen) // most)  # ceiling division
    kept = chosen[::-1][::every][::-1]
    return [(d, f"{d:{label}}") for d in kept]


def line_chart(name: str, points: Sequence[tuple[dt.date, float]]) -> str:
    """An SVG of a score over time, with the scale's severity bands behind it."""
    title, top, bands = SCALES.get(name, (name, max((s for _, s in points), default=1) or 1, []))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)

    def x(day: dt.date) -> float:
        return LEFT + (plot_w * (day - first).days / span if len(points) > 1 else plot_w / 2)

    def y(score: float) -> float:
        return TOP + plot_h * (1 - min(score, top) / top)

    parts = [
        f'<svg class="cn-chart" role="img" aria-label="{escape(title)} over time" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">'
    ]
    for band in bands:
        y_top, y_bottom = y(band.high + (1 if band.high < top else 0)), y(band.low)
        parts.append(
            f'<rect x="{LEFT}" y="{y_top:.1f}" width="{plot_w}" height="{y_bottom - y_top:.1f}" fill="{band.colour}"/>'
        )
        parts.append(
            f'<text x="{LEFT + plot_w + 6}" y="{(y_top + y_bottom) / 2 + 4:.1f}" font-size="11">{escape(band.label)}</text>'
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#999"/>'
    )
    for tick in y_ticks(top):
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end">{tick}</text>'
        )
    for day, label in x_ticks([d for d, _ in points]):
        parts.append(
            f'<line x1="{x(day):.1f}" y1="{TOP + plot_h}" x2="{x(day):.1f}" y2="{TOP + plot_h + 4}" stroke="#999"/>'
        )
        parts.append(
            f'<text x="{x(day):.1f}" y="{HEIGHT - 8}" font-size="11" text-anchor="middle">{escape(label)}</text>'
        )
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(s):.1f}" for i, (d, s) in enumerate(points))
    parts.append(f'<path d="{path}" fill="none" stroke="#3f51b5" stroke-width="2"/>')
    for day, score in points:
        parts.append(
            f'<circle cx="{x(day):.1f}" cy="{y(score):.1f}" r="3.5" fill="#3f51b5"><title>{day}: {score:g}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)
