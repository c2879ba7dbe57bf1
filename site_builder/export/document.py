"""The record as one HTML document for the PDF: a cover, then the notes newest first as the
site shows them (site_builder.pages: headings, signatures, co-signatures, addenda, risk,
scores), the measures with their charts, and the treatment plan.

The site's Markdown is rendered with the extensions the site's MkDocs uses; links between
the site's pages become links inside the PDF (a note's anchor) or plain text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import escape

from .. import pages
from ..timeline import Timeline

EXTENSIONS = ["tables", "admonition", "md_in_html", "pymdownx.tasklist"]
_NOTE_LINK = re.compile(r'href="[^"#]*#(n-[0-9a-f]{16})"')
_OTHER_LINK = re.compile(r'<a href="[^"#]*(?:\.md|\.html)"[^>]*>(.*?)</a>', re.S)
# The law behind the one exclusion a client may be told of (45 CFR 164.524(a)(1)(i)).
PSYCHOTHERAPY_WHY = (
    "HIPAA excludes psychotherapy notes from a client's right of access (45 CFR 164.524(a)(1)(i)); "
    "they are kept apart from the record"
)

STYLE = """
@page { size: A4; margin: 20mm 18mm 22mm 18mm;
  @bottom-left { content: "%(footer)s"; font-size: 8pt; color: #555; }
  @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 8pt; color: #555; } }
html { font-family: "DejaVu Sans", "Liberation Sans", sans-serif; font-size: 10pt; line-height: 1.4; }
h1 { font-size: 18pt; } h2 { font-size: 13pt; margin-top: 1.2em; } h3, h4 { font-size: 11pt; }
.cn-part { break-before: page; }
.cn-cover dt { font-weight: bold; margin-top: .6em; } .cn-cover dd { margin-left: 0; }
.cn-excluded { border: 1px solid #999; padding: .4em .8em; margin-top: 1.2em; }
.cn-note { border-top: 1px solid #bbb; padding-top: .4em; }
.admonition { border-left: 4px solid #448aff; padding: .2em .8em; margin: .6em 0; background: #f5f7ff; }
.admonition-title { font-weight: bold; margin: .2em 0; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .2em .4em; }
svg { max-width: 100%%; height: auto; }
ul.task-list { list-style: none; padding-left: 1em; }
"""


@dataclass(frozen=True)
class Cover:
    """What the first page says, all of it plain text (escaped here)."""

    practice: str
    client: str  # the client's name and handle
    period: str  # "05 Jan 2026 to 19 Jan 2026", or "the whole record"
    exported: dt.date
    recipient: str
    purpose: str
    excluded: tuple[str, ...]  # one sentence for each thing left out, with why


def _markdown(text: str) -> str:
    import markdown

    html = markdown.markdown(text, extensions=EXTENSIONS)
    html = _NOTE_LINK.sub(r'href="#\1"', html)  # a note's anchor is in this document too
    return _OTHER_LINK.sub(r"\1", html)  # the site's other pages are not


def cover(c: Cover) -> str:
    facts = [
        ("Practice", c.practice),
        ("Client", c.client),
        ("Period", c.period),
        ("Exported on", f"{c.exported:%d %b %Y}"),
        ("For", c.recipient),
        ("Purpose", c.purpose),
    ]
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    left_out = "".join(f"<li>{escape(line)}</li>" for line in c.excluded) or "<li>Nothing.</li>"
    return (
        '<section class="cn-cover"><h1>Clinical record: copy</h1>'
        f"<dl>{rows}</dl>"
        f'<div class="cn-excluded"><h2>What is not included, and why</h2><ul>{left_out}</ul></div>'
        "<p>Notes are shown newest first, each with who signed and co-signed it; corrections are "
        "addenda, shown with the note they amend. The measures and the treatment plan follow the notes.</p>"
        "</section>"
    )


def notes(t: Timeline) -> str:
    if not t.entries:
        return '<section class="cn-part"><h1>Notes</h1><p>No notes in this period.</p></section>'
    shown = "".join(f'<div class="cn-note">{_markdown(pages.session(t, entry))}</div>' for entry in t.entries)
    return f'<section class="cn-part"><h1>Notes</h1>{shown}</section>'


def record_html(c: Cover, t: Timeline) -> str:
    """The whole document: cover, notes, measures and their charts, treatment plan."""
    # The client's name goes into a CSS string inside <style>: nothing that could end either
    # (a form feed ends a CSS string as a newline does; no control character is a name's).
    footer = re.sub(r'[\\"<>\x00-\x1f\x7f]', "", f"Clinical record of {c.client}: confidential")
    parts = [
        cover(c),
        notes(t),
        f'<section class="cn-part">{_markdown(pages.measures(t))}</section>',
        f'<section class="cn-part">{_markdown(pages.plan(t))}</section>',
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(c.client)}: clinical record</title>"
        f"<style>{STYLE % {'footer': footer}}</style></head><body>{''.join(parts)}</body></html>"
    )
