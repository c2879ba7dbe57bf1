"""Purged clients whose files came back: what a sync engine brings after a purge.

Two machines of a group practice replicate the vault. When one purges a client, the
other may meanwhile have written into that client (a hold, a note) without having heard
of the purge; a sync engine then keeps the newer files and recreates their folders, so a
half client folder *revives* under ``clients/<cid>/``. It is no client (its sealed keys
are gone), nothing may seal into it, and nothing may delete it unseen: retention sets it
aside under ``revived/<cid>.<device>/`` (retention/group.py); `verify`, `doctor` and
`status` report it, here, from the audit log alone: from the purge entries a registered
device signed (`signed`), since a line anyone who can write the synced folder adds would
otherwise make a live client "purged", set its keys and notes aside and refuse its notes.

A purge another device began is carried out here only once this device agreed to it
(DESIGN.md invariant 8: destruction is agreed): retention (retention/agreement.py) checks,
from this machine's own copy of the facts, that the client is past retention, was announced
a notice period ago and is held by no one, and writes ``purge-agreed`` in this device's own
log, or ``purge-refused`` with why. Until it agrees, the client is a client here as any
other: listed, opened, sealed into, never set aside, its backups never shredded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..durable import TEMP_PREFIX
from ..format import sync_artefacts
from ..format.encoding import canonical, is_id
from . import ledger
from .audit import Entry, signed_entries

if TYPE_CHECKING:
    from .facts_index import FactsIndex
    from .vault import Vault

REVIVED = "revived"  # vault/revived/<cid>.<device>/: a revived folder set aside
PURGE_LINES = b'"event":"purge-'  # purge-begin, purge-done, purge-agreed, purge-refused
AGREED, REFUSED = ledger.AGREED, ledger.REFUSED  # this device's decisions of another's purge
HALF_REMOVED = ".purged-"  # clients/.purged-<cid>: a folder whose removal was cut short (disposal.py)


def half_removed(root: Path) -> list[Path]:
    """Folders of purged clients whose removal a crash cut short (``clients/.purged-<cid>``):
    cheap to look for, so `verify` finishes them without loading what a purge needs."""
    clients = root / "clients"
    found = sorted(clients.glob(f"{HALF_REMOVED}*")) if clients.is_dir() else []
    return [p for p in found if is_id(p.name.removeprefix(HALF_REMOVED))]


def signed(vault: Vault, index: FactsIndex | None = None) -> list[Entry]:
    """The purge entries of every log that a registered device signed: what `purges`,
    `gone` and `revived` may be given. A retired device's entries dated after its retire
    carry no authority (vault/store/retired.py): they are left out. ``index``: from the
    purge lines this device's facts index kept, each signature checked now (not a search
    through every log)."""
    if index is not None:
        found = index.signed_purges(vault.trust.device_keys())
    else:
        found = signed_entries(vault.audit.directory, vault.trust.device_keys(), PURGE_LINES)
    if not vault.trust.retired():
        return found
    return [e for e in found if vault.trust.retired_after(e.device, e.time, e) is None]


def trusted(entries: Iterable[Entry], signed_purges: Iterable[Entry]) -> list[Entry]:
    """``entries`` without the purge lines no registered device signed: a purge excuses a
    client's missing files only when it is real (a forged line must hide no deletion). Told
    by what each says, not by its device and number alone: a line nobody signed that
    borrows a real purge line's number names another client."""
    real = {_said(e) for e in signed_purges}
    return [e for e in entries if not e.event.startswith("purge-") or _said(e) in real]


def _said(entry: Entry) -> bytes:
    return canonical([entry.device, entry.seq, entry.time, entry.event, entry.data])


@dataclass(frozen=True)
class Purge:
    device: str
    time: str
    done: bool  # that device recorded the end of it (the client's folder removed there)
    seq: int = 0  # its purge-begin in that device's log


def purges(entries: Iterable[Entry]) -> dict[str, Purge]:
    """Client id -> its purge, from every device's log (the first device to begin it).
    ``entries``: `signed` ones."""
    found: dict[str, Purge] = {}
    for entry in entries:
        client = str(entry.data.get("client"))
        if entry.event == "purge-begin" and client not in found:
            found[client] = Purge(entry.device, entry.time, False, entry.seq)
        elif entry.event == "purge-done" and client in found:
            found[client] = Purge(found[client].device, found[client].time, True, found[client].seq)
    return found


def gone(entries: Iterable[Entry], own_device: str) -> dict[str, Purge]:
    """Clients that are no clients on this machine: purged by another device and agreed to
    here, or purged by this one to the end (its own purge cut short is finished by its
    next run)."""
    entries = list(entries)
    agreed, own = decided(entries, own_device)[0], begun(entries, own_device)
    return {
        c: p
        for c, p in purges(entries).items()
        if (p.device == own_device and p.done) or (p.device != own_device and (c in agreed or c in own))
    }


def begun(entries: Iterable[Entry], own_device: str) -> set[str]:
    """Clients whose purge this device began itself."""
    return {str(e.data.get("client")) for e in entries if e.event == "purge-begin" and e.device == own_device}


def decided(entries: Iterable[Entry], own_device: str) -> tuple[set[str], dict[str, str]]:
    """Another device's purges this device agreed to, and those it refused (client -> why),
    from its own log: the newest decision of each client counts."""
    agreed: set[str] = set()
    refused: dict[str, str] = {}
    for e in entries:
        if e.device != own_device or e.event not in (AGREED, REFUSED):
            continue
        client = str(e.data.get("client"))
        if e.event == AGREED:
            agreed.add(client)
            refused.pop(client, None)
        else:
            refused[client] = str(e.data.get("why", ""))
            agreed.discard(client)
    return agreed, refused


def undecided(entries: Iterable[Entry], own_device: str) -> dict[str, Purge]:
    """Purges another device began that this device has not agreed to (yet)."""
    entries = list(entries)
    agreed, own = decided(entries, own_device)[0], begun(entries, own_device)
    return {c: p for c, p in purges(entries).items() if p.device != own_device and c not in agreed | own}


def refusals(entries: Iterable[Entry], own_device: str) -> list[tuple[str, Purge, str]]:
    """(client, purge, why) of every purge by another device this device refused."""
    entries = list(entries)
    refused = decided(entries, own_device)[1]
    pending = undecided(entries, own_device)
    return [(c, pending[c], why) for c, why in sorted(refused.items()) if c in pending]


@dataclass(frozen=True)
class Revived:
    client_id: str
    purge: Purge | None  # None: the log that records it is not here (yet)
    path: Path  # clients/<cid> (not yet set aside) or revived/<cid>.<device>
    files: int
    set_aside: bool

    def describe(self) -> str:
        when = f"purged by device {self.purge.device} at {self.purge.time}" if self.purge else "purged"
        if not self.set_aside:
            return (
                f"{self.files} file(s) of client {self.client_id} arrived after it was {when} (written on a "
                "machine that had not yet heard of the purge): nothing is sealed into it; the next retention "
                f"or backup run sets them aside in vault/{REVIVED}/ (docs/sharing.md)"
            )
        return (
            f"{self.files} file(s) of client {self.client_id} that arrived after it was {when}, set aside "
            "and never deleted by casenotes: `casenotes audit show` names the device that wrote them; ask "
            "its practitioner whether a hold or a note was meant to keep the client (what the purge "
            "destroyed cannot be brought back); once decided, delete this folder on one machine"
        )


def files(folder: Path) -> list[Path]:
    """The files a folder holds, without unlinked temps and a sync engine's own."""
    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(TEMP_PREFIX) and not sync_artefacts.is_artefact(p.name)
    ]


def revived(root: Path, entries: Iterable[Entry], own_device: str) -> list[Revived]:
    """Folders of purged clients that hold files again, and those already set aside."""
    purged_now = gone(entries, own_device)
    found = []
    for client_id in sorted(purged_now):  # only their folders: not a stat of every client's
        folder = root / "clients" / client_id
        if folder.is_dir() and (held := files(folder)):
            found.append(Revived(client_id, purged_now[client_id], folder, len(held), False))
    aside = root / REVIVED
    for folder in sorted(aside.iterdir()) if aside.is_dir() else []:
        client_id = folder.name.partition(".")[0]
        if folder.is_dir() and is_id(client_id):
            found.append(Revived(client_id, purged_now.get(client_id), folder, len(files(folder)), True))
    return found
