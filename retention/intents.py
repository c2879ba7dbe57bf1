"""The two-phase purge of a group practice (issue 28; DESIGN.md invariant 8).

One machine cannot know what another did while the two were apart: a hold placed there
may not have arrived. So, when more than one device is registered (not retired), a purge
(syncd's nightly one, or `retention purge --confirm`) does not destroy at once:

1. **Intent.** The purging device writes ``purge-intent`` in its own audit log: the client,
   a fresh random intent id, and whether a person confirmed it. The log is signed and
   hash-chained, and the sync engine carries it to every machine.
2. **Acknowledgement.** Each other registered device, on seeing it (its syncd's retention
   and backup runs, and the hourly acknowledgement job), checks from its own copy of the
   facts that the client is past retention, was announced (a full notice period ago, for an
   unattended intent) and is held by no one (retention/agreement.py `why_not`), and writes
   ``purge-ack`` naming the intent, or ``purge-held`` with why. Each device answers an
   intent once, and only with an audit log that verifies here (its own checkpoint, kept
   outside the vault, catches a hold's entry cut off its own log): else ``purge-held``.
3. **Destruction.** Only when every registered, not retired device but the intent's own has
   acknowledged that intent, with no ``purge-held`` and no hold recorded on a device's own
   log before its acknowledgement, does a run carry the purge out (its usual checks again,
   from its own facts); every other machine then agrees to it from its own facts as before.

What counts: only entries a registered device signed (vault/store/purged.py `signed`), and
none a retired device dated after its retire; an acknowledgement counts for the one intent
it names (its random id: one written before that intent, of an earlier intent of the
client, names another). A hold placed anywhere before its device acknowledged always stops
the purge: that device answers ``purge-held``, or its acknowledgement is void. So does a hold
a device's log records after its acknowledgement or its intent, once it is seen here,
released since or not: an intent agreed before a hold is never carried out after its
release without asking every machine again. A stopped intent is never carried out; a later
run writes a new one if the client is still due.

An **erasure** at the client's request (`retention erase`, retention/erasure.py) goes
through the same two phases: its intent names the request (``request``), and each other
device acknowledges it only if that request is in its own copy of the signed log (an
erasure request of this client, open, written by a device whose practitioner may write
the client: vault/rights/requests.py), and the client is past retention and held by no one
there; no notice period is asked, the client asked. Its acknowledgement names the request
too, so that the device's agreement to the purge that follows (retention/agreement.py)
asks no notice either.

A single-device practice purges in one step, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault import Entry, Problem, Vault
from vault.format.encoding import new_id
from vault.store import purged
from vault.store.retention_files import FACTS_EVENT

from . import agreement, group
from .policy import Policy

if TYPE_CHECKING:
    from vault.store.facts_index import FactsIndex

INTENT = agreement.INTENT
ACK = agreement.ACK  # written here; agreement.py reads an erasure's
HELD = "purge-held"


@dataclass(frozen=True)
class Intent:
    intent_id: str
    client_id: str
    device: str
    time: str
    unattended: bool
    seq: int = 0  # its entry in its device's log
    request: str | None = None  # an erasure's request (retention/erasure.py)


@dataclass(frozen=True)
class Standing:
    """Where one intent stands, as this machine sees the synced logs."""

    intent: Intent
    waiting: tuple[str, ...]  # devices that have not acknowledged it yet
    held: tuple[tuple[str, str], ...]  # (device, why) of each that stopped it

    @property
    def agreed(self) -> bool:
        return not self.waiting and not self.held


def _intents(entries: Sequence[Entry]) -> list[Intent]:
    """Each device's newest intent per client (an older one of the same device is replaced)."""
    newest: dict[tuple[str, str], Intent] = {}
    for e in entries:
        if e.event == INTENT and isinstance(e.data.get("intent"), str):
            client = str(e.data.get("client"))
            request = e.data.get("request")
            newest[client, e.device] = Intent(
                str(e.data["intent"]),
                client,
                e.device,
                e.time,
                bool(e.data.get("unattended")),
                e.seq,
                str(request) if request else None,
            )
    return list(newest.values())


def _held_before_ack(entries: Sequence[Entry], device: str, client: str, ack_seq: int) -> bool:
    """Whether ``device``'s own log records a hold on the client still in force when it
    acknowledged (a hold then released is none)."""
    held = False
    for e in entries:
        if (
            e.device == device
            and e.seq < ack_seq
            and e.event == FACTS_EVENT
            and e.data.get("client") == client
        ):
            if e.data.get("change") == "hold":
                held = True
            elif e.data.get("change") == "release":
                held = False
    return held


def _held_since(entries: Sequence[Entry], device: str, client: str, seq: int) -> bool:
    """Whether ``device``'s own log records a hold on the client placed after its entry ``seq``
    (its intent or its acknowledgement): the intent is void once it is here, released or
    not, so a run after its release asks every machine again."""
    return any(
        e.device == device
        and e.seq > seq
        and e.event == FACTS_EVENT
        and e.data.get("client") == client
        and e.data.get("change") == "hold"
        for e in entries
    )


def standing(vault: Vault, entries: Sequence[Entry], live: bool = True) -> list[Standing]:
    """Every live intent: of a client not purged yet (``live=False``: of those purged too).
    ``entries``: the audit log, its purge lines only those a registered device signed
    (`purged.trusted`)."""
    begun = {str(e.data.get("client")) for e in entries if e.event == "purge-begin" and live}
    devices = group.devices(vault, entries)
    answers: dict[str, dict[str, Entry]] = {}  # intent id -> device -> its answer
    for e in entries:
        if e.event in (ACK, HELD):
            answers.setdefault(str(e.data.get("intent")), {}).setdefault(e.device, e)
    found = []
    for intent in _intents(entries):
        if intent.client_id in begun:
            continue
        given = answers.get(intent.intent_id, {})
        held, waiting = [], []
        for device, answer in sorted(given.items()):
            if answer.data.get("client") != intent.client_id:
                continue  # an answer moved onto another client's intent answers nothing
            if answer.event == HELD:
                held.append((device, str(answer.data.get("why", "held"))))
            elif device in devices and _held_before_ack(entries, device, intent.client_id, answer.seq):
                held.append((device, "a hold was placed there before it acknowledged"))
            elif _held_since(entries, device, intent.client_id, answer.seq):
                held.append((device, "a hold was placed there after it acknowledged"))
        if _held_since(entries, intent.device, intent.client_id, intent.seq):
            held.append((intent.device, "a hold was placed there after the intent"))
        for device in sorted(devices - {intent.device}):
            reply = given.get(device)
            if reply is None or reply.data.get("client") != intent.client_id:
                waiting.append(device)
        found.append(Standing(intent, tuple(waiting), tuple(held)))
    return sorted(found, key=lambda s: (s.intent.client_id, s.intent.time, s.intent.device))


def acknowledge(
    vault: Vault, policy: Policy, index: FactsIndex | None = None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Answer every live intent of another device this device has not answered: ``purge-ack``
    or ``purge-held`` (with why), each checked from this machine's own facts. An intent of a
    client whose files have not reached this machine yet is answered once they have.
    Returns the clients acknowledged, and (client, why) of those held. ``index``: asked
    only whether there is any intent; what is answered is read again from the logs."""
    own = vault.device.device_id
    signed = purged.signed(vault, index)
    if not any(e.event == INTENT for e in signed) or own in vault.trust.retired():
        return [], []
    if index is not None:
        signed = purged.signed(vault)
    entries = purged.trusted(vault.audit.entries(), signed)
    answered = {str(e.data.get("intent")) for e in signed if e.device == own and e.event in (ACK, HELD)}
    acked: list[str] = []
    held: list[tuple[str, str]] = []
    altered: list[Problem] | None = None
    for state in standing(vault, entries):
        intent = state.intent
        if intent.device == own or intent.intent_id in answered:
            continue
        if not (vault.client_dir(intent.client_id) / "client.json").exists():
            continue  # not here yet (or never was): nothing to check it against
        if altered is None:  # once, and only with an intent to answer: seconds at a career's size
            # The facts are believed because the log vouches for them: a hold's entry cut off
            # this device's own log (a shorter chain still checks; its checkpoint outside the
            # vault knows) with its facts file put back would otherwise be acknowledged away.
            altered = vault.audit.verify(vault.trust.device_keys())
        if altered and all(p.missing for p in altered):
            continue  # another device's log behind its checkpoint: still syncing, answered later
        fields = {"client": intent.client_id, "intent": intent.intent_id, "purge_device": intent.device}
        if intent.request is not None:
            fields["request"] = intent.request  # an erasure's: its agreement asks no notice either
        if altered:
            why = f"the audit log here does not verify ({altered[0].path.name}: {altered[0].why})"
        elif intent.request is not None:
            why = _no_erasure(vault, intent) or agreement.why_not(
                vault, intent.client_id, policy, entries, erasure=True
            )
        else:
            why = agreement.why_not(vault, intent.client_id, policy, entries, full_notice=intent.unattended)
        if why:
            vault.audit.append(HELD, **fields, why=why)
            held.append((intent.client_id, why))
        else:
            vault.audit.append(ACK, **fields)
            acked.append(intent.client_id)
    return acked, held


def _no_erasure(vault: Vault, intent: Intent) -> str:
    """Why this machine does not see the erasure request an intent names ("" if it does):
    absent from its signed log, or written by a device not entitled to the client
    (`requests.load` leaves those out), of another client or kind, or closed."""
    from vault.rights import requests  # only for an erasure's intent

    found = [r for r in requests.load(vault, intent.client_id) if r.request_id == intent.request]
    if not found or found[0].kind != "erasure":
        return f"no erasure request {intent.request} of this client in the signed log here"
    if found[0].closed is not None:
        return f"erasure request {intent.request} was closed on {found[0].closed}"
    return ""


def erasure_intent(vault: Vault, client_id: str, request_id: str) -> None:
    """Write an erasure's intent (retention/erasure.py)."""
    vault.audit.append(INTENT, client=client_id, intent=new_id(), unattended=False, request=request_id)


def unacknowledged(vault: Vault, client_id: str, purge: purged.Purge, entries: Sequence[Entry]) -> str:
    """Why another device's purge of the client was not one every machine acknowledged (""
    if it was), for retention/agreement.py `settle`: a purge-begin written without an intent
    (a misused casenotes, a stolen machine before its retire) would otherwise be carried
    out here on this machine's facts alone, a hold on a third machine never asked. Asked:
    the practice's devices but the purging one and this one (whose own facts `why_not`
    checks now) registered before the purge began; none such: it purged alone, then."""
    own = vault.device.device_id
    # When it began: no earlier than anything its device wrote before (a clock set back
    # cannot date it before the others were registered).
    began = max([purge.time, *(e.time for e in entries if e.device == purge.device and e.seq < purge.seq)])
    asked = {
        d
        for d in group.devices(vault, entries) - {purge.device, own}
        if (vault.trust.registered_at(d) or "") <= began  # registration deleted: asked
    }
    if not asked:
        return ""
    theirs = [s for s in standing(vault, entries, live=False) if s.intent.client_id == client_id]
    theirs = [s for s in theirs if s.intent.device == purge.device and s.intent.seq < purge.seq]
    if any(not s.held and not asked & set(s.waiting) for s in theirs):
        return ""
    if not theirs:
        who = ", ".join(sorted(asked))
        return f"device {purge.device} purged it without an intent for device(s) {who} to acknowledge"
    silent = sorted(asked & {d for s in theirs for d in s.waiting} | {d for s in theirs for d, _ in s.held})
    return f"its purge intent was not acknowledged by device(s) {', '.join(silent)}"


@dataclass(frozen=True)
class Phase:
    """What a run of a group practice does with its due clients."""

    destroy: list[str]  # every device acknowledged an intent: carried out now
    written: dict[str, tuple[str, ...]]  # client -> the devices its new intent waits for
    waiting: dict[str, tuple[str, ...]]  # client -> the devices an earlier intent still waits for
    held: dict[str, tuple[tuple[str, str], ...]]  # client -> (device, why) that stopped its last intent


def phase(vault: Vault, due: Sequence[str], entries: Sequence[Entry], unattended: bool) -> Phase:
    """For each due client: carry out an intent every device acknowledged, else wait for
    the one still open, else write one (a stopped intent is replaced by a new one)."""
    states = standing(vault, entries)
    own = vault.device.device_id
    result = Phase([], {}, {}, {})
    for client_id in due:
        mine = [s for s in states if s.intent.client_id == client_id]
        if any(s.agreed for s in mine):
            result.destroy.append(client_id)
            continue
        open_ = [s for s in mine if not s.held]
        if open_:
            result.waiting[client_id] = open_[0].waiting
            continue
        for s in mine:
            if s.intent.device == own:
                result.held[client_id] = s.held
        devices = tuple(sorted(group.devices(vault, entries) - {own}))
        vault.audit.append(INTENT, client=client_id, intent=new_id(), unattended=unattended)
        result.written[client_id] = devices
    return result
