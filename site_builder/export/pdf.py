"""HTML to PDF with WeasyPrint, and a PDF locked with a password (AES-256, pypdf).

WeasyPrint lays HTML out with Pango and writes the PDF into memory: no file holds the
plaintext until the caller writes the one the practitioner asked for (0600, write-once).
"""

from __future__ import annotations

import io
import logging
import secrets
from pathlib import Path

from vault import durable

# WeasyPrint logs every CSS property it skips and every font it substitutes at WARNING:
# noise on a practitioner's terminal, and never a reason to stop.
logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)

# A readable password to say by phone: six words of the EFF short list would need a word
# list shipped; four groups of five lowercase letters and digits, less ambiguous ones left
# out (no 0/o, 1/l/i), give 4 * 5 * log2(31) = 99 bits.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUPS, GROUP_LENGTH = 4, 5


class Password:
    """A generated PDF password: shown once, never logged (its repr is redacted)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return '<Password "***hidden***">'

    __str__ = __repr__


def new_password() -> Password:
    """A fresh password such as ``kq7mx-3hv9p-tw2ae-9dnrz``: 99 bits, read out in groups."""
    groups = ("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))
    return Password("-".join(groups))


def render_pdf(html: str) -> bytes:
    """The PDF of an HTML document, made in memory. Nothing is fetched: a document that
    names an outside address (a font, an image) gets nothing from it."""
    import weasyprint  # loads Pango: only the commands that make a PDF pay for it

    class FetchNothing(weasyprint.URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: object = None) -> object:
            raise ValueError("a casenotes PDF fetches nothing")

    document = weasyprint.HTML(string=html, url_fetcher=FetchNothing(), base_url="about:blank")
    return bytes(document.write_pdf())


def html_to_pdf(html: str, path: Path) -> None:
    """Write the PDF of ``html`` to ``path`` (a new file, 0600, fsynced): for every command
    that hands a document to a client or to someone without casenotes."""
    write_private(path, render_pdf(html))


def encrypt(pdf: bytes, password: Password) -> bytes:
    """The PDF encrypted with AES-256 (PDF 2.0's standard security handler, revision 6):
    no page opens without the password."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(pdf))
    writer.encrypt(user_password=password.value, owner_password=password.value, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write_private(path: Path, data: bytes) -> None:
    """A new file only the practitioner's account can read (0600), durable before it is named;
    FileExistsError if one is there (an export never overwrites)."""
    durable.write_new(path, data)
