"""A vault on a clock the test moves by hand, and clients with signed notes filed as
syncd files them: what the retention tests start from."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env
from notes import note_text

from retention import PRESETS, records
from syncd.filing import file_note
from vault import Passphrase, Vault
from vault.store.practice import create_practice

APA = PRESETS["apa"]


class Clock:
    """An injected wall clock the test moves by hand."""

    def __init__(self, start: str) -> None:
        self.now = dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, day: str) -> None:
        self.now = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock("2019-01-01T09:00:00")


@pytest.fixture
def vault(empty: Env, clock: Clock) -> Vault:
    p = empty.practice
    create_practice(p.vault_dir, p.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF, clock=clock).close()
    p.create_layout()
    return Vault(p.vault_dir, p.config_dir, clock)


def add(vault: Vault, handle: str, sessions: list[str], born: str | None = None) -> str:
    """A client with signed notes on the given dates, filed as syncd files them."""
    client_id = vault.add_client(handle, f"Fictional {handle}", born)
    records.register_client(vault, client_id, dt.date.fromisoformat(born) if born else None)
    inbox = vault.root.parent / "inbox"
    for number, day in enumerate(sessions):
        path = inbox / f"{handle}-{number}.md"
        path.write_text(note_text(client=handle, date=day, note_id=None, body=f"{handle} session {number}"))
        file_note(vault, path)
        path.unlink()
    return client_id


def random_middle(secret: bytes) -> bytes:
    """48 bytes from the middle of a file's random part: of a sealed key or a revision its
    middle (ciphertext); of a JSON record its longest value (a signature or a sealed box),
    never its field names, which every client's record shares (the middle of the retention
    facts is ``,"format":"casenotes-retention-facts","nonce":"`` and one random letter:
    another client's file held that slice once in 64 runs)."""
    try:  # a ciphertext may begin with "{" too (1 in 256): a record is what parses as one
        record = json.loads(secret)
    except ValueError:
        record = None
    if isinstance(record, dict):
        values = [v for v in record.values() if isinstance(v, str)]
        secret = max(values, key=len).encode()
    middle = len(secret) // 2
    return secret[max(middle - 24, 0) :][:48]
