"""The accounting of disclosures (HIPAA 45 CFR 164.528): every share, export and recorded
disclosure of one client, with its date, recipient, description and purpose.

Read from the audit log, the entries a registered device signed:

- ``share`` (casenotes/sharing_commands.py): ``client``, ``consent``, ``to`` (a
  practitioner id), ``notes`` (a count); the purpose is the consent's, which only the
  passphrase opens, so the caller passes ``purposes`` (consent id -> purpose).
- ``export`` (`casenotes export`, the client's copy): ``client``, and ``recipient``,
  ``purpose``, ``what`` as strings, or the same three sealed as a ``fact`` (see
  `record`); a field missing is shown as "not recorded".
- ``disclosure`` (`casenotes disclosures add`): ``client``, ``disclosure`` (id), ``fact``
  sealed under the retention key: ``date``, ``to``, ``purpose``, ``what``.

Six years whatever the record's retention: the entries are the audit log's, which no purge
removes, and the facts are sealed under the retention key, not the client's, so they still
open after the client is crypto-shredded. They hold no clinical content (the commands ask
for a description, not the text disclosed): what remains of an erased client is what a
disposal certificate keeps, plus to whom, why and when the record went.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..format import retention_facts
from ..format import rights as sealed
from ..format.encoding import new_id
from ..store.audit import Entry
from .reading import signed

if TYPE_CHECKING:
    from ..store.vault import Vault

EVENT = "disclosure"
EXPORT_EVENT = "export"
SHARE_EVENT = "share"
KEPT_YEARS = 6  # 45 CFR 164.528(a)(1) and 164.530(j)(2)
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Disclosure:
    """One row of the accounting. Client data (a recipient, a purpose): never logged."""

    day: dt.date
    recipient: str
    description: str
    purpose: str
    how: str  # share | export | recorded
    by: str  # the practitioner, as the caller names them

    def __repr__(self) -> str:
        return f"<Disclosure {self.how} {self.day}>"


def six_years_before(today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - KEPT_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - KEPT_YEARS, day=28)


def record(
    vault: Vault,
    client_id: str,
    day: dt.date,
    to: str,
    purpose: str,
    what: str,
    event: str = EVENT,
    **ids: str,
) -> str:
    """Audit one disclosure (``event``: ``disclosure`` by hand, or ``export``), its facts
    sealed under the retention key; returns its id. No passphrase needed."""
    disclosure_id = new_id()
    facts = {"date": day.isoformat(), "to": to, "purpose": purpose, "what": what}
    key = retention_facts.key(vault.device.index_key)
    vault.audit.append(
        event,
        client=client_id,
        disclosure=disclosure_id,
        fact=sealed.seal_fact(key, client_id, disclosure_id, facts),
        **ids,
    )
    return disclosure_id


def accounting(
    vault: Vault,
    client_id: str,
    since: dt.date,
    names: Mapping[str, str],
    purposes: Mapping[str, str],
    tz: dt.tzinfo | None = None,
) -> list[Disclosure]:
    """Every disclosure of the client on or after ``since``, oldest first. ``names``:
    practitioner id -> name; ``purposes``: consent id -> purpose; ``tz``: local time."""
    key = retention_facts.key(vault.device.index_key)
    rows = []
    for e in signed(vault, (EVENT, EXPORT_EVENT, SHARE_EVENT), client_id):
        row = _row(vault, e, key, names, purposes, tz)
        if row is not None and row.day >= since:
            rows.append(row)
    return sorted(rows, key=lambda r: (r.day, r.how))


def ever_disclosed(vault: Vault, client_id: str) -> bool:
    """Whether any disclosure of this client is on record (a purged client's too)."""
    return bool(signed(vault, (EVENT, EXPORT_EVENT, SHARE_EVENT), client_id))


def _who(vault: Vault, e: Entry, names: Mapping[str, str]) -> str:
    pid = vault.trust.device_practitioner(e.device)
    return names.get(pid or "", f"practitioner {pid}" if pid else f"device {e.device}")


def local_day(e: Entry, tz: dt.tzinfo | None) -> dt.datetime:
    return dt.datetime.fromisoformat(e.time.replace("Z", "+00:00")).astimezone(tz)


def _row(
    vault: Vault,
    e: Entry,
    key: bytes,
    names: Mapping[str, str],
    purposes: Mapping[str, str],
    tz: dt.tzinfo | None,
) -> Disclosure | None:
    by, day = _who(vault, e, names), local_day(e, tz).date()
    if e.event == SHARE_EVENT:
        to = str(e.data.get("to"))
        consent = str(e.data.get("consent"))
        return Disclosure(
            day,
            names.get(to, f"practitioner {to}"),
            f"{e.data.get('notes', '?')} note(s) in a sealed share bundle (consent {consent})",
            purposes.get(consent, f"as consent {consent} says"),
            "share",
            by,
        )
    facts: Mapping[str, object] = e.data
    if "fact" in e.data:
        try:
            facts = sealed.open_fact(
                e.data["fact"], key, str(e.data["client"]), str(e.data.get("disclosure"))
            )
        except sealed.Unreadable:
            return None  # another practice's key or damage: `audit verify` reports damage
    if e.event == EVENT:
        when = dt.date.fromisoformat(str(facts.get("date")))
        return Disclosure(
            when, str(facts.get("to")), str(facts.get("what")), str(facts.get("purpose")), "recorded", by
        )
    return Disclosure(
        day,
        str(facts.get("recipient", facts.get("to", NOT_RECORDED))),
        str(facts.get("what", "the client's copy (casenotes export)")),
        str(facts.get("purpose", NOT_RECORDED)),
        "export",
        by,
    )
