"""Retired devices: a lost or replaced machine that keeps no authority (issue 28).

`casenotes device retire DEVICE` (`Trust.retire`) writes ``devices/<did>.retired``, a record signed by the
practitioner's own key (not a device's), naming the device and the moment it was retired,
and records it in the ledger (an audit entry ``device-retire`` carrying its SHA-256, and the
end of the device's log it names): a retire file deleted or swapped afterwards (the stolen
machine's thief, who may know the passphrase, and whose sync engine carries it everywhere)
is reported by `verify` like any key file, and the entry stands for it: the device stays
retired (`lost`).

Who may retire a device: the practitioner who registered it, and only from another of
their own devices. A colleague may not: retiring a machine means it is no longer waited
for before a purge (retention/intents.py), so one practitioner could otherwise silence
another's machine, and the hold it knows of, before destroying a client.

What a retire changes, for every reader: the device is no longer one of the practice's
machines a group purge waits for (retention/group.py), anything it signs dated after the
retire carries no authority (a revision: vault/store/authority.py; a purge, intent or
acknowledgement: vault/store/purged.py), and its earlier files keep the authority they had.
A hold it placed before is still a hold: a hold only ever keeps records.

"After the retire" is not only what its clock says: a stolen machine's clock is set back at
will. The record also names the last entry of the device's audit log the retiring machine
had (``last_seq``), and an entry of that device beyond it is after the retire whatever its
time (its facts then stop every purge of the client, retention/records.py; its purge
entries count for nothing). The other way round, an entry up to it, or a file such an
entry records, is before the retire whatever its date: the retiring machine had it, so its
own clock running behind (or the device's ahead) refuses nothing it wrote before it was
lost. Only where no entry is known (a retire of casenotes before ``last_seq``) does the
date decide. An entry it wrote before it was lost that had not synced yet counts as after:
the safe way round.

The record names the hash of that entry too (``last_hash``): the log's entries up to it are
then exactly those the retiring machine had (each line names its predecessor's hash), so a
thief who rewrites the laptop's log with its device key, to slip an entry in before
``last_seq``, breaks the retire's hash, and nothing of that device counts as before the
retire any more (`Before`). Any file the device signed (a note revision, an addendum,
retention facts, an index entry) is before the retire only if an entry up to ``last_seq``
records its exact bytes (`Before.vouches`), whatever date it claims.

Who wrote a retire is not taken from the record (the practitioner's key signs it, which a
passphrase holder on any machine of theirs can use) but from the ledger: the signed
``device-retire`` entry that records the record's bytes names the device (`settle`). A
retire recorded by no device of the practitioner, or by a device beyond its own retire,
carries no authority: a thief with the passphrase on the retired laptop cannot retire the
practitioner's other machines. Two devices that retired each other while apart (neither
had seen the other's retire) cannot be told apart: both stay retired (neither one's later
files carry authority) and `verify` reports the conflict, naming both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import TamperedFile, VaultError
from ..format.constants import DEVICE_RETIRE_FORMAT, JSON_FORMAT_VERSION
from ..format.keys import Practitioner, check_record, sign_record, signer
from .audit import GENESIS, Entry, line_hash

EVENT = "device-retire"
SUFFIX = ".retired"
LAST_SEQ = "last_seq"  # the last entry of the device's log the retiring machine had
LAST_HASH = "last_hash"  # ... and the SHA-256 of its line, which fixes every line before it
#: the SHA-256 of each file an entry of the device's log vouched for by id alone (an older
#: casenotes' ``client-add`` or ``practitioner-add`` names no digest), as the retiring machine had it
HAD = "had"


class NotRetirable(VaultError):
    template = "device {} cannot be retired: {}; nothing was changed"


def path_for(root: Path, device_id: str) -> Path:
    return root / "devices" / f"{device_id}{SUFFIX}"


@dataclass(frozen=True)
class Last:
    """The end of a retired device's log as the retiring machine had it."""

    seq: int
    hash: str | None  # None: a record of casenotes before it (the sequence alone)
    had: frozenset[str] = frozenset()  # `HAD`: files an older entry vouched for by id alone


def read_all(
    root: Path, signers: Mapping[str, str], registrant: Callable[[str], str | None]
) -> tuple[dict[str, str], dict[str, Last], list[TamperedFile]]:
    """Device id -> when it was retired, from every retire record its own practitioner
    (``registrant``) signed, among the trusted ``signers``; device id -> the end of its
    log the retiring machine had (a record that names it); and the records that do not
    check (signed by someone else, or changed). Who recorded each is `settle`'s question."""
    found: dict[str, str] = {}
    last: dict[str, Last] = {}
    bad: list[TamperedFile] = []
    folder = root / "devices"
    for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []:
        device_id = path.name.removesuffix(SUFFIX)
        try:
            record = check_record(
                path, DEVICE_RETIRE_FORMAT, signers, "practitioner_id", "retired by no trusted practitioner"
            )
            if record.get("device") != device_id:
                raise TamperedFile(path, "a retire record moved from another device")
            if registrant(device_id) != record.get("practitioner_id"):
                raise TamperedFile(path, "retired by a practitioner who did not register the device")
            found[device_id] = str(record["retired_at"])
            if LAST_SEQ in record:  # a record of casenotes before it: the clock alone
                hashed = record.get(LAST_HASH)
                had = frozenset(str(d) for d in record.get(HAD, ()))
                last[device_id] = Last(int(record[LAST_SEQ]), None if hashed is None else str(hashed), had)
        except (KeyError, ValueError, TypeError):
            bad.append(TamperedFile(path, "a damaged retire record"))
        except TamperedFile as exc:
            bad.append(exc)
    return found, last, bad


def record(
    device_id: str,
    practitioner: Practitioner,
    when: str,
    last_seq: int,
    last_hash: str = GENESIS,
    had: Iterable[str] = (),
) -> bytes:
    """The bytes of a retire record, signed with the practitioner's own key. ``last_seq``
    and ``last_hash``: the last entry of the device's audit log on the retiring machine
    (`log_head`); ``had``: `HAD`."""
    fields = {
        "format": DEVICE_RETIRE_FORMAT,
        "version": JSON_FORMAT_VERSION,
        "device": device_id,
        "practitioner_id": practitioner.practitioner_id,
        "retired_at": when,
        LAST_SEQ: last_seq,
        LAST_HASH: last_hash,
        HAD: sorted(had),
    }
    return sign_record(fields, signer(practitioner.signing_key))


def log_head(directory: Path, device_id: str) -> tuple[int, str]:
    """The seq and line hash of the last entry of a device's log here ((0, GENESIS): none)."""
    try:
        lines = (directory / f"{device_id}.log").read_bytes().splitlines()
    except FileNotFoundError:
        return 0, GENESIS
    for line in reversed(lines):
        try:
            return int(json.loads(line)["seq"]), line_hash(line)
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line: the one before it
    return 0, GENESIS


def had(root: Path, device_id: str, practitioner_id: str, last_seq: int) -> list[str]:
    """`HAD`: the SHA-256 of the ``client.json`` of every client the device's log, up to
    ``last_seq``, says it added with no digest (an older casenotes' ``client-add``), and of
    every colleague record the practitioner signed (an older ``practitioner-add`` names none,
    on any of their machines). Without it, such an entry would vouch for whatever a thief with
    the retired laptop and the passphrase puts at that path afterwards."""
    try:
        lines = (root / "audit" / f"{device_id}.log").read_bytes().splitlines()[:last_seq]
    except FileNotFoundError:
        lines = []
    paths = sorted((root / "colleagues").glob(f"*-{practitioner_id}.json"))
    for line in lines:
        if b'"client-add"' not in line:
            continue
        try:
            entry = json.loads(line)
            data = entry["data"]
            if entry["event"] == "client-add" and "sha256" not in data:
                paths.append(root / "clients" / str(data["client"]) / "client.json")
        except (ValueError, KeyError, TypeError):
            continue  # not a line of the log: `before` vouches for nothing of it anyway
    return sorted({d for p in paths if (d := digest_of(p)) is not None})


@dataclass(frozen=True)
class Before:
    """What of a retired device's log its retire vouches for: the entries up to ``last``,
    if the log still holds the very lines the retiring machine had (``intact``)."""

    last: int
    intact: bool
    digests: frozenset[str]  # the SHA-256 of every file those entries record
    lines: tuple[bytes, ...] = ()  # those entries' lines, in order

    def entry(self, entry: Entry) -> bool:
        """Whether the device's ``entry`` is one of those written before the retire: the very
        entry at its number, not only a number up to ``last`` (a line the thief signs with
        the device key may claim any number, and a reader finds it in any log file). Parsed
        here, not when the log is read: few entries of a retired device are asked about."""
        if not (self.intact and 1 <= entry.seq <= len(self.lines)):
            return False
        e = json.loads(self.lines[entry.seq - 1])
        return Entry(e["seq"], e["time"], e["device"], e["event"], e["data"]) == entry

    def vouches(self, digest: str) -> bool:
        """Whether an entry before the retire records a file with these exact bytes (or, of
        one an older entry named by id alone, the retiring machine had these bytes: `HAD`)."""
        return self.intact and digest in self.digests


def before(directory: Path, device_id: str, last: Last) -> Before:
    """Read the retired device's log up to ``last``: each line must name its predecessor's
    hash, and the line at ``last.seq`` hash to ``last.hash`` (a log rewritten by whoever
    holds the device key, or cut short, vouches for nothing)."""
    digests: set[str] = set()
    try:
        lines = (directory / f"{device_id}.log").read_bytes().splitlines()
    except FileNotFoundError:
        lines = []
    prev, seq = GENESIS, 0
    for line in lines:
        if seq >= last.seq:
            break
        try:
            entry = json.loads(line)
            chained = entry["prev"] == prev and int(entry["seq"]) == seq + 1
            data = entry["data"]
        except (ValueError, KeyError, TypeError):
            chained = False
        if not chained:  # rewritten, or not a log line: nothing before the retire is known
            return Before(last.seq, False, frozenset())
        seq, prev = seq + 1, line_hash(line)
        digests.update(_recorded(data))
    if seq == last.seq and (last.hash is None or prev == last.hash):
        return Before(last.seq, True, frozenset(digests | last.had), tuple(lines[: last.seq]))
    return Before(last.seq, False, frozenset())


def _recorded(data: object) -> Iterable[str]:
    """The file digests an entry's data records: ``sha256`` (a seal, a facts write) and the
    values of ``files`` (a ledger entry)."""
    if not isinstance(data, dict):
        return ()
    found = [str(data["sha256"])] if "sha256" in data else []
    files = data.get("files")
    return found + [str(v) for v in files.values()] if isinstance(files, dict) else found


def digest_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _naming(
    root: Path, device_id: str, recorded: Iterable[Entry], registrant: Callable[[str], str | None]
) -> list[Entry]:
    """The ``device-retire`` entries that record a retire record of ``device_id``, written by
    another device of the practitioner who registered it."""
    relative = str(path_for(root, device_id).relative_to(root))
    owner = registrant(device_id)
    return [
        e
        for e in recorded
        if isinstance(e.data.get("files"), dict)
        and relative in e.data["files"]
        and owner is not None
        and registrant(e.device) == owner
        and e.device != device_id
    ]


def lost(
    root: Path, found: Mapping[str, str], recorded: Iterable[Entry], registrant: Callable[[str], str | None]
) -> dict[str, tuple[str, Last]]:
    """Devices whose retire a device of their practitioner recorded, but whose record is gone
    or is not the one recorded (the stolen machine's thief deletes it, or signs another with
    the passphrase, and a sync engine carries that everywhere): device id -> when (the
    entry's time) and the end of its log the entry names. A lost record does not un-retire
    the device: the ledger entry still stands for it (`settle` judges its author); an entry
    of a casenotes that named no end in it vouches for nothing of the device's log."""
    recorded = list(recorded)
    found_lost: dict[str, tuple[str, Last]] = {}
    for device_id in sorted({str(e.data.get("device")) for e in recorded}):
        entries = _naming(root, device_id, recorded, registrant)
        path = path_for(root, device_id)
        relative, digest = str(path.relative_to(root)), digest_of(path)
        if not entries or (device_id in found and any(e.data["files"][relative] == digest for e in entries)):
            continue
        first = min(entries, key=lambda e: (e.seq, e.device))
        seq, hashed = first.data.get(LAST_SEQ), first.data.get(LAST_HASH)
        had = frozenset(str(d) for d in first.data.get(HAD, ()))
        end = Last(int(seq), str(hashed), had) if seq is not None and hashed is not None else Last(0, GENESIS)
        found_lost[device_id] = (first.time, end)
    return found_lost


@dataclass(frozen=True)
class Settled:
    """The retire records that stand, and what `verify` says of the others."""

    standing: frozenset[str]  # device ids whose retire carries authority
    void: tuple[TamperedFile, ...]  # records written without authority: not believed
    circles: tuple[tuple[str, str], ...]  # devices that retired each other while apart


def settle(
    root: Path,
    found: Mapping[str, str],
    recorded: Iterable[Entry],
    registrant: Callable[[str], str | None],
    after: Callable[[str, Entry], bool],
    missing: Container[str] = (),
) -> Settled:
    """Which retire records carry authority. ``recorded``: the signed ``device-retire``
    entries; ``after(device, entry)``: whether the device's ``entry`` lies beyond the end of
    its log its own retire record names (or after its date); ``missing``: devices whose
    record is `lost` (``found`` holds them too): any entry recording one of theirs stands
    for it.

    A record stands if a device of the practitioner who registered the retired device
    recorded its exact bytes, and that device was not itself retired before that entry
    (by a retire that stands). Devices that retired each other while apart form a circle
    no record decides: every retire in it stands (the safe way round: none of them keeps
    authority) and the circle is reported."""
    authors: dict[str, Entry] = {}
    void: list[TamperedFile] = []
    for device_id in found:
        path = path_for(root, device_id)
        relative, digest = str(path.relative_to(root)), digest_of(path)
        entries = [
            e
            for e in _naming(root, device_id, recorded, registrant)
            if device_id in missing or e.data["files"][relative] == digest
        ]
        if entries:
            authors[device_id] = min(entries, key=lambda e: (e.seq, e.device))
        else:
            why = "a retire record no device of its practitioner recorded (yet): it retires nothing"
            void.append(TamperedFile(path, why))
    state: dict[str, bool | None] = {}  # None: being decided (a circle)
    circles: set[tuple[str, str]] = set()

    def stands(device_id: str, path: tuple[str, ...]) -> bool:
        if device_id in state:
            known = state[device_id]
            if known is None:  # back where this began: a circle of retires made apart
                loop = path[path.index(device_id) :]
                pairs = zip(loop, [*loop[1:], loop[0]], strict=True)
                circles.update((min(a, b), max(a, b)) for a, b in pairs)
                return True
            return known
        author = authors.get(device_id)
        if author is None:
            state[device_id] = False
            return False
        state[device_id] = None
        by = author.device
        result = by not in authors or not after(by, author) or not stands(by, (*path, device_id))
        state[device_id] = result if state[device_id] is None else state[device_id]
        return result

    for device_id in sorted(authors):  # first: the circles
        stands(device_id, ())
    in_circle = {d for pair in circles for d in pair}
    state.clear()  # then each record, the circles' retires standing
    state.update({d: True for d in in_circle})
    for device_id in sorted(authors):
        stands(device_id, ())
    standing = {d for d in authors if state.get(d)}
    for device_id in sorted(set(authors) - standing):
        author = authors[device_id]
        void.append(
            TamperedFile(
                path_for(root, device_id),
                f"a retire recorded by device {author.device} of practitioner "
                f"{registrant(author.device) or 'unknown'} after that device was itself retired: a retired "
                "device keeps no authority, so it retires nothing",
            )
        )
    return Settled(frozenset(standing), tuple(void), tuple(sorted(circles)))
