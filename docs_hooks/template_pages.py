"""MkDocs hook: one page per note template, generated from note_templates so it cannot drift."""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files, InclusionLevel

import note_templates
from note_templates.schema import ALWAYS_REQUIRED, RULES


def _page(template: note_templates.Template) -> str:
    kind = template.kind
    required = ", ".join(f"`{name}`" for name in ALWAYS_REQUIRED + kind.required)
    to_sign = ", ".join(
        [f"the sections {', '.join(s.heading for s in kind.sections)}" if kind.sections else "no section"]
        + [f"`{name}`" for name in kind.to_sign]
    )
    rules = "\n".join(
        f"| `{rule.field}` | {rule.type}"
        + (f" {rule.low}–{rule.high}" if rule.low is not None else "")
        + (f": {', '.join(rule.choices)}" if rule.choices else "")
        + " |"
        for rule in RULES.values()
    )
    return (
        f"# {kind.title} (`{kind.name}`)\n\n{kind.purpose}\n\n"
        f"```sh\ncasenotes new HANDLE --template {kind.name}\n```\n\n"
        f"**Required fields:** {required}.\n\n"
        f"**Required before signing:** {to_sign}.\n\n"
        f"## The template\n\n````markdown\n{template.text}````\n\n"
        f"## Field rules (all kinds)\n\n| field | type |\n|---|---|\n{rules}\n"
        "| `measures.phq9` | whole number 0–27 |\n| `measures.gad7` | whole number 0–21 |\n"
    )


def on_files(files: Files, config: Any) -> Files:
    for name, template in sorted(note_templates.available().items()):
        page = File.generated(
            config, f"templates/{name}.md", content=_page(template), inclusion=InclusionLevel.INCLUDED
        )
        files.append(page)
    return files
