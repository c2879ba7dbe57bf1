"""`casenotes status`'s lines on what protects the records: legal holds, recovery, the key file.

Issue 30, item 8: status said nothing of them, so a practitioner learnt that a client was
held, or that no recovery set existed, only when it was too late. Each line is read from
what lies open (the retention facts the status line already scanned, the recovery record's
counts and date, the key record's second-factor field): no note is decrypted, and the
passphrase is asked for by nobody here (handles only when it was given in the environment).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from retention.purge import Outlook
from vault import Vault
from vault.errors import VaultError
from vault.store import recovery


def _count(number: int, word: str, plural: str | None = None) -> str:
    return f"{number} {word}" if number == 1 else f"{number} {plural or word + 's'}"


def holds_line(seen: Outlook, handles: Callable[[], dict[str, str]]) -> str:
    """``handles``: asked only when a client is held (it may unlock the key)."""
    if not seen.held:
        return "legal holds: none in force"
    named = handles()
    holds = sum(count for _, count in seen.held)
    clients = _count(len(seen.held), "client")
    which = f" ({', '.join(named[c] for c, _ in seen.held if c in named)})" if named else ""
    return (
        f"legal holds: {_count(holds, 'hold')} in force on {clients}{which}: never purged while held; "
        "`casenotes retention status` says why"
    )


def _day(stamp: str) -> str:
    try:
        return f"{dt.date.fromisoformat(stamp[:10]):%d %b %Y}"
    except ValueError:
        return "on a date not recorded"


def recovery_line(vault: Vault) -> str:
    try:
        found = recovery.status(vault)
    except VaultError as exc:
        return f"recovery: the recovery record cannot be read ({exc}); `casenotes verify` says what to do"
    if found is None:
        return (
            "recovery: none set up: a forgotten passphrase leaves every note unreadable; "
            "`casenotes recovery create --shares 3 --threshold 2`"
        )
    return (
        f"recovery: a set made {_day(found.created)}: any {found.threshold} of {found.shares} "
        "custodians' shares set a new passphrase"
    )


def key_file_line(vault: Vault, named: Path | None) -> str:
    """Whether the key asks for a key file (the second factor), and whether the one named
    (--key-file or CASENOTES_KEY_FILE) is there now."""
    try:
        required = vault.requires_key_file()
    except VaultError as exc:
        return f"key file: your key record cannot be read ({exc})"
    if not required:
        return (
            "key file: not required: the passphrase alone unlocks your key "
            "(`casenotes passphrase --key-file PATH` adds a second factor)"
        )
    if named is None:
        return "key file: required, none named: give --key-file PATH or set CASENOTES_KEY_FILE to unlock"
    if not named.is_file():
        return f"key file: required, and {named} is not there: plug in the drive that holds it"
    return f"key file: required, present at {named}"
