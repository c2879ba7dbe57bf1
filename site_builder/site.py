"""`casenotes open`: decrypt one client into RAM, build the site in process, serve it, wipe it."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from note_templates import NoteInvalid, parse
from vault import OpenedNote, Vault
from vault.errors import TamperedFile
from vault.format.keys import Practitioner

from . import pages, ramdir, theme
from .errors import SiteBuildFailed
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
    if len(opened) >= PARALLEL_FROM and _can_fork():
        entries, unreadable = _read_in_parallel(opened)
    else:
        entries, unreadable = _read(opened)
    return assemble(handle, entries, damaged + unreadable, include_psychotherapy)


def _read(notes: Sequence[OpenedNote]) -> tuple[list[Entry], list[Damaged]]:
    """Front matter and body of each note (YAML is most of the time it takes to open)."""
    entries, damaged = [], []
    for note in notes:
        try:
            meta, body, _ = parse(bytes(note.body), Path(note.note_id))
            day = meta.get("date")
            if not isinstance(day, dt.date):
                raise NoteInvalid(note.note_id, 1, "date", "not a date")
        except NoteInvalid as exc:
            damaged.append(Damaged(note.note_id, f"sealed, but its front matter cannot be read: {exc.why}"))
            continue
        for sibling in note.siblings:  # a fork: the other machine's text, never hidden
            try:
                other = parse(bytes(sibling.body), Path(note.note_id))[1]
            except NoteInvalid:
                other = "(its front matter cannot be read)"
            body += (
                f"\n\n---\n\n## Changed on two machines while apart\n\nThis note was also changed on another "
                f"machine (revision {sibling.revision:06d}-{sibling.device}); `casenotes resolve "
                f"{note.note_id} --keep REVISION` chooses one text. The other text:\n\n{other}\n"
            )
        entries.append(
            Entry(note.note_id, day, str(meta.get("template", "note")), meta, body, note.revision, note.final)
        )
    return entries, damaged


def _read_in_parallel(notes: Sequence[OpenedNote]) -> tuple[list[Entry], list[Damaged]]:
    """Half the notes read in a forked process: it has them from the fork, in memory, and
    sends the parsed entries back through a pipe."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    half = len(notes) // 2

    def work() -> None:
        sender.send(_read(notes[half:]))
        sender.close()

    child = context.Process(target=work, daemon=True)
    child.start()
    sender.close()
    entries, damaged = _read(notes[:half])
    try:
        more_entries, more_damaged = receiver.recv()
    finally:
        receiver.close()
        child.join()
    return entries + more_entries, damaged + more_damaged


def generate(directory: Path, timeline: Timeline, parts: int = 1, banner: str | None = None) -> list[Path]:
    """Write the Markdown pages and their mkdocs.yml into the RAM directory.

    With ``parts=2`` the older month pages go to a second project, built in parallel
    (see build_parallel); the first holds every other page and the newer months.
    ``banner``: a line shown atop every page (a shared bundle: who shared it, why, until when).
    """
    name = f"{site_label(timeline.handle)} · casenotes"
    projects = [
        (directory / "docs", directory / "mkdocs.yml", theme.mkdocs_config(name, pages.NAV, banner=banner))
    ]
    if banner is not None:
        theme.write_overrides(directory)
    if parts == 2:
        helper = theme.mkdocs_config(name, pages.NAV, helper=True)
        projects.append((directory / "docs-helper", directory / "mkdocs-helper.yml", helper))
    for docs, _, _ in projects:
        (docs / "sessions").mkdir(parents=True)
    all_pages = list(pages.all_pages(timeline))
    months = [p for p in all_pages if p[0].startswith("sessions/")]  # newest first
    helper_share = set(_older_half(months)) if parts == 2 else set()
    for relative, text in all_pages:
        docs = projects[1][0] if relative in helper_share else projects[0][0]
        (docs / relative).write_text(text, encoding="utf-8")
    for _, config_file, config in projects:
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    return [config_file for _, config_file, _ in projects]


def site_label(label: str) -> str:
    """A label fit for mkdocs.yml's site_name: letters, digits, spaces and ``._-`` only.

    Material writes site_name into attributes and titles without escaping, and a shared
    bundle's label is another practitioner's free text: anything else becomes ``-``.
    """
    return re.sub(r"[^\w .-]", "-", label, flags=re.UNICODE)[:80] or "-"


def _older_half(months: list[tuple[str, str]]) -> list[str]:
    """The oldest month pages holding a little over half the text (the first project also
    builds the overview, timeline and other long pages)."""
    total = sum(len(text) for _, text in months)
    taken, share = [], 0
    for relative, text in reversed(months):
        if share >= total * 0.55:
            break
        taken.append(relative)
        share += len(text)
    return taken


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
    on_stage: Callable[[str], object] = lambda _: None,
) -> BuiltSite:
    """Decrypt, generate and build one client's site; ``on_stage`` hears of each step."""
    timings = Timings()
    started = time.perf_counter()
    on_stage(f"decrypting the notes of client {client_id}")
    timeline = load_timeline(vault, practitioner, client_id, handle, include_psychotherapy)
    timings.decrypt = time.perf_counter() - started
    started = time.perf_counter()
    parallel = len(timeline.entries) >= PARALLEL_FROM and _can_fork()
    configs = generate(directory, timeline, parts=2 if parallel else 1)
    timings.generate = time.perf_counter() - started
    on_stage(f"building the site of {len(timeline.entries)} notes" + (" on two cores" if parallel else ""))
    started = time.perf_counter()
    if parallel:
        build_parallel(directory, *configs)
    else:
        build(configs[0])
    timings.build = time.perf_counter() - started
    return BuiltSite(directory, timeline, timings)


def build_shared_site(label: str, notes: Sequence[OpenedNote], directory: Path, banner: str) -> BuiltSite:
    """A read-only site of notes a colleague shared (already cut to what the consent covers)."""
    timings = Timings()
    entries, damaged = _read(notes)
    timeline = assemble(site_label(label), entries, damaged, include_psychotherapy=True)
    build(generate(directory, timeline, banner=banner)[0])
    return BuiltSite(directory, timeline, timings)


PARALLEL_FROM = 120  # notes: below this, a second build costs more than it saves


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


def build_parallel(directory: Path, main: Path, helper: Path) -> None:
    """Build the two projects at once, one per core, then merge them into site/.

    MkDocs builds one page after another; Material spends ~6 ms a note on Markdown,
    templating and search indexing. A forked process builds the older months (from RAM to
    RAM, nothing crosses a disk) while this one builds the rest; the helper's month pages
    are moved in, and its search entries are added to the main index.
    """
    child = multiprocessing.get_context("fork").Process(target=build, args=(helper,), daemon=True)
    child.start()
    try:
        build(main)
    finally:
        child.join()
    if child.exitcode != 0:
        raise SiteBuildFailed(f"the parallel build stopped with code {child.exitcode}")
    site, extra = directory / "site", directory / "site-helper"
    for page in (extra / "sessions").iterdir():
        page.replace(site / "sessions" / page.name)
    index_file = site / "search" / "search_index.json"
    index = json.loads(index_file.read_text(encoding="utf-8"))
    index["docs"] += json.loads((extra / "search" / "search_index.json").read_text(encoding="utf-8"))["docs"]
    index_file.write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(extra)


class OpenSite:
    """A built site being served; close() (or leaving the with block) wipes it."""

    def __init__(self, vault: Vault, subject: dict[str, str], site: BuiltSite) -> None:
        self.vault = vault
        self.subject = subject  # what the audit entries name: {"client": id} or {"share": ...}
        self.site = site
        self.server = SiteServer(site.html, theme.script_hashes(site.html))
        self.stop_event = threading.Event()
        vault.audit.append("site-open", **subject)

    @property
    def url(self) -> str:
        return self.server.url

    def launcher(self) -> Path:
        """A 0600 file in the RAM directory that sends a browser to the token URL.

        A browser is opened at this file, never at the URL: a command line is readable by
        every local user (/proc/PID/cmdline), a file of ours is not.
        """
        path = self.site.directory / "open.html"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(self.server.launcher_html())
        return path

    def serve(self, idle_timeout: float) -> str:
        """Serve until stop() or the idle timeout; returns why it ended."""
        return self.server.serve_until(self.stop_event, idle_timeout)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self, reason: str) -> None:
        ramdir.wipe(self.site.directory)
        self.vault.audit.append("site-close", reason=reason, **self.subject)
