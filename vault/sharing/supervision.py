"""Supervision: a supervisor reads a supervisee's client, and co-signs their signed notes.

``clients/<cid>/supervision/<supervisor>.json`` says, signed by the supervisee's
practitioner key, that signed notes of this client sealed from ``since`` await the
supervisor's co-signature. ``clients/<cid>/cosign/<nid>-<supervisor>.json`` is that
co-signature: the note's final revision (number and SHA-256 of the sealed file), signed
by the supervisor's practitioner key. The note itself stays immutable; the co-signature
is bound to its exact bytes, so a changed note no longer carries it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import durable
from ..errors import Problem, TamperedFile, VaultError
from ..format import sync_artefacts
from ..format.constants import JSON_FORMAT_VERSION
from ..format.encoding import stamp
from ..format.keys import Practitioner, check_record, sign_record, signer
from ..store.audit import Entry, signed_entries
from ..store.authority import Judge
from ..store.colleagues import Colleague
from ..store.vault import Vault
from . import access

SUPERVISION_FORMAT = "casenotes-supervision"
COSIGN_FORMAT = "casenotes-cosignature"
UNTRUSTED = "signed by a practitioner this device does not trust"


class NotSupervisor(VaultError):
    template = "you do not supervise client {}: the supervisee runs `casenotes supervise HANDLE NAME` first"


class NotSigned(VaultError):
    template = "note {} is not signed yet: only a signed note can be co-signed"


class AlreadyCosigned(VaultError):
    template = "note {} is already co-signed by you; nothing was changed"


@dataclass(frozen=True)
class Awaiting:
    client_id: str
    note_id: str
    supervisor: str


def supervise(vault: Vault, supervisee: Practitioner, client_id: str, supervisor: Colleague) -> None:
    """Let a supervisor read the client, and ask for co-signatures of its signed notes."""
    if supervisor.practitioner_id not in vault.keyring.access_holders(client_id):
        access.grant(vault, supervisee, client_id, supervisor)
    record = {
        "format": SUPERVISION_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "client_id": client_id,
        "supervisor": supervisor.practitioner_id,
        "supervisee": supervisee.practitioner_id,
        "since": stamp(vault.clock()),
    }
    path = vault.client_dir(client_id) / "supervision" / f"{supervisor.practitioner_id}.json"
    try:
        durable.write_new(path, sign_record(record, signer(supervisee.signing_key)))
    except FileExistsError:
        raise access.AlreadyGranted(supervisor.name, client_id) from None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()  # a retired machine's is told by it
    vault.audit.append("supervise", client=client_id, supervisor=supervisor.practitioner_id, sha256=digest)


def _supervisions(
    vault: Vault, client_id: str, found: list[Problem] | None = None, judge: Judge | None = None
) -> list[dict[str, Any]]:
    """The client's supervision records that stand: signed by a trusted practitioner who was
    entitled to write the client when it says it began (a revoked colleague's machine cannot
    make itself, or anyone, a supervisor whose co-signatures count); the others are refused
    and, given ``found``, named there."""
    folder = vault.client_dir(client_id) / "supervision"
    if not folder.is_dir():
        return []
    signers = vault.trust.trusted_signers()
    judge = judge or Judge(vault.keyring, client_id)
    standing = []
    for path in sync_artefacts.glob(folder, "*.json"):
        record = check_record(path, SUPERVISION_FORMAT, signers, "supervisee", UNTRUSTED)
        why = judge.refusal(str(record["supervisee"]), str(record["since"])) or _supervision_from_retired(
            vault, client_id, record, path
        )
        if not why:
            standing.append(record)
        elif found is not None:
            fix = "no co-signature counts by it: remove the file"
            found.append(
                Problem(path, _refused(vault, "supervision", record["supervisee"], why, fix, client_id))
            )
    return standing


def _refused(vault: Vault, what: str, practitioner: object, why: str, fix: str, client_id: str) -> str:
    """The words of a refused supervision or co-signature: signed with a practitioner's key, so
    the device is the one whose audit log records writing it, if any did."""
    event = "supervise" if what == "supervision" else "cosign"
    devices = sorted(
        {
            e.device
            for e in vault.audit.entries()
            if e.event == event
            and e.data.get("client") == client_id
            and vault.trust.registrant(e.device) == practitioner
        }
    )
    device = ", ".join(devices) or "unknown (no audit log records it)"
    return (
        f"refused: {what} written by device {device} of practitioner {practitioner}, who was not "
        f"entitled to write it ({why}); {fix}"
    )


def _from_retired(vault: Vault, client_id: str, record: dict[str, Any], path: Path) -> str:
    """Why a co-signature counts as written from the supervisor's retired machine ("" if
    not): judged by the ``cosign`` entries that record it (`_recorded_with_authority`)."""
    return _recorded_with_authority(
        vault,
        client_id,
        str(record["supervisor"]),
        path,
        "cosign",
        json.dumps(str(record["note"])).encode(),
        lambda entry: entry.data.get("revision") == record["revision"],
    )


def _supervision_from_retired(vault: Vault, client_id: str, record: dict[str, Any], path: Path) -> str:
    """Why a supervision counts as written from the supervisee's retired machine ("" if
    not): judged by the ``supervise`` entries that record it, as a co-signature is."""
    supervisor = str(record["supervisor"])
    return _recorded_with_authority(
        vault,
        client_id,
        str(record["supervisee"]),
        path,
        "supervise",
        json.dumps(supervisor).encode(),
        lambda entry: entry.data.get("supervisor") == supervisor,
    )


def _recorded_with_authority(
    vault: Vault,
    client_id: str,
    practitioner: str,
    path: Path,
    event: str,
    needle: bytes,
    names_it: Callable[[Entry], bool],
) -> str:
    """Why a record signed with ``practitioner``'s key counts as written from their retired
    machine ("" if not). A thief with the passphrase signs it on a stolen laptop with its
    clock set back, so only the audit log can tell which machine wrote it: once a machine of
    the practitioner is retired, a record stands only if a device of theirs recorded it
    (``event``, naming it, with its sha256 where the entry has one) while it had authority
    (not retired, or before its retire by its log); recorded by none, it waits for the log
    that does."""
    trust = vault.trust
    retired = [d for d in trust.retired() if trust.registrant(d) == practitioner]
    if not retired:
        return ""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for entry in signed_entries(vault.audit.directory, trust.device_keys(), needle):
        if (
            entry.event != event
            or entry.data.get("client") != client_id
            or not names_it(entry)
            or trust.registrant(entry.device) != practitioner
            or entry.data.get("sha256", digest) != digest
        ):
            continue
        if trust.retired_after(entry.device, entry.time, entry) is None:
            return ""
    return (
        f"recorded by no device of practitioner {practitioner} that had authority then (device(s) "
        f"{', '.join(sorted(retired))} retired; a retired machine keeps none, whatever date it claims)"
    )


def _cosign_path(vault: Vault, client_id: str, note_id: str, supervisor: str) -> Path:
    return vault.client_dir(client_id) / "cosign" / f"{note_id}-{supervisor}.json"


def awaiting(vault: Vault, clients: Iterable[str] | None = None) -> list[Awaiting]:
    """Signed notes of supervised clients, sealed by the supervisee, not yet co-signed.
    ``clients``: only these (`status`: those a `supervise` entry names, from the facts index)."""
    found: list[Awaiting] = []
    if clients is not None and not clients:
        return found
    ids = vault.client_ids()
    for client_id in ids if clients is None else sorted(set(clients) & set(ids)):
        for supervision in _supervisions(vault, client_id):
            supervisor = str(supervision["supervisor"])
            for note_id in vault.note_ids(client_id):
                _, device, path = vault.revisions(client_id, note_id)[-1]
                header = vault.load(path).header
                if (
                    header.kind == "note"
                    and header.final
                    and _awaits(vault, client_id, supervision, note_id, device, header.sealed_at)
                ):
                    found.append(Awaiting(client_id, note_id, supervisor))
    return found


def awaiting_among(vault: Vault, client_id: str, signed: list[tuple[str, str, str]]) -> list[Awaiting]:
    """``awaiting`` for one client, from its signed notes already read ((note id, the device
    that sealed its newest revision, when)): no revision is listed or loaded again, and no
    other client looked at (the site's To do page)."""
    return [
        Awaiting(client_id, note_id, str(supervision["supervisor"]))
        for supervision in _supervisions(vault, client_id)
        for note_id, device, sealed_at in signed
        if _awaits(vault, client_id, supervision, note_id, device, sealed_at)
    ]


def _awaits(
    vault: Vault, client_id: str, supervision: dict[str, Any], note_id: str, device: str, sealed_at: str
) -> bool:
    """Whether a signed note awaits this supervision's co-signature: sealed by the supervisee
    since the supervision began, and not co-signed yet."""
    return (
        sealed_at >= supervision["since"]
        and vault.trust.device_practitioner(device) == supervision["supervisee"]
        and not _cosign_path(vault, client_id, note_id, str(supervision["supervisor"])).exists()
    )


def check_supervisor(vault: Vault, supervisor: Practitioner, note_id: str) -> str:
    """The note's client id, if ``supervisor`` supervises that client; else NotSupervisor."""
    client_id = vault.locate_note(note_id)
    if not any(s["supervisor"] == supervisor.practitioner_id for s in _supervisions(vault, client_id)):
        raise NotSupervisor(client_id)
    return client_id


def cosign(vault: Vault, supervisor: Practitioner, note_id: str) -> Path:
    client_id = check_supervisor(vault, supervisor, note_id)
    number, _, path = vault.revisions(client_id, note_id)[-1]
    vault.open_revision(path, vault.keyring.client_keys(supervisor, client_id))  # read before co-signing
    if not vault.load(path).header.final:
        raise NotSigned(note_id)
    record = {
        "format": COSIGN_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "client_id": client_id,
        "note": note_id,
        "revision": number,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "supervisor": supervisor.practitioner_id,
        "cosigned_at": stamp(vault.clock()),
    }
    target = _cosign_path(vault, client_id, note_id, supervisor.practitioner_id)
    try:
        durable.write_new(target, sign_record(record, signer(supervisor.signing_key)))
    except FileExistsError:
        raise AlreadyCosigned(note_id) from None
    digest = hashlib.sha256(target.read_bytes()).hexdigest()  # a retired machine's is told by it
    vault.audit.append("cosign", client=client_id, note=note_id, revision=number, sha256=digest)
    return target


def cosignatures(vault: Vault, client_id: str) -> dict[str, list[tuple[str, str]]]:
    """note id -> [(supervisor id, when)] of every co-signature that still matches its note."""
    found: dict[str, list[tuple[str, str]]] = {}
    for record in _checked_cosigns(vault, client_id, []):
        found.setdefault(str(record["note"]), []).append(
            (str(record["supervisor"]), str(record["cosigned_at"]))
        )
    return found


def problems(vault: Vault) -> list[Problem]:
    """Supervision and co-signature files that are forged, changed, or no longer match their note."""
    found: list[Problem] = []
    for client_id in vault.client_ids():
        try:
            _supervisions(vault, client_id, found)
        except TamperedFile as exc:
            found.append(Problem(exc.path, exc.why))
        _checked_cosigns(vault, client_id, found)
    return found


def _checked_cosigns(vault: Vault, client_id: str, found: list[Problem]) -> list[dict[str, Any]]:
    """The co-signatures that stand: signed by a supervisor a standing supervision names, who
    was entitled to write the client when it says it co-signed, bound to the note's bytes."""
    folder = vault.client_dir(client_id) / "cosign"
    paths = sync_artefacts.glob(folder, "*.json")
    if not paths:
        return []
    judge = Judge(vault.keyring, client_id)
    try:
        supervisors = {str(s["supervisor"]) for s in _supervisions(vault, client_id, judge=judge)}
    except TamperedFile:
        supervisors = set()  # a damaged supervision file is reported on its own
    good = []
    for path in paths:
        try:
            record = check_record(path, COSIGN_FORMAT, vault.trust.trusted_signers(), "supervisor", UNTRUSTED)
            revisions = {n: p for n, _, p in vault.revisions(client_id, str(record["note"]))}
            sealed = revisions.get(int(record["revision"]))
            if sealed is None or hashlib.sha256(sealed.read_bytes()).hexdigest() != record["sha256"]:
                raise TamperedFile(path, "the co-signed revision is gone or changed")
            # no co-signature is older than the note it is bound to (whose time the sealing
            # device signed): a clock set back to before a revoke does not make it count
            at = max(str(record["cosigned_at"]), vault.load(sealed).header.sealed_at)
        except TamperedFile as exc:
            found.append(Problem(exc.path, exc.why))
            continue
        supervisor = str(record["supervisor"])
        why = judge.refusal(supervisor, at) or _from_retired(vault, client_id, record, path)
        if not why and supervisor not in supervisors:
            why = f"practitioner {supervisor} does not supervise client {client_id}"
        if why:
            fix = "the note is not shown as co-signed: remove the file"
            found.append(Problem(path, _refused(vault, "co-signature", supervisor, why, fix, client_id)))
            continue
        good.append(record)
    return good
