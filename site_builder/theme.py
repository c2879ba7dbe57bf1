"""Everything specific to Material for MkDocs, in one place.

A move to Material's successor (or back to MkDocs' own theme) changes this module only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

# Material 9.8 prints an end-of-life notice when its theme is imported (9.8.2: only under a
# program named mkdocs); not for a practitioner's terminal. Set before anything can import
# the theme: `open` loads it in a warm-up thread while the passphrase is typed.
QUIET_ENV = {"NO_MKDOCS_2_WARNING": "1"}

#: The major versions of mkdocs-material that client sites were built and checked with (its
#: templates, the inline scripts hashed into the CSP, search).
#: tests/packages/site_builder/test_material.py fails, saying what to do, when another is
#: installed. See docs/decisions.md, Material's end of life.
SUPPORTED_MATERIAL_MAJORS = (9,)


NAME = "material"
# The templates a page of ours is rendered with, compiled while the passphrase is derived.
TEMPLATES = (
    "main.html",
    "base.html",
    *(
        f"partials/{name}.html"
        for name in (
            "actions comments content copyright feedback footer header icons integrations/analytics "
            "javascripts/base javascripts/content language languages/en logo nav-item nav search "
            "source-file tags toc-item toc"
        ).split()
    ),
)


def mkdocs_config(site_name: str, nav: list[tuple[str, str]], banner: str | None = None) -> dict[str, Any]:
    """The mkdocs.yml of a client site: private, offline, fast to build."""
    return {
        "site_name": site_name,
        "docs_dir": "docs",
        "site_dir": "site",
        "use_directory_urls": False,  # plain files: the server maps paths to files, nothing more
        "theme": {
            "name": NAME,
            "font": False,  # no Google Fonts: the site makes no request beyond 127.0.0.1
            "features": ["search.highlight", "toc.follow"],
            "palette": {"primary": "indigo"},
            **({"custom_dir": "overrides"} if banner is not None else {}),
        },
        "extra": {"generator": False, "banner": banner},  # no "Made with Material" link elsewhere
        "plugins": ["search"],  # Material's offline search: an index file and a local worker
        # No attr_list: it let a note set any attribute, e.g. a link's referrerpolicy="unsafe-url",
        # which hands the site's secret prefix to wherever the link goes.
        # tasklist: `- [x]` ticks homework off as a checkbox, not the literal "[x]" (issue 30).
        "markdown_extensions": ["tables", "admonition", "md_in_html", "toc", "pymdownx.tasklist"],
        "nav": [{title: path} for title, path in nav],
        "not_in_nav": "sessions/*.md",  # linked from the timeline, not listed in every page's nav
        "validation": {
            "links": {"not_found": "ignore"},
            "nav": {"omitted_files": "ignore", "not_found": "ignore", "absolute_links": "ignore"},
        },
    }


def search_entries(config: Any) -> list[Any]:
    """The list Material's search plugin collects its index in, page by page."""
    [plugin] = [p for p in config.plugins.values() if hasattr(p, "search_index")]
    return plugin.search_index.entries  # type: ignore[no-any-return]


# Material's announcement bar, filled from extra.banner (escaped: a bundle's text is input).
ANNOUNCE = """{% extends "base.html" %}
{% block announce %}<strong>{{ config.extra.banner | e }}</strong>{% endblock %}
"""


def write_overrides(directory: Path) -> None:
    (directory / "overrides").mkdir()
    (directory / "overrides" / "main.html").write_text(ANNOUNCE, encoding="utf-8")


# -- the inline scripts Material writes, allowed by hash in the CSP ------------------------
_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.DOTALL | re.IGNORECASE)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_RELATIVE_URL = r"(?:\.|\.\.(?:/\.\.)*)/?"  # what {{ base_url }} renders to in a built page


@cache
def _material_scripts() -> tuple[re.Pattern[str], ...]:
    """Material's own inline scripts (partials/javascripts/), as patterns over built text.

    Only a script that is exactly one of these gets a hash: a <script> that came in
    through a note's raw HTML (a shared bundle is another practitioner's text) matches
    none, so the CSP blocks it.
    """
    import material

    found = []
    partials = Path(material.__file__).parent / "templates" / "partials" / "javascripts"
    for partial in sorted(partials.glob("*.html")):
        for match in _SCRIPT.finditer(partial.read_text(encoding="utf-8")):
            if "src=" in match.group("attrs"):
                continue
            parts = _JINJA.split(match.group("body"))
            found.append(re.compile(_RELATIVE_URL.join(re.escape(part) for part in parts), re.DOTALL))
    return tuple(found)


def script_hashes(site: Path, pages: Iterable[Path] | None = None) -> set[str]:
    """CSP hashes ('sha256-…') of every inline script of Material's in a built site (or in
    some of its pages: the overview, served while the rest is built)."""
    hashes: set[str] = set()
    for page in site.rglob("*.html") if pages is None else pages:
        hashes |= page_script_hashes(page.read_text(encoding="utf-8", errors="replace"))
    return hashes


def page_script_hashes(html: str) -> set[str]:
    """The CSP hashes of one page's inline scripts of Material's, from its text (as the
    build hands it to be written: no page read back)."""
    patterns = _material_scripts()
    hashes = set()
    for match in _SCRIPT.finditer(html):
        body = match.group("body")
        if body and "src=" not in match.group("attrs") and any(p.fullmatch(body) for p in patterns):
            digest = hashlib.sha256(body.encode("utf-8")).digest()
            hashes.add("sha256-" + base64.b64encode(digest).decode("ascii"))
    return hashes
