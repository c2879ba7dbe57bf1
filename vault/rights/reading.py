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

if TYPE_CHECKING:
    from ..store.vault import Vault


def signed(vault: Vault, events: Iterable[str], client_id: str | None = None) -> list[Entry]:
    """Entries of ``events`` (of ``client_id``, if given), in time order (then device, seq)."""
    wanted = set(events)
    needles = [canonical({"event": event})[1:-1] for event in wanted]
    client = canonical({"client": client_id})[1:-1] if client_id else None
    keys = vault.trust.device_keys()
    found = []
    for path in sync_artefacts.glob(vault.audit.directory, "*.log"):
        for line in path.read_bytes().splitlines():
            if client is not None and client not in line:
                continue
            if not any(needle in line for needle in needles):
                continue
            entry = signed_entry(line, keys)
            if entry is None or entry.event not in wanted:
                continue
            if client_id is not None and entry.data.get("client") != client_id:
                continue
            found.append(entry)
    return sorted(found, key=lambda e: (e.time, e.device, e.seq))
