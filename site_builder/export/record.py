"""`casenotes export`: what is exported (plan), then the files written and the disclosure
audited (write). The notes are decrypted into memory; the PDF, the Markdown and the JSON
exist as bytes in memory until each is written, 0600, into the folder the practitioner named.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path

from note_templates import NoteInvalid
from note_templates.excerpt import PSYCHOTHERAPY, kept_apart
from note_templates.front_matter import parse_sealed
from vault import OpenedNote, Vault, durable
from vault.errors import TamperedFile, WriteFailed, reason
from vault.format.keys import Practitioner
from vault.rights import disclosures
from vault.sharing import consent as consents

from ..errors import ExportRefused, OutputNotEmpty, OutputNotPrivate
from ..site import read_entries, timeline_of
from ..timeline import Entry, Timeline
from . import document, signature, structured
from .pdf import Password, encrypt, new_password, render_pdf, write_private

CLIENT = "the client"  # the recipient when none is named: the client's own copy
CLIENT_PURPOSE = "the client's copy of their record (right of access)"
PDF_FILE, JSON_FILE, NOTES_DIR = "record.pdf", "notes.json", "notes"


@dataclass(frozen=True)
class Request:
    """What the practitioner asked for (client data: the names; no repr of them)."""

    client_id: str
    handle: str
    start: dt.date | None = None
    end: dt.date | None = None
    psychotherapy: bool = False
    recipient: str | None = None  # None: the client themself
    purpose: str | None = None
    protect: bool = False
    practice_name: str = ""
    practitioner_name: str = ""

    def __repr__(self) -> str:
        return f"<export of client {self.client_id}>"

    @property
    def period(self) -> str:
        if self.start and self.end:
            return f"{self.start:%d %b %Y} to {self.end:%d %b %Y}"
        if self.start:
            return f"from {self.start:%d %b %Y} on"
        return f"up to {self.end:%d %b %Y}" if self.end else "the whole record"


@dataclass(frozen=True, repr=False)
class Disclosed:
    """The disclosure as the accounting lists it (vault/rights/disclosures.py). Client data."""

    day: dt.date
    to: str
    purpose: str
    what: str  # how many notes, the period, the formats, psychotherapy notes or not
    consent: str | None

    def __repr__(self) -> str:
        return f"<Disclosed {self.day}>"


@dataclass(frozen=True, repr=False)
class Prepared:
    """An export decided and made in memory, nothing written yet: each file's path under the
    folder and its bytes, the disclosure to record, what the cover says was left out. Client data."""

    client_id: str
    files: tuple[tuple[str, bytes], ...]  # (path under the folder, bytes), the PDF first
    audit: Disclosed
    notes: int
    excluded: tuple[str, ...]
    password: Password | None
    fingerprint: str

    def __repr__(self) -> str:
        return f"<Prepared export of {self.notes} notes>"


@dataclass
class Written:
    """What the export wrote, for the command to report (the password shown once)."""

    folder: Path
    notes: int
    excluded: tuple[str, ...]
    paths: list[Path] = field(default_factory=list)
    password: Password | None = None
    fingerprint: str = ""

    @property
    def pdf(self) -> Path:
        return self.folder / PDF_FILE

    @property
    def json(self) -> Path:
        return self.folder / JSON_FILE


def check_consent(vault: Vault, me: Practitioner, request: Request) -> consents.Consent | None:
    """The consent that covers a disclosure to ``request.recipient`` (None for the client's
    own copy); ExportRefused when none does, before a note is decrypted."""
    if request.recipient is None:
        return None
    today = vault.clock().date()
    wanted = request.recipient.strip().casefold()
    named = [c for c in consents.consents(vault, me, request.client_id) if c.to_name.casefold() == wanted]
    in_force = [c for c in named if c.why_not_in_force(today) is None]
    if not in_force:
        why = f" ({named[-1].why_not_in_force(today)})" if named else ""
        raise ExportRefused(
            f"client {request.handle} has no consent in force to disclose their record to "
            f"{request.recipient}{why}: record one with `casenotes consent add {request.handle} --to NAME "
            "--outside --purpose TEXT` first (--outside: they do not use casenotes); nothing was exported"
        )
    chosen = in_force[-1]
    if chosen.sections:
        raise ExportRefused(
            f"consent {chosen.consent_id} covers only the sections {', '.join(chosen.sections)}, and an "
            "export holds whole notes: use `casenotes share`, or record a consent for whole notes"
        )
    if request.psychotherapy and not chosen.psychotherapy:
        raise ExportRefused(
            f"consent {chosen.consent_id} does not name psychotherapy notes: export without "
            "--include-psychotherapy-notes, or record a consent that names them"
        )
    if chosen.start and (request.start is None or request.start.isoformat() < chosen.start):
        raise ExportRefused(
            f"consent {chosen.consent_id} covers notes from {chosen.start} on: add --from {chosen.start}"
        )
    return chosen


def _in_period(t: Timeline, request: Request) -> tuple[Timeline, int]:
    """The timeline cut to the period asked for, and how many notes that left out."""
    kept = [
        e
        for e in t.entries
        if (request.start is None or e.date >= request.start)
        and (request.end is None or e.date <= request.end)
    ]
    ids = {e.note_id for e in kept}
    addenda = {k: [a for a in v if a.note_id in ids] for k, v in t.addenda.items() if k in ids}
    return replace(t, entries=kept, addenda={k: v for k, v in addenda.items() if v}), len(t.entries) - len(
        kept
    )


def _unplaced(entries: list[Entry]) -> set[str]:
    """Ids of the notes whose chain of ``amends`` leads to a note that was not read (it failed
    its integrity check, or is missing): nothing shows that note is not a psychotherapy note,
    so what amends it stays out of a copy as one would (kept_apart cannot follow the chain)."""
    amends = {e.note_id: e.meta.get("amends") for e in entries}
    found = set()
    for start in amends:
        here, seen = start, set()
        while isinstance(amends.get(here), str) and here not in seen:
            seen.add(here)
            here = str(amends[here])
            if here not in amends:
                found.add(start)
                break
    return found


def _forked_apart(opened: list[OpenedNote], entries: list[Entry]) -> set[str]:
    """Ids of the notes changed on two machines while apart where another machine's text is a
    psychotherapy note (the site shows that text under the note, until `resolve`), and of
    what amends them: until the practitioner chooses a text, it is one as far as a copy goes."""
    process = set()
    for note in opened:
        for sibling in note.siblings:
            try:
                meta = parse_sealed(bytes(sibling.body), Path(note.note_id))[0]
            except NoteInvalid:
                continue  # its text is not shown either (read_entries)
            if meta.get("template") == PSYCHOTHERAPY:
                process.add(note.note_id)
    if not process:
        return set()
    return kept_apart(
        {
            e.note_id: {**e.meta, "template": PSYCHOTHERAPY} if e.note_id in process else e.meta
            for e in entries
        }
    )


def _without(t: Timeline, ids: set[str]) -> Timeline:
    kept = [e for e in t.entries if e.note_id not in ids]
    addenda = {k: [a for a in v if a.note_id not in ids] for k, v in t.addenda.items() if k not in ids}
    return replace(t, entries=kept, addenda={k: v for k, v in addenda.items() if v})


def _named(t: Timeline, me: str) -> Timeline:
    """The site says "you" for the practitioner reading it; a copy for someone else names them."""
    signers = {device: me if who == "you" else who for device, who in t.signers.items()}
    cosigned = {
        note: [(me if who == "you" else who, when) for who, when in found]
        for note, found in t.cosigned.items()
    }
    return replace(t, signers=signers, cosigned=cosigned)


def _excluded(
    t: Timeline, request: Request, outside: int, psychotherapy_kept: int, unplaced: int = 0, forked: int = 0
) -> tuple[str, ...]:
    lines = []
    hidden = t.hidden_psychotherapy
    if hidden:
        lines.append(
            f"{hidden} psychotherapy note{'s are' if hidden != 1 else ' is'} not included: "
            f"{document.PSYCHOTHERAPY_WHY}."
        )
    elif request.psychotherapy and psychotherapy_kept:
        lines.append("Psychotherapy notes are included, as the practitioner chose to release them.")
    if outside:
        lines.append(
            f"{outside} note{'s' if outside != 1 else ''} outside the period ({request.period}) "
            f"{'are' if outside != 1 else 'is'} not included: the copy was asked for that period."
        )
    if t.damaged:
        lines.append(
            f"{len(t.damaged)} note{'s' if len(t.damaged) != 1 else ''} failed an integrity check and "
            "could not be read; the practitioner restores them from a backup."
        )
    if unplaced:
        lines.append(
            f"{unplaced} addend{'a' if unplaced != 1 else 'um'} of a note that could not be read "
            f"{'are' if unplaced != 1 else 'is'} not included until that note is restored."
        )
    if forked:
        lines.append(
            f"{forked} note{'s' if forked != 1 else ''} changed on two machines, one of them as a "
            f"psychotherapy note, {'are' if forked != 1 else 'is'} not included until the practitioner "
            "chooses a text."
        )
    return tuple(lines)


def _file_name(entry_date: dt.date, kind: str, note_id: str) -> str:
    """notes/DATE-KIND-ID.md: the kind is a note's own field, so only letters, digits and
    dashes of it reach a file name (never a slash or a dot)."""
    safe = re.sub(r"[^a-z0-9-]+", "-", kind.lower()).strip("-")[:40] or "note"
    return f"{NOTES_DIR}/{entry_date.isoformat()}-{safe}-{note_id}.md"


def export(vault: Vault, me: Practitioner, request: Request, folder: Path) -> Written:
    """Export one client's record into ``folder`` (new or empty): prepare, then write."""
    folder = folder.absolute()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise OutputNotEmpty(folder)
    if folder.exists():
        found = folder.stat()
        if found.st_uid != os.getuid() or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise OutputNotPrivate(folder)
    return write(vault, prepare(vault, me, request), folder)


def prepare(vault: Vault, me: Practitioner, request: Request) -> Prepared:
    """Check the consent, decrypt the notes, and make every file of the export in memory."""
    on_file = check_consent(vault, me, request)
    profile = vault.read_profile(me, request.client_id)
    damaged: list[TamperedFile] = []
    others: list[tuple[str, str]] = []
    opened = vault.read_notes(me, request.client_id, damaged=damaged, others=others)
    sources = {note.note_id: bytes(note.body) for note in opened}
    entries, unreadable = read_entries(opened)
    whole = timeline_of(
        vault,
        me,
        request.client_id,
        request.handle,
        entries,
        damaged,
        unreadable,
        others,
        request.psychotherapy,
    )
    listed = {e.note_id for e in whole.entries}
    unplaced = set() if request.psychotherapy else _unplaced(entries) & listed
    forked = set() if request.psychotherapy else _forked_apart(opened, entries) & listed - unplaced
    whole = _without(whole, unplaced | forked)
    me_named = request.practitioner_name or "the practitioner"
    shown, outside = _in_period(_named(whole, me_named), request)
    kept = sum(1 for e in shown.entries if e.kind == PSYCHOTHERAPY)
    now = vault.clock()
    cover = document.Cover(
        request.practice_name or "(practice name not set)",
        f"{profile.name} ({request.handle})" if profile.name else request.handle,
        request.period,
        now.astimezone().date(),
        request.recipient or CLIENT,
        request.purpose or (on_file.purpose if on_file else CLIENT_PURPOSE),
        _excluded(shown, request, outside, kept, len(unplaced), len(forked)),
    )
    pdf = render_pdf(document.record_html(cover, shown))
    password = new_password() if request.protect else None
    if password is not None:
        pdf = encrypt(pdf, password)
    signer = signature.derive(me, me_named, now)
    pdf = signature.sign(pdf, signer, password)
    exported = [
        structured.Exported(e, sources[e.note_id], _file_name(e.date, e.kind, e.note_id))
        for e in shown.entries
        if e.note_id in sources
    ]
    data = structured.document(
        shown,
        exported,
        shown.signers,
        {"handle": request.handle, "name": profile.name or None},
        (request.start, request.end),
        request.psychotherapy,
        now,
    )
    formats = "PDF (password-protected), Markdown and JSON" if password else "PDF, Markdown and JSON"
    released = "included" if request.psychotherapy and kept else "not included"
    what = (
        f"{len(exported)} note{'s' if len(exported) != 1 else ''} ({request.period}) as {formats}; "
        f"psychotherapy notes {released}"
    )
    audit = Disclosed(
        now.astimezone().date(),
        request.recipient or CLIENT,
        cover.purpose,
        what,
        on_file.consent_id if on_file else None,
    )
    files = ((PDF_FILE, pdf), *((n.file, n.source) for n in exported), (JSON_FILE, structured.to_bytes(data)))
    return Prepared(
        request.client_id, files, audit, len(exported), cover.excluded, password, signer.fingerprint
    )


def write(vault: Vault, prepared: Prepared, folder: Path) -> Written:
    """Audit the disclosure, then write its files (0600, new) into ``folder``; a failure
    half-way removes what was written."""
    # Recorded before a byte is written: a disclosure that crashes half-way is still on record.
    # Its words are sealed under the retention key (the accounting reads them without a
    # passphrase, for six years); the log shows only that client's id exported something.
    said = prepared.audit
    disclosures.record(
        vault,
        prepared.client_id,
        said.day,
        said.to,
        said.purpose,
        said.what,
        event=disclosures.EXPORT_EVENT,
        **({"consent": said.consent} if said.consent else {}),
    )
    made = not folder.exists()
    written = Written(folder, prepared.notes, prepared.excluded, [], prepared.password, prepared.fingerprint)
    try:
        durable.make_dirs(folder)
        try:  # never through a name someone put there since the folder was checked
            os.mkdir(folder / NOTES_DIR, durable.DIR_MODE)
            os.chmod(folder / NOTES_DIR, durable.DIR_MODE)  # the umask may have narrowed it
        except FileExistsError:
            raise OutputNotEmpty(folder) from None
        except OSError as exc:
            raise WriteFailed(folder / NOTES_DIR, reason(exc)) from exc
        durable.fsync_dir(folder)
        for relative, data in prepared.files:
            write_private(folder / relative, data)
            written.paths.append(folder / relative)
    except BaseException:
        _remove(written, made)  # half a copy is no copy, and it is plaintext
        raise
    return written


def _remove(written: Written, made: bool) -> None:
    """What an export that failed half-way wrote (the folder too, if it made it)."""
    for path in written.paths:
        path.unlink(missing_ok=True)
    for folder in [written.folder / NOTES_DIR, *([written.folder] if made else [])]:
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty: not ours alone
