"""A stolen laptop, retired at the desk while apart (issue 28): the steps the retired-device
attacks share (tests/attacks/test_retired_authority.py, test_retired_keys.py)."""

from __future__ import annotations

from conftest import PASSPHRASE
from notes import note_text

from helpers.group_purge import Sync
from helpers.retention_vault import Clock, add
from syncd.filing import file_note
from vault import Passphrase, Vault

GENUINE = "Laptop session, sealed before it was lost."
FORGED = "Risk: none. No further sessions needed."


def file_as_syncd(vault: Vault, handle: str, day: str, body: str, extra: str = "") -> str:
    """A note filed as syncd files it; its id."""
    inbox = vault.root.parent / "inbox"
    inbox.mkdir(exist_ok=True)
    draft = inbox / f"{handle}-{day}.md"
    draft.write_text(note_text(client=handle, date=day, note_id=None, body=body, extra=extra))
    filed = file_note(vault, draft)
    draft.unlink(missing_ok=True)
    return filed.sealed.note_id


def texts(vault: Vault, client_id: str) -> list[str]:
    """Every note of the client as the practitioner reads it there."""
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    return [bytes(n.body).decode() for n in vault.read_notes(practitioner, client_id, refused=[])]


def stolen(machines: tuple[Vault, Vault, Sync, Clock]) -> tuple[Vault, Vault, Sync, Clock, str]:
    """The desk's client, a note the laptop sealed and synced; then the laptop is lost
    and the desk retires it, apart from it (the thief never lets it sync the retire)."""
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2019-01-01"])
    sync()
    clock.set("2019-01-10T09:00:00")
    file_as_syncd(laptop, "AB-1", "2019-01-10", GENUINE)
    sync()
    clock.set("2019-02-01T09:00:00")
    desk.trust.retire(desk.unlock(Passphrase(PASSPHRASE)), laptop.device.device_id)
    clock.set("2019-01-15T09:00:00")  # the thief's clock: two weeks before the retire
    return desk, laptop, sync, clock, client_id
