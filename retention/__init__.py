"""Retention: how long records are kept, legal holds, and disposal by crypto-shredding.

Imports only the vault. syncd runs ``purge.run`` nightly; the command line wraps the rest.
"""

from .errors import ClientHeld, ClockUntrusted, NotDue, RetentionError
from .policy import PRESETS, Decision, Facts, Policy, PolicyInvalid, decide, policy_from

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
