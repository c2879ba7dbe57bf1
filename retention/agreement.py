"""Destruction is agreed (DESIGN.md invariant 8): this machine carries out a purge another
device began, or its certificate, only after checking from its own copy of the facts that
the client is past retention, was announced a full notice period ago, and is held by no
one. The decision is written in this device's own audit log (``purge-agreed``, or
``purge-refused`` with why; vault/store/purged.py reads them): until it agrees, the client
is a client here, its files are never set aside, and its backups are never shredded.

Where the check is made from:

- the client's folder is still here: its retention facts (every device's, checked against
  the audit log), exactly as this machine's own purge would check them;
- its files are already gone here (the sync engine carried the purge's deletions first):
  the audit log, which survives them: no ``hold`` recorded for the client since the last
  ``release``, and its first ``notice`` recorded a full notice period ago (so a purge a
  person confirmed elsewhere without waiting is carried out here once that period is
  over, if no hold came meanwhile; until then this machine's backups keep the client).

Before any of this, in a group practice, every registered device acknowledged the purge's
intent (retention/intents.py, which asks `why_not` too). Retention facts written by another
registered device are believed as they are (docs/threat-model.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from vault import Entry, Vault
from vault.errors import VaultError
from vault.store import purged
from vault.store.retention_files import FACTS_EVENT

from . import records
from .policy import Policy, decide

if TYPE_CHECKING:
    from vault.store.facts_index import FactsIndex

ACK = "purge-ack"  # an acknowledgement of a purge's intent (retention/intents.py)
INTENT = "purge-intent"  # a purge's intent (retention/intents.py)


def erasure_acknowledged(entries: Sequence[Entry], device: str, client_id: str, purge: purged.Purge) -> bool:
    """Whether the purge carries out an erasure ``device`` acknowledged: the purging
    device's newest intent for the client before its ``purge-begin`` names a request, and
    ``device`` acknowledged that very intent. An acknowledgement of an earlier erasure of
    the client excuses no later purge from its notice period."""
    carried = [
        e
        for e in entries
        if e.device == purge.device
        and e.event == INTENT
        and e.data.get("client") == client_id
        and e.seq < purge.seq
    ]
    if not carried:
        return False
    intent = max(carried, key=lambda e: e.seq)
    return bool(intent.data.get("request")) and any(
        e.device == device
        and e.event == ACK
        and e.data.get("request") == intent.data.get("request")
        and e.data.get("intent") == intent.data.get("intent")
        and e.data.get("client") == client_id
        and e.data.get("purge_device") == purge.device
        for e in entries
    )


def why_not(
    vault: Vault,
    client_id: str,
    policy: Policy,
    entries: Sequence[Entry],
    full_notice: bool = True,
    erasure: bool = False,
) -> str:
    """Why this machine does not agree to destroy the client ("" if it does). ``entries``:
    the audit log, without purge lines no registered device signed. ``full_notice=False``:
    announced is enough (a person confirmed the purge: retention/intents.py). ``erasure``:
    no notice at all (the client asked, and this machine saw the request: intents.py)."""
    today = vault.clock().date()
    if not (vault.client_dir(client_id) / "client.json").exists():
        return _from_log(client_id, vault.clock(), policy, entries, erasure)
    damaged = records.problems(vault, [client_id], entries)
    if damaged:
        return f"its retention facts here disagree with the audit log ({damaged[0].path.name})"
    try:
        facts = records.current(vault, client_id)
    except VaultError as exc:
        return f"its retention facts here cannot be read ({exc})"
    if facts.holds:
        return f"{len(facts.holds)} hold(s) in force here"
    decision = decide(facts, policy, today)
    if not decision.purgeable:
        return f"not past retention here: disposable from {decision.dispose_on.isoformat()}"
    if erasure:
        return ""
    if decision.announced is None:
        return "no notice of it has reached this machine"
    if full_notice and not decision.purgeable_unattended(today):
        return "not announced a full notice period ago here"
    return ""


def _from_log(
    client_id: str, now: dt.datetime, policy: Policy, entries: Sequence[Entry], erasure: bool = False
) -> str:
    """The check when the client's files are gone here: from the audit log alone."""
    times: dict[str, list[str]] = {"hold": [], "release": [], "notice": []}
    for e in entries:
        change = str(e.data.get("change"))
        if e.event == FACTS_EVENT and str(e.data.get("client")) == client_id and change in times:
            times[change].append(e.time)
    holds, releases, notices = times["hold"], times["release"], times["notice"]
    if holds and max(holds) > max(releases, default=""):
        return "a hold is recorded for it in the audit log"
    if erasure:
        return ""
    if not notices:
        return "no notice of it is recorded in the audit log"
    announced = dt.datetime.fromisoformat(min(notices).replace("Z", "+00:00"))
    if announced > now - dt.timedelta(days=policy.notice_days):
        carried = (announced + dt.timedelta(days=policy.notice_days + 1)).date().isoformat()
        return (
            f"announced on {announced.date().isoformat()}, less than a notice period ago: "
            f"carried out here from {carried} if no hold comes"
        )
    return ""


def settle(
    vault: Vault,
    policy: Policy,
    unacknowledged: Callable[[Vault, str, purged.Purge, Sequence[Entry]], str],
    index: FactsIndex | None = None,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Decide every purge another device began that this device has not agreed to: agree
    (audited ``purge-agreed``) or refuse (``purge-refused``, once per reason). Returns the
    clients agreed to, and (client, why) of those refused. ``unacknowledged``: why a purge
    was not one every machine of a group practice acknowledged (retention/intents.py, which
    imports this module). ``index``: asked only whether there is anything to decide; what
    is decided is read again from the logs."""
    own = vault.device.device_id
    signed = purged.signed(vault, index)
    if not purged.undecided(signed, own):
        return [], []
    if index is not None:
        signed = purged.signed(vault)
    pending = purged.undecided(signed, own)
    if not pending:
        return [], []
    entries = purged.trusted(vault.audit.entries(), signed)
    before = purged.decided(signed, own)[1]
    agreed, refused = [], []
    for client_id, purge in sorted(pending.items()):
        erasure = erasure_acknowledged(signed, own, client_id, purge)
        why = unacknowledged(vault, client_id, purge, entries) or why_not(
            vault, client_id, policy, entries, erasure=erasure
        )
        if not why:
            vault.audit.append(purged.AGREED, client=client_id, purge_device=purge.device)
            agreed.append(client_id)
            continue
        if before.get(client_id) != why:
            vault.audit.append(purged.REFUSED, client=client_id, purge_device=purge.device, why=why)
        refused.append((client_id, why))
    return agreed, refused
