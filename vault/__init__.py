"""The encrypted vault: formats and keys, the store, backups, and sharing with colleagues.

Imports nothing of casenotes' other packages; everything above builds on it. Inside, the
arrows point one way, down this list (tests/architecture/test_layering.py holds them there):

- ``errors``, ``durable``: typed errors and findings; atomic, durable file writes.
- ``format/``: the bytes on disk and the crypto under them (revisions, keys, signed
  records, encodings, constants); knows no folder of the vault.
- ``backup/``: snapshots of a vault folder on a storage target, and which to keep.
- ``store/``: one practice's vault: members and devices, client keys, clients, notes, the
  audit log, and ``verify``.
- ``sharing/``: what a practitioner does with a colleague: access grants and revokes,
  consents, share bundles, supervision.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import Problem, VaultError

if TYPE_CHECKING:
    from .format.constants import DEFAULT_KDF_PROFILE, KDF_PROFILES, KdfParams
    from .format.redact import Passphrase, Plaintext
    from .store.audit import Entry
    from .store.clients import Profile
    from .store.reading import OpenedNote
    from .store.sealing import SealedRevision
    from .store.vault import Vault
    from .store.verify import verify

# The rest loads on first use: `from vault.errors import X` or `from vault import Passphrase`
# must not pay for the store (and a command that only seals, for verify or the backups).
_LAZY = {
    **dict.fromkeys(["DEFAULT_KDF_PROFILE", "KDF_PROFILES", "KdfParams"], ".format.constants"),
    **dict.fromkeys(["Passphrase", "Plaintext"], ".format.redact"),
    "Entry": ".store.audit",
    "Profile": ".store.clients",
    "OpenedNote": ".store.reading",
    "SealedRevision": ".store.sealing",
    "Vault": ".store.vault",
    "verify": ".store.verify",
}

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
