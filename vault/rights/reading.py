"""The audit entries a rights report reads: of these events (of one client), each signed
by a registered device. Each log is read once, and only the lines that name one of the
events (and the client) are parsed and their signatures checked: a client's thousands of
``seal`` entries cost a byte search, not a signature check each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..format import sync_artefacts
from ..format.encoding import canonical
from ..store.audit import Entry, signed_entry
from ..store.authority import Judge

if TYPE_CHECKING:
    from ..store.vault import Vault


def signed(
    vault: Vault, events: Iterable[str], client_id: str | None = None, unchecked: list[str] | None = None
) -> list[Entry]:
    """Entries of ``events`` (of ``client_id``, if given), in time order (then device, seq).
    ``unchecked``: given, gets the name of the log file of each line that names them but no
    registered device's signature checks (unsigned, damaged, or by a device whose
    registration is gone from the folder): a report says it left lines out, never silently."""
    wanted = set(events)
    needles = [canonical({"event": event})[1:-1] for event in wanted]
    client = canonical({"client": client_id})[1:-1] if client_id else None
    keys = vault.trust.device_keys()
    found = []
    # A genuine line copied into another file is one entry; two lines of one device with one
    # number but different words are both read (a stolen machine's key signs the second, to
    # push out the first): `entitled` judges each.
    seen: set[tuple[str, int, bytes]] = set()
    for path in sync_artefacts.glob(vault.audit.directory, "*.log"):
        for line in path.read_bytes().splitlines():
            if client is not None and client not in line:
                continue
            if not any(needle in line for needle in needles):
                continue
            entry = signed_entry(line, keys)
            if entry is None and unchecked is not None:
                unchecked.append(path.name)
            if entry is None or entry.event not in wanted:
                continue
            if client_id is not None and entry.data.get("client") != client_id:
                continue
            said = (entry.device, entry.seq, canonical([entry.time, entry.event, entry.data]))
            if said in seen:
                continue
            seen.add(said)
            found.append(entry)
    return sorted(found, key=lambda e: (e.time, e.device, e.seq))


def entitled(vault: Vault, found: Iterable[Entry]) -> list[Entry]:
    """Those of ``found`` whose device's practitioner could write the client when the entry
    says it was written (vault/store/authority.py, as a revision): a revoked colleague's or
    a retired device's later line records, extends, closes or decides nothing. A client
    whose folder is gone (purged, erased) has no key files to judge by: its entries stand
    as signed, and nothing of it is left to act on."""
    judges: dict[str, Judge | None] = {}
    kept = []
    for entry in found:
        client_id = str(entry.data.get("client"))
        if client_id not in judges:
            here = (vault.client_dir(client_id) / "client.json").exists()
            judges[client_id] = Judge(vault.keyring, client_id) if here else None
        judge = judges[client_id]
        if judge is None or not judge.device(
            entry.device, entry.time, "rights entry", "not acted upon", entry
        ):
            kept.append(entry)
    return kept
