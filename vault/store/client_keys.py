"""A client's key pairs and who holds them: generations, sealed access, the owner's key.

Held by `Vault` as ``vault.keyring``. Generation 1 is ``client.json``; a revoke
(vault/sharing/access.py) or a merge adds ``keys/<NNNNNN>-<did>.json``
(vault/format/key_generations.py). A practitioner's keys are sealed to them in
``access/<pid>.<gid>.<did>.sealed`` files; a reader opens every one of theirs and keeps
the keys whose public halves are the client's generations, so two generations made on two
machines at once are both readable by whoever holds them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from .. import durable
from ..errors import KeyFileInvalid, KeyNotUsable, NoAccess, TamperedFile, UnknownClient
from ..format import key_generations as kg
from ..format import sync_artefacts
from ..format.constants import PRACTITIONER_KEY_FORMAT
from ..format.encoding import b64, stamp
from ..format.keys import Practitioner, public_keys, read_record
from . import audit, ledger
from .clients import key_record, read_client_record, read_key_record
from .trust import Trust

Generations = dict[str, kg.Generation]


@dataclass(frozen=True)
class Rotation:
    """Who a new generation goes to: ``sealed_to`` get it; ``shut_out`` lose every access
    file of theirs (a revoke made on another machine at once shut them out)."""

    sealed_to: dict[str, PublicKey]
    shut_out: set[str]
    left_out: list[str]  # holders whose key this device does not know: granted again later
    unvouched: list[str]  # "holders" by a file the audit log never vouched for


@dataclass(frozen=True)
class Rotated:
    key_file: Path
    access: list[Path]
    removed: list[Path]  # the shut-out practitioners' files, to delete once audited


class Keyring:
    def __init__(self, trust: Trust) -> None:
        self.trust = trust
        self.root = trust.root
        self.device = trust.device
        self.audit = trust.audit
        self.clock = trust.clock
        # (keys/, devices/ mtimes) -> generations and the key files that did not check
        self._cache: dict[str, tuple[tuple[int, int], Generations, list[TamperedFile]]] = {}
        self._settling = threading.RLock()

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

    # -- generations ----------------------------------------------------------------------
    def generations(self, client_id: str) -> tuple[Generations, list[TamperedFile]]:
        """Every generation of the client's key that checks, and the key files that do not.
        Cached until ``keys/`` or ``devices/`` changes: a running syncd sees a generation
        that a revoke in another process, or a sync engine, adds from that moment on."""
        folder = self.client_dir(client_id) / "keys"
        changed = (_mtime(folder), _mtime(self.root / "devices"))  # a registration may arrive late
        cached = self._cache.get(client_id)
        if cached is not None and cached[0] == changed:
            return cached[1], cached[2]
        path = self.client_dir(client_id) / "client.json"
        if not path.exists():
            raise UnknownClient("")
        signers = self.trust.device_keys()
        first = read_client_record(path, signers)
        found: Generations = {kg.FIRST: kg.Generation(kg.FIRST, first, (), None)}
        bad = []
        for key_file in sync_artefacts.glob(folder, "*.json"):
            try:
                generation = read_key_record(key_file, signers)
            except TamperedFile as exc:
                bad.append(exc)
                continue
            found[generation.gid] = generation
        self._cache[client_id] = (changed, found, bad)
        return found, bad

    def client_generations(self, client_id: str) -> list[PublicKey]:
        """Every public key the client has had, oldest first; TamperedFile for a key file
        that does not check (verify reports it)."""
        found, bad = self.generations(client_id)
        if bad:
            raise bad[0]
        return [found[gid].public for gid in sorted(found, key=kg.order)]

    def current(self, client_id: str) -> str | None:
        """The generation new revisions are sealed to (None: a merge must come first)."""
        found, _ = self.generations(client_id)
        ends = kg.tips(found)  # one tip needs no holders (reading the ledger costs)
        return (
            ends[0]
            if len(ends) == 1
            else kg.current(found, self.holders(client_id, found, self.vouched_files(client_id)))
        )

    def client_public(self, client_id: str) -> PublicKey:
        """The current generation's public key (the newest tip while a merge is due); checks
        the client's records."""
        found, _ = self.generations(client_id)
        return found[self.current(client_id) or kg.tips(found)[-1]].public

    def sealing_key(self, client_id: str) -> PublicKey:
        """The key the next revision is sealed to (see `settle`)."""
        gid = self.settle(client_id)
        return self.generations(client_id)[0][gid].public

    def settle(self, client_id: str) -> str:
        """The current generation, after merging generations made apart if that is due.
        Never one that a newer generation replaces: while a key file is here that cannot be
        checked (it may be that newer one), KeyNotUsable."""
        _, bad = self.generations(client_id)
        if bad:
            raise KeyNotUsable(bad[0].path, bad[0].why)
        with self._settling:  # one merge, not one per thread that seals this client's notes
            return self.current(client_id) or self.merge(client_id)

    # -- access ---------------------------------------------------------------------------
    def access_files(self, client_id: str) -> list[tuple[str, str, Path]]:
        """(practitioner id, generation id, path) of every access file of the client."""
        folder = self.client_dir(client_id) / "access"
        found = []
        for path in sync_artefacts.glob(folder, "*.sealed"):
            parsed = kg.parse_access(path.name)
            if parsed is not None:
                found.append((*parsed, path))
        return found

    def access_file(self, practitioner_id: str, client_id: str, gid: str) -> Path:
        """Where this device seals generation ``gid`` (and older keys) to a practitioner."""
        name = kg.access_name(practitioner_id, gid, self.device.device_id)
        return self.client_dir(client_id) / "access" / name

    def access_holders(self, client_id: str) -> set[str]:
        return {pid for pid, _, _ in self.access_files(client_id)}

    def vouched_files(self, client_id: str) -> list[tuple[str, str, Path]]:
        """The access files the signed audit log vouches for (as it is now).

        Only logs of registered devices, checked first: an entry added by whoever can write the
        folder must not vouch for a file they planted. A client from before the ledger has no
        recorded files: each of its files counts, as before.
        """
        files = self.access_files(client_id)
        if not files:
            return []
        entries = audit.vouching_entries(self.audit.directory, self.trust.device_keys())
        return [
            (pid, gid, path) for pid, gid, path in files if ledger.vouch(self.root, path, entries) is None
        ]

    def holders(
        self, client_id: str, found: Generations, vouched: list[tuple[str, str, Path]]
    ) -> dict[str, set[str]]:
        """Who holds each generation: whom its signed record names, and whoever holds an
        access file of it that the audit log vouches for (a grant since)."""
        held = {gid: set(g.holders or ()) for gid, g in found.items()}
        for pid, gid, _ in vouched:
            if gid in held:
                held[gid].add(pid)
        return held

    def client_keys(self, practitioner: Practitioner, client_id: str) -> list[PrivateKey]:
        """Every private key of the client this practitioner holds, newest first."""
        return oldest_first(self.held(practitioner, client_id))[::-1]

    def held(self, practitioner: Practitioner, client_id: str) -> dict[str, PrivateKey]:
        """Generation id -> private key, of every generation this practitioner holds: from
        all of their access files, whichever machine wrote each. NoAccess (audited) if none."""
        found, _ = self.generations(client_id)
        by_public = {bytes(g.public): gid for gid, g in found.items()}
        keys: dict[str, PrivateKey] = {}
        for pid, gid, path in self.access_files(client_id):
            if pid != practitioner.practitioner_id:
                continue
            try:
                secret = practitioner.open_sealed(path.read_bytes())
                held = {bytes(k.public_key): k for k in _split(secret)}
            except (nacl.exceptions.CryptoError, ValueError) as exc:
                raise TamperedFile(path, "sealed client key does not open") from exc
            if gid in found and bytes(found[gid].public) not in held:
                raise TamperedFile(path, "sealed client key belongs to another client")
            # keys of a generation whose key file has not arrived yet wait for it
            keys |= {by_public[public]: key for public, key in held.items() if public in by_public}
        if not keys:
            self.audit.append("access-denied", client=client_id, practitioner=practitioner.practitioner_id)
            raise NoAccess(client_id)
        return keys

    def seal_access(
        self,
        client_id: str,
        keys: Iterable[PrivateKey],
        to_id: str,
        to_key: PublicKey,
        gid: str,
        replace: bool = False,
    ) -> Path:
        """Seal a client's keys (generation ``gid``'s among them) to a practitioner."""
        path = self.access_file(to_id, client_id, gid)
        sealed = SealedBox(to_key).encrypt(b"".join(bytes(k) for k in keys))
        (durable.replace if replace else durable.write_new)(path, sealed)
        return path

    # -- rotation: a revoke, or a merge of generations made apart ------------------------
    def known_box_keys(self) -> dict[str, PublicKey]:
        """Encryption keys this device can seal to: pinned practitioners' and colleagues'."""
        known = {c.practitioner_id: c.identity.box_public for c in self.trust.colleagues()}
        return known | self.practitioner_box_keys()

    def rotation(self, client_id: str, revoke: str | None = None, by: str | None = None) -> Rotation:
        """Who a new generation replacing every tip goes to: whoever holds access now (by a
        file the audit log vouches for, or as a tip's record says), less ``revoke`` and those
        a rotation made apart shut out; ``by`` (the practitioner rotating) counts as vouched."""
        found, _ = self.generations(client_id)
        files = self.vouched_files(client_id)
        held = self.holders(client_id, found, files)
        out = kg.shut_out(found, held) | ({revoke} if revoke else set())
        recorded = set().union(*(held[t] for t in kg.tips(found)))
        vouched = {pid for pid, _, _ in files} | recorded | ({by} if by else set())
        known = self.known_box_keys()
        sealed_to, left_out, unvouched = {}, [], []
        for holder in sorted((self.access_holders(client_id) | recorded) - out):
            if holder not in vouched:
                unvouched.append(holder)  # a planted or put-back file must not earn the new key
            elif holder in known:
                sealed_to[holder] = known[holder]
            else:
                left_out.append(holder)
        return Rotation(sealed_to, out, left_out, unvouched)

    def rotate(
        self, client_id: str, rotation: Rotation, older: Mapping[str, PrivateKey] | None = None
    ) -> Rotated:
        """Add a generation that replaces every tip, sealed (with ``older`` keys) to
        ``rotation.sealed_to``; published last, so no revision is ever sealed to a key that
        nobody holds. Files are replaced, not written once: a rotation cut short before it
        published its key leaves them for a key never used, which this one supersedes."""
        found, _ = self.generations(client_id)
        ends = kg.tips(found)
        gid = kg.new_gid(max(g.number for g in found.values()) + 1, self.device.device_id)
        key = PrivateKey.generate()
        keys = [*oldest_first(older or {}), key]
        access = [
            self.seal_access(client_id, keys, pid, public, gid, replace=True)
            for pid, public in sorted(rotation.sealed_to.items())
        ]
        generation = kg.Generation(
            gid, key.public_key, tuple(ends), frozenset(rotation.sealed_to), frozenset(rotation.shut_out)
        )
        key_file = self.client_dir(client_id) / "keys" / f"{gid}.json"
        durable.write_new(key_file, key_record(client_id, generation, self.device, stamp(self.clock())))
        self._cache.pop(client_id, None)
        removed = [path for pid, _, path in self.access_files(client_id) if pid in rotation.shut_out]
        return Rotated(key_file, access, removed)

    def merge(self, client_id: str) -> str:
        """Replace generations made apart by one sealed to everyone either kept and to no one
        either shut out (no passphrase needed: the new key is sealed with public keys alone;
        holders keep their older keys in their older files). Audited as ``key-merge``."""
        rotation = self.rotation(client_id)
        rotated = self.rotate(client_id, rotation)
        self.audit.append(
            "key-merge",
            client=client_id,
            key_file=str(rotated.key_file.relative_to(self.root)),
            sha256=ledger.digest(rotated.key_file),
            files=ledger.files(self.root, *rotated.access),
            removed=[str(p.relative_to(self.root)) for p in rotated.removed],
            shut_out=sorted(rotation.shut_out),
            left_out=rotation.left_out,
        )
        remove(rotated.removed)
        return rotated.key_file.stem


def remove(paths: list[Path]) -> None:
    """Delete audited access files (after their entry: a run cut short runs again)."""
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {p.parent for p in paths}:
        durable.fsync_dir(folder)


def oldest_first(keys: Mapping[str, PrivateKey]) -> list[PrivateKey]:
    """Keys by generation id, in the order access files hold them."""
    return [keys[gid] for gid in sorted(keys, key=kg.order)]


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def _split(secret: bytes) -> list[PrivateKey]:
    if not secret or len(secret) % 32:
        raise ValueError("sealed client keys have the wrong length")
    return [PrivateKey(secret[i : i + 32]) for i in range(0, len(secret), 32)]
