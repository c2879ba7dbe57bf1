"""A client's key pairs and who holds them: generations, sealed access, the owner's key.

Held by `Vault` as ``vault.keyring``. Generation 1 is ``client.json``; a revoke adds
``keys/<gen>.json`` (vault/sharing/access.py). Each practitioner with access holds every
generation, sealed to them in ``access/<pid>[.<gen>].sealed``.
"""

from __future__ import annotations

from pathlib import Path

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from .. import durable
from ..errors import KeyFileInvalid, NoAccess, TamperedFile, UnknownClient
from ..format import sync_artefacts
from ..format.constants import PRACTITIONER_KEY_FORMAT
from ..format.encoding import b64, stamp
from ..format.keys import Practitioner, public_keys, read_record
from .clients import key_record, read_client_record, read_key_record
from .trust import Trust


class Keyring:
    def __init__(self, trust: Trust) -> None:
        self.trust = trust
        self.root = trust.root
        self.device = trust.device
        self.audit = trust.audit
        self.clock = trust.clock
        self._client_generations: dict[str, tuple[int, list[PublicKey]]] = {}  # keys/ mtime, keys

    def client_dir(self, client_id: str) -> Path:
        return self.root / "clients" / client_id

    def practitioner_box_keys(self) -> dict[str, PublicKey]:
        """The keys new client keys are sealed to, each checked against this device's pin:
        a swapped key would let whoever swapped it read every new client's notes."""
        keys = {}
        for pid in self.device.trusted:
            path = self.root / "practitioners" / f"{pid}.json"
            key = public_keys(read_record(path, PRACTITIONER_KEY_FORMAT), path)[0]
            pinned = self.device.trusted_box.get(pid)
            if pinned is not None and pinned != b64(bytes(key)):
                raise TamperedFile(
                    path, "the practitioner's encryption key is not the one this device pinned (swapped?)"
                )
            keys[pid] = key
        return keys

    def bad_practitioner_keys(self) -> list[TamperedFile]:
        try:
            self.practitioner_box_keys()
        except (TamperedFile, KeyFileInvalid) as exc:
            return [TamperedFile(exc.path, str(exc))] if isinstance(exc, KeyFileInvalid) else [exc]
        return []

    def client_public(self, client_id: str) -> PublicKey:
        """The key new revisions are sealed to: the client's newest key generation."""
        return self.client_generations(client_id)[-1]

    def client_generations(self, client_id: str) -> list[PublicKey]:
        """Every public key the client has had, oldest first (a revoke adds one). Cached until
        the ``keys/`` folder changes: a running syncd must seal to a key added by a revoke
        in another process from that moment on."""
        folder = self.client_dir(client_id) / "keys"
        try:
            changed = folder.stat().st_mtime_ns
        except FileNotFoundError:
            changed = 0
        cached = self._client_generations.get(client_id)
        if cached is None or cached[0] != changed:
            path = self.client_dir(client_id) / "client.json"
            if not path.exists():
                raise UnknownClient("")
            keys = [read_client_record(path, self.trust.device_keys())]
            for number, key_file in enumerate(sync_artefacts.glob(folder, "*.json"), 2):
                keys.append(read_key_record(key_file, number, self.trust.device_keys()))
            self._client_generations[client_id] = (changed, keys)
            return keys
        return cached[1]

    def access_file(self, practitioner_id: str, client_id: str, generation: int) -> Path:
        suffix = "" if generation == 1 else f".{generation:06d}"
        return self.client_dir(client_id) / "access" / f"{practitioner_id}{suffix}.sealed"

    def access_holders(self, client_id: str) -> set[str]:
        folder = self.client_dir(client_id) / "access"
        return {p.name.split(".")[0] for p in sync_artefacts.glob(folder, "*.sealed")}

    def client_keys(self, practitioner: Practitioner, client_id: str) -> list[PrivateKey]:
        """Every private key of the client this practitioner holds, newest first."""
        generations = self.client_generations(client_id)
        for generation in range(len(generations), 0, -1):
            path = self.access_file(practitioner.practitioner_id, client_id, generation)
            if path.exists():
                break
        else:
            self.audit.append("access-denied", client=client_id, practitioner=practitioner.practitioner_id)
            raise NoAccess(client_id)
        try:
            secret = practitioner.open_sealed(path.read_bytes())
            keys = [PrivateKey(secret[i : i + 32]) for i in range(0, len(secret), 32)]
        except (nacl.exceptions.CryptoError, ValueError) as exc:
            raise TamperedFile(path, "sealed client key does not open") from exc
        if [k.public_key for k in keys] != generations[: len(keys)] or len(keys) != generation:
            raise TamperedFile(path, "sealed client key belongs to another client")
        return keys[::-1]

    def seal_access(
        self, client_id: str, keys: list[PrivateKey], to_id: str, to_key: PublicKey, replace: bool = False
    ) -> Path:
        """Seal a client's keys (newest first) to a practitioner."""
        path = self.access_file(to_id, client_id, len(keys))
        sealed = SealedBox(to_key).encrypt(b"".join(bytes(k) for k in reversed(keys)))
        (durable.replace if replace else durable.write_new)(path, sealed)
        return path

    def add_generation(self, client_id: str, key: PrivateKey) -> Path:
        """Make a new key pair the one new revisions are sealed to (after a revoke)."""
        number = len(self.client_generations(client_id)) + 1
        path = self.client_dir(client_id) / "keys" / f"{number:06d}.json"
        durable.write_new(
            path, key_record(client_id, number, key.public_key, self.device, stamp(self.clock()))
        )
        self._client_generations.pop(client_id, None)
        return path
