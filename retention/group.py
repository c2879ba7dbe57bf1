"""Purging in a group practice: a vault that a sync engine replicates between machines.

A purge on one machine destroys what it knows of; it cannot know what another machine
did while the two were apart (a hold placed there, a note sealed there). So, when more
than one device is registered:

- a purge runs only when every registered device has been *heard from* within a window
  (``retention.heard_within_hours`` in casenotes.yml): its audit log, as synced here,
  holds an entry that recent. A device's own nightly run writes a ``retention-check``
  entry, so an idle machine whose syncd runs is heard from every day. A hold placed
  before that entry is here too, or its facts file is flagged as missing by the audit
  log and the purge refuses the client (records.problems);
- syncd's nightly purges are made by one device: the one with the smallest id among
  those whose ``retention-check`` is recent. Every device computes the same choice from
  the same synced logs, and no file is written by two machines. (A person may still run
  `retention purge` on any machine; each device writes its own certificate.)
- a client another device purged is no client here: syncd refuses to seal into it
  (``purged``), and files of it that arrive after the purge (written on a machine that
  had not heard of it yet) are a *revived* folder: set aside under
  ``revived/<cid>.<device>/`` by the next retention or backup run, reported by `verify`,
  `doctor` and `status`, and never deleted by casenotes. Only a file whose SHA-256 a
  certificate lists as destroyed (a copy of a shredded key) is removed again.

A vault with a single device purges exactly as before: no window, no choice, no entry.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vault import Entry, Vault
from vault.store.audit import signed_entry
from vault.store.ledger import AGREED, REFUSED

if TYPE_CHECKING:
    from vault.store.purged import Revived

HEARD_EVENT = "retention-check"
DEFAULT_HEARD_WITHIN = dt.timedelta(hours=48)


def _time(entry: Entry) -> dt.datetime:
    return dt.datetime.fromisoformat(entry.time.replace("Z", "+00:00"))


def devices(vault: Vault, entries: Sequence[Entry]) -> set[str]:
    """The devices of this practice: those registered, and every one this device's own
    retention checks named. A registration, log and hold file deleted from the synced
    folder must not turn a group practice into a single machine that purges at once; this
    device's own log cannot be cut back unseen (its checkpoint outside the vault). Not the
    devices their practitioner retired (vault/store/retired.py)."""
    own = vault.device.device_id
    known = set(vault.trust.device_keys())
    for entry in entries:
        if entry.device == own and entry.event == HEARD_EVENT:
            known.update(str(d) for d in entry.data.get("devices", []))
    return known - set(vault.trust.retired())  # a retired machine is waited for no more


def is_group(vault: Vault, entries: Sequence[Entry]) -> bool:
    return len(devices(vault, entries)) > 1


def rules_of(policy_text: str) -> str:
    """The retention rules a device purges by, as its nightly check records them: the
    policy's own description (issue 29: each machine reads its own casenotes.yml, and a
    machine falling back to another preset purged early). Not the heard-within window:
    a person may widen it for one attended purge (docs/sharing.md)."""
    return policy_text


def other_rules(
    vault: Vault, entries: Sequence[Entry], now: dt.datetime, window: dt.timedelta, mine: str
) -> dict[str, str]:
    """Devices whose newest recent check names rules other than ``mine``: device id -> their
    rules. A check without rules (an older casenotes) names none and disagrees with nothing."""
    newest: dict[str, Entry] = {}
    for entry in entries:
        if entry.event == HEARD_EVENT and _time(entry) >= now - window:
            if entry.device not in newest or _time(entry) >= _time(newest[entry.device]):
                newest[entry.device] = entry
    own = vault.device.device_id
    return {
        device: str(entry.data["rules"])
        for device, entry in sorted(newest.items())
        if device != own and "rules" in entry.data and entry.data["rules"] != mine
    }


def silent_devices(
    vault: Vault, entries: Sequence[Entry], now: dt.datetime, window: dt.timedelta
) -> dict[str, dt.datetime | None]:
    """The practice's devices (`devices`; not this one) not heard from within ``window``:
    device id -> the time of its newest entry here (None: none at all)."""
    last: dict[str, dt.datetime] = {}
    for entry in entries:
        when = _time(entry)
        if entry.device not in last or when > last[entry.device]:
            last[entry.device] = when
    own = vault.device.device_id
    return {
        device: last.get(device)
        for device in sorted(devices(vault, entries))
        if device != own and (device not in last or last[device] < now - window)
    }


def purger(vault: Vault, entries: Sequence[Entry], now: dt.datetime, window: dt.timedelta) -> str:
    """The device whose syncd makes the nightly purges: the smallest id among this device
    and those whose own retention check is recent."""
    recent = {e.device for e in entries if e.event == HEARD_EVENT and _time(e) >= now - window}
    return min(recent | {vault.device.device_id})


# -- purged clients ---------------------------------------------------------------------------
#: log path -> (inode, offset read, (event, device, client) of its purge lines, the device
#: keys that checked them)
_TAILS: dict[str, tuple[int, int, tuple[tuple[str, str, str], ...], object]] = {}
_NEEDLE = b'"event":"purge-'


def purged(vault: Vault) -> frozenset[str]:
    """Every client whose purge this device began, or another registered device began and
    this device agreed to (vault/store/purged.py), by signed entries (a line anyone who can
    write the folder adds refuses no client, nor does another device's purge alone): for
    syncd, before each seal. Logs only grow, so each is read from where the last call
    stopped (a replaced or shortened file, or a device registered since, has it read again
    whole)."""
    own = vault.device.device_id
    begun: set[str] = set()
    others: set[str] = set()
    agreed: dict[str, bool] = {}  # this device's newest decision of each client
    keys = vault.trust.device_keys()
    for path in vault.audit.logs():
        key = str(path)
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                inode, offset, clients, checked_by = _TAILS.get(key, (-1, 0, (), None))
                if inode != st.st_ino or offset > st.st_size or checked_by is not keys:
                    offset, clients = 0, ()
                handle.seek(offset)
                tail = handle.read()
        except FileNotFoundError:
            continue
        complete = tail.rfind(b"\n") + 1  # a line still being written is read next time
        more = list(clients)
        for line in tail[:complete].splitlines():
            if _NEEDLE in line and (entry := signed_entry(line, keys)):  # verify reports any other line
                if entry.event in ("purge-begin", AGREED, REFUSED):
                    more.append((entry.event, entry.device, str(entry.data.get("client"))))
        _TAILS[key] = (st.st_ino, offset + complete, tuple(more), keys)
        for event, device, client in more:
            if event == "purge-begin":
                (begun if device == own else others).add(client)
            elif device == own:
                agreed[client] = event == AGREED
    return frozenset(c for c in begun | others if c in begun or agreed.get(c))


# -- revived folders ----------------------------------------------------------------------------
def set_aside(vault: Vault, entries: Sequence[Entry]) -> list[Revived]:
    """Move every revived folder's files to ``revived/<cid>.<this device>/`` (a name no
    other machine writes), once sync has settled: while another device's log is still
    arriving, the folder may simply be the purge's own deletions not yet here. A copy
    of a key the purge destroyed (its SHA-256 is in a certificate) is removed instead
    (vault/store/disposal.py moves them). ``entries``: the signed purge entries
    (`purged.signed`)."""
    # Not for `seal`, which needs only `purged`:
    from vault.store.disposal import plan_set_aside
    from vault.store.purged import revived
    from vault.store.verify import sync_in_flight

    from . import certificate

    found = [r for r in revived(vault.root, entries, vault.device.device_id) if not r.set_aside]
    if not found or sync_in_flight(vault):
        return []
    destroyed = {
        str(item.get("sha256"))
        for facts in certificate.all_certificates(vault).values()
        for item in facts.get("destroyed", [])
        if item.get("sha256")
    }
    return plan_set_aside(vault, found, destroyed).execute(vault)
