"""The files retention keeps in the vault, written here: only the vault writes the vault.

- ``clients/<cid>/retention/<did>.json``: device ``did``'s retention facts of a client
  (vault/format/retention_facts.py), rewritten only by that device, each write an audit
  entry ``retention-record`` carrying the file's SHA-256.
- ``disposals/<cid>.<did>[.<target id>].md``: disposal certificates, written once. Their
  text is retention's (retention/certificate.py); the vault stores the bytes.

What the facts mean, and when a certificate is due, is decided in retention/.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import durable
from ..errors import TamperedFile
from ..format import retention_facts

if TYPE_CHECKING:
    from .vault import Vault

FACTS_EVENT = "retention-record"
CERTIFICATES = "disposals"


def facts_path(root: Path, client_id: str, device_id: str) -> Path:
    return root / "clients" / client_id / "retention" / f"{device_id}.json"


def facts_files(root: Path, client_id: str) -> list[str]:
    """Every device's facts file of a client, as plain strings from one listing (the
    nightly scan runs this for every client)."""
    folder = os.path.join(root, "clients", client_id, "retention")
    try:
        return [os.path.join(folder, name) for name in sorted(os.listdir(folder)) if name.endswith(".json")]
    except FileNotFoundError:
        return []


def write_facts(vault: Vault, client_id: str, seq: int, facts: Mapping[str, Any], change: str) -> None:
    """Seal, sign and store this device's facts of a client (number ``seq``), audited as
    ``change``. The caller holds this device's retention lock."""
    path = facts_path(vault.root, client_id, vault.device.device_id)
    key = retention_facts.key(vault.device.index_key)
    data = retention_facts.seal(client_id, vault.device, seq, facts, key)
    durable.make_dirs(path.parent)
    durable.replace(path, data)
    vault.audit.append(
        FACTS_EVENT, client=client_id, seq=seq, change=change, sha256=hashlib.sha256(data).hexdigest()
    )


def certificate_path(root: Path, client_id: str, device_id: str, target_id: str | None = None) -> Path:
    suffix = f".{target_id}" if target_id else ""
    return root / CERTIFICATES / f"{client_id}.{device_id}{suffix}.md"


def write_certificate(path: Path, data: bytes) -> None:
    """Store a certificate's bytes under a name never written before (the caller audits it)."""
    durable.make_dirs(path.parent)
    try:
        durable.write_new(path, data)
    except FileExistsError:
        raise TamperedFile(path, "a disposal certificate is already there: it is never overwritten") from None
