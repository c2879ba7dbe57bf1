"""Erasure at the client's request (GDPR Art. 17), where no retention law keeps the record
(Art. 17(3)(b)): refused, naming the law and the date, while the practice's retention
rules still require the record or a legal hold exists; otherwise a crypto-shred exactly as
a purge (retention/purge.py `dispose`), whose certificate names the request.

``override``: a documented exception (a practitioner's reason, sealed under the retention
key in a ``rights-override`` audit entry, as the accounting of disclosures is) erases inside
retention. Never past a hold.

In a group practice (more than one registered, not retired device) this machine cannot
know of a hold placed on another while the two were apart, so an erasure goes through the
two phases of retention/intents.py: the first `erase` writes an intent naming the request
and returns `Pending`; each other device acknowledges it from its own facts (the request in
its signed log, past retention, no hold) or stops it; an `erase` once every one has
acknowledged destroys. No override there: the other machines would refuse it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vault import Entry, Vault
from vault.backup.snapshots import BackupTarget
from vault.errors import TamperedFile
from vault.format import retention_facts
from vault.format import rights as sealed
from vault.rights import requests
from vault.store import purged

from . import group, intents, records
from .errors import ClientHeld, RetentionError
from .policy import LAWS, Policy, decide
from .purge import check_audit, check_clock, dispose

OVERRIDE_EVENT = "rights-override"
BASIS = "GDPR Art. 17"


class RetentionRequires(RetentionError):
    template = (
        "client {} is not erased: {} keeps the record until {} (set by: {}); nothing was destroyed. "
        "Tell the client in writing (GDPR Art. 17(3)(b)) and close the request, or, as a documented "
        "exception, add --override-retention --reason TEXT"
    )


class NotAnErasure(RetentionError):
    template = "request {} is not an open erasure request of this client: nothing was destroyed"


class GroupOverride(RetentionError):
    template = (
        "client {} is not erased: in a group practice every machine checks a disposal against its own "
        "retention rules, and would refuse one inside retention; nothing was destroyed"
    )


class ErasureHeld(RetentionError):
    template = (
        "client {} is not erased: device {} stopped the erasure ({}); nothing was destroyed. "
        "Once that is settled there, run `casenotes retention erase` again"
    )


@dataclass(frozen=True)
class Pending:
    """An erasure of a group practice waiting for these devices to acknowledge its intent."""

    waiting: tuple[str, ...]
    written: bool  # this run wrote the intent


def erase(
    vault: Vault,
    client_id: str,
    request_id: str,
    policy: Policy,
    targets: Sequence[BackupTarget],
    override: str | None = None,
) -> Path | Pending:
    """Erase one client for an erasure request; returns the certificate's path, or, in a
    group practice until every other device acknowledged the intent, what it waits for."""
    with vault.backup_lock():  # as a purge: no backup runs while the keys go
        return _erase(vault, client_id, request_id, policy, targets, override)


def _erase(
    vault: Vault,
    client_id: str,
    request_id: str,
    policy: Policy,
    targets: Sequence[BackupTarget],
    override: str | None,
) -> Path | Pending:
    request = requests.find(vault, request_id)
    if request.client_id != client_id or request.kind != "erasure" or request.closed is not None:
        raise NotAnErasure(request_id)
    now = vault.clock()
    entries = list(vault.audit.entries())
    facts = records.current(vault, client_id)
    damaged = records.problems(vault, [client_id], entries)
    if damaged:
        raise TamperedFile(damaged[0].path, damaged[0].why + "; nothing was destroyed")
    if facts.holds:
        raise ClientHeld(client_id)
    decision = decide(facts, policy, now.date())
    inside = now.date() <= decision.retain_until
    if inside and override is None:
        law = LAWS.get(policy.name, f"the practice's retention policy ({policy.name})")
        raise RetentionRequires(client_id, law, decision.retain_until.isoformat(), decision.rule)
    check_clock(entries, now, dt.timedelta(days=400), unattended=False)
    check_audit(vault)
    if group.is_group(vault, entries):
        if inside:
            raise GroupOverride(client_id)
        pending = _phase(vault, client_id, request.request_id, entries)
        if pending is not None:
            return pending
    extra: dict[str, object] = {"request": request.request_id, "basis": BASIS}
    if inside and override is not None:
        key = retention_facts.key(vault.device.index_key)
        vault.audit.append(
            OVERRIDE_EVENT,
            client=client_id,
            request=request.request_id,
            fact=sealed.seal_fact(key, client_id, request.request_id, {"reason": override}),
        )
        extra["override"] = True
    path = dispose(vault, client_id, policy, decision.rule, targets, entries, now, extra)
    requests.close(vault, request, "", now.astimezone().date())  # the words went with the client
    return path


def _phase(vault: Vault, client_id: str, request_id: str, entries: Sequence[Entry]) -> Pending | None:
    """In a group practice: None once every other device acknowledged this device's intent
    for the request (destroy now); else what waits, after writing an intent if none is open.
    A stopped intent is never carried out: its why is raised, and the next run asks again."""
    own = vault.device.device_id
    mine = [
        s
        for s in intents.standing(vault, purged.trusted(entries, purged.signed(vault)))
        if s.intent.client_id == client_id and s.intent.device == own and s.intent.request == request_id
    ]
    if any(s.agreed for s in mine):
        return None
    open_ = [s for s in mine if not s.held]
    if open_:
        return Pending(open_[0].waiting, False)
    intents.erasure_intent(vault, client_id, request_id)
    if mine:  # the last one was stopped: say by whom (a new intent is written for the next try)
        device, why = mine[-1].held[0]
        raise ErasureHeld(client_id, device, why)
    return Pending(tuple(sorted(group.devices(vault, entries) - {own})), True)
