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


class NoteUnfinished(NoteInvalid):
    """A note marked signed whose required sections or fields are not written yet.

    Names every one with its line, in one message: the practitioner fixes them at once.
    """

    def __init__(self, path: Path | str, unfinished: list[tuple[int, str, str]]) -> None:
        self.unfinished = unfinished  # (line, section or field, what is wrong)
        listed = "; ".join(f"{name} (line {line}) {why}" for line, name, why in unfinished)
        why = (
            f"cannot be signed yet: {listed}. Write them, or keep `status: draft` "
            "until you can (a signed note never changes)"
        )
        super().__init__(path, unfinished[0][0], None, why)


class CatalogueInvalid(TemplateError):
    """An instrument's data file does not hold what the catalogue needs (a packaging or
    editing mistake, never the practitioner's): names the file and the field."""

    def __init__(self, path: Path | str, field: str, why: str) -> None:
        super().__init__(path, field, why)
        self.path = Path(path)
        self.field = field
        self.why = why

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.why}"
