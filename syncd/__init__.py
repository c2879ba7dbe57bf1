"""syncd: the daemon that seals every save from the inbox and runs the scheduled jobs.

The daemon (and watchdog under it) loads on first use, so `casenotes seal`, which only
files one note through ``syncd.filing``, does not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import AlreadyRunning, SyncdError
from .limits import MAX_NOTE_BYTES

if TYPE_CHECKING:
    from .daemon import Daemon, DaemonSettings, Summary
    from .jobs import Job

_LAZY = {"Daemon": ".daemon", "DaemonSettings": ".daemon", "Summary": ".daemon", "Job": ".jobs"}

__all__ = ["MAX_NOTE_BYTES", "AlreadyRunning", "Daemon", "DaemonSettings", "Job", "Summary", "SyncdError"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
