"""The encrypted vault: keys, sealed note revisions, durable writes and the audit log.

Imports nothing of casenotes' other packages; everything above builds on it.
"""

from .audit import Entry, Problem
from .clients import Profile
from .constants import DEFAULT_KDF_PROFILE, KDF_PROFILES, KdfParams
from .errors import VaultError
from .redact import Passphrase, Plaintext
from .store import OpenedNote, SealedRevision, Vault
from .verify import verify

__all__ = [
    "DEFAULT_KDF_PROFILE",
    "KDF_PROFILES",
    "Entry",
    "KdfParams",
    "OpenedNote",
    "Passphrase",
    "Plaintext",
    "Problem",
    "Profile",
    "SealedRevision",
    "Vault",
    "VaultError",
    "verify",
]
