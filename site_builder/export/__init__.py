"""The client's copy of their record: a PDF to read and print, their notes as Markdown, and
one JSON file of every structured field (HIPAA 164.524, GDPR Art. 15 and 20).

``pdf`` turns HTML into a PDF (any command that hands a document to someone without
casenotes uses it) and protects one with a password; ``signature`` signs it as the
practitioner; ``document`` writes the record's HTML from the pages the site already makes;
``structured`` writes the JSON against its schema; ``record`` chooses what is exported and
writes it. Plaintext stays in memory until the files the practitioner asked for.
"""

from __future__ import annotations

from .pdf import html_to_pdf, render_pdf

__all__ = ["html_to_pdf", "render_pdf"]
