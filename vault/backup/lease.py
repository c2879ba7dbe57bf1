"""A lease on a backup target: one backup, prune or purge at a time, across machines.

A target may be one folder that two machines write to (a NAS share). Alex's prune then
collected the packs Bea's backup, still running on a slow share, had written and no
manifest named yet: her run exited 0, both verifies found objects missing. This machine's
backup lock (an flock in its device folder) says nothing to another machine, and flock does
not hold across machines on a network folder; so the lock is a file on the target itself,
``casenotes-lock.json``: the device that holds it and until when. It is written with the
target's write-once primitive (a folder: a hard link, which fails if the name exists),
read back, renewed every third of its lease while the run lasts, and removed at its end.
A lease whose time has passed (its machine crashed, or lost the network) is taken over;
one of another device that has not run out refuses the run, naming that device. A lease
of this device is a run of this machine cut short (the caller holds this machine's
backup lock, so no run of its own is alive): it is taken over at once.

What it cannot do: two machines taking over one expired lease at the very same moment may
both believe they hold it (the target offers no compare-and-swap); each reads the file
back after writing, which narrows the window to the time between two reads.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..format.encoding import canonical
from .storage import Storage, TargetUnavailable

LOCK = "casenotes-lock.json"
LOCK_FORMAT = "casenotes-target-lock"
LEASE_SECONDS = 600.0


class TargetBusy(TargetUnavailable):
    template = (
        "backup target {} is in use by device {} until {} UTC (a backup, prune or purge on another "
        "machine): the next run tries again; give each machine a target of its own to never wait "
        "(docs/backups.md)"
    )


@contextmanager
def lease(
    storage: Storage, device_id: str, seconds: float = LEASE_SECONDS, clock: Callable[[], float] = time.time
) -> Iterator[None]:
    """Hold the target's lease while the block runs (TargetBusy if another device does)."""
    _take(storage, device_id, seconds, clock)
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(storage, device_id, seconds, clock, stop), name="casenotes-lease", daemon=True
    )
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()
        try:
            if (_held(storage) or {}).get("device") == device_id:
                storage.delete(LOCK)
        except (OSError, TargetUnavailable):
            pass  # it runs out by itself


def _record(device_id: str, until: float) -> bytes:
    return canonical({"format": LOCK_FORMAT, "version": 1, "device": device_id, "until": round(until, 3)})


def _held(storage: Storage) -> dict[str, Any] | None:
    """The lease on the target, if any (a file that does not parse counts as expired)."""
    if not storage.exists(LOCK):
        return None
    try:
        record = json.loads(storage.read(LOCK))
        if isinstance(record, dict) and record.get("format") == LOCK_FORMAT:
            return {"device": str(record.get("device")), "until": float(record.get("until", 0))}
    except (OSError, ValueError, TypeError):
        pass
    return {"device": "", "until": 0.0}


def _take(storage: Storage, device_id: str, seconds: float, clock: Callable[[], float]) -> None:
    held = _held(storage)
    if held is not None:
        if held["device"] != device_id and held["until"] > clock():
            raise TargetBusy(storage, held["device"], _utc(held["until"]))
        storage.delete(LOCK)  # run out, or this machine's own run cut short
    try:
        storage.write_new(LOCK, _record(device_id, clock() + seconds))
    except FileExistsError:
        pass  # another machine took it a moment ago: read below
    now = _held(storage)
    if now is None or now["device"] != device_id:
        who = now or {"device": "unknown", "until": clock() + seconds}
        raise TargetBusy(storage, who["device"], _utc(who["until"]))


def _renew(
    storage: Storage, device_id: str, seconds: float, clock: Callable[[], float], stop: threading.Event
) -> None:
    while not stop.wait(seconds / 3):
        try:
            storage.replace(LOCK, _record(device_id, clock() + seconds))
        except (OSError, TargetUnavailable):
            continue  # a share that hiccups: the lease still has two thirds to run


def _utc(when: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(when))
