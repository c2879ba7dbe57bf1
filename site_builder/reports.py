"""A report for a client (access report, accounting of disclosures, requests) as a table:
built once from the core's rows, rendered as plain text for the terminal or as a
self-contained HTML page (no script, no outside request) for the site or a PDF.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    """Client data (names, recipients, purposes): never logged."""

    title: str
    lines: tuple[str, ...]  # said above the table: whose, which period, what is left out
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: str  # said instead of an empty table

    def __repr__(self) -> str:
        return f"<Report {len(self.rows)} rows>"


def text(report: Report) -> str:
    """Aligned columns; the last column is never padded."""
    out = [report.title, *report.lines, ""]
    if not report.rows:
        return "\n".join([*out, report.empty, ""])
    widths = [max(len(c), *(len(r[i]) for r in report.rows)) for i, c in enumerate(report.columns)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(w) for cell, w in zip(cells[:-1], widths, strict=False)]
        return "  ".join([*padded, cells[-1]]).rstrip()

    out += [line(report.columns), line(["-" * w for w in widths])]
    out += [line(row) for row in report.rows]
    return "\n".join([*out, ""])


_STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{background:#eee}p.lead{margin:.2em 0}"
)


def html_page(report: Report) -> str:
    """One HTML page, every value escaped; the PDF step (casenotes export) can print it."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        *(f'<p class="lead">{e(line)}</p>' for line in report.lines),
    ]
    if not report.rows:
        parts.append(f"<p>{e(report.empty)}</p>")
    else:
        parts.append(
            "<table><thead><tr>" + "".join(f"<th>{e(c)}</th>" for c in report.columns) + "</tr></thead>"
        )
        parts.append("<tbody>")
        parts += ["<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in report.rows]
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
