"""Write notes into the inbox as a practitioner would. Fictional content only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SESSION_TEXT = "Talked through the unusual word zephyrquill and a plan for the week."


def note_text(
    client: str = "AB-1",
    date: str = "2026-11-20",
    note_id: str | None = "0123456789abcdef",
    status: str = "draft",
    body: str = SESSION_TEXT,
    extra: str = "",
) -> str:
    id_line = f"id: {note_id}\n" if note_id else ""
    return (
        f"---\n{id_line}client: {client}\ndate: {date}\nstatus: {status}\n{extra}---\n\n## Summary\n{body}\n"
    )


def write_note(folder: Path, name: str = "note.md", **fields: Any) -> Path:
    """Write ``note_text(**fields)`` (``note_id=None`` leaves the id out) as ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(note_text(**fields), encoding="utf-8")
    return path


def write_every_section(path: Path, risk: str = "none, denies ideation, plan or intent") -> bytes:
    """Write a line of fictional text under every `## ` heading, assess risk and give the time, as a
    practitioner finishing a note from a template would; returns the new bytes."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        # the risk assessed, and a back-dated note's session time written in (`new` leaves it empty)
        out.append(f"risk: {risk}" if line == "risk:" else 'time: "10:00"' if line == "time:" else line)
        if line.startswith("## "):
            out.append(f"Fictional session text for {line[3:]}.")
    raw = ("\n".join(out) + "\n").encode()
    path.write_bytes(raw)
    return raw
