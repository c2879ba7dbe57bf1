"""`casenotes open`: decrypt one client into RAM, build the site in process, serve it, wipe it."""

from __future__ import annotations

import datetime as dt
import gc
import multiprocessing
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from note_templates import NoteInvalid
from note_templates.front_matter import parse_sealed
from vault import OpenedNote, Vault
from vault.errors import ReadStopped, TamperedFile, VaultError
from vault.format.keys import Practitioner
from vault.rights.amendments import Shown
from vault.rights.requests import Request
from vault.store.revisions import Checked

from . import pages, ramdir, theme
from .decrypt import CheckAhead, read_chosen, read_newest, read_notes_in_two
from .errors import BuildStopped
from .server import SiteServer, content_security_policy
from .staged_build import StagedBuild, settled, stop_requested
from .stopping import StopFlag
from .timeline import Damaged, Entry, OnFile, Timeline, assemble


@dataclass
class Timings:
    partial: float = 0.0  # from the start until a partial overview could be served (a long history)
    decrypt: float = 0.0  # and the front matter read (after the partial overview, if any)
    overview: float = 0.0  # from then until the overview could be served
    build: float = 0.0  # from then until every page was written


OnOverview = Callable[[bool], object] | None


@dataclass
class BuiltSite:
    directory: Path  # the RAM directory: docs/, site/, mkdocs.yml
    timeline: Timeline
    timings: Timings = field(default_factory=Timings)
    complete: bool = False  # every page written (else the overview only, the rest to come)
    # A partial overview (a long history): (notes shown, notes in all); built in
    # directory/partial, its html served until the complete overview replaces it.
    partial: tuple[int, int] | None = None
    # The CSP hashes of the theme's inline scripts in the pages rendered so far (both
    # processes'), taken from each page's text as it was written.
    scripts: set[str] = field(default_factory=set)

    @property
    def html(self) -> Path:
        return self.directory / ("partial/site" if self.partial else "site")


def load_timeline(
    vault: Vault,
    practitioner: Practitioner,
    client_id: str,
    handle: str,
    include_psychotherapy: bool,
    meanwhile: Callable[[Checked | None], object] | None = None,
) -> Timeline:
    """Decrypt a client's notes; a damaged note is listed as damaged, never dropped.

    From PARALLEL_FROM notes, two processes decrypt and read them (read_notes_in_two):
    the signature checks, decryption and YAML front matter are most of what `open` does
    before MkDocs. ``meanwhile(checked)`` runs once the second process has started (the
    partial overview, built while it decrypts its half), with what was checked ahead."""
    damaged_files: list[TamperedFile] = []
    others: list[tuple[str, str]] = []  # records that are not notes: consents among them
    if len(vault.note_ids(client_id)) >= PARALLEL_FROM and _can_fork():
        settled()  # no thread of ours inside an import at the fork; the check ahead stopped
        checked = _checked_ahead(vault, client_id)
        try:
            shares = read_notes_in_two(
                vault,
                practitioner,
                client_id,
                read_entries,
                damaged_files,
                checked,
                lambda: meanwhile and meanwhile(checked),
                None if meanwhile is None else (len(vault.note_ids(client_id)) - PARTIAL_COST) // 2,
                stop_requested.is_set,
                others,
            )
        except ReadStopped:
            raise BuildStopped() from None
        entries = [entry for share, _ in shares for entry in share]
        unreadable = [note for _, share in shares for note in share]
    else:
        if meanwhile:
            meanwhile(None)
        entries, unreadable = read_entries(
            vault.read_notes(practitioner, client_id, damaged=damaged_files, others=others)
        )
    return timeline_of(
        vault,
        practitioner,
        client_id,
        handle,
        entries,
        damaged_files,
        unreadable,
        others,
        include_psychotherapy,
    )


def timeline_of(
    vault: Vault,
    practitioner: Practitioner,
    client_id: str,
    handle: str,
    entries: list[Entry],
    damaged_files: Sequence[TamperedFile],
    unreadable: Sequence[Damaged],
    others: Sequence[tuple[str, str]],
    include_psychotherapy: bool,
) -> Timeline:
    """The timeline of notes already read (``read_entries``), with who signed and co-signed them, the
    client's age and consents: what `open` and `export` both show beside the notes."""
    damaged = [Damaged(exc.path.parent.name, exc.why) for exc in damaged_files]
    timeline = assemble(handle, entries, [*damaged, *unreadable], include_psychotherapy, _today(vault))
    timeline.cosigned = cosigned(vault, practitioner, client_id)
    timeline.awaiting = awaiting(vault, practitioner, client_id, entries)
    timeline.signers = signers(
        vault, practitioner, {e.device for e in timeline.entries if e.signed and e.device}
    )
    timeline.born = _born(vault, practitioner, client_id)
    timeline.amendments = _amendments(vault, practitioner, client_id)
    timeline.requests = _requests(vault, client_id)
    timeline.consents = _consents(
        vault, practitioner, client_id, [i for i, kind in others if kind == "consent"]
    )
    return timeline


def _consents(
    vault: Vault, practitioner: Practitioner, client_id: str, record_ids: list[str]
) -> list[OnFile]:
    """The consents and releases on file, for the chart header: only the records the read of
    the notes found to be consents are opened (no second pass over the notes)."""
    if not record_ids:
        return []
    from vault.sharing import consent

    try:
        found = consent.on_file(vault, practitioner, client_id, record_ids)
    except (VaultError, ValueError, TypeError):
        return []  # a consent that cannot be read costs the header its line, never the site
    return [
        OnFile(
            c.to_name, dt.date.fromisoformat(c.until), dt.date.fromisoformat(c.revoked) if c.revoked else None
        )
        for c in found
    ]


def _requests(vault: Vault, client_id: str) -> list[Request]:
    """The client's rights requests, for the To do page (their clocks need no key)."""
    from vault.rights import requests

    try:
        return requests.load(vault, client_id)
    except VaultError:
        return []


def _amendments(vault: Vault, practitioner: Practitioner, client_id: str) -> dict[str, list[Shown]]:
    """Amendment requests, denials and statements of disagreement, by the note they concern."""
    from vault.rights import amendments

    try:
        return dict(amendments.on_notes(vault, practitioner, client_id))
    except VaultError:
        return {}  # a decision that cannot be read costs the note its box, never the site


def _born(vault: Vault, practitioner: Practitioner, client_id: str) -> dt.date | None:
    """The date of birth in the client's profile, if one was given (for the age shown)."""
    try:
        dob = vault.read_profile(practitioner, client_id).dob
        return dt.date.fromisoformat(dob) if dob else None
    except (VaultError, ValueError):
        return None  # a profile that cannot be read costs the age, never the site


def signers(vault: Vault, practitioner: Practitioner, devices: set[str]) -> dict[str, str]:
    """The name of the practitioner of each device that signed a note ("you" for your own)."""
    names = {c.practitioner_id: c.name for c in vault.trust.colleagues()}
    names[practitioner.practitioner_id] = "you"
    found = {}
    for device in devices:
        who = vault.trust.device_practitioner(device)
        if who is not None:
            found[device] = names.get(who, f"practitioner {who}")
    return found


def cosigned(vault: Vault, practitioner: Practitioner, client_id: str) -> dict[str, list[tuple[str, str]]]:
    """Who co-signed which note, and when (only co-signatures that still match their note)."""
    from vault.sharing import supervision

    names = {c.practitioner_id: c.name for c in vault.trust.colleagues()}
    names[practitioner.practitioner_id] = "you"
    return {
        note_id: [(names.get(who, f"practitioner {who}"), when) for who, when in found]
        for note_id, found in supervision.cosignatures(vault, client_id).items()
    }


def awaiting(
    vault: Vault, practitioner: Practitioner, client_id: str, entries: Sequence[Entry]
) -> dict[str, list[str]]:
    """Who is to co-sign which of this client's signed notes: from the notes just read and
    the client's supervision files (no other client's folder is looked at)."""
    from vault.sharing import supervision

    names = {c.practitioner_id: c.name for c in vault.trust.colleagues()}
    names[practitioner.practitioner_id] = "you"
    signed = [(e.note_id, e.device, e.sealed_at) for e in entries if e.signed]
    found: dict[str, list[str]] = {}
    for waiting in supervision.awaiting_among(vault, client_id, signed):
        found.setdefault(waiting.note_id, []).append(names.get(waiting.supervisor, waiting.supervisor))
    return found


def _today(vault: Vault) -> dt.date:
    """The day the safety banner counts back from: the vault's clock, on this machine's calendar."""
    return vault.clock().astimezone().date()


_ahead: tuple[Path, str, CheckAhead] | None = None


def check_ahead(vault: Vault, client_id: str) -> Callable[[Callable[[], bool]], object]:
    """The signature check of a client's notes, to run while the passphrase is typed and
    derived (``warm_up(then=...)``: after the theme, in its thread); load_timeline takes
    what was checked by the time it starts, and checks the rest itself."""
    global _ahead
    ahead = CheckAhead(vault, client_id)
    _ahead = (vault.root, client_id, ahead)
    return ahead.run


def _checked_ahead(vault: Vault, client_id: str) -> Checked | None:
    global _ahead
    found, _ahead = _ahead, None
    return found[2].checked if found and found[:2] == (vault.root, client_id) else None


def read_entries(notes: Sequence[OpenedNote]) -> tuple[list[Entry], list[Damaged]]:
    """Front matter and body of each note (parse_sealed: the plain YAML our templates write
    is read without PyYAML's parser, which was half of the time it took to open)."""
    entries, damaged = [], []
    for note in notes:
        try:
            meta, body = parse_sealed(bytes(note.body), Path(note.note_id))
            day = meta.get("date")
            if not isinstance(day, dt.date):
                raise NoteInvalid(note.note_id, 1, "date", "not a date")
        except NoteInvalid as exc:
            damaged.append(Damaged(note.note_id, f"sealed, but its front matter cannot be read: {exc.why}"))
            continue
        for sibling in note.siblings:  # a fork: the other machine's text, never hidden
            try:
                other = parse_sealed(bytes(sibling.body), Path(note.note_id))[1]
            except NoteInvalid:
                other = "(its front matter cannot be read)"
            body += (
                f"\n\n---\n\n## Changed on two machines while apart\n\nThis note was also changed on another "
                f"machine (revision {sibling.revision:06d}-{sibling.device}); `casenotes resolve "
                f"{note.note_id} --keep REVISION` chooses one text. The other text:\n\n{other}\n"
            )
        entries.append(
            Entry(
                note.note_id,
                day,
                str(meta.get("template", "note")),
                meta,
                body,
                note.revision,
                note.final,
                device=note.device,
                sealed_at=note.sealed_at,
            )
        )
    return entries, damaged


def generate(
    directory: Path, timeline: Timeline, banner: str | None = None, partial: tuple[int, int] | None = None
) -> list[str]:
    """Write mkdocs.yml and the overview's Markdown into the RAM directory, and every other
    page as an empty file (MkDocs lists the pages before it reads them; each is written by
    the process that renders it, write_pages); every page's path under docs/.

    ``banner``: a line shown atop every page (a shared bundle: who shared it, why, until when).
    ``partial``: (shown, in all): the overview says atop that it is partial, and reloads.
    """
    name = f"{site_label(timeline.handle)} · casenotes"
    if banner is not None:
        theme.write_overrides(directory)
    docs = directory / "docs"
    (docs / "sessions").mkdir(parents=True)
    names = pages.page_names(timeline)
    for relative in names:
        (docs / relative).touch()
    write_pages(directory, timeline, [OVERVIEW])
    if partial is not None:
        title, _, rest = (docs / OVERVIEW).read_text(encoding="utf-8").partition("\n")
        (docs / OVERVIEW).write_text(f"{title}\n\n{partial_banner(*partial)}{rest}", encoding="utf-8")
    config = theme.mkdocs_config(name, pages.NAV, banner=banner)
    (directory / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return names


def write_pages(directory: Path, timeline: Timeline, names: Iterable[str]) -> None:
    for relative, text in pages.pages_named(timeline, names):
        (directory / "docs" / relative).write_text(text, encoding="utf-8")


def site_label(label: str) -> str:
    """A label fit for mkdocs.yml's site_name: letters, digits, spaces and ``._-`` only.

    Material writes site_name into attributes and titles without escaping, and a shared
    bundle's label is another practitioner's free text: anything else becomes ``-``.
    """
    return re.sub(r"[^\w .-]", "-", label, flags=re.UNICODE)[:80] or "-"


OVERVIEW = "index.md"
# notes: above this, an overview of the newest is served while the rest are read (below it,
# the whole overview is ready within a second of the unlock anyway)
PARTIAL_FROM = 1000
PARTIAL_NOTES = 300  # notes in that overview
# What building the partial overview costs, in notes the second process decrypts meanwhile
# (measured at 2,000: some 0.3 s, at about 0.5 ms a note): it takes that many more.
PARTIAL_COST = 600
PARTIAL_RELOAD = 2  # seconds between the partial overview's reloads (into the complete one once ready)


def partial_banner(shown: int, total: int) -> str:
    """Atop a partial overview: what it leaves out, so that it is never taken for the whole.
    A meta refresh (no script: the CSP allows only the theme's) reloads it; the server
    answers with the complete overview once it is written."""
    return (
        f'<div class="admonition danger cn-partial" role="alert">'
        f'<meta http-equiv="refresh" content="{PARTIAL_RELOAD}">'
        f'<p class="admonition-title">Partial overview: showing the newest {shown} of {total} notes; '
        f"the full overview replaces this in a moment.</p>"
        f"<p>Risk flags, goals, measures and damaged notes from the {total - shown} older notes are not yet "
        f"included below.</p></div>\n\n"
    )


def build(
    directory: Path,
    timeline: Timeline,
    banner: str | None = None,
    on_overview: OnOverview = None,
    scripts: set[str] | None = None,
) -> None:
    """Generate and build the site: the overview first, then every other page.

    ``on_overview(done)`` is called once the overview and the theme's files are written:
    from PARALLEL_FROM notes while the other pages are being rendered (``done`` False;
    what it starts, a server thread, is not in the process forked to render half of
    them), else once every page is (``done`` True). ``scripts`` gets the pages' CSP hashes.
    """
    generate(directory, timeline, banner)
    if stop_requested.is_set():
        raise BuildStopped()  # MkDocs not loaded for a site no one will see
    steps = StagedBuild(directory / "mkdocs.yml", scripts)
    try:
        steps.build_pages([OVERVIEW])
        rest = [uri for uri in steps.pages if uri != OVERVIEW]
        early = len(timeline.entries) >= PARALLEL_FROM and _can_fork()
        if early:
            steps.build_in_two(
                rest,
                pages.weights(timeline),
                forked=lambda: on_overview and on_overview(False),
                write=lambda uris: write_pages(directory, timeline, uris),
            )
        else:
            write_pages(directory, timeline, rest)
            steps.build_pages(rest)
    except BaseException:
        steps.abandon()
        raise
    steps.finish()
    if on_overview and not early:
        on_overview(True)


def build_site(
    vault: Vault,
    practitioner: Practitioner,
    client_id: str,
    handle: str,
    directory: Path,
    include_psychotherapy: bool = False,
    on_stage: Callable[[str], object] = lambda _: None,
    on_overview: Callable[[BuiltSite], object] | None = None,
) -> BuiltSite:
    """Decrypt, generate and build one client's site; ``on_stage`` hears of each step, and
    ``on_overview`` of the moment the overview can be served (see build)."""
    timings = Timings()
    with _long_lived():
        started = time.perf_counter()
        on_stage(f"decrypting the notes of client {client_id}")

        def partial(checked: Checked | None) -> None:
            assert on_overview is not None
            _serve_partial(
                vault, practitioner, client_id, handle, include_psychotherapy, directory, checked, on_overview
            )
            timings.partial = time.perf_counter() - started

        early = on_overview and len(vault.note_ids(client_id)) > PARTIAL_FROM and _can_fork()
        timeline = load_timeline(
            vault, practitioner, client_id, handle, include_psychotherapy, partial if early else None
        )
        timings.decrypt = time.perf_counter() - started
        if stop_requested.is_set():
            raise BuildStopped()  # not a page written after a Ctrl-C
        gc.freeze()  # the timeline too
        site = BuiltSite(directory, timeline, timings)
        on_stage(f"building the site of {len(timeline.entries)} notes")
        started = time.perf_counter()

        def overview(done: bool) -> None:
            timings.overview = time.perf_counter() - started
            site.complete = done
            if on_overview:
                on_overview(site)

        build(directory, timeline, on_overview=overview, scripts=site.scripts)
        timings.build = time.perf_counter() - started
    site.complete = True
    return site


def _serve_partial(
    vault: Vault,
    practitioner: Practitioner,
    client_id: str,
    handle: str,
    include_psychotherapy: bool,
    directory: Path,
    checked: Checked | None,
    on_overview: Callable[[BuiltSite], object],
) -> None:
    """Decrypt the newest PARTIAL_NOTES notes (every check as in any read), build an
    overview of them alone in directory/partial, and hand it to ``on_overview``.
    Run while the second process decrypts its half of all of them."""
    found: list[TamperedFile] = []
    notes, total = read_newest(vault, practitioner, client_id, PARTIAL_NOTES, found, checked)
    entries, unreadable = read_entries(notes)
    damaged = [Damaged(exc.path.parent.name, exc.why) for exc in found]
    older = {} if include_psychotherapy else _chains_outside(vault, practitioner, client_id, entries, checked)
    timeline = assemble(handle, entries, damaged + unreadable, include_psychotherapy, _today(vault), older)
    site = BuiltSite(directory, timeline, partial=(len(notes) + len(found), total))
    timeline.partial = site.partial
    generate(site.html.parent, timeline, partial=site.partial)
    steps = StagedBuild(site.html.parent / "mkdocs.yml", site.scripts)
    try:
        steps.build_pages([OVERVIEW])
    finally:
        steps.abandon()
    # Audited before it is shown, as every read is (the complete read writes its own entry):
    # a kill while the rest are read must not leave these notes seen and unrecorded.
    vault.audit_decrypt(practitioner, client_id, len(notes) + len(older))
    on_overview(site)


def _chains_outside(
    vault: Vault, practitioner: Practitioner, client_id: str, entries: list[Entry], checked: Checked | None
) -> dict[str, dict[str, object]]:
    """Front matter of the older notes that the newest batch's addenda amend, and of those
    they amend in turn, to the chain's start: a psychotherapy note's addendum is kept apart
    however far back the note is (the complete overview's rule). A few notes, read as any."""
    known = {e.note_id: e.meta for e in entries}
    older: dict[str, dict[str, object]] = {}
    wanted = _amended(known.values(), known)
    while wanted:
        opened = read_chosen(vault, practitioner, client_id, wanted, [], checked)
        found = {e.note_id: e.meta for e in read_entries(opened)[0]}
        older.update(found)
        known.update(found)
        wanted = _amended(found.values(), known) - set(wanted)  # a chain that loops ends
    return older


def _amended(metas: Iterable[Mapping[str, object]], known: Mapping[str, object]) -> set[str]:
    """The notes these amend that are not among ``known`` (kept_apart follows ``amends``)."""
    return {str(m["amends"]) for m in metas if isinstance(m.get("amends"), str) and m["amends"] not in known}


@contextmanager
def _long_lived() -> Iterator[None]:
    """What is in memory now (MkDocs, Material, the compiled theme; then the timeline) kept
    out of the garbage collector's full passes while the site is built: none of it is
    garbage yet, and each pass would walk all of it, in the forked processes too, touching
    (and so copying) the pages they share. Unfrozen once built."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def build_shared_site(
    label: str,
    notes: Sequence[OpenedNote],
    directory: Path,
    banner: str,
    on_overview: Callable[[BuiltSite], object] | None = None,
) -> BuiltSite:
    """A read-only site of notes a colleague shared (already cut to what the consent covers)."""
    entries, damaged = read_entries(notes)
    site = BuiltSite(directory, assemble(site_label(label), entries, damaged, include_psychotherapy=True))

    def overview(done: bool) -> None:
        site.complete = done
        if on_overview:
            on_overview(site)

    build(directory, site.timeline, banner, on_overview=overview, scripts=site.scripts)
    site.complete = True
    return site


PARALLEL_FROM = 120  # notes: below this, a second process costs more than it saves


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


class OpenSite:
    """A site being served, from its overview on; close() wipes it."""

    def __init__(
        self, vault: Vault, subject: dict[str, str], site: BuiltSite, stop: StopFlag | None = None
    ) -> None:
        self.vault = vault
        self.subject = subject  # what the audit entries name: {"client": id} or {"share": ...}
        self.site = site
        # the pages rendered so far: the overview alone while the rest are built
        self.server = SiteServer(site.html, site.scripts, complete=site.complete)
        # Set by stop(), or by a signal handler (stop= its flag): no lock (stopping.py).
        self.stop_event = StopFlag() if stop is None else stop
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

    def start(self) -> None:
        """Answer requests from now on (the overview alone until completed())."""
        self.server.start()

    def replace(self, site: BuiltSite) -> None:
        """The complete overview written: served from now on in the partial one's place."""
        self.site = site
        self.server.csp = content_security_policy(site.scripts)
        self.server.root = site.html.resolve()

    def completed(self) -> None:
        """Every page is written: serve them all (their scripts allowed by hash)."""
        self.server.csp = content_security_policy(self.site.scripts)
        self.server.touch()  # the idle timeout counts from the whole site
        self.server.complete.set()

    def serve(self, idle_timeout: float) -> str:
        """Serve until stop() or the idle timeout; returns why it ended."""
        return self.server.serve_until(self.stop_event, idle_timeout)

    def stop(self) -> None:
        self.stop_event.set()

    def close(self, reason: str) -> None:
        self.server.close()
        ramdir.wipe(self.site.directory)
        self.vault.audit.append("site-close", reason=reason, **self.subject)
