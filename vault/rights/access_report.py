"""Who read a client's record, and when: an access report drawn from the audit log.

Every entry that names the client and says it was read, handed on or destroyed (`WHAT`),
and every restore of the whole vault from a backup (which brings back every client), as
signed by a registered device. Who: the practitioner the entry names, else the one whose
device signed it. Times in the caller's time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..store.audit import Entry
from .reading import signed

if TYPE_CHECKING:
    from ..store.vault import Vault

# audit event -> what it means, in a client's words
WHAT = {
    "site-open": "opened the record (casenotes open)",
    "decrypt": "decrypted notes (read, printed, opened or exported)",
    "decrypt-profile": "decrypted the client's name and details",
    "decrypt-consents": "read the client's consents",
    "decrypt-amendments": "read the client's amendment decisions and statements",
    "share": "shared notes with a colleague",
    "export": "exported a copy of the record",
    "disclosure": "recorded a disclosure",
    "restore": "restored the whole practice from a backup",
    "purge-begin": "began destroying the record (crypto-shredding)",
    "purge-done": "finished destroying the record",
    "dispose": "signed a disposal certificate",
    "access-grant": "gave a colleague access",
    "access-revoke": "took a colleague's access away",
}


@dataclass(frozen=True)
class Access:
    when: dt.datetime  # local time
    who: str
    what: str
    event: str

    def __repr__(self) -> str:
        return f"<Access {self.event} {self.when:%Y-%m-%d %H:%M}>"


def _times(e: Entry, tz: dt.tzinfo | None) -> dt.datetime:
    return dt.datetime.fromisoformat(e.time.replace("Z", "+00:00")).astimezone(tz)


def report(
    vault: Vault,
    client_id: str,
    since: dt.date | None,
    names: Mapping[str, str],
    tz: dt.tzinfo | None = None,
) -> list[Access]:
    """Each access to the client on or after ``since`` (local), oldest first. ``names``:
    practitioner id -> name."""
    found = signed(vault, [event for event in WHAT if event != "restore"], client_id)
    found += signed(vault, ["restore"])  # the whole practice: every client came back
    rows = []
    for e in found:
        pid = str(e.data.get("practitioner") or vault.trust.device_practitioner(e.device) or "")
        who = names.get(pid, f"practitioner {pid}" if pid else f"device {e.device}")
        what = WHAT[e.event]
        if e.event == "decrypt" and "notes" in e.data:
            what = f"decrypted {e.data['notes']} note(s) (read, printed, opened or exported)"
        when = _times(e, tz)
        if since is None or when.date() >= since:
            rows.append(Access(when, who, what, e.event))
    return sorted(rows, key=lambda r: r.when)
