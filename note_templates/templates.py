"""Note templates: the built-in kinds, and the practice's own in ``<practice>/templates/``.

A template is a Markdown file with front matter and ``{{placeholders}}``. A file in the
practice's ``templates/`` folder named like a built-in kind (``soap.md``) replaces it; any
other name adds a kind (``couples.md`` -> ``--template couples``), checked with the
common rules. Placeholders: id, client, date, time, title, goals, carried, amends,
amends_date; any other ``{{name}}`` is left as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import TemplateError
from .schema import KINDS, Kind

BUILTIN = Path(__file__).resolve().parent / "kinds"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_KIND_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class UnknownTemplate(TemplateError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(name, known)
        self.name, self.known = name, known

    def __str__(self) -> str:
        known = ", ".join(self.known)
        return f"no template {self.name!r}: choose one of {known} (or add templates/{self.name}.md)"


@dataclass(frozen=True)
class Template:
    kind: Kind
    text: str
    source: Path


def kinds(practice_templates: Path | None = None) -> dict[str, Kind]:
    """The schema kinds, plus a generic kind for each template the practice added."""
    known = dict(KINDS)
    for path in _practice_files(practice_templates):
        known.setdefault(
            path.stem,
            Kind(path.stem, path.stem.replace("-", " ").capitalize(), "Your practice's own template."),
        )
    return known


def _practice_files(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.md") if _KIND_NAME.match(p.stem))


def available(practice_templates: Path | None = None) -> dict[str, Template]:
    """Every template by kind name; the practice's files win over the built-in ones."""
    schema = kinds(practice_templates)
    found = {p.stem: p for p in sorted(BUILTIN.glob("*.md"))}
    found.update({p.stem: p for p in _practice_files(practice_templates)})
    return {
        name: Template(schema[name], path.read_text(encoding="utf-8"), path) for name, path in found.items()
    }


def get(name: str, practice_templates: Path | None = None) -> Template:
    templates = available(practice_templates)
    if name not in templates:
        raise UnknownTemplate(name, sorted(templates))
    return templates[name]


def render(template: Template, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), template.text)


def yaml_list(items: Sequence[str]) -> str:
    """A flow list that YAML reads back exactly (JSON strings are valid YAML)."""
    return json.dumps(list(items), ensure_ascii=False)


def carried_section(homework: Sequence[str]) -> str:
    """The follow-up of last session's homework, for the top of a new note."""
    if not homework:
        return ""
    lines = "".join(f"- [ ] {item}: how did it go?\n" for item in homework)
    return f"## Homework from last session\n{lines}\n"
