"""Erasure at the client's request (GDPR Art. 17), where no retention law keeps the record
(Art. 17(3)(b)): refused, naming the law and the date, while the practice's retention
rules still require the record or a legal hold exists; otherwise a crypto-shred exactly as
a purge (retention/purge.py `dispose`), whose certificate names the request.

``override``: a documented exception (a practitioner's reason, sealed under the retention
key in a ``rights-override`` audit entry, as the accounting of disclosures is) erases inside
retention. Never past a hold, and never in a group practice: there every other machine
checks a purge against its own facts (retention/agreement.py) and would refuse one its
rules do not allow, so only a client its rules no longer keep is erased.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from vault import Vault
from vault.backup.snapshots import BackupTarget
from vault.errors import TamperedFile
from vault.format import retention_facts
from vault.format import rights as sealed
from vault.rights import requests

from . import group, records
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


def erase(
    vault: Vault,
    client_id: str,
    request_id: str,
    policy: Policy,
    targets: Sequence[BackupTarget],
    override: str | None = None,
) -> Path:
    """Erase one client for an erasure request; returns the certificate's path."""
    with vault.backup_lock():  # as a purge: no backup runs while the keys go
        return _erase(vault, client_id, request_id, policy, targets, override)


def _erase(
    vault: Vault,
    client_id: str,
    request_id: str,
    policy: Policy,
    targets: Sequence[BackupTarget],
    override: str | None,
) -> Path:
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
    if group.is_group(vault, entries) and not decision.purgeable:
        raise GroupOverride(client_id)
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
