"""Clients whose key reached this practitioner sealed to a key a renewal replaced (issue 28).

A renewal (vault/store/key_renewal.py) gives a new generation to every client held *here*
when it runs. A machine that was apart meanwhile (the practitioner's second laptop, or a
colleague's machine granting access) still seals to the key it knew: a client it adds or
grants stays sealed to the replaced key, which an older key record opens with the old
passphrase. Once the machines meet, the first unlock here finds those clients and gives
each a new generation (``key-renew``, as the renewal itself does).

Found cheaply, without opening every client: every access file a machine writes is named
in its audit log's entry (``files``), and a log only grows. So this device remembers how
far it has read each log (``<config dir>/renewal-catchup.json``, outside the vault and its
backups; no secret: offsets and client ids) and looks only at the lines added since that
name an access file of this practitioner. A first look starts where the renewal that made
the current key had read them (``seen_logs`` in its entry): it renewed every client named
before that was here then. A renewal's own ``key-renew`` lines are passed over, so the
unlock after a renewal opens no client. A named client is then checked for real: it is
renewed if any access file of the practitioner's for its current generation opens with a
replaced key (even beside one sealed to the current key), or one the log names is gone or
holds other bytes than the log recorded (whoever opened it laid another in its place),
else it has nothing to do. A
line is only a hint: whoever can write the folder can plant one (a line no registered
device signed is passed over), and at worst makes this check open one file; nothing is
renewed on its say.

Crash-safe in this order: the clients found are recorded as pending (with the new offsets)
before any is renewed, and they leave the pending list once all are checked or renewed and
audited (checked again, a client renewed has nothing to do); a kill at any instant leaves
the client readable (a rotation publishes its key file last; one cut short is finished by
`Keyring.finish_all`) and the next unlock resumes. A disk that refuses the state (full)
stops the catch-up for that unlock, not the command.
Nothing is done while the practitioner has never renewed a key: nothing can be sealed to a
replaced one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nacl.exceptions
from nacl.public import PrivateKey, SealedBox

from .. import durable
from ..errors import UnknownClient, VaultError, WriteFailed
from ..format import key_generations as kg
from ..format.encoding import b64, canonical
from ..format.keys import Practitioner
from . import audit, ledger
from .audit import signed_entry

if TYPE_CHECKING:
    from .key_renewal import Vault  # imported when an unlock needs it: a seal never does

STATE = "renewal-catchup.json"
STATE_FORMAT = "casenotes-renewal-catchup"
_TAIL = 64  # bytes before an offset remembered: a log rewritten under it is read again
_REREAD = 2**20  # log bytes left to read again rather than write the state at every unlock


@dataclass
class CatchUp:
    """What an unlock found: clients given a new generation now, and those still waiting
    (a file of theirs not synced yet, or a key file that cannot be checked yet)."""

    renewed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


def state_path(vault: Vault) -> Path:
    return vault.device_dir / STATE


def catch_up(vault: Vault, practitioner: Practitioner) -> CatchUp:
    """Renew every client held by ``practitioner`` whose current generation reached them
    sealed only to a key a renewal replaced, among those named by log lines not read yet
    and those a previous unlock left pending."""
    if not practitioner.retired:
        return CatchUp()  # never renewed: no key is replaced
    from .key_renewal import renew_client

    state = _read(vault, practitioner)
    offsets: dict[str, list[Any]] = state["logs"]
    pending: dict[str, list[str]] = state["pending"]
    before = {name: at for name, (at, _) in offsets.items()}
    found = _new_lines(vault, practitioner.practitioner_id, offsets)  # path -> recorded digest
    if not found and not pending:
        moved = max((at - before.get(name, 0) for name, (at, _) in offsets.items()), default=0)
        if moved > _REREAD or not state_path(vault).exists():
            _saved(vault, state)  # where the next unlock starts (a few lines more are read again)
        return CatchUp()
    if found:
        for client_id, paths in found.items():
            pending[client_id] = sorted({*pending.get(client_id, []), *paths})
        if not _saved(vault, state):  # the clients to check are durable before any is renewed
            return CatchUp(waiting=sorted(pending))  # the next unlock reads the same lines again
    done = CatchUp()
    # a renewal of one of them cut short (linked, not audited) first; not every client's
    # key files: a client that waits for days would have each unlock read them all
    vault.keyring.finish_all(pending)
    for client_id in sorted(pending):
        try:
            recorded = found.get(client_id, {})
            verdict = _check(vault, practitioner, client_id, pending[client_id], recorded)
            if verdict == "renew":
                renew_client(vault, client_id)
                done.renewed.append(client_id)
        except UnknownClient:
            verdict = "done"  # purged meanwhile: nothing left to re-key
        except VaultError:
            # a key file that cannot be checked yet, a merge due that this practitioner may
            # not make, a full disk: the next unlock tries again (verify names a bad file);
            # one client's trouble does not stop the command that unlocked
            verdict = "wait"
        if verdict == "wait":
            done.waiting.append(client_id)
            continue
        del pending[client_id]
    # Once, not once per client (an fsync each: 5 s for 300 clients read from a log's start).
    # Those checked stay listed until then: checked again, they have nothing to do.
    _saved(vault, state)
    return done


def _check(
    vault: Vault, practitioner: Practitioner, client_id: str, named: list[str], recorded: dict[str, str]
) -> str:
    """What the client needs: "renew" if the practitioner holds its current generation only
    through access files a replaced key opens; "wait" if that cannot be told yet; else "done".
    ``recorded``: the digest the lines read by this unlock gave each file they named."""
    keyring = vault.keyring
    try:
        found, bad = keyring.generations(client_id)
    except UnknownClient:
        # not here yet (a sync engine carries the log before the client), or purged
        return "wait" if not (vault.root / "clients" / client_id).exists() else "done"
    tips = kg.tips(found)
    # Judged by a key file that does not check (yet) or does not stand (a colleague's forged
    # tip), the client would be dropped, and sealed to the old key again once that file is
    # gone. Whether a tip stands is asked only of one another device made: it reads the logs.
    pid = practitioner.practitioner_id
    if bad or (any(vault.trust.registrant(found[t].by) != pid for t in tips) and keyring.refused(client_id)):
        return "wait"
    if len(tips) > 1:
        return "done"  # a merge is due: it comes before any seal, and seals to the current key
    current = tips[0]
    public = bytes(found[current].public)
    mine = [path for holder, gid, path in keyring.access_files(client_id) if holder == pid and gid == current]
    absent = [kg.parse_access(Path(p).name) for p in named if not (vault.root / p).exists()]
    if not mine:
        # a file named for a generation not here yet, or for the current one, may still come
        later = [p for p in absent if p is not None and (p[1] == current or p[1] not in found)]
        return "wait" if later else "done"
    if any(p is not None and p[1] == current for p in absent):
        # the log names a file of this generation that is gone while another is here: it may
        # have been sealed to a replaced key (deleted by whoever opened it to lay the other)
        return "renew"
    # One file a replaced key opens is enough: it hands the generation to the older record,
    # whatever else lies beside it (one sealed to the current key, laid there by whoever
    # opened the first with the old passphrase, would otherwise make this pass it over).
    if any(_holds(key, path, public) for key in practitioner.retired for path in mine):
        return "renew"
    # A named file with other bytes than its line recorded was laid over the one named (by
    # whoever opened that, to seal the generation to the current key under the same name).
    if any(_replaced(vault, path, recorded) for path in mine if str(path.relative_to(vault.root)) in named):
        return "renew"
    return "done"  # opens with the current key only, or with none of them (verify reports it)


def _replaced(vault: Vault, path: Path, recorded: dict[str, str]) -> bool:
    """Whether the access file differs from what the ledger last recorded of it (the digest
    of a line read now, else the log's entries that name it: a client left pending by an
    earlier unlock; a file the ledger records removed is verify's to report, not this)."""
    relative = str(path.relative_to(vault.root))
    latest: str | None = recorded.get(relative)
    if latest is None:
        entries = audit.signed_entries(vault.audit.directory, vault.trust.device_keys(), relative.encode())
        history = ledger.expected(entries).get(relative)
        latest = history[-1] if history else None
    try:
        return latest is not None and ledger.digest(path) != latest
    except OSError:
        return False  # gone meanwhile: the next unlock finds it absent


def _holds(key: PrivateKey, path: Path, public: bytes) -> bool:
    """Whether ``key`` opens the access file and finds in it the generation's private key."""
    try:
        secret = SealedBox(key).decrypt(path.read_bytes())
    except (OSError, nacl.exceptions.CryptoError):
        return False
    if not secret or len(secret) % 32:
        return False
    keys = (PrivateKey(secret[i : i + 32]) for i in range(0, len(secret), 32))
    return any(bytes(k.public_key) == public for k in keys)


def _new_lines(
    vault: Vault, practitioner_id: str, offsets: dict[str, list[Any]]
) -> dict[str, dict[str, str]]:
    """Client id -> access files of the practitioner written (and their digests), per the
    log lines added since the last look (whole lines only: a sync engine may have carried
    half of the last one). ``offsets`` is brought up to date. A renewal's own lines
    (``key-renew`` by a device of the practitioner, sealed to the key it made) are not looked
    at: else every renewal would have the next unlock open every client."""
    needle = b"/access/" + practitioner_id.encode() + b"."
    pattern = re.compile(r"clients/[^/]+/access/" + re.escape(practitioner_id) + r"\.[^/]+")
    keys = vault.trust.device_keys()
    found: dict[str, dict[str, str]] = {}
    for log in vault.audit.logs():
        if log.stem not in keys:
            continue  # a device not registered (yet: read from its start once it is), or planted
        try:
            base, raw, start = _unread(log, *offsets.get(log.name, [0, _tail(b"", 0)]))
        except OSError:
            continue
        end = raw.rfind(b"\n", start) + 1
        at = raw.find(needle, start, end)
        while at >= 0:
            line_start, line_end = raw.rfind(b"\n", 0, at) + 1, raw.find(b"\n", at)
            line = raw[line_start:line_end]
            # a renewal's own line is passed over before its signature is checked (the unlock
            # after a renewal reads one per client); one no registered device signed never
            # will be: planted, it would wait for ever
            entry = None if _own_renewal(vault, line, practitioner_id) else signed_entry(line, keys)
            if entry is not None:
                for path, sha in _written(entry.data, pattern).items():
                    found.setdefault(path.split("/")[1], {})[path] = sha
            at = raw.find(needle, line_end, end)
        if end > start:
            offsets[log.name] = [base + end, _tail(raw, end)]
    return found


def _unread(log: Path, start: int, tail: str | None) -> tuple[int, bytes, int]:
    """(where ``raw`` starts in the log, ``raw``, where in it the unread part starts): the
    log from just before ``start`` (enough to check ``tail``) to its end, not the whole log
    at every unlock; all of it, from 0, if it was rewritten or cut under ``start`` (a
    restore)."""
    with open(log, "rb") as handle:
        base = max(0, start - _TAIL)
        if start <= os.fstat(handle.fileno()).st_size:
            handle.seek(base)
            raw = handle.read()
            if tail is None or _tail(raw, start - base) == tail:
                return base, raw, start - base
        handle.seek(0)
        return 0, handle.read(), 0


def _own_renewal(vault: Vault, line: bytes, practitioner_id: str) -> bool:
    """Whether the line says it is a ``key-renew`` by a device of the practitioner: passing
    it over unchecked is safe (what a forged one names is only not looked at)."""
    from .key_renewal import RENEW_EVENT

    if b'"event":"' + RENEW_EVENT.encode() + b'"' not in line:
        return False
    try:
        device = json.loads(line).get("device")
    except (ValueError, AttributeError):
        return False
    return isinstance(device, str) and vault.trust.registrant(device) == practitioner_id


def _written(data: dict[str, Any], pattern: re.Pattern[str]) -> dict[str, str]:
    """The access files a line records as written (its ``files``, with their digests), not
    those it removed."""
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {
        name: sha
        for name, sha in files.items()
        if isinstance(name, str) and isinstance(sha, str) and pattern.fullmatch(name)
    }


def _tail(raw: bytes, offset: int) -> str:
    return hashlib.sha256(raw[max(0, offset - _TAIL) : offset]).hexdigest()


def _read(vault: Vault, practitioner: Practitioner) -> dict[str, Any]:
    """The state, or a first one: where the renewal that made the current key had read each
    log when it listed the clients it renewed (`key_renewal.seen_logs`); every log from its
    start if no such renewal is found."""
    pid = practitioner.practitioner_id
    try:
        state = json.loads(state_path(vault).read_bytes())
    except (OSError, ValueError):
        state = None  # none yet, or damaged: started again (the check is idempotent)
    if _well_formed(state, pid):
        return state
    current = b64(bytes(practitioner.box_key.public_key))
    seen: dict[str, list[Any]] = {}
    for entry in vault.trust.renewals(pid, vault.practitioner_file):
        logs = entry.data.get("seen_logs")
        if entry.data.get("renewed") == current and isinstance(logs, dict):
            seen = {name: [at, None] for name, at in logs.items() if isinstance(at, int) and at >= 0}
    return {"format": STATE_FORMAT, "practitioner_id": pid, "logs": seen, "pending": {}}


def _write(vault: Vault, state: dict[str, Any]) -> None:
    durable.replace(state_path(vault), canonical(state))


def _saved(vault: Vault, state: dict[str, Any]) -> bool:
    """Whether the state was written: a disk that refuses it (full) stops the catch-up for
    this unlock, not the command that unlocked (nothing was renewed that it does not list)."""
    try:
        _write(vault, state)
    except WriteFailed:
        return False
    return True


def _well_formed(state: Any, practitioner_id: str) -> bool:
    """Whether ``state`` is one this module wrote: fields of the wrong shape (edited by hand,
    damaged on disk) would fail every unlock, so such a state is started again."""
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        return False
    logs, pending = state.get("logs"), state.get("pending")
    return (
        state.get("practitioner_id") == practitioner_id
        and isinstance(logs, dict)
        and all(
            isinstance(at, list)
            and len(at) == 2
            and type(at[0]) is int
            and at[0] >= 0
            and (at[1] is None or isinstance(at[1], str))
            for at in logs.values()
        )
        and isinstance(pending, dict)
        and all(isinstance(p, list) and all(isinstance(f, str) for f in p) for p in pending.values())
    )
