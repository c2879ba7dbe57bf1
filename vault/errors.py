"""Typed errors of the vault, and `Problem`, the reported (not raised) form of a finding.

Each error class carries its user-facing sentence as a template, as borg does: the
command line prints ``str(error)`` and exits with ``exit_code``. Messages name the file
and the fix and never carry a note's text, a name, a handle, a passphrase or a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One integrity finding: which file, and what is wrong with it."""

    path: Path
    why: str
    # Something absent that a sync engine may still bring (a file another device wrote, the
    # end of its audit log, its registration): `verify` words it "not yet synced" while
    # sync is in flight (vault/store/verify.py, SYNC_GRACE).
    missing: bool = False
    # Two machines' work to reconcile, not damage: a sync engine's conflict copy, a forked note.
    conflict: bool = False
    # A purged client's files that came back from another machine (vault/revived/): a
    # decision for the practitioners, not damage a backup would mend.
    revived: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.why}"


class VaultError(Exception):
    """Base of every error the vault raises."""

    exit_code = 1
    template = "vault error: {}"

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.args_ = args

    def __str__(self) -> str:
        return self.template.format(*self.args_)


class WrongPassphrase(VaultError):
    exit_code = 2
    template = "wrong passphrase for {}: try again (Caps Lock?) or check CASENOTES_PASSPHRASE"


class WrongPassphraseOrKeyFile(WrongPassphrase):
    """The key asks for both factors: which of the two is wrong cannot be told, by design."""

    template = (
        "wrong passphrase or key file for {}: this key asks for both; check the passphrase (Caps "
        "Lock?) and that --key-file or CASENOTES_KEY_FILE names the key file you set"
    )


class KeyFileNeeded(WrongPassphrase):
    template = (
        "{} asks for a key file besides the passphrase, and none was given: plug in the drive "
        "that holds it and pass --key-file PATH or set CASENOTES_KEY_FILE"
    )


class NoRecovery(VaultError):
    exit_code = 2
    template = (
        "no recovery is set up for practitioner {}: nothing can reset the passphrase without it "
        "(`casenotes recovery create` makes one while you still know the passphrase)"
    )


class RecoveryFailed(VaultError):
    """The shares given do not open the recovery copy. Never names a share or its words."""

    exit_code = 2
    template = "recovery failed: {}; nothing was changed"


class TamperedFile(VaultError):
    """A file failed an integrity check: changed, truncated, moved or forged."""

    template = "{}: {}; restore it from a backup (casenotes backup restore) and run casenotes verify"

    def __init__(self, path: Path | str, why: str) -> None:
        super().__init__(path, why)
        self.path = Path(path)
        self.why = why


class KeyRecordOutdated(TamperedFile):
    """The practitioner key record is one the ledger recorded before a newer one: put back
    from a backup or a sync engine's version folder. Its passphrase would open it, and what
    was sealed after the change would stay shut: it is refused rather than half used."""

    exit_code = 2
    template = (
        "{}: {}; it is not used: put the newest copy back (from the machine where you changed "
        "the passphrase, or the newest backup) and run `casenotes verify`"
    )

    def __init__(self, path: Path | str) -> None:
        super().__init__(
            path,
            "an older practitioner key record than the audit log records (put back after a passphrase "
            "or key-file change?)",
        )


class KeyFileInvalid(VaultError):
    template = "{}: {}; it was left untouched: restore it from a backup"

    def __init__(self, path: Path | str, why: str) -> None:
        super().__init__(path, why)
        self.path = Path(path)


class NotAPractice(VaultError):
    template = "{} is not a casenotes practice: create one with `casenotes init --practice DIR`"


class PracticeExists(VaultError):
    template = "{} already holds a practice; nothing was changed (choose another --practice DIR)"


class DeviceMissing(VaultError):
    template = (
        "no device key for this practice in {}: this machine is not registered "
        "(set CASENOTES_CONFIG_DIR to the folder that holds it)"
    )


class UnknownClient(VaultError):
    """The handle or client id is not in the vault. The handle is deliberately not shown."""

    template = "no client has this handle{}: check the spelling, or add it with `casenotes client add`"


class HandleAmbiguous(UnknownClient):
    """One handle names two clients: it was added on two machines while they were apart."""

    template = (
        "this handle names {} clients, added on two machines while they were apart ({}); nothing was "
        "guessed: say which by adding @ and the start of the client id to the handle, as in HANDLE@{}"
    )


class UnknownNote(VaultError):
    template = "no note {1} {0}: `casenotes cat HANDLE` shows every note with its id"


class UnknownSnapshot(VaultError):
    """The target is there, but no one snapshot matches the name given (mistyped, or ambiguous)."""

    exit_code = 2

    def __str__(self) -> str:
        name, target, matched, newest = self.args_
        what = f"{matched} snapshots start with {name!r}" if matched else f"no snapshot named {name!r}"
        return (
            f"{what} on {target} (the newest is {newest}): "
            "`casenotes backup list` shows them; give a whole name or a longer prefix"
        )


class HandleNotYours(UnknownClient):
    """The handle names only clients of colleagues that this practitioner cannot read: a
    note sealed into one would be lost to its author (issue 29)."""

    template = (
        "this handle names a colleague's client that you cannot read ({}): nothing is written into it; "
        "for a client of your own, add it under another handle (`casenotes client add OTHER-HANDLE`) "
        "and write that handle in the note; for theirs, ask them to share it "
        "(`casenotes access grant {} YOUR-NAME`), then use HANDLE@{}"
    )


class HandleTaken(VaultError):
    template = "a client already has this handle: choose another one{}"


class InvalidHandle(VaultError):
    template = (
        "invalid handle: use 1-64 letters, digits, '.', '_' or '-', starting with a "
        "letter or digit (a pseudonym such as AB-2024, not a name)"
    )


class NoteLocked(VaultError):
    template = "note {} is signed and can no longer change: write an addendum (casenotes addendum)"


class NoteForked(VaultError):
    """Two machines sealed the same revision of a note while apart (vault/store/forks.py)."""

    template = (
        "note {} was changed on two machines while they were apart: both texts are kept; "
        "`casenotes cat` shows them, `casenotes resolve` chooses one (your draft stays in the inbox)"
    )


class KeyNotUsable(VaultError):
    """A newer key of the client is in the vault but cannot be checked yet (its device's
    registration has not arrived, or it is damaged): sealing to the older one it replaces
    would let a revoked colleague read the note, so nothing is sealed for that client."""

    template = (
        "{}: {}; a newer key of this client cannot be checked yet, so nothing is sealed to the "
        "older one (your draft stays in the inbox): let the sync engine finish, then run "
        "casenotes verify"
    )


class MergeNotHere(VaultError):
    """A new key of the client would be made on a machine whose practitioner may not hold
    it: its maker knows its private key, so the key would not stand on any machine."""

    template = (
        "client {}: its key must be replaced here by a practitioner who keeps access to it, and "
        "the practitioner of this machine does not ({}): nothing is sealed for it here (your "
        "draft stays in the inbox); a colleague who holds the client's key seals or revokes on "
        "their machine first (a key file its maker made after losing access: delete it)"
    )


class NoAccess(VaultError):
    template = "this practitioner holds no key for client {}: ask a colleague with access to grant it"


class NoteTooLarge(VaultError):
    template = "{}: a note may hold at most {} bytes; split it into several notes"


class WriteFailed(VaultError):
    """The disk refused a write (full, read-only, gone): the old state stands."""

    template = "could not write {}: {}; nothing was changed (free some disk space and retry)"

    def __init__(self, path: Path | str, why: str) -> None:
        super().__init__(path, why)
        self.path = Path(path)
        self.why = why


class ReadFailed(VaultError):
    """The disk refused a read (an I/O error, a permission, a folder where a file should be)."""

    template = "could not read {}: {}; check the disk and the file's permissions, then retry"

    def __init__(self, path: Path | str, why: str) -> None:
        super().__init__(path, why)
        self.path = Path(path)
        self.why = why


class ReadStopped(VaultError):
    """A read asked to stop (a Ctrl-C seen by the caller's flag) before it ended, after
    decrypting ``decrypted`` notes (audited as such)."""

    template = "the read was stopped after {} note(s)"

    def __init__(self, decrypted: int = 0) -> None:
        super().__init__(decrypted)
        self.decrypted = decrypted


def reason(exc: OSError) -> str:
    """The system's words for an OSError ("No space left on device"), without the path."""
    return exc.strerror or type(exc).__name__


class NotDurable(WriteFailed):
    """The file (or a folder's new entries) is in place, but its folder could not be made
    durable: something was changed, and may not survive a power cut."""

    template = (
        "{} is written, but its folder could not be made durable ({}): it is in place now but "
        "may not survive a power cut; once the disk is fixed, run the same command again to finish"
    )


class RotationCutShort(WriteFailed):
    """A key rotation of this device's was cut short after its key file was linked, and
    could be neither finished nor undone yet: nothing is sealed to its key meanwhile."""

    template = (
        "{}: a key rotation cut short {}; nothing is sealed to that key meanwhile (your drafts "
        "stay in the inbox): syncd tries again by itself, or run the same command again"
    )


class SealIncomplete(WriteFailed):
    """The revision file is in place, but a later step (fsync, read-back, audit) failed."""

    template = (
        "revision {} was written, but {}; the note stays in the inbox: run the same command "
        "again (or let syncd retry) to finish, it finds this revision and makes no second one"
    )
