"""The daemon: watch the inbox, seal every settled save, keep the plaintext until it is safe.

One thread (the caller's) does all the work; watchdog's observer thread only puts events
on a queue. A path is processed once no event has touched it for the quiet period, so a
burst of saves gives one revision. Nothing is deleted from the inbox except a signed (or
parked) note whose exact bytes the vault holds, durable and read back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import queue
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path, PurePath

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

import note_templates
from note_templates import Kind as NoteKind
from note_templates import NoteFields, NoteInvalid, read_note
from vault import Vault, durable
from vault.durable import fsync_dir
from vault.errors import (
    KeyNotUsable,
    NoteForked,
    NoteLocked,
    NoteTooLarge,
    ReadFailed,
    TamperedFile,
    VaultError,
    WriteFailed,
)
from vault.format.encoding import new_id
from vault.store import recovery

from .editors import Kind, backups_of, classify, inbox_files, note_of_residue
from .errors import ClientNotResolved
from .filing import MAX_NOTE_BYTES, FiledNote, file_note, read_note_bytes
from .jobs import Job, JobRunner
from .lock import DaemonLock
from .parallel import SEAL_THREADS, run_grouped
from .state import FileStatus, State

log = logging.getLogger(__name__)
LOGGED_OUTCOMES = {
    "pending": "could not seal yet; retrying",
    "error": "could not be sealed",
    "refused": "was refused",
    "locked": "is signed: the change waits in the inbox for an addendum",
    "residue": "is an editor's copy holding plaintext: delete it once the editor is closed",
}
#: The events syncd acts on. Asking inotify for these only spares the watcher thread an
#: open and a close event for every read of a draft (syncd's own, an editor's, a backup
#: tool's): in a burst they woke it thousands of times, to contend for the interpreter.
WATCHED_EVENTS = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent]
#: A log record's attribute naming the draft's file in the inbox: for the terminal's lines
#: only (casenotes/logfile.py), never the log file, which outlives a purge and so names a
#: note by id alone (a file name holds a handle and a date).
DRAFT_FILE = "draft_file"
REMOVING = ".casenotes-removing-"  # a plaintext being removed; restored if a crash interrupts


@dataclass(frozen=True)
class DaemonSettings:
    quiet_period: float = 2.0  # seconds without an event before a note is sealed
    draft_ttl: float = 8 * 3600.0  # seconds before an untouched draft is parked
    rescan_every: float = 60.0  # seconds between scans that catch missed events
    max_note_bytes: int = MAX_NOTE_BYTES
    polling: bool = False
    max_hold: float = 30.0  # longest wait for a write that has not been closed
    retry_first: float = 1.0
    retry_max: float = 300.0
    threads: int = SEAL_THREADS  # that file a burst into the vault (syncd/parallel.py)


#: outcomes that leave a note in the inbox, unsealed, until the practitioner acts (or, for
#: "pending", until the disk lets syncd write)
LEFT_STATES = ("pending", "refused", "error", "locked")


@dataclass
class Summary:
    sealed: int = 0
    removed: int = 0
    problems: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # inbox files left unsealed (LEFT_STATES)
    swept: int = 0  # temp files and half-made clients a killed writer left behind
    failed_jobs: dict[str, str] = field(default_factory=dict)  # job -> why, failed in this run


class _NotFiled(Exception):
    """A draft left unfiled because the daemon is stopping (it stays in the inbox)."""


class _Handler(FileSystemEventHandler):
    """Runs on watchdog's thread: only queue the event."""

    def __init__(self, events: queue.Queue[tuple[str, str, str] | None]) -> None:
        self.events = events

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.events.put((event.event_type, os.fsdecode(event.src_path), os.fsdecode(event.dest_path)))


@dataclass
class _Sealed:
    """A note sealed in a group commit: it counts as sealed (and a signed or parked one's
    plaintext goes) once the commit has made its revision durable and audited."""

    path: Path
    key: str
    raw: bytes
    status: FileStatus
    removal: str | None  # "signed" or "parked": its plaintext goes; None: a draft that stays
    new: bool  # a new revision (not the newest one's bytes again)


@dataclass(repr=False)  # no repr: it holds a note's text
class _Draft:
    """An inbox file read and parsed, to be filed into the vault."""

    path: Path
    key: str
    raw: bytes
    mac: str
    park: bool
    fields: NoteFields | None = None
    note_id: str = ""  # its `id:`, else the one syncd gave it: one thread files a note's drafts


class Daemon:
    def __init__(
        self,
        vault: Vault,
        inbox: Path,
        state_dir: Path,
        settings: DaemonSettings = DaemonSettings(),
        jobs: list[Job] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        kinds: Mapping[str, NoteKind] | None = None,
    ) -> None:
        self.vault = vault
        self.kinds = note_templates.kinds() if kinds is None else kinds
        self.inbox = inbox
        self.settings = settings
        self.lock = DaemonLock(state_dir / "syncd.lock")
        self.state = State.load(state_dir / "state.json")
        self.events: queue.Queue[tuple[str, str, str] | None] = queue.Queue()
        self.due: dict[Path, float] = {}
        self.writing: dict[Path, float] = {}  # modified, not yet closed: since when
        self.failures: dict[Path, int] = {}
        self.seen: dict[Path, tuple[int, int, int]] = {}  # (mtime, size, inode) at last look
        self.summary = Summary()
        self._stopping = False  # set by stop(), from a signal handler: a plain attribute, no lock
        self._track_writes = False
        self._removed_from: set[Path] = set()  # inbox folders with removals not yet fsynced
        self._committing: list[_Sealed] | None = None  # sealed in a group commit not yet ended
        self._stamps: dict[str | None, str] = {}  # the vault's change stamps, this rescan (_stamp)
        wall = clock or vault.clock
        builtin = [
            Job("rescan", dt.timedelta(seconds=settings.rescan_every), self.rescan),
            Job("park-drafts", dt.timedelta(seconds=min(600.0, settings.draft_ttl)), self.park_drafts),
            Job("audit-checkpoint", dt.timedelta(hours=1), vault.audit.checkpoint),
            Job("sweep", dt.timedelta(hours=1), self.sweep),
        ]
        self.runner = JobRunner(builtin + (jobs or []), self.state, wall, lambda: self._stopping)

    # -- running ------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask a running daemon to finish; safe from a signal handler, because it takes no
        lock (an Event's set() or a Queue's put() would wait for the lock the main thread
        may hold inside its own wait, forever). The loop sees it within a second."""
        self._stopping = True

    def run(self, ready: Callable[[str], None] | None = None) -> None:
        """Watch until stop(). Drafts not yet quiet stay in the inbox for the next start."""
        with self.lock:
            observer, how = self._start_observer()
            try:
                self.sweep()
                self.rescan(initial=True)
                self.runner.start()
                if ready:
                    ready(how)
                while not self._stopping:
                    try:
                        self._wait_for_events()
                        self._process_due(time.monotonic())
                        self.runner.run_pending()
                        self._save()
                    except Exception:  # the watcher outlives any one failure; the notes stay put
                        log.exception("unexpected error; syncd carries on")
                        time.sleep(1.0)
            finally:
                observer.stop()
                observer.join()
                self._close()
                log.info("stopped; drafts not yet sealed stay in the inbox for the next start")

    def run_once(self) -> Summary:
        """Process everything in the inbox now, run the jobs that are due, and return."""
        with self.lock:
            try:
                self.sweep()
                self.rescan(initial=True)
                self._process_due(float("inf"))
                self.runner.run_due()
                self._process_due(float("inf"))
            finally:
                self._close()
        self.summary.left = sorted(
            key
            for key, status in self.state.files.items()
            if status.state in LEFT_STATES
            and (
                os.path.lexists(self.inbox / key)
                # a removal cut short: the plaintext is still there, under its aside name
                or os.path.lexists((self.inbox / key).with_name(REMOVING + Path(key).name))
            )
        )
        self.summary.failed_jobs = dict(self.runner.failed_now)
        return self.summary

    def sweep(self) -> None:
        """Remove what a killed write left (empty folders, temp files, half-made clients; see
        Vault.sweep), and file index entries two machines wrote while apart under their own
        names. At start, hourly, and on every --once."""
        now = time.time()
        swept = self.vault.sweep(now) + durable.sweep_temps(self.state.path.parent, now)
        # The practice folder's own files (casenotes.yml, written by a restore or `init`);
        # its folders are swept above (vault, state) or are the practitioner's (the inbox).
        root = self.state.path.parent.parent
        swept += durable.sweep_temps(root, now, skip={p.name for p in root.iterdir() if p.is_dir()})
        # The inbox's too: `sign` or the client's form killed as it rewrote a draft left the
        # whole note in a hidden temp file beside it, a plaintext copy no command named.
        swept += durable.sweep_temps(self.inbox, now)
        self.summary.swept += swept
        if swept:
            log.info(
                "removed %d %s of interrupted writes (copies; no note lost)",
                swept,
                "leftover" if swept == 1 else "leftovers",
            )
        for path in self.vault.upgrade_index():
            log.info("filed a handle-index entry two machines wrote while apart under its own name: %s", path)
        # A key rotation of this device's cut short (issue 31 item 10): finished, so that
        # `verify` never calls its access files planted and invites deleting them.
        for path in self.vault.keyring.finish_all():
            log.warning("a key rotation cut short could not be finished yet: %s; retrying later", path)
        try:
            recovery.finish(self.vault)  # a new recovery set recorded, its rename cut short
        except WriteFailed as exc:
            log.warning("a new recovery set could not be put in place yet (%s); retrying later", exc.why)

    def _start_observer(self) -> tuple[BaseObserver, str]:
        handler = _Handler(self.events)
        if not self.settings.polling:
            observer = Observer()
            try:
                observer.schedule(handler, str(self.inbox), recursive=True, event_filter=WATCHED_EVENTS)
                observer.start()
                self._track_writes = True
                return observer, "inotify"
            except OSError as exc:
                log.warning(
                    "cannot watch the inbox for changes (%s): polling instead; on Linux, raise "
                    "fs.inotify.max_user_watches",
                    exc.strerror or exc,
                )
                observer.stop()
                if observer.is_alive():
                    observer.join()
        observer = PollingObserver(timeout=1)
        observer.schedule(handler, str(self.inbox), recursive=True, event_filter=WATCHED_EVENTS)
        observer.start()
        return observer, "polling"

    def _wait_for_events(self) -> None:
        now = time.monotonic()
        waits = [1.0] + [max(0.0, due - now) for due in self.due.values()]
        job_wait = self.runner.seconds_to_next()
        if job_wait is not None:
            waits.append(max(0.0, job_wait))
        try:
            item = self.events.get(timeout=min(waits))
        except queue.Empty:
            return
        while item is not None:
            self._on_event(*item)
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return

    def _on_event(self, kind: str, src: str, dest: str) -> None:
        now = time.monotonic()
        quiet = now + self.settings.quiet_period
        source = Path(src)
        if REMOVING in src or REMOVING in dest:
            return  # our own removal of a signed note's plaintext
        if kind == "moved":
            target = Path(dest)
            self._carry_id(source, target)
            self.due.setdefault(source, quiet)  # to forget it, if it is gone for good
            if target.is_relative_to(self.inbox):
                self.due[target] = quiet
            return
        if kind in ("opened", "closed_no_write", "attrib"):
            return
        if kind == "modified" and self._track_writes:
            self.writing.setdefault(source, now)
        elif kind == "closed":
            self.writing.pop(source, None)
        self.due[source] = quiet

    def _carry_id(self, source: Path, target: Path) -> None:
        """A renamed id-less note keeps the id the daemon gave it."""
        if not target.is_relative_to(self.inbox) or classify(self._rel(target)) is not Kind.NOTE:
            return  # e.g. vim renaming note.md to note.md~ before writing a new note.md
        if classify(self._rel(source)) is Kind.NOTE:
            note_id = self.state.ids.pop(str(self._rel(source)), None)
            if note_id:
                self.state.ids[str(self._rel(target))] = note_id
                self.state.save()

    def _process_due(self, now: float) -> None:
        """Seal every draft that is due as one group commit (`Vault.group_commit`: a burst
        pays one fsync per folder and one for the audit log); only once the commit has made
        their revisions durable and audited do they count as sealed, and does the plaintext
        of those signed go.

        Each draft is read and parsed here, on this thread (which alone keeps the state),
        and filed into the vault on another as soon as it is (syncd/parallel.py: one note's
        files one after another, in order); all are filed before the commit ends.

        A stop asked meanwhile (SIGTERM) ends the burst at the next draft: those filed are
        committed and taken out as usual, the rest stay in the inbox, due again, for the
        next start (a burst of 1,000 took 6 to 7 s past a SIGTERM before)."""
        due = [path for path, at in sorted(self.due.items(), key=lambda item: item[1]) if at <= now]
        for path in due:
            del self.due[path]
        self._committing = []
        try:
            try:
                with self.vault.group_commit():
                    drafts = (
                        draft
                        for path in self._until_stopped(due, now)
                        if (draft := self._prepare(path)) is not None
                    )
                    filed = run_grouped(drafts, self._file, attrgetter("note_id"), self.settings.threads)
                    for draft, outcome in filed:
                        self._outcome(draft, outcome)
            except WriteFailed as exc:  # none of this burst is known durable: each is sealed again
                for note in self._committing:
                    self._retry(note.path, note.key, exc)
                return
            finally:
                committed, self._committing = self._committing, None
            # The plaintext removals on threads too (each a rename, a read and an unlink).
            removals = run_grouped(committed, self._take_out, attrgetter("key"), self.settings.threads)
            for note, removed in removals:
                if isinstance(removed, OSError):
                    self._retry(note.path, note.key, removed, doing="remove its plaintext (it is sealed)")
                elif isinstance(removed, Exception):
                    raise removed
                else:
                    self._committed(note, removed)
        finally:
            self._sync_removals()

    def _until_stopped(self, due: list[Path], now: float) -> Iterator[Path]:
        """DUE's paths until a stop is asked; the rest due again (at the next start: rescanned)."""
        for index, path in enumerate(due):
            if self._stopping:
                self.due.update(dict.fromkeys(due[index:], now))
                return
            yield path

    def _sync_removals(self) -> None:
        """Make a batch's plaintext removals durable: one fsync per inbox folder, not per
        note. Invariant 1 needs none of them (the revision is durable before a removal; a
        removal a crash undoes brings the plaintext back, which is sealed as unchanged and
        removed again), so a burst pays one."""
        while self._removed_from:
            folder = self._removed_from.pop()
            try:
                fsync_dir(folder)
            except OSError as exc:
                log.warning("could not make removals in the inbox durable (%s)", exc.strerror or exc)

    def _save(self) -> None:
        """Persist the state; a full disk only delays it (the state is derived, the notes stay)."""
        if self.state.dirty:
            try:
                self.state.save()
            except WriteFailed as exc:
                log.warning("%s", exc)

    def _close(self) -> None:
        self._save()
        try:
            self.vault.close()
        except WriteFailed as exc:
            log.warning("%s", exc)

    # -- one file -----------------------------------------------------------------------
    def _rel(self, path: Path) -> PurePath:
        return PurePath(path.relative_to(self.inbox))

    def process(self, path: Path, park: bool = False) -> None:
        draft = self._prepare(path, park)
        if draft is None:
            return
        try:
            filed: FiledNote | Exception = self._file(draft)
        except Exception as exc:  # sorted by _outcome
            filed = exc
        self._outcome(draft, filed)

    def _prepare(self, path: Path, park: bool = False) -> _Draft | None:
        """A draft to file into the vault, read and parsed; None if there is nothing to seal
        (gone, ignored, unchanged, still being written, or refused: then its outcome is
        recorded here)."""
        rel = self._rel(path)
        key = str(rel)
        kind = classify(rel)
        if kind is Kind.IGNORED:
            return None
        if not os.path.lexists(path):
            self.state.forget(key)
            self.writing.pop(path, None)
            self.seen.pop(path, None)
            return None
        if kind is Kind.RESIDUE:
            self._report(
                key,
                FileStatus(
                    "residue",
                    reason=(
                        f"an editor's swap or backup copy of {note_of_residue(rel)} holds plaintext: "
                        "delete it once the editor is closed"
                    ),
                ),
            )
            return None
        if self._still_being_written(path):
            log.debug("a draft is still open for writing; waiting")
            self.due[path] = time.monotonic() + self.settings.quiet_period
            return None
        self.writing.pop(path, None)
        try:
            raw = read_note_bytes(path, self.settings.max_note_bytes)
        except (NoteInvalid, NoteTooLarge) as exc:
            self._report(key, FileStatus("refused", reason=str(exc)))
            return None
        except OSError as exc:
            self._retry(path, key, exc)
            return None
        self._remember(path)
        if not raw:
            return None  # VS Code truncates, then writes: the empty moment is never a note
        mac = self.vault.content_mac(raw)
        previous = self.state.files.get(key)
        if not park and previous and previous.mac == mac and previous.state != "pending":
            if previous.vault_stamp is None or previous.vault_stamp == self._stamp(previous.note_id):
                return None  # nothing changed since the last outcome, in the draft or the vault
        draft = _Draft(path, key, raw, mac, park)
        try:
            draft.fields = read_note(raw, path, self.kinds)
        except Exception as exc:
            self._outcome(draft, exc)
            return None
        if draft.fields.note_id is None and key not in self.state.ids:
            self.state.ids[key] = new_id()
            self.state.save()  # durable before the seal: one file, one note, even after a crash
        draft.note_id = draft.fields.note_id or self.state.ids[key]
        return draft

    def _file(self, draft: _Draft) -> FiledNote:
        """Seal a prepared draft (on any thread: it touches the vault, not the daemon's state);
        once a stop is asked, the drafts still queued are left as they are (_NotFiled)."""
        assert draft.fields is not None
        if self._stopping:
            raise _NotFiled()
        return file_note(self.vault, draft.path, draft.raw, draft.note_id, self.kinds, draft.fields)

    def _outcome(self, draft: _Draft, filed: FiledNote | Exception) -> None:
        """Record what filing a draft came to (on the daemon's thread)."""
        path, key, mac = draft.path, draft.key, draft.mac
        try:
            if isinstance(filed, Exception):
                raise filed
            self._sealed(draft, filed)
        except ClientNotResolved as exc:  # a client, a grant may arrive: tried again when they do
            self._report(key, FileStatus("error", reason=str(exc), mac=mac, vault_stamp=self._stamp(None)))
        except _NotFiled:
            self.due[path] = time.monotonic()  # untouched: in the inbox, sealed at the next start
        except (NoteInvalid, NoteTooLarge, TamperedFile) as exc:
            self._report(key, FileStatus("error", reason=str(exc), mac=mac))
        except NoteForked as exc:  # two machines changed it while apart: the draft waits here
            held = FileStatus("conflict", draft.note_id, mac=mac, reason=str(exc))
            held.vault_stamp = self._stamp(draft.note_id)  # until a resolve, here or elsewhere
            self._report(key, held)
        except NoteLocked:
            self._report(
                key,
                FileStatus(
                    "locked",
                    mac=mac,
                    reason=(
                        "this note is signed and sealed; your change is kept here: write an addendum instead"
                    ),
                ),
            )
        # The disk, for now (a full disk, one read error of a record: the note is unchanged,
        # so only a retry with back-off ever files it); or sync still in flight.
        except (WriteFailed, ReadFailed, OSError, KeyNotUsable) as exc:
            self._retry(path, key, exc, mac)
        except VaultError as exc:
            self._report(key, FileStatus("error", reason=str(exc), mac=mac))
        except Exception as exc:  # one odd file must not stop the others, nor the jobs
            log.error("a draft could not be processed (%s)", type(exc).__name__, extra={DRAFT_FILE: key})
            self._report(
                key,
                FileStatus("error", reason=f"{key}: could not be processed ({type(exc).__name__})", mac=mac),
            )

    def _still_being_written(self, path: Path) -> bool:
        """Modified, not yet closed, and written to within the quiet period.

        The close-after-write event (inotify) says a save is complete. Events can arrive
        late or out of order, so a file untouched for a quiet period counts as closed too.
        """
        started = self.writing.pop(path, None)
        if started is None or time.monotonic() - started > self.settings.max_hold:
            return False
        if time.time() - os.lstat(path).st_mtime >= self.settings.quiet_period:
            return False
        self.writing[path] = started
        return True

    def _sealed(self, draft: _Draft, filed: FiledNote) -> None:
        sealed = filed.sealed
        self.failures.pop(draft.path, None)
        status = FileStatus("sealed", sealed.note_id, sealed.revision, mac=draft.mac, updated=_now())
        removal = "signed" if filed.fields.signed else "parked" if draft.park else None
        note = _Sealed(draft.path, draft.key, draft.raw, status, removal, not sealed.unchanged)
        if self._committing is None:
            self._committed(note, self._take_out(note))
        else:
            self._committing.append(note)

    def _take_out(self, note: _Sealed) -> bool:
        """Remove a signed or parked note's plaintext, once its revision is durable and
        audited (on any thread: it touches the inbox, not the daemon's state)."""
        return note.removal is not None and self._remove_plaintext(note.path, note.raw)

    def _committed(self, note: _Sealed, removed: bool) -> None:
        """A note whose revision is durable and audited: recorded as sealed (a state saved
        before a commit ended would skip a draft whose revision a crash lost), and as
        removed if its plaintext is (`_take_out`)."""
        self.state.set(note.key, note.status)
        if note.removal and not removed:  # written to meanwhile, and put back: sealed again
            self.due[note.path] = time.monotonic() + self.settings.quiet_period
        if removed and note.removal:
            self._removed_from.add(note.path.parent)  # made durable once per batch (_sync_removals)
            note.status.state = note.removal
            self.state.ids.pop(note.key, None)
            self.summary.removed += 1
            self.state.set(note.key, note.status)
        gone = f"({note.removal}, in the vault)" if removed else ""
        # One line a note, once it is durable: a burst writes a thousand.
        if note.new:
            self.summary.sealed += 1
            log.info(
                "sealed revision %d of note %s%s",
                note.status.revision,
                note.status.note_id,
                f"; removed its plaintext {gone}" if gone else "",
                extra={DRAFT_FILE: note.key},
            )
        elif gone:
            log.info(
                "removed the plaintext of note %s %s", note.status.note_id, gone, extra={DRAFT_FILE: note.key}
            )

    def _remove_plaintext(self, path: Path, sealed: bytes) -> bool:
        """Remove a note whose exact bytes the vault holds, and its editor backups.

        Rename first, then compare: an editor writing at this very moment either lands
        before the rename (the bytes differ, the note is put back) or creates a new file.
        """
        aside = path.with_name(REMOVING + path.name)
        os.rename(path, aside)
        if aside.read_bytes() != sealed:
            # Written to in the meantime: put it back (beside a newer copy, as residue).
            os.rename(aside, path if not path.exists() else path.with_name(path.name + ".conflict~"))
            return False
        try:
            os.unlink(aside)
        except OSError:
            # Put back under its name, where the practitioner and `status` see it: the caller
            # retries the removal and reports it (left aside, it was out of sight and the run
            # exited 0; the next rescan would have put it back, silently).
            with contextlib.suppress(OSError):
                if not path.exists():
                    os.rename(aside, path)
            raise
        for backup in backups_of(path):
            if backup.is_file() and not backup.is_symlink():
                backup.unlink()
        return True

    def _report(self, key: str, status: FileStatus) -> None:
        """Record an outcome; log it once per change, not on every event."""
        previous = self.state.files.get(key)
        status.updated = _now()
        if not previous or (previous.state, previous.reason, previous.mac) != (
            status.state,
            status.reason,
            status.mac,
        ):
            # The log outlives a purge: it names a note by id, never by its file name
            # (which holds a handle and a date) nor by the reason (which may quote either).
            note_id = status.note_id or self.state.ids.get(key)
            log.warning(
                "%s %s; `casenotes status` names it",
                f"note {note_id}" if note_id else "a draft",
                LOGGED_OUTCOMES.get(status.state, status.state),
                extra={DRAFT_FILE: key},
            )
            self.summary.problems.append(str(status.reason))
            self.state.set(key, status)
        elif previous.vault_stamp != status.vault_stamp:  # held back still, as of a newer vault
            previous.vault_stamp = status.vault_stamp
            self.state.dirty = True

    def _retry(
        self, path: Path, key: str, exc: OSError | VaultError, mac: str | None = None, doing: str = "seal"
    ) -> None:
        """File PATH again after a pause that doubles with each failure in a row (``mac``:
        the content this is about, so that `status` shows why it waits)."""
        count = self.failures.get(path, 0) + 1
        self.failures[path] = count
        wait = min(self.settings.retry_first * 2 ** (count - 1), self.settings.retry_max)
        self.due[path] = time.monotonic() + wait
        what = f"{exc.path}: {exc.why}" if isinstance(exc, (ReadFailed, WriteFailed)) else str(exc)
        self._report(
            key,
            FileStatus(
                "pending", reason=f"{key}: could not {doing} yet ({what}); syncd retries by itself", mac=mac
            ),
        )

    def _stamp(self, note_id: str | None) -> str:
        """The vault's `change_stamp`, once per rescan or burst for all held drafts alike."""
        cached = self._stamps.get(note_id)
        if cached is None:
            cached = self._stamps[note_id] = self.vault.change_stamp(note_id)
        return cached

    def _remember(self, path: Path) -> None:
        info = os.lstat(path)
        self.seen[path] = (info.st_mtime_ns, info.st_size, info.st_ino)

    # -- scans and jobs -----------------------------------------------------------------
    def rescan(self, initial: bool = False) -> None:
        """Catch what the watcher missed (or what changed while syncd was down), and try
        again every draft held back for a reason the vault has since lifted (a fork
        resolved, a client, access or key arrived; its `vault_stamp` differs now)."""
        now = time.monotonic()
        self._stamps.clear()
        for key, status in self.state.files.items():
            if status.vault_stamp is not None and status.vault_stamp != self._stamp(status.note_id):
                self.due.setdefault(self.inbox / key, now)
        present = set()
        for path in inbox_files(self.inbox):
            if path.name.startswith(REMOVING):
                original = path.with_name(path.name[len(REMOVING) :])
                if not original.exists():
                    os.rename(path, original)  # a crash interrupted a removal: put it back
                    path = original
            present.add(path)
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if self.seen.get(path) != (info.st_mtime_ns, info.st_size, info.st_ino):
                settled = info.st_mtime + self.settings.quiet_period - time.time()
                self.due.setdefault(path, now if initial else now + max(0.0, settled))
        for key in list(self.state.files):
            path = self.inbox / key
            if path not in present:
                self.due.setdefault(path, now)

    def park_drafts(self) -> None:
        """Seal and move out of the inbox every draft untouched for draft_ttl."""
        cutoff = time.time() - self.settings.draft_ttl
        for path in inbox_files(self.inbox):
            if classify(self._rel(path)) is Kind.NOTE and path not in self.due:
                try:
                    if os.lstat(path).st_mtime < cutoff:
                        self.process(path, park=True)
                except FileNotFoundError:
                    continue


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
