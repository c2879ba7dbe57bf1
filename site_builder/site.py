"""`casenotes open`: decrypt one client into RAM, build the site in process, serve it, wipe it."""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from note_templates import NoteInvalid, parse
from vault import Vault
from vault.errors import TamperedFile
from vault.keys import Practitioner

from . import pages, ramdir, theme
from .server import SiteServer
from .timeline import Damaged, Entry, Timeline, assemble


@dataclass
class Timings:
    decrypt: float = 0.0
    generate: float = 0.0
    build: float = 0.0


@dataclass
class BuiltSite:
    directory: Path  # the RAM directory: docs/, site/, mkdocs.yml
    timeline: Timeline
    timings: Timings = field(default_factory=Timings)

    @property
    def html(self) -> Path:
        return self.directory / "site"


def load_timeline(
    vault: Vault, practitioner: Practitioner, client_id: str, handle: str, include_psychotherapy: bool
) -> Timeline:
    """Decrypt a client's notes; a damaged note is listed as damaged, never dropped."""
    damaged_files: list[TamperedFile] = []
    opened = vault.read_notes(practitioner, client_id, damaged=damaged_files)
    damaged = [Damaged(exc.path.parent.name, exc.why) for exc in damaged_files]
    entries = []
    for note in opened:
        try:
            meta, body, _ = parse(bytes(note.body), Path(note.note_id))
            day = meta.get("date")
            if not isinstance(day, dt.date):
                raise NoteInvalid(note.note_id, 1, "date", "not a date")
        except NoteInvalid as exc:
            damaged.append(Damaged(note.note_id, f"sealed, but its front matter cannot be read: {exc.why}"))
            continue
        entries.append(
            Entry(note.note_id, day, str(meta.get("template", "note")), meta, body, note.revision, note.final)
        )
    return assemble(handle, entries, damaged, include_psychotherapy)


def generate(directory: Path, timeline: Timeline) -> Path:
    """Write the Markdown pages and mkdocs.yml into the RAM directory."""
    docs = directory / "docs"
    (docs / "sessions").mkdir(parents=True)
    for relative, text in pages.all_pages(timeline):
        (docs / relative).write_text(text, encoding="utf-8")
    config = directory / "mkdocs.yml"
    config.write_text(
        yaml.safe_dump(theme.mkdocs_config(f"{timeline.handle} · casenotes", pages.NAV), sort_keys=False)
    )
    return config


def build(config_file: Path) -> None:
    """A real `mkdocs build`, in this process (no second interpreter start-up)."""
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    config = load_config(str(config_file))
    config.plugins.on_startup(command="build", dirty=False)
    try:
        mkdocs_build(config)
    finally:
        config.plugins.on_shutdown()


def build_site(
    vault: Vault,
    practitioner: Practitioner,
    client_id: str,
    handle: str,
    directory: Path,
    include_psychotherapy: bool = False,
) -> BuiltSite:
    timings = Timings()
    started = time.perf_counter()
    timeline = load_timeline(vault, practitioner, client_id, handle, include_psychotherapy)
    timings.decrypt = time.perf_counter() - started
    started = time.perf_counter()
    config = generate(directory, timeline)
    timings.generate = time.perf_counter() - started
    started = time.perf_counter()
    build(config)
    timings.build = time.perf_counter() - started
    return BuiltSite(directory, timeline, timings)


class OpenSite:
    """A built site being served; close() (or leaving the with block) wipes it."""

    def __init__(self, vault: Vault, client_id: str, site: BuiltSite) -> None:
        self.vault = vault
        self.client_id = client_id
        self.site = site
        self.server = SiteServer(site.html)
        self.stop_event = threading.Event()
        vault.audit.append("site-open", client=client_id)

    @property
    def url(self) -> str:
        return self.server.url

    def serve(self, idle_timeout: float) -> str:
        """Serve until stop() or the idle timeout; returns why it ended."""
        return self.server.serve_until(self.stop_event, idle_timeout)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self, reason: str) -> None:
        ramdir.wipe(self.site.directory)
        self.vault.audit.append("site-close", client=self.client_id, reason=reason)
