"""Decrypting one client for `open`: in two processes at once, the newest notes first, and
the signature checks done while the passphrase is typed.

What it reads, it reads through the vault's public reads (``Vault.open_notes``, which
checks and decrypts as every read does, and ``Vault.audit_decrypt``): the forked child
and the pickled plaintext in its pipe are the site's business, not the core's.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
from collections.abc import Callable, Iterable
from itertools import chain, zip_longest
from typing import Any, TypeVar

from vault import OpenedNote, Vault
from vault.errors import ReadStopped, TamperedFile
from vault.format import revision as revision_format
from vault.format.keys import Practitioner
from vault.store.revisions import Checked

T = TypeVar("T")


def read_notes_in_two(
    vault: Vault,
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
    CheckAhead verified (both processes have them, the child by the fork). ``meanwhile``
    runs here once the child has started, before this process's share: the first
    ``cut`` notes (default half; the child takes more when ``meanwhile`` costs time).
    ``stopped()`` is asked between notes and while the child's share is awaited: once true,
    the child is killed and ReadStopped raised (a Ctrl-C is acted on at once, not after a
    long client's every note is decrypted; `open` passes its signal flag).
    """
    keys = vault.keyring.client_keys(practitioner, client_id)
    note_ids = vault.note_ids(client_id)
    cut = len(note_ids) // 2 if cut is None else max(0, min(cut, len(note_ids)))
    ours, theirs = note_ids[:cut], note_ids[cut:]

    def their_share() -> tuple[int, T, list[tuple[str, str]], list[tuple[str, str]]]:
        found: list[TamperedFile] = []
        passed: list[tuple[str, str]] = []
        opened = vault.open_notes(client_id, theirs, keys, found, checked, others=passed)
        return len(opened), each(opened), [(str(exc.path), exc.why) for exc in found], passed

    child = _Child(their_share)
    count = 0
    try:
        meanwhile()
        passed: list[tuple[str, str]] = []
        mine = vault.open_notes(client_id, ours, keys, damaged, checked, others=passed, stopped=stopped)
        results, count = [each(mine)], len(mine)
        sent = child.result(stopped)
        if sent is None:  # the child failed: its share again, here, meets the same error
            opened = vault.open_notes(
                client_id, theirs, keys, damaged, checked, others=passed, stopped=stopped
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
        vault.audit_decrypt(practitioner, client_id, count + stop.decrypted)
        raise
    finally:
        child.close()
    vault.audit_decrypt(practitioner, client_id, count)
    return results


def read_newest(
    vault: Vault,
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
    note_ids = vault.note_ids(client_id)
    ahead = {path.parent.name: parsed.header.sealed_at for path, (parsed, _, _) in (checked or {}).items()}

    def sealed_at(nid: str) -> str:
        if nid in ahead:
            return ahead[nid]
        revisions = vault.revisions(client_id, nid)
        try:  # the order only: the signature is checked when the note is read
            return revision_format.read_header(revisions[-1][2]).sealed_at
        except (IndexError, OSError):
            return ""  # an empty folder holds nothing (a read error: the complete read reports it)
        except TamperedFile:  # its date unreadable, it may be the newest: read (and reported) now
            return "\uffff"

    newest = sorted(note_ids, key=sealed_at, reverse=True)[:count]
    return vault.open_notes(client_id, sorted(newest), keys, damaged, checked), len(note_ids)


def read_chosen(
    vault: Vault,
    practitioner: Practitioner,
    client_id: str,
    note_ids: Iterable[str],
    damaged: list[TamperedFile],
    checked: Checked | None = None,
) -> list[OpenedNote]:
    """Those of ``note_ids`` the client has, checked and decrypted as any read (a partial
    overview's look at the older notes an addendum's chain of amends leads through); no
    audit entry: the caller counts them with its own."""
    keys = vault.keyring.client_keys(practitioner, client_id)
    there = set(vault.note_ids(client_id))
    return vault.open_notes(client_id, sorted(set(note_ids) & there), keys, damaged, checked)


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


class CheckAhead:
    """The signature check of each note's newest revision, done before it is needed: no
    key is needed, so `open` runs it while the passphrase is typed and derived.

    Made in the thread that reads the vault (the device keys and the note list are read
    here, not beside it); ``run`` then works in another, until ``enough()``. A revision
    that fails is left out, to fail again, and be reported, when it is read. The notes are
    taken from both halves in turn, so that both processes of read_notes_in_two gain.
    """

    def __init__(self, vault: Vault, client_id: str) -> None:
        self.files = vault.revision_files
        self.client_id = client_id
        self.device_keys = self.files.device_keys()
        note_ids = self.files.note_ids(client_id)
        half = len(note_ids) // 2
        pairs = zip_longest(note_ids[:half], note_ids[half:])
        self.order = [nid for nid in chain.from_iterable(pairs) if nid is not None]
        self.checked: Checked = {}

    def run(self, enough: Callable[[], bool]) -> None:
        for nid in self.order:
            if enough():
                return
            revisions = self.files.of(self.client_id, nid)
            if not revisions:
                continue
            path = revisions[-1][2]
            found = self.files.check_early(path, self.device_keys)
            if found is not None:
                self.checked[path] = found
