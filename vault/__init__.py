"""The encrypted vault: formats and keys, the store, backups, and sharing with colleagues.

Imports nothing of casenotes' other packages; everything above builds on it. Inside, the
arrows point one way, down this list (tests/test_layering.py holds them there):

- ``errors``, ``durable``: typed errors and findings; atomic, durable file writes.
- ``format/``: the bytes on disk and the crypto under them (revisions, keys, signed
  records, encodings, constants); knows no folder of the vault.
- ``backup/``: snapshots of a vault folder on a storage target, and which to keep.
- ``store/``: one practice's vault: members and devices, client keys, clients, notes, the
  audit log, and ``verify``.
- ``sharing/``: what a practitioner does with a colleague: access grants and revokes,
  consents, share bundles, supervision.
"""

from .errors import Problem, VaultError
from .format.constants import DEFAULT_KDF_PROFILE, KDF_PROFILES, KdfParams
from .format.redact import Passphrase, Plaintext
from .store.audit import Entry
from .store.clients import Profile
from .store.vault import OpenedNote, SealedRevision, Vault
from .store.verify import verify

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
