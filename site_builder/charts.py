"""Score charts as static SVG, made at build time: no script, nothing fetched."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from note_templates import instruments


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    label: str
    colour: str


# Band colours from calm to alarming; an instrument's bands are spread across them.
PALETTE = ("#e8f5e9", "#f1f8e9", "#fff8e1", "#fff3e0", "#ffebee", "#fce4ec")
IMPROVED, WORSENED = "#1b5e20", "#b71c1c"  # a reliable change, drawn over the line


def _coloured(bands: Sequence[instruments.Band]) -> list[Band]:
    """Calm for the lowest band, alarming for the highest; the sixth colour only for a sixth
    band (PHQ-9's five keep the colours they always had)."""
    top = (4 if len(bands) <= 5 else 5) / max(len(bands) - 1, 1)
    return [Band(b.low, b.high, b.label, PALETTE[round(i * top)]) for i, b in enumerate(bands)]


def _scales() -> dict[str, tuple[str, float, list[Band]]]:
    """(title, top of the scale, bands) of every instrument in the catalogue, and of each
    DASS-21 subscale as ``dass21.depression`` ...: the bands and their sources are the
    catalogue's (note_templates/instruments/*.yml), never copied here."""
    found: dict[str, tuple[str, float, list[Band]]] = {}
    for key, instrument in instruments.catalogue().items():
        if instrument.subscales:
            for sub in instrument.subscales:
                found[f"{key}.{sub.name}"] = (
                    f"{instrument.short} {sub.name}",
                    sub.high,
                    _coloured(sub.bands),
                )
        else:
            found[key] = (instrument.short, instrument.high, _coloured(instrument.bands))
    return found


def _reliable() -> dict[str, int]:
    """The published reliable-change threshold of each instrument that has one."""
    return {
        key: instrument.reliable_change.points
        for key, instrument in instruments.catalogue().items()
        if instrument.reliable_change is not None
    }


SCALES = _scales()
RELIABLE = _reliable()
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 240, 44, 120, 12, 28


def band_of(scale: str, score: float) -> str:
    for band in SCALES.get(scale, ("", 0, []))[2]:
        if band.low <= score <= band.high + 0.999:
            return band.label
    return ""


def reliable_change(scale: str, before: float, after: float) -> str:
    """'reliable improvement', 'reliable deterioration' or 'no reliable change' from BEFORE
    to AFTER ('' for a scale with no published threshold). Lower is better on every scale."""
    threshold = RELIABLE.get(scale)
    if threshold is None:
        return ""
    if abs(after - before) < threshold:
        return "no reliable change"
    return "reliable improvement" if after < before else "reliable deterioration"


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
    parts += _reliable_segments(name, points, x, y)
    for day, score in points:
        parts.append(
            f'<circle cx="{x(day):.1f}" cy="{y(score):.1f}" r="3.5" fill="#3f51b5"><title>{day}: {score:g}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _reliable_segments(
    name: str,
    points: Sequence[tuple[dt.date, float]],
    x: Callable[[dt.date], float],
    y: Callable[[float], float],
) -> list[str]:
    """A change between two sessions that reaches the published threshold, drawn as such:
    thick, green when better, red when worse, with the words in its tooltip and a key."""
    threshold = RELIABLE.get(name)
    if threshold is None:
        return []
    parts = []
    for (day0, s0), (day1, s1) in zip(points, points[1:], strict=False):
        words = reliable_change(name, s0, s1)
        if words == "no reliable change":
            continue
        colour = IMPROVED if s1 < s0 else WORSENED
        parts.append(
            f'<line class="cn-reliable" x1="{x(day0):.1f}" y1="{y(s0):.1f}" x2="{x(day1):.1f}" y2="{y(s1):.1f}" '
            f'stroke="{colour}" stroke-width="4" stroke-linecap="round">'
            f"<title>{escape(words)}: {s1 - s0:+g} from {day0} to {day1} (threshold {threshold})</title></line>"
        )
    if parts:  # a key, only where there is something to explain
        parts.append(
            f'<text x="{LEFT + 4}" y="{TOP + 11}" font-size="11" fill="#555">'
            f"thick green or red line: a change of {threshold} or more between sessions (reliable change)</text>"
        )
    return parts
