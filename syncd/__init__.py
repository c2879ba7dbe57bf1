"""syncd: the daemon that seals every save from the inbox and runs the scheduled jobs.

The daemon (and watchdog under it) loads on first use, so `casenotes seal`, which only
files one note through ``syncd.filing``, does not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import AlreadyRunning, SyncdError

if TYPE_CHECKING:
    from .daemon import Daemon, DaemonSettings, Summary
    from .jobs import Job

#: The largest note casenotes reads from the inbox: syncd, `status` and `seal` alike (the
#: `max_note_mib` setting changes it for syncd and `status`). Below the format's own
#: limit, MAX_PLAINTEXT_BYTES, which also bounds attachments. Here, not in ``filing``, so
#: that reading casenotes.yml does not load the filing path.
MAX_NOTE_BYTES = 5 * 1024 * 1024

_LAZY = {"Daemon": ".daemon", "DaemonSettings": ".daemon", "Summary": ".daemon", "Job": ".jobs"}

__all__ = ["MAX_NOTE_BYTES", "AlreadyRunning", "Daemon", "DaemonSettings", "Job", "Summary", "SyncdError"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
