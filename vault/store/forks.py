"""Forks: one note changed on two machines while they were apart.

Revision files are write-once and named ``<rev>-<device>.rev``, so two machines that both
seal revision 2 of a note while apart leave ``000002-<A>.rev`` and ``000002-<B>.rev``
side by side once a sync engine has carried them over. Neither is hidden: the note is
**forked** from that number on, and each machine's line ends in its *tip* (its newest
revision of the note from the fork on).

- A fork is shown: `Vault.read_notes` opens every tip (`OpenedNote.siblings`), and
  `cat`, `open`, `status` and `verify` show both texts or name the note.
- A fork blocks: sealing the next revision of a forked note raises `NoteForked` (syncd
  keeps the draft in the inbox) until it is resolved.
- It is resolved by a **merge revision**: the next number, sealed with the text the
  practitioner chose, whose header names (``merges``) every revision from the fork on.
  A revision sealed later at the fork's number by a third machine forks it again.
- A **signed** tip locks the note: it is the note's text, is never hidden behind an
  unsigned sibling, and nothing follows it; the unsigned sibling is shown beside it as a
  change made after signing, to be written as an addendum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import TamperedFile
from ..format import revision as revision_format
from .revisions import Revision, Revisions


class HasRevisions(Protocol):
    """What finding forks uses of a vault: its revision files (file names and headers)."""

    @property
    def revision_files(self) -> Revisions: ...


#: Why a revision is refused ("" if it stands), from its header: authority on read
#: (vault/store/authority.py decides; this module only leaves refused revisions out).
Judge = Callable[[revision_format.RevisionHeader], str]


@dataclass(frozen=True)
class Fork:
    client_id: str
    note_id: str
    at: int  # the revision number from which the machines' lines differ
    tips: tuple[Path, ...]  # the text that stands first, then each other line's newest revision
    signed: Path | None  # the signed revision that stands: the note is locked to it
    names: tuple[str, ...]  # stems of every revision from the fork on: what a merge names
    keepable: tuple[Path, ...] = ()  # the tips `resolve` may keep (every tip of an unsigned fork)


@dataclass(frozen=True)
class State:
    """Which revision of a note is its text, and what is shown beside it."""

    shown: Path | None  # the revision whose text stands (signed, if the note ever was); None: all refused
    fork: Fork | None  # the note's unresolved conflict, if it has one
    refused: tuple[tuple[Path, str], ...] = ()  # revisions left out by authority, and why
    signed: bool = False  # the text that stands is signed: nothing but a settling revision follows


def find(
    vault: HasRevisions, client_id: str, note_id: str, judge: Judge | None = None, own: str = ""
) -> Fork | None:
    """The note's unresolved fork, if it has one."""
    return state(vault, client_id, note_id, judge, own).fork


def state(
    vault: HasRevisions, client_id: str, note_id: str, judge: Judge | None = None, own: str = ""
) -> State:
    """The note's standing text, its conflict and its refused revisions.

    A single revision costs one folder listing. Otherwise every header is read (parsed, its
    signature checked where it is shown: a header that claims a signature it does not carry
    fails there, and is reported). Rules, in order:

    - A revision ``judge`` refuses is left out (and named in ``refused``). ``own``: this
      machine's device, whose signed revision stands first among signed siblings.
    - Once a note is signed, the **first signed number** stands: no higher revision and no
      sibling replaces it, whatever its clock says. At that number the signed revisions are
      the texts that may stand (this machine's own first, then the earliest signed); every
      other revision from there on is a conflict shown beside it, unless a *settling*
      revision names it: one that is signed, names every signed revision at that number and
      carries one of their texts (its content MAC), as `resolve --keep` writes. The text
      shown is then the signed original it chose, never the settling revision's own body.
    - Unsigned, two revisions at one number that no later merge names are a fork.
    """
    files = vault.revision_files
    listed = files.of(client_id, note_id)
    if not listed:
        raise FileNotFoundError(files.folder(client_id, note_id))
    if len(listed) == 1 and judge is None:
        return State(listed[0][2], None)
    headers: dict[Path, revision_format.RevisionHeader | None] = {}
    for _, _, path in listed:
        try:
            headers[path] = revision_format.parse(path.read_bytes(), path).header
        except (OSError, TamperedFile):
            headers[path] = None  # read (and reported) if it is ever shown
    refused: list[tuple[Path, str]] = []
    revisions = []
    for revision in listed:
        header = headers[revision[2]]
        why = judge(header) if judge is not None and header is not None else ""
        if why:
            refused.append((revision[2], why))
        else:
            revisions.append(revision)
    if not revisions:
        return State(None, None, tuple(refused))
    signed = [r for r in revisions if (h := headers[r[2]]) is not None and h.final]
    if not signed:
        fork = _unsigned_fork(client_id, note_id, revisions, headers)
        return State(revisions[-1][2] if fork is None else fork.tips[0], fork, tuple(refused))
    return _signed_state(client_id, note_id, revisions, headers, signed, own, tuple(refused))


def _signed_state(
    client_id: str,
    note_id: str,
    revisions: list[Revision],
    headers: dict[Path, revision_format.RevisionHeader | None],
    signed: list[Revision],
    own: str,
    refused: tuple[tuple[Path, str], ...],
) -> State:
    known = {path: header for path, header in headers.items() if header is not None}
    first = signed[0][0]
    originals = [r[2] for r in signed if r[0] == first]
    stems = {p.stem for p in originals}
    by_mac: dict[str, Path] = {}
    for path in sorted(originals, key=lambda p: (p.stem[7:] != own, known[p].sealed_at, p.name)):
        by_mac.setdefault(known[path].content_mac, path)
    settling = [
        r[2]
        for r in revisions
        if r[0] > first
        and (h := headers[r[2]]) is not None
        and h.final
        and stems <= set(h.merges)
        and h.content_mac in by_mac
    ]
    named = {name for path in settling for name in known[path].merges}
    chosen = by_mac[known[settling[-1]].content_mac] if settling else next(iter(by_mac.values()))
    # From the first signed number on: everything but the chosen text and its settling is beside it.
    after = [
        r
        for r in revisions
        if r[0] >= first and r[2] != chosen and r[2] not in settling and r[2].stem not in named
    ]
    # Before it: a line that forked from the signed one's and was never merged.
    earlier = _unsigned_fork(client_id, note_id, [r for r in revisions if r[0] < first], headers)
    signing_line = chosen.stem[7:]
    apart = []
    if earlier is not None:
        apart = [
            r
            for r in revisions
            if earlier.at <= r[0] < first and r[1] != signing_line and r[2].stem not in named
        ]
    if not after and not apart:
        return State(chosen, None, refused, signed=True)
    at = earlier.at if earlier is not None and apart else first
    beside: list[Path] = [p for p in originals if p != chosen and p.stem not in named]
    newest: dict[str, Path] = {}
    for _, device, path in sorted(apart + after):
        if path not in beside:
            newest[device] = path
    beside += [p for p in newest.values() if p not in beside]
    names = tuple(path.stem for number, _, path in revisions if number >= at)
    keepable = tuple(p for p in (chosen, *beside) if p in originals)
    fork = Fork(client_id, note_id, at, (chosen, *beside), chosen, names, keepable)
    return State(chosen, fork, refused, signed=True)


def _unsigned_fork(
    client_id: str,
    note_id: str,
    revisions: list[Revision],
    headers: dict[Path, revision_format.RevisionHeader | None],
) -> Fork | None:
    """Two revisions at one number that no later merge names: each machine's line ends in its tip."""
    by_number: dict[int, list[tuple[str, Path]]] = defaultdict(list)
    for number, device, path in revisions:
        by_number[number].append((device, path))

    def merges(path: Path) -> set[str]:
        header = headers[path]
        return set(header.merges) if header is not None else set()

    def sealed_at(path: Path) -> str:
        header = headers[path]
        return header.sealed_at if header is not None else ""

    for at in sorted(n for n, files in by_number.items() if len(files) > 1):
        forked = {path.stem for _, path in by_number[at]}
        later = [path for number, _, path in revisions if number > at]
        if any(forked <= merges(path) for path in later):
            continue  # a merge revision settled this one
        devices = {device for device, _ in by_number[at]}
        tips = [
            max((r for r in revisions if r[1] == device and r[0] >= at), key=lambda r: r[0])[2]
            for device in devices
        ]
        tips.sort(key=lambda p: (sealed_at(p), p.name), reverse=True)
        names = tuple(path.stem for number, _, path in revisions if number >= at)
        return Fork(client_id, note_id, at, tuple(tips), None, names, tuple(tips))
    return None


def everywhere(
    vault: HasRevisions,
    judges: Callable[[str], Judge | None] = lambda client_id: None,
    own: str = "",
    thorough: bool = False,
    clients: Iterable[str] | None = None,
) -> list[Fork]:
    """Every unresolved fork in the vault; ``judges(client_id)``: the authority check of each
    client. Quick (`status`): folder listings, headers only where two revisions share a
    number. ``thorough`` (`verify`): the headers of every note with more than one revision,
    so a revision written after a signed one is found too. ``clients``: only these (`status`:
    those into which more than one device sealed, from the facts index)."""
    files = vault.revision_files
    found = []
    for client_id in files.client_ids() if clients is None else sorted(clients):
        judge = judges(client_id)
        for note_id in files.note_ids(client_id):
            revisions = files.of(client_id, note_id)
            if len({n for n, _, _ in revisions}) < len(revisions) or (thorough and len(revisions) > 1):
                fork = find(vault, client_id, note_id, judge, own)
                if fork is not None:
                    found.append(fork)
    return found


def describe(fork: Fork, registrant: Callable[[str], str | None] = lambda device: None) -> str:
    """What happened to a forked note, and what to do (ids only): each other revision named
    with the device that wrote it and that device's practitioner."""

    def who(path: Path) -> str:
        device = path.stem[7:]
        return f"{path.stem}, by device {device} of practitioner {registrant(device) or 'unknown'}"

    if fork.signed is not None:
        others = "; ".join(who(p) for p in fork.tips if p != fork.signed)
        return (
            f"note {fork.note_id} was signed on one machine ({fork.signed.stem}) and changed or signed "
            f"again on another ({others}): the signed text stands; write the other change as an "
            f"addendum, then "
            f"`casenotes resolve {fork.note_id} --keep {fork.signed.stem}`"
        )
    tips = " and ".join(p.stem for p in fork.tips)
    return (
        f"note {fork.note_id} was changed on two machines while they were apart ({tips}): "
        f"`casenotes cat CLIENT --note {fork.note_id}` shows both texts; "
        f"`casenotes resolve {fork.note_id} --keep REVISION` chooses one"
    )
