"""Authority on read: whether the practitioner whose device wrote a revision was entitled
to write that client at the time the revision claims (DESIGN.md invariant 8).

Every registered device signs revisions that check, a revoked colleague's too, so a
signature says only *which* device wrote a file. The ledger says who may: the client's key
files (vault/store/client_keys.py, `Keyring.entitled`) name who holds each generation and
whom a rotation shut out, each signed by the device that made it, with the time it was
made. From them, for one client:

- the practitioner who added it (whose device signed ``client.json``) may always write it;
- a practitioner who holds the current key may write it (granted, or granted again);
- a practitioner who held a key and was revoked (a standing key file names them among
  its ``revoked``) may write it *before* the earliest such revoke, not from it on;
- anyone else (never granted, or whose device is not registered) never.

A refused revision is left out of the note (vault/store/forks.py): it is never shown as
the client's record, never blocks a seal, and `verify` names it with its device and
practitioner. What this cannot know: a revision dated before the revoke by a revoked
colleague's clock is taken as written while entitled (it was, if the clock is honest);
it still cannot replace a signed revision.

A device retired by its practitioner (`casenotes device retire`, vault/store/retired.py)
keeps no authority at all from the retire on: a file it signed after the retire is
refused whoever its practitioner is, the client's owner too. Its date is not enough either
way: a stolen machine's clock is set back at will, and the retiring machine's may run
behind (what that machine had of the device's log is before the retire, whatever its date).
So a revision of a retired device stands only if an entry of its audit log up to the last
one the retire saw (``last_seq``, its hash fixing every line before it) records its exact
bytes; whatever date it claims, one sealed beyond that, or never recorded, is refused. An
entry of its log (a rights request, a handle-index entry) is judged the same way: it must
be the very entry of that number the retire's hash fixes (`Judge.device`'s ``entry``), and
retention facts by the write that made the file (`Judge.beyond_retire`). Only a retire of
casenotes before ``last_seq`` was recorded leaves the date alone to decide.

The same rule judges the other files a device or a practitioner's key writes about a
client (`Judge.device`, `Judge.refusal`): a hold's placement and release
(retention/records.py), a supervision and a co-signature (vault/sharing/supervision.py),
a handle-index entry (vault/store/handles.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..errors import TamperedFile
from ..format import key_generations as kg
from ..format.revision import RevisionHeader
from .audit import Entry
from .client_keys import Keyring
from .retired import digest_of
from .revisions import file_name


@dataclass(frozen=True)
class Writers:
    """Who may write one client's revisions, and from when not."""

    client_id: str
    owner: str | None
    now: frozenset[str]  # hold the current key (or a tip of one made apart)
    ever: frozenset[str]  # held a key of the client at some time
    revoked_at: dict[str, str]  # practitioner -> when the earliest standing key file shut them out

    def refusal(self, practitioner: str | None, at: str) -> str:
        """Why ``practitioner`` could not write the client at ``at`` ("" if they could)."""
        if practitioner is None:
            return "its device is not registered in this practice"
        if practitioner == self.owner or practitioner in self.now:
            return ""
        if practitioner not in self.ever:
            return f"practitioner {practitioner} was never granted client {self.client_id}"
        when = self.revoked_at.get(practitioner)
        if when is not None and at > when:  # the same second: taken as before it
            return (
                f"practitioner {practitioner} was revoked from client {self.client_id} at {when}, "
                f"before the {at} it claims"
            )
        return ""


def writers(keyring: Keyring, client_id: str) -> Writers:
    """Who may write the client, from its key files and the ledger (cached there)."""
    found, _ = keyring.generations(client_id)
    held, refused = keyring.entitled(client_id)
    refused_gids = {exc.path.stem for exc in refused}
    standing = {gid: g for gid, g in found.items() if gid not in refused_gids}
    tips = kg.tips(standing)
    now = set().union(*(held.get(t, set()) for t in tips)) if tips else set()
    revoked_at: dict[str, str] = {}
    for g in standing.values():
        for pid in g.revoked:
            if g.made and (pid not in revoked_at or g.made < revoked_at[pid]):
                revoked_at[pid] = g.made
    ever = set().union(*held.values(), *(g.revoked for g in standing.values()))
    return Writers(client_id, keyring.owner(client_id), frozenset(now), frozenset(ever), revoked_at)


class Judge:
    """The authority check of one client's revisions, for `forks.state`: the ledger is read
    only when a revision's practitioner is not the one who added the client."""

    def __init__(self, keyring: Keyring, client_id: str) -> None:
        self.keyring = keyring
        self.client_id = client_id
        self._writers: Writers | None = None
        self._owners: dict[str, bool] = {}  # device -> whether its practitioner added the client

    @cached_property
    def _retired(self) -> dict[str, str]:
        """Read once per client, not per revision, and only when a question needs it: a
        retention scan makes 5,000 judges of which most are asked nothing."""
        return self.keyring.trust.retired()

    def owns(self, device_id: str) -> bool:
        """Whether the device is one of the practitioner's who added the client (asked once
        per device: a read of a whole client asks it of every note)."""
        if device_id in self._retired:
            return False  # judged revision by revision: its later ones carry no authority
        if device_id not in self._owners:
            practitioner = self.keyring.trust.registrant(device_id)
            self._owners[device_id] = practitioner is not None and practitioner == self.keyring.owner(
                self.client_id
            )
        return self._owners[device_id]

    def __call__(self, header: RevisionHeader) -> str:
        fix = "it is not shown as the client's record: remove it, or restore the note from a backup"
        if header.device in self._retired:
            root = self.keyring.trust.root
            path = root / "clients" / header.client / "records" / header.note
            path = path / file_name(header.revision, header.device)
            if why := self.beyond_retire(header.device, path, "revision", fix):
                return why
            vouched = self.logged_before(header.device)
            return self.device(header.device, header.sealed_at, "revision", fix, vouched=vouched)
        return self.device(header.device, header.sealed_at, "revision", fix)

    def beyond_retire(self, device_id: str, path: Path, what: str, fix: str) -> str:
        """Why the file at ``path``, signed by a retired device, counts as written after its
        retire ("" if an entry of its log before the retire records these very bytes)."""
        before = self.keyring.trust.before_retire(device_id)
        if before is None or before.vouches(digest_of(path) or ""):
            return ""
        return self._late(device_id, what, fix, before.last)

    def logged_before(self, device_id: str) -> bool:
        """Whether the device is retired by a retire that names the end of its log: a file
        `beyond_retire` passes is then one the retiring machine had, before the retire
        whatever dates it holds (`device`'s ``vouched``)."""
        return device_id in self._retired and self.keyring.trust.before_retire(device_id) is not None

    def _late(self, device_id: str, what: str, fix: str, last: int) -> str:
        return (
            f"refused: {what} written by device {device_id} of practitioner "
            f"{self.keyring.trust.registrant(device_id) or 'unknown'}, which was retired at "
            f"{self._retired[device_id]}: its audit log records it after entry {last}, the last the retire "
            f"saw, or not at all (a lost machine's clock may be set back, whatever date it claims); "
            f"a retired device keeps no authority: {fix}"
        )

    def device(
        self, device_id: str, at: str, what: str, fix: str, entry: Entry | None = None, vouched: bool = False
    ) -> str:
        """Why a ``what`` of the client that device ``device_id`` wrote, claiming time ``at``,
        is refused ("" if its practitioner was entitled to write it then); ``fix``: what
        casenotes does instead and what to do, the message's end. ``entry``: the entry of the
        device's audit log that wrote it, if it is one (a retired device's is judged by it).
        ``vouched``: the retire's end of the device's log records the file (`beyond_retire`).
        What the retiring machine had is before the retire whatever date it claims (its
        clock, or the retiring machine's, may be wrong): the date decides only the rest."""
        retired = self._retired.get(device_id)
        if retired is not None and entry is not None and not vouched:
            before = self.keyring.trust.before_retire(device_id)
            if before is not None and not before.entry(entry):
                return self._late(device_id, what, fix, before.last)
            vouched = before is not None
        if retired is not None and at > retired and not vouched:  # the same second: before it
            return (
                f"refused: {what} written by device {device_id}, which was retired at {retired}, "
                f"before the {at} it claims; a retired device keeps no authority: {fix}"
            )
        try:
            if self.owns(device_id):
                return ""
        except TamperedFile:
            return ""  # client.json does not check: nothing of the client opens; verify names it
        practitioner = self.keyring.trust.registrant(device_id)
        why = self.refusal(practitioner, at)
        if not why:
            return ""
        return (
            f"refused: {what} written by device {device_id} of practitioner {practitioner or 'unknown'}, "
            f"who was not entitled to write it ({why}); {fix}"
        )

    def practice_wide(self, device_id: str, at: str, what: str, fix: str, vouched: bool = False) -> str:
        """As `device`, for an act of the practice rather than of the client's holders: the
        nightly notice of disposal is written by whichever device runs the practice's
        retention, often a colleague's never granted the client. Refused only from a device
        unregistered, retired by then, or of a practitioner revoked from the client before
        ``at`` (a revoked colleague still cannot bring a disposal forward)."""
        why = self.device(device_id, at, what, fix, vouched=vouched)
        if not why or device_id in self._retired:
            return why
        practitioner = self.keyring.trust.registrant(device_id)
        if practitioner is not None and self._writers is not None and practitioner not in self._writers.ever:
            return ""
        return why

    def refusal(self, practitioner: str | None, at: str) -> str:
        """Why ``practitioner`` could not write the client at ``at`` ("" if they could): for
        files signed with a practitioner's own key (co-signatures, supervision) too."""
        try:
            if self._writers is None:
                self._writers = writers(self.keyring, self.client_id)
            return self._writers.refusal(practitioner, at)
        except TamperedFile as exc:  # who may write cannot be read: believe no one but the owner
            if practitioner is not None and practitioner == self._owner():
                return ""
            return f"who may write the client cannot be checked ({exc.path.name}: {exc.why})"

    def _owner(self) -> str | None:
        try:
            return self.keyring.owner(self.client_id)
        except TamperedFile:
            return None
