"""Retention: how long records are kept, legal holds, and disposal by crypto-shredding.

Imports only the vault, which stores what retention decides (the facts, the certificates)
and carries out a disposal (vault/store/disposal.py). ``purge.run`` runs nightly as a job
the command line hands to syncd (casenotes/retention_commands.py), and on demand.
The names below load on first use: `casenotes seal` needs ``records`` and ``group``, not
the policies or the purge.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ClientHeld, ClockUntrusted, NotDue, RetentionError

if TYPE_CHECKING:
    from .policy import PRESETS, Decision, Facts, Policy, PolicyInvalid, decide, policy_from

_LAZY = dict.fromkeys(
    ["PRESETS", "Decision", "Facts", "Policy", "PolicyInvalid", "decide", "policy_from"], ".policy"
)

__all__ = [
    "PRESETS",
    "ClientHeld",
    "ClockUntrusted",
    "Decision",
    "Facts",
    "NotDue",
    "Policy",
    "PolicyInvalid",
    "RetentionError",
    "decide",
    "policy_from",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
