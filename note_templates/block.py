"""A note's front-matter block as lines, for the writers that change one field in place."""

from __future__ import annotations


def front_lines(raw: bytes) -> tuple[list[str], int, str]:
    """The note's lines (ends kept), the index of the closing ``---``, and its newline;
    ValueError for a note with no front matter, or one never closed."""
    lines = raw.decode("utf-8").splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise ValueError("the note has no front matter")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise ValueError("the front matter is not closed")
    return lines, end, "\r\n" if lines[0].endswith("\r\n") else "\n"
