"""Reading: the newest revision of each note, and client profiles, decrypted and audited."""

from __future__ import annotations

import os
import pickle
import select
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain, zip_longest
from pathlib import Path
from typing import Any, Protocol, TypeVar

from nacl.public import PrivateKey

from ..errors import ReadStopped, TamperedFile, UnknownNote
from ..format import key_generations, sync_artefacts
from ..format import revision as revision_format
from ..format.encoding import is_id
from ..format.keys import Practitioner
from ..format.redact import Plaintext
from . import forks
from .audit import AuditLog
from .authority import Judge
from .client_keys import Keyring
from .clients import PROFILE_RECORD_ID, Profile
from .profile_index import ProfileIndex, index_file, names_in, stamp
from .revisions import Checked, Revisions, file_stat, listing, load

T = TypeVar("T")


class Readable(Protocol):
    """What reading uses of a vault (`Vault` has it): the revision files, the client keys
    and the audit log, not the `Vault`."""

    @property
    def revision_files(self) -> Revisions: ...
    @property
    def keyring(self) -> Keyring: ...
    @property
    def audit(self) -> AuditLog: ...


@dataclass(frozen=True, repr=False)
class OpenedNote:
    """The newest revision of one note, decrypted."""

    note_id: str
    revision: int
    sealed_at: str
    final: bool
    body: Plaintext
    device: str = ""
    # A fork (vault/store/forks.py): the other machines' texts of this note, shown beside it.
    siblings: tuple[OpenedNote, ...] = ()

    def __repr__(self) -> str:
        return f"<OpenedNote {self.note_id} r{self.revision}>"


def read_notes(
    vault: Readable,
    practitioner: Practitioner,
    client_id: str,
    note_id: str | None = None,
    damaged: list[TamperedFile] | None = None,
    refused: list[TamperedFile] | None = None,
    others: list[tuple[str, str]] | None = None,
) -> list[OpenedNote]:
    """The standing revision of each note of a client (or of one note), decrypted;
    ``refused``: where revisions authority refuses are put (else they are damage).
    ``others``: given, gets (record id, kind) of each record passed over (a consent, an
    attached document), known from the header read anyway: no second pass to find them."""
    if note_id is not None and (not is_id(note_id) or note_id == PROFILE_RECORD_ID):
        raise UnknownNote(f"for client {client_id}", "with that id (ids are 16 hex digits)")
    keys = vault.keyring.client_keys(practitioner, client_id)
    if note_id is not None and not vault.revision_files.of(client_id, note_id):
        raise UnknownNote(f"for client {client_id}", note_id)
    note_ids = [note_id] if note_id else vault.revision_files.note_ids(client_id)
    opened = _open_notes(vault, client_id, note_ids, keys, damaged, refused=refused, others=others)
    audit_decrypt(vault, practitioner, client_id, len(opened))
    return opened


def read_notes_in_two(
    vault: Readable,
    practitioner: Practitioner,
    client_id: str,
    each: Callable[[list[OpenedNote]], T],
    damaged: list[TamperedFile],
    checked: Checked | None = None,
    meanwhile: Callable[[], object] = lambda: None,
    cut: int | None = None,
    stopped: Callable[[], bool] = lambda: False,
    others: list[tuple[str, str]] | None = None,
) -> list[T]:
    """Every note of a client decrypted by two processes at once, each share handed to
    ``each``; its results (one per share, this process's first).

    A child forked from this process decrypts the second half of the notes and sends
    ``each``'s result (plaintext, pickled) back through a pipe, never a file; the
    damaged revisions it met come back as (path, why). If it fails for any other reason,
    this process decrypts its share again, meeting (and raising) the same error. One
    audit entry counts the notes of both. The caller forks only where no other thread
    holds a lock (site_builder waits for its warm-up first). ``checked``: revisions
    check_ahead verified (both processes have them, the child by the fork). ``meanwhile``
    runs here once the child has started, before this process's share: the first
    ``cut`` notes (default half; the child takes more when ``meanwhile`` costs time).
    ``stopped()`` is asked between notes and while the child's share is awaited: once true,
    the child is killed and ReadStopped raised (a Ctrl-C is acted on at once, not after a
    long client's every note is decrypted; `open` passes its signal flag).
    """
    keys = vault.keyring.client_keys(practitioner, client_id)
    note_ids = vault.revision_files.note_ids(client_id)
    cut = len(note_ids) // 2 if cut is None else max(0, min(cut, len(note_ids)))
    ours, theirs = note_ids[:cut], note_ids[cut:]

    def their_share() -> tuple[int, T, list[tuple[str, str]], list[tuple[str, str]]]:
        found: list[TamperedFile] = []
        passed: list[tuple[str, str]] = []
        opened = _open_notes(vault, client_id, theirs, keys, found, checked, others=passed)
        return len(opened), each(opened), [(str(exc.path), exc.why) for exc in found], passed

    child = _Child(their_share)
    count = 0
    try:
        meanwhile()
        passed: list[tuple[str, str]] = []
        mine = _open_notes(vault, client_id, ours, keys, damaged, checked, others=passed, stopped=stopped)
        results, count = [each(mine)], len(mine)
        sent = child.result(stopped)
        if sent is None:  # the child failed: its share again, here, meets the same error
            opened = _open_notes(
                vault, client_id, theirs, keys, damaged, checked, others=passed, stopped=stopped
            )
            sent = (len(opened), each(opened), [], [])
        count += sent[0]
        results.append(sent[1])
        damaged += [TamperedFile(path, why) for path, why in sent[2]]
        if others is not None:
            others += [*passed, *sent[3]]
    except ReadStopped as stop:
        # What was decrypted before the stop is audited (the child's share, killed, is not
        # known: counted as none of it); then the caller stops.
        audit_decrypt(vault, practitioner, client_id, count + stop.decrypted)
        raise
    finally:
        child.close()
    audit_decrypt(vault, practitioner, client_id, count)
    return results


def read_newest(
    vault: Readable,
    practitioner: Practitioner,
    client_id: str,
    count: int,
    damaged: list[TamperedFile],
    checked: Checked | None = None,
) -> tuple[list[OpenedNote], int]:
    """The ``count`` notes sealed last (by their newest revision's signed header's
    sealed_at), checked and decrypted as any read, and how many notes the client has: an
    overview of them is shown while the rest are read. No audit entry: the complete read
    that follows counts these with the rest in its one entry (the caller audits these if
    it never comes)."""
    keys = vault.keyring.client_keys(practitioner, client_id)
    note_ids = vault.revision_files.note_ids(client_id)
    records = vault.revision_files.client_dir(client_id) / "records"
    ahead = {path.parent.name: parsed.header.sealed_at for path, (parsed, _, _) in (checked or {}).items()}

    def sealed_at(nid: str) -> str:
        if nid in ahead:
            return ahead[nid]
        revisions = listing(records / nid)
        try:  # the order only: the signature is checked when the note is read
            return revision_format.parse(revisions[-1][2].read_bytes(), revisions[-1][2]).header.sealed_at
        except (IndexError, OSError):
            return ""  # an empty folder holds nothing (a read error: the complete read reports it)
        except TamperedFile:  # its date unreadable, it may be the newest: read (and reported) now
            return "\uffff"

    newest = sorted(note_ids, key=sealed_at, reverse=True)[:count]
    return _open_notes(vault, client_id, sorted(newest), keys, damaged, checked), len(note_ids)


POLL = 0.05  # seconds between looks at ``stopped`` while the child's share is awaited


class _Child:
    """``work()`` run in a forked child, its result pickled back through a pipe."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.fd, self.pid, write_end = -1, 0, -1
        try:
            self.fd, write_end = os.pipe()
            self.pid = os.fork()
        except OSError:  # no process or descriptor to spare: the caller reads this share itself
            if write_end >= 0:
                os.close(write_end)
            self.close()
            return
        if self.pid == 0:  # the child: never returns
            code = 1
            try:
                os.close(self.fd)
                for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                    signal.signal(signum, signal.SIG_DFL)  # not the parent's handlers: just stop
                data = pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_end, "wb") as out:
                    out.write(data)
                code = 0
            finally:
                os._exit(code)  # no atexit, no audit checkpoint, no flush of the parent's buffers
        os.close(write_end)

    def result(self, stopped: Callable[[], bool] = lambda: False) -> Any:
        """What the child sent, or None if it failed (or never started); ReadStopped (the
        child killed) as soon as ``stopped()`` is true while it works."""
        if self.fd < 0:
            return None
        chunks = []
        while True:
            if stopped():
                self.close()
                raise ReadStopped()
            if not select.select([self.fd], [], [], POLL)[0]:
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self.fd)
        self.fd = -1
        data = b"".join(chunks)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if not data or os.waitstatus_to_exitcode(status) != 0:
            return None
        try:
            return pickle.loads(data)  # noqa: S301 - our own child's bytes, through our own pipe
        except Exception:  # cut short or garbled: the caller reads the share itself
            return None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.pid:  # this process is unwinding (an error, Ctrl-C): stop the child
            pid, self.pid = self.pid, 0  # once: a second close must not signal a reused pid
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _open_notes(
    vault: Readable,
    client_id: str,
    note_ids: list[str],
    keys: list[PrivateKey],
    damaged: list[TamperedFile] | None,
    checked: Checked | None = None,
    refused: list[TamperedFile] | None = None,
    stopped: Callable[[], bool] = lambda: False,
    others: list[tuple[str, str]] | None = None,
) -> list[OpenedNote]:
    """Check and decrypt the standing revision of each note (vault/store/forks.py); no
    audit entry (the caller's). Revisions authority refuses go to ``damaged`` (shown as
    such), else to ``refused`` (named beside the notes), else raise. ``others`` gets (id,
    kind) of each record that is not a note (read_notes).

    The device keys are read once for all, and each note folder listed once."""
    files = vault.revision_files
    device_keys = files.device_keys()
    records = files.client_dir(client_id) / "records"
    judge = Judge(vault.keyring, client_id)
    own = vault.keyring.device.device_id
    opened: list[OpenedNote] = []
    for nid in note_ids:
        if stopped():
            raise ReadStopped(len(opened))
        revisions = listing(records / nid)
        if not revisions:
            continue  # a folder a first write left empty: holds nothing (see leftovers)
        try:
            # One revision by the practitioner who added the client: nothing to weigh.
            alone = len(revisions) == 1 and judge.owns(revisions[0][1])
            state = (
                forks.State(revisions[0][2], None)
                if alone
                else forks.state(vault, client_id, nid, judge, own)
            )
            for path, why in state.refused:  # never the client's record; reported, never silent
                found = damaged if damaged is not None else refused
                if found is None:
                    raise TamperedFile(path, why)
                found.append(TamperedFile(path, why))
            if state.shown is None:
                continue
            fork, newest = state.fork, state.shown
            parsed = load(newest, device_keys, checked)
            if parsed.header.kind != "note":
                if others is not None:
                    others.append((nid, parsed.header.kind))
                continue  # a consent or an attached document: not a session note
            parsed, body = files.open(newest, keys, parsed)
            siblings = tuple(
                _opened(nid, *files.open(tip, keys)) for tip in (fork.tips if fork else ()) if tip != newest
            )
        except TamperedFile as exc:
            if damaged is None:
                raise
            damaged.append(exc)  # the caller shows it as damaged, never drops it silently
            continue
        opened.append(_opened(nid, parsed, body, siblings))
    return opened


class CheckAhead:
    """The signature check of each note's newest revision, done before it is needed: no
    key is needed, so `open` runs it while the passphrase is typed and derived.

    Made in the thread that reads the vault (the device keys and the note list are read
    here, not beside it); ``run`` then works in another, until ``enough()``. A revision
    that fails is left out, to fail again, and be reported, when it is read. The notes are
    taken from both halves in turn, so that both processes of read_notes_in_two gain.
    """

    def __init__(self, vault: Readable, client_id: str) -> None:
        files = vault.revision_files
        self.device_keys = files.device_keys()
        self.records = files.client_dir(client_id) / "records"
        note_ids = files.note_ids(client_id)
        half = len(note_ids) // 2
        pairs = zip_longest(note_ids[:half], note_ids[half:])
        self.order = [nid for nid in chain.from_iterable(pairs) if nid is not None]
        self.checked: Checked = {}

    def run(self, enough: Callable[[], bool]) -> None:
        for nid in self.order:
            if enough():
                return
            revisions = listing(self.records / nid)
            if not revisions:
                continue
            path = revisions[-1][2]
            try:
                before = file_stat(path)
                parsed = load(path, self.device_keys)
            except (OSError, TamperedFile):
                continue
            if file_stat(path) == before:  # not being written while it was read
                self.checked[path] = (parsed, self.device_keys[parsed.header.device], before)


def audit_decrypt(vault: Readable, practitioner: Practitioner, client_id: str, notes: int) -> None:
    vault.audit.append("decrypt", client=client_id, notes=notes, practitioner=practitioner.practitioner_id)


def _opened(
    note_id: str,
    parsed: revision_format.ParsedRevision,
    body: Plaintext,
    siblings: tuple[OpenedNote, ...] = (),
) -> OpenedNote:
    h = parsed.header
    return OpenedNote(note_id, h.revision, h.sealed_at, h.final, body, h.device, siblings)


def read_profile(vault: Readable, practitioner: Practitioner, client_id: str) -> Profile:
    """One client's profile, decrypted (audited)."""
    profile = _open_profile(vault, practitioner, client_id)
    vault.audit.append("decrypt-profile", client=client_id, practitioner=practitioner.practitioner_id)
    return profile


def _open_profile(vault: Readable, practitioner: Practitioner, client_id: str) -> Profile:
    files = vault.revision_files
    judge = Judge(vault.keyring, client_id)
    revisions = files.of(client_id, PROFILE_RECORD_ID)
    # The newest revision its writer was entitled to (verify names the others).
    standing = [r for r in revisions if judge.owns(r[1]) or not judge(files.load(r[2]).header)]
    if not standing:
        raise TamperedFile(files.client_dir(client_id), "the client's profile is missing")
    _, body = files.open(standing[-1][2], vault.keyring.client_keys(practitioner, client_id))
    return Profile.from_bytes(client_id, body)


def profiles(vault: Readable, practitioner: Practitioner, index_dir: Path | None = None) -> Iterator[Profile]:
    """Profiles of every client this practitioner may read (audited as one decryption).
    ``index_dir``: where the practitioner's profile index lives (vault/store/profile_index.py):
    a client whose profile and access files are as when it was indexed is not decrypted again."""
    if index_dir is None:
        readable = [
            cid
            for cid in vault.revision_files.client_ids()
            if practitioner.practitioner_id in vault.keyring.access_holders(cid)
        ]
        pid = practitioner.practitioner_id
        vault.audit.append("decrypt-profiles", clients=len(readable), practitioner=pid)
        for cid in readable:
            yield _open_profile(vault, practitioner, cid)
        return
    stamps = {}  # one listing of each client's access folder: its holders, and the stamp
    for cid in vault.revision_files.client_ids():
        client_dir = vault.revision_files.client_dir(cid)
        access = names_in(client_dir / "access")
        if practitioner.practitioner_id in access_holders(access or []):
            stamps[cid] = stamp(names_in(client_dir / "records" / PROFILE_RECORD_ID), access)
    vault.audit.append("decrypt-profiles", clients=len(stamps), practitioner=practitioner.practitioner_id)
    index = ProfileIndex(index_file(index_dir, practitioner), practitioner)
    readable = list(stamps)
    for cid, client_stamp in stamps.items():
        profile = index.get(cid, client_stamp)
        if profile is None:
            profile = _open_profile(vault, practitioner, cid)
            index.put(profile, client_stamp)
        yield profile
    index.keep_only(set(readable))
    index.save()


def access_holders(names: list[str]) -> set[str]:
    """`Keyring.access_holders` from a listing of the access folder already made."""
    found = set()
    for name in names:
        if name.endswith(".sealed") and not sync_artefacts.is_artefact(name):
            parsed = key_generations.parse_access(name)
            if parsed is not None:
                found.add(parsed[0])
    return found
