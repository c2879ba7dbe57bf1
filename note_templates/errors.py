"""Typed errors of note parsing and validation."""

from __future__ import annotations

from pathlib import Path


class TemplateError(Exception):
    """Base of every error note_templates raises."""

    exit_code = 1


class NoteInvalid(TemplateError):
    """A note's front matter is missing or wrong. Never quotes the offending value."""

    def __init__(self, path: Path | str, line: int, field: str | None, why: str) -> None:
        super().__init__(path, line, field, why)
        self.path = Path(path)
        self.line = line
        self.field = field
        self.why = why

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return f"{where}: {self.field}: {self.why}" if self.field else f"{where}: {self.why}"
