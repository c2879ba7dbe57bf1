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
from dataclasses import dataclass, replace
from pathlib import Path

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from .. import durable
from ..errors import (
    KeyFileInvalid,
    KeyNotUsable,
    MergeNotHere,
    NoAccess,
    RotationCutShort,
    TamperedFile,
    UnknownClient,
    WriteFailed,
)
from ..format import key_generations as kg
from ..format import sync_artefacts
from ..format.constants import PRACTITIONER_KEY_FORMAT
from ..format.encoding import b64, canonical, stamp
from ..format.keys import Practitioner, public_keys, read_record
from . import audit, ledger
from .clients import key_record, read_first_generation, read_key_record
from .trust import Trust

Generations = dict[str, kg.Generation]
_NO_ONE = "\0"  # the recorder of a grant that counts for no one (a retired device's, after its retire)
#: the audit events that record a new generation's key file (`Keyring.finish`)
ROTATION_EVENTS = ("key-merge", "access-revoke", "key-renew")


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
        # (the above, other devices' logs) -> who holds each generation, generations refused
        # ... and the access files the ledger records given and not removed, with their holder
        self._held: dict[
            str, tuple[object, dict[str, set[str]], list[TamperedFile], list[TamperedFile], dict[Path, str]]
        ] = {}
        self._settling = threading.RLock()
        self._finished: set[tuple[str, str]] = set()  # (client, generation): known audited

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
            if pinned is not None and pinned != b64(bytes(key)) and self.trust.renewed_box_key(pid) is None:
                late = self.trust.late_renewal(pid, path)
                raise TamperedFile(
                    path,
                    "the practitioner's encryption key is not the one this device pinned "
                    + (f"({late}; restore the record from a backup)" if late else "(swapped?)"),
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
        found: Generations = {kg.FIRST: read_first_generation(path, signers)}
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
        that does not check or does not stand (verify reports it)."""
        bad = self.refused(client_id)
        if bad:
            raise bad[0]
        found, _ = self.generations(client_id)
        return [found[gid].public for gid in sorted(found, key=kg.order)]

    def refused(self, client_id: str) -> list[TamperedFile]:
        """Key files that do not check, else those that do not stand (`entitled`)."""
        found, bad = self.generations(client_id)
        if bad:
            return bad
        return self.entitled(client_id)[1] if len(found) > 1 else self._first_refused(client_id, found)

    def current(self, client_id: str) -> str | None:
        """The generation new revisions are sealed to (None: a merge must come first), among
        those `entitled` lets stand."""
        found, _ = self.generations(client_id)
        if len(found) == 1:  # no grant to judge (reading the ledger costs)
            return None if self._first_refused(client_id, found) else kg.FIRST
        held, refused = self.entitled(client_id)
        return kg.current(self._standing(found, held), held) if not refused else None

    def _standing(self, found: Generations, held: Mapping[str, set[str]]) -> Generations:
        """The generations that stand; the revokes of one made apart by a practitioner whom
        a generation on another line revoked do not count, unless she revoked its maker too
        (a revoked colleague's machine could otherwise make a "concurrent" key file, after
        her revoke, that shuts a holder out of every merge)."""
        standing = {gid: g for gid, g in found.items() if gid in held}
        lines = {gid: kg.ancestry(standing, gid) for gid in standing}
        maker = {gid: self.trust.registrant(g.by) for gid, g in standing.items()}
        for gid, g in list(standing.items()):
            apart = [h for hid, h in standing.items() if hid not in lines[gid] and gid not in lines[hid]]
            if g.revoked and any(maker[gid] in h.revoked and maker[h.gid] not in g.revoked for h in apart):
                standing[gid] = replace(g, revoked=frozenset())
        return standing

    def owner(self, client_id: str) -> str | None:
        """The practitioner who added the client (whose device signed client.json)."""
        return self.trust.registrant(self.generations(client_id)[0][kg.FIRST].by)

    def entitled(self, client_id: str) -> tuple[dict[str, set[str]], list[TamperedFile]]:
        """Who holds each generation, and the generations that do not stand.

        Every registered device signs records and audit entries that check, a revoked
        colleague's too, so a signature alone does not let a key file or a grant count:
        a generation stands only if the practitioner whose device made it holds it (its
        maker knows its private key), everyone it names held a generation it replaces, and
        it keeps the practitioner who added the client; an access file counts only if the
        device that recorded it made its generation or is a holder's. Refused files stop
        sealing (`settle`): they may be a newer key whose grant has not synced yet.

        A holder is who the ledger says was given the key, not who has a file on disk now:
        a grant counts until an entry records its file removed (a revoke, which names even a
        file already gone), whether or not the file is still there or has its recorded
        bytes (`verify` reports one deleted or replaced); and the practitioner who added the
        client holds its first generation (their device made the key). Else whoever can
        write the folder could delete a holder's file and have the next rotation (a key
        renewal's) leave them out, or refuse it, keeping notes sealed to a key the deleter
        took. A file no entry records counts only in a client from before the ledger.

        A retired device (vault/store/retired.py) keeps no authority: a key file it made
        stands only if an entry of its log up to the end its retire names records these
        very bytes, and a grant it recorded counts only if that entry lies there too
        (`late_grants`), whatever date either claims: a thief with the stolen laptop and the
        passphrase knows the private key of a generation it makes, and would be sealed to.
        """
        found, _ = self.generations(client_id)
        logs = self.root / "audit"
        stamp_ = (
            self._cache[client_id][0],
            _mtime(logs),
            tuple(_mtime(f) for f in sorted(logs.glob("*.log")) if f.stem != self.device.device_id),
        )
        cached = self._held.get(client_id)
        if cached is not None and cached[0] == stamp_:
            return cached[1], cached[2]
        late: list[TamperedFile] = []
        entries = ledger.agreed_purges(
            audit.vouching_entries(self.audit.directory, self.trust.device_keys()), self.device.device_id
        )
        written = ledger.writers(entries)
        older = client_id not in ledger.recorded_clients(entries)
        # Every access file the ledger ever recorded (a revoke since may have removed it: its
        # holder held the key when a rotation made apart was sealed to them) and whether it
        # counts now; the device that recorded it, None for a file from before the ledger.
        files: dict[str, tuple[str, str, str | None, bool]] = {}
        history = ledger.expected(entries)
        prefix = str((self.client_dir(client_id) / "access").relative_to(self.root)) + "/"
        for relative, entry in written.items():
            parsed = kg.parse_access(relative[len(prefix) :]) if relative.startswith(prefix) else None
            if parsed is not None:
                by = None if entry.event == "ledger-record" and older else entry.device
                if by is not None and (why := self._beyond_retire(by, entry.time, entry)):
                    late.append(TamperedFile(self.root / relative, f"a grant {why}: it gives no access"))
                    by = _NO_ONE
                states = history.get(relative)  # none: a purged client's (counted while on disk)
                now = states[-1] is not ledger.REMOVED if states else (self.root / relative).is_file()
                files[relative] = (*parsed, by, now)
        if older:  # from before the ledger: what is on disk, unless the ledger says otherwise
            for pid, gid, path in self.access_files(client_id):
                relative = str(path.relative_to(self.root))
                if relative not in files:
                    files[relative] = (pid, gid, None, ledger.vouch(self.root, path, entries) is None)
        owner = self.owner(client_id)
        ever: dict[str, set[str]] = {}  # who held each generation at any time
        held: dict[str, set[str]] = {}  # and who holds it now
        refused = []
        # An older vault's name is never written again: one numbered among device-named ones is forged
        newer = min((g.number for gid, g in found.items() if "-" in gid), default=None)
        for gid in sorted(found, key=kg.order):
            g = found[gid]
            if gid != kg.FIRST:
                key_file = self.client_dir(client_id) / "keys" / f"{gid}.json"
                why = _refusal(g, ever, self.trust.registrant(g.by), owner, newer)
                why = why or self._key_file_late(g, key_file)
                if why:
                    refused.append(TamperedFile(key_file, why))
                    continue
            elif why := self._key_file_late(g, self.client_dir(client_id) / "client.json"):
                refused.append(TamperedFile(self.client_dir(client_id) / "client.json", why))
                continue  # and so does every generation after it
            ever[gid] = set(g.holders or ())
            grew = True
            while grew:  # a grant by a holder counts, and so does one by whom they granted
                before = len(ever[gid])
                ever[gid] |= {
                    pid
                    for pid, of, by, _ in files.values()
                    if of == gid and (by is None or by == g.by or self.trust.registrant(by) in ever[gid])
                }
                grew = len(ever[gid]) > before
            held[gid] = set(g.holders or ()) | {
                pid for pid, of, _, now in files.values() if of == gid and now and pid in ever[gid]
            }
            if gid == kg.FIRST and owner is not None:
                held[gid].add(owner)  # made on their device: they know its key, file or not
        given = {self.root / relative: pid for relative, (pid, _, _, now) in files.items() if now}
        self._held[client_id] = (stamp_, held, refused, late, given)
        return held, refused

    def granted(self, client_id: str) -> set[str]:
        """Who holds the current key (or a tip of one made apart), as `entitled` counts them:
        whom a revoke can take it from, their access file deleted or not."""
        found, _ = self.generations(client_id)
        held, _ = self.entitled(client_id)
        return set().union(*(held.get(t, set()) for t in kg.tips(found)))

    def _files_of(self, client_id: str, practitioners: Iterable[str]) -> list[Path]:
        """The practitioners' access files of the client: those here, and those the ledger
        records written and not removed that are gone (a removal records them removed, so
        `verify` calls them neither missing now nor their holders' later)."""
        who = set(practitioners)
        here = [path for pid, _, path in self.access_files(client_id) if pid in who]
        self.entitled(client_id)
        gone = [p for p, pid in self._held[client_id][4].items() if pid in who and not p.exists()]
        return sorted({*here, *gone})

    def late_grants(self, client_id: str) -> list[TamperedFile]:
        """Access files a retired device recorded after its retire: they give no access
        (`entitled`), and `verify` names each with the device and its practitioner."""
        self.entitled(client_id)
        return list(self._held[client_id][3])

    def _beyond_retire(self, device_id: str, at: str, entry: audit.Entry) -> str:
        """Why the device's audit ``entry`` (dated ``at``) was written after its retire ("" if
        not): beyond the end of its log the retire names, or dated after a retire that names
        none (vault/store/retired.py)."""
        when = self.trust.retired_after(device_id, at, entry)
        if when is None:
            return ""
        return (
            f"recorded by device {device_id} of practitioner {self.trust.registrant(device_id) or 'unknown'} "
            f"after its retire at {when} (its audit log records it beyond the last entry the retire saw: "
            "a retired device keeps no authority, whatever date it claims)"
        )

    def _first_refused(self, client_id: str, found: Generations) -> list[TamperedFile]:
        """Of a client with one generation, its ``client.json`` if a retired device made it
        beyond its retire (`_key_file_late`, as `entitled` judges it): without `entitled`'s
        reading of every log's chain and signatures once per client, which a retired old
        laptop's many clients would each pay on their first seal (0.08 s at 3,000 lines)."""
        path = self.client_dir(client_id) / "client.json"
        why = self._key_file_late(found[kg.FIRST], path)
        return [TamperedFile(path, why)] if why else []

    def _key_file_late(self, g: kg.Generation, key_file: Path) -> str:
        """Why a key file made by a retired device does not stand ("" if it does): no entry
        of its log before the retire records these exact bytes (or, by a retire that names
        no end of its log, it claims a date after it). A ``client.json`` an older casenotes'
        ``client-add`` (no ``sha256``) recorded is vouched for by the bytes the retire had
        (vault/store/retired.py `had`), not by its client id: the thief would else put back
        one of its own."""
        when = self.trust.retired().get(g.by)
        if when is None:
            return ""
        before = self.trust.before_retire(g.by)
        if (
            before is None
            and g.made <= when
            or before is not None
            and before.vouches(ledger.digest(key_file))
        ):
            return ""
        return (
            f"made by device {g.by} of practitioner {self.trust.registrant(g.by) or 'unknown'}, which was "
            f"retired at {when}, and no entry of its audit log before the retire records it (a retired "
            "device keeps no authority, whatever date it claims): no note is sealed to it; remove it"
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
        bad = self.refused(client_id)
        if bad:
            raise KeyNotUsable(bad[0].path, bad[0].why)
        with self._settling:  # one merge, not one per thread that seals this client's notes
            gid = self.current(client_id) or self.merge(client_id)
            self.finish(client_id, gid)
            return gid

    def finish(self, client_id: str, gid: str, audited: bool | None = None) -> None:
        """A rotation of this device's cut short after its key file was linked (killed, or
        an I/O error on a folder's fsync, before its audit entry): made durable and audited
        now, before anything is sealed to its key. Left as it was, `verify` calls its access
        files planted, and deleting them as it invites loses every note sealed to that key.
        Finished as a ``key-merge`` that records what the rotation wrote and removes whom its
        key file shuts out, as the rotation itself would have."""
        if gid == kg.FIRST or (client_id, gid) in self._finished:
            return
        generation = self.generations(client_id)[0][gid]
        key_file = self.client_dir(client_id) / "keys" / f"{gid}.json"
        relative = str(key_file.relative_to(self.root))
        if audited is None:
            audited = any(self.audit.has(event, key_file=relative) for event in ROTATION_EVENTS)
        if generation.by == self.device.device_id and not audited:
            mine = f".{self.device.device_id}.sealed"
            files = self.access_files(client_id)
            access = sorted(path for _, of, path in files if of == gid and path.name.endswith(mine))
            removed = self._files_of(client_id, generation.revoked)
            sealed_to = {pid for pid, of, path in files if path in access}
            if not (generation.holders or frozenset()) <= sealed_to:
                # A holder's file is gone (an undo a crash half kept): no one may be sealed
                # to a key its holders cannot open, so the rotation is undone instead.
                try:
                    key_file.unlink()
                    durable.fsync_dir(key_file.parent)
                except (OSError, WriteFailed) as exc:
                    raise RotationCutShort(key_file, f"could not be undone ({exc})") from exc
                finally:
                    self._cache.pop(client_id, None)
                raise RotationCutShort(key_file, "was undone")
            try:
                for path in (key_file, *access):
                    durable.fsync_file(path)
                for folder in sorted({key_file.parent, *(path.parent for path in access)}):
                    durable.fsync_dir(folder)
                self.audit.append(
                    "key-merge",
                    client=client_id,
                    key_file=relative,
                    sha256=ledger.digest(key_file),
                    files=ledger.files(self.root, *access),
                    removed=[str(p.relative_to(self.root)) for p in removed],
                    shut_out=sorted(generation.revoked),
                    left_out=[],
                    finished="a rotation cut short",
                )
            except WriteFailed as exc:
                why = f"could not be made durable and audited yet ({exc.why})"
                raise RotationCutShort(key_file, why) from exc
            remove(removed)
        if generation.by == self.device.device_id and not self._removals_done(client_id, gid):
            return  # a removal the disk refused: tried again next time
        self._finished.add((client_id, gid))

    def _removals_done(self, client_id: str, gid: str) -> bool:
        """Remove what a rotation of this device's recorded as removed and the disk kept (an
        unlink that failed after its entry): access files of those it shut out, of the
        generations it replaces, whose last ledger state is "removed" (a grant made apart
        since is recorded as written, and stays). Left there, `verify` would call each
        "put back?" for good. True once none is left."""
        found, _ = self.generations(client_id)
        generation = found[gid]
        older = kg.ancestry(found, gid) - {gid}
        left = [
            path
            for pid, of, path in self.access_files(client_id)
            if pid in generation.revoked and of in older
        ]
        if left:  # rare: only then is the whole log read
            recorded = ledger.expected(self.audit.entries())
            left = [
                p for p in left if recorded.get(str(p.relative_to(self.root)), [""])[-1] is ledger.REMOVED
            ]
        try:
            remove(left)
        except (OSError, WriteFailed):
            return False
        return True

    def finish_all(self, clients: Iterable[str] | None = None) -> list[Path]:
        """`finish` every rotation of this device's cut short (of ``clients`` only, if given),
        whether or not a note of its client is sealed next (syncd's sweep); the key files it
        could not finish yet."""
        waiting: list[Path] = []
        pattern = f"keys/*-{self.device.device_id}.json"
        if clients is None:
            mine = sorted(self.root.glob(f"clients/*/{pattern}"))
        else:
            mine = sorted(p for c in clients for p in self.client_dir(c).glob(pattern))
        mine = [p for p in mine if (p.parent.parent.name, p.stem) not in self._finished]
        if not mine:
            return waiting
        # Every log read once, not once per key file: a key file an entry names is audited.
        logs = b"".join(path.read_bytes() for path in self.audit.logs())
        for key_file in mine:
            client_id, gid = key_file.parent.parent.name, key_file.stem
            needle = canonical({"key_file": str(key_file.relative_to(self.root))})[1:-1]
            try:
                if gid in self.generations(client_id)[0]:
                    self.finish(client_id, gid, audited=needle in logs)
            except (RotationCutShort, UnknownClient):
                waiting.append(key_file)
        return waiting

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
        known = {}
        for colleague in self.trust.colleagues():
            try:
                known[colleague.practitioner_id] = self.trust.box_key(colleague)
            except TamperedFile:  # an older key record put back: left out, granted again later
                continue
        return known | self.practitioner_box_keys()

    def rotation(self, client_id: str, revoke: str | None = None, by: str | None = None) -> Rotation:
        """Who a new generation replacing every tip goes to: whoever holds a tip (as
        `entitled` counts), less ``revoke`` and those a rotation made apart shut out.
        Holders of an access file that does not count are reported, not sealed to."""
        found, _ = self.generations(client_id)
        held, _ = self.entitled(client_id)
        standing = self._standing(found, held)
        out = kg.shut_out(standing, held) | ({revoke} if revoke else set())
        holding = set().union(*(held[t] for t in kg.tips(standing)))
        known = self.known_box_keys()
        sealed_to, left_out = {}, []
        for holder in sorted(holding - out):
            if holder in known:
                sealed_to[holder] = known[holder]
            else:
                left_out.append(holder)
        unvouched = sorted(self.access_holders(client_id) - holding - out)
        if by is not None and by not in sealed_to:
            revoking = [
                f"{self.client_dir(client_id) / 'keys' / gid}.json, made on a machine of practitioner "
                f"{self.trust.registrant(g.by)}"
                for gid, g in standing.items()
                if by in g.revoked
            ]
            why = "revoked by " + "; ".join(revoking) if revoking else "never granted"
            raise MergeNotHere(client_id, why)
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
        removed = self._files_of(client_id, rotation.shut_out)  # the ledger as `rotation` read it
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
        try:
            durable.write_new(key_file, key_record(client_id, generation, self.device, stamp(self.clock())))
        except WriteFailed as exc:
            # Linked but its folder not synced, or never linked: take back what this rotation
            # wrote, so that "nothing was changed" holds. What cannot be taken back is a
            # rotation cut short, which `finish` completes before its key is used.
            self._cache.pop(client_id, None)
            if _undo([key_file, *access]):
                raise WriteFailed(exc.path, exc.why) from exc
            raise RotationCutShort(key_file, f"could not be undone for good ({exc.why})") from exc
        self._cache.pop(client_id, None)
        return Rotated(key_file, access, removed)

    def merge(self, client_id: str, event: str = "key-merge") -> str:
        """Replace generations made apart by one sealed to everyone either kept and to no one
        either shut out (no passphrase needed: the new key is sealed with public keys alone;
        holders keep their older keys in their older files). Audited as ``event``: a
        ``key-merge``, or a renewal's new generation over a single tip (`key-renew`)."""
        rotation = self.rotation(client_id, by=self.device.practitioner_id)
        rotated = self.rotate(client_id, rotation)
        self.audit.append(
            event,
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


def _refusal(
    g: kg.Generation, held: Mapping[str, set[str]], maker: str | None, owner: str | None, newer: int | None
) -> str:
    """Why a generation after the first does not stand ("" if it does); ``held``: who ever
    held each generation before it; ``newer``: the lowest number of a device-named one."""
    if any(gid not in held for gid in g.after):
        return "it replaces a key file that is not here or does not stand (cannot be checked yet)"
    if g.holders is None:  # an older vault's name: its maker held the key it replaced
        if newer is not None and g.number >= newer:
            return "an older casenotes' key file name among newer ones (forged?)"
        if maker not in set().union(*(held[gid] for gid in g.after)):
            return (
                f"made on a machine of practitioner {maker}, who did not hold the key it replaces (forged?)"
            )
        return ""
    if maker is None or maker not in g.holders:
        return f"the practitioner whose machine made it ({maker}) is not among its holders (forged?)"
    if not (g.holders or set()) <= set().union(*(held[gid] for gid in g.after)):
        return (
            f"practitioner {maker}'s machine gave it to someone who held no key it replaces "
            "(forged, or a grant that has not synced yet?)"
        )
    if owner is not None and (owner in g.revoked or owner not in (g.holders or ())):
        return "it shuts out the practitioner who added the client (forged?)"
    return ""


def remove(paths: list[Path]) -> None:
    """Delete audited access files (after their entry: a run cut short runs again)."""
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {p.parent for p in paths}:
        durable.fsync_dir(folder)


def _undo(paths: list[Path]) -> bool:
    """Remove what a rotation wrote, as far as the disk lets (see `finish`); True if all
    of it is gone (its removal made durable too: else a power cut could bring it back)."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            return False  # the key file stays: a rotation cut short, finished by the next settle
    undone = True
    for folder in {p.parent for p in paths}:
        try:
            durable.fsync_dir(folder)
        except WriteFailed:
            undone = False
    return undone


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
