"""What an editor leaves in the inbox, and which of it is a note.

Editors save in many ways (write in place, write a temp file and rename, keep swap and
backup files); this module only decides, from a path's name, what a file *is*. The
daemon seals notes, ignores editor machinery, and reports files that hold plaintext but
are not notes (swap, auto-save, backup) as residue for the practitioner to clear.
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path, PurePath


class Kind(enum.Enum):
    NOTE = "note"  # a Markdown note: sealed
    RESIDUE = "residue"  # an editor's swap, auto-save or backup copy: plaintext, reported
    IGNORED = "ignored"  # editor or OS machinery: locks, probes, temp files, metadata


_RESIDUE = [
    re.compile(r"^\..+\.sw[a-p]$"),  # vim swap files: .note.md.swp, .swo, .swx ...
    re.compile(r"^#.+#$"),  # emacs auto-save: #note.md#
    re.compile(r".+~$"),  # vim and emacs backups: note.md~
    re.compile(r".+\.save(\.\d+)?$"),  # nano's emergency save after a crash
]
_IGNORED = [
    re.compile(r"^\d+$"),  # vim's write probe "4913" (and 5036, ...)
    re.compile(r"^\.#"),  # emacs lock symlinks: .#note.md
    re.compile(r"___jb_(tmp|old)___$"),  # JetBrains safe-write temp and old copies
    re.compile(r"^\.DS_Store$|^\._"),  # macOS Finder metadata and AppleDouble files
]


def classify(relative: PurePath) -> Kind:
    """Classify a path relative to the inbox."""
    name = relative.name
    for pattern in _RESIDUE:
        if pattern.search(name):
            return Kind.RESIDUE
    if any(part.startswith(".") for part in relative.parts[:-1]):
        return Kind.IGNORED  # .obsidian/, .git/, .trash/: not notes
    for pattern in _IGNORED:
        if pattern.search(name):
            return Kind.IGNORED
    if name.startswith(".") or not name.lower().endswith(".md"):
        return Kind.IGNORED
    return Kind.NOTE


def backups_of(note: Path) -> list[Path]:
    """Editor copies of a note that go when the note goes (after it is signed and sealed)."""
    return [note.with_name(note.name + "~"), note.with_name(f"#{note.name}#")]


def note_of_residue(residue: PurePath) -> PurePath:
    """The note a residue file most likely belongs to (for the message)."""
    name = residue.name
    for prefix, suffix in ((".", ".swp"), ("#", "#"), ("", "~"), ("", ".save")):
        if name.startswith(prefix) and suffix in name:
            return residue.with_name(name[len(prefix) :].split(suffix)[0])
    return residue


def inbox_files(inbox: Path) -> list[Path]:
    """Every file in the inbox and its folders, hidden folders (.obsidian, .git) left out."""
    found = []
    for folder, dirs, files in os.walk(inbox):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(folder, name) for name in sorted(files)]
    return found
