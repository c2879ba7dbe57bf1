"""A signed note is final across machines (issue 28, item 2; invariant 3): no revision
with a higher number, and no sibling at the same number, ever replaces a signed revision,
whoever signed it and whatever its clock says. Alex signs a note on his machine; Bea's
machine (a colleague granted the client, so entitled to write it) writes a revision of it
as a sync engine would deliver it: a higher number, or a same-number sibling dated in the
future. On Alex's machine `cat` and the site show the signed text with the other beside it,
`verify` names the revision with its device and practitioner, `resolve --keep` the signed
revision always works, and nothing more is sealed into the note."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import PASSPHRASE, Env
from helpers.people import People
from helpers.people import people as people  # a fixture: Alex and Bea in one practice
from notes import note_text

from site_builder.site import load_timeline
from vault import Passphrase
from vault.format import revision as revision_format

DAY = dt.datetime.now(dt.UTC).date().isoformat()
NOTE = "0123456789abcdef"
SIGNED = "Risk: high. Safety plan agreed and signed."
FUTURE = "2099-01-01T00:00:00Z"


def _signed_by_alex(people: People) -> tuple[str, Path]:
    """Alex grants Bea the client, then seals and signs revision 1 of a note."""
    alex = people.alex
    assert alex.run("access", "grant", "AB-1", "Bea").code == 0
    draft = alex.practice.inbox / f"AB-1-{NOTE}.md"
    draft.write_text(note_text(date=DAY, note_id=NOTE, body=SIGNED, status="signed"))
    sealed = alex.run("seal", str(draft))
    assert sealed.code == 0, sealed.err
    with alex.vault() as vault:
        client_id = vault.resolve("AB-1")
        [(_, _, path)] = vault.revisions(client_id, NOTE)
    return client_id, path


def _written_by_bea(
    bea: Env, client_id: str, number: int, text: str, final: bool = False, sealed_at: str | None = None
) -> Path:
    """A revision of the note as Bea's machine writes it, signed by her registered device and
    sealed to the client's key (no passphrase needed), delivered into Alex's folder."""
    vault = bea.vault()
    body = note_text(date=DAY, note_id=NOTE, body=text, status="signed" if final else "draft").encode()
    header = revision_format.RevisionHeader(
        client_id,
        NOTE,
        number,
        vault.device.device_id,
        "note",
        final,
        sealed_at or vault.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        vault.content_mac(body),
    )
    data, _ = revision_format.seal(header, body, vault.keyring.client_public(client_id), vault.device)
    path = vault.revision_files.path(client_id, NOTE, number, vault.device.device_id)
    path.write_bytes(data)
    return path


def _site_text(alex: Env, client_id: str) -> str:
    with alex.vault() as vault:
        practitioner = vault.unlock(Passphrase(PASSPHRASE))
        timeline = load_timeline(vault, practitioner, client_id, "AB-1", False)
    [entry] = [e for e in timeline.entries if e.note_id == NOTE]
    return entry.body


def _bea_named(err: str, path: Path) -> bool:
    bea_pid = Path(path).stem[7:]  # the device id; the practitioner is named beside it
    return bea_pid in err and "practitioner" in err


def test_a_higher_revision_from_another_machine_never_replaces_a_signed_note(people: People) -> None:
    alex = people.alex
    client_id, signed = _signed_by_alex(people)
    later = _written_by_bea(people.bea, client_id, 2, "Risk: none.")

    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert shown.code == 0, shown.err
    assert SIGNED in shown.text and "Risk: none." in shown.text
    assert shown.text.index(SIGNED) < shown.text.index("Risk: none.")  # the signed text stands first
    assert "(signed)" in shown.text and f"resolve {NOTE}" in shown.err
    body = _site_text(alex, client_id)
    assert body.index(SIGNED) < body.index("Risk: none.")

    checked = alex.run("verify")
    assert checked.code == 1 and f"note {NOTE} was signed" in checked.err, checked.err
    assert later.stem in checked.err and _bea_named(checked.err, later)

    draft = alex.practice.inbox / f"AB-1-{NOTE}.md"
    draft.write_text(note_text(date=DAY, note_id=NOTE, body="A change after signing.", status="draft"))
    refused = alex.run("seal", str(draft))
    assert refused.code == 1 and "signed" in refused.err and draft.exists()  # an addendum, never revision 3

    kept = alex.run("resolve", NOTE, "--keep", signed.stem)
    assert kept.code == 0, kept.err
    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert SIGNED in shown.text and "Risk: none." not in shown.text and shown.err == ""
    assert alex.run("verify").code == 0
    assert alex.run("seal", str(draft)).code == 1  # still signed


def test_a_future_dated_signed_sibling_does_not_become_the_signed_text(people: People) -> None:
    """Bea's machine writes revision 1 again, signed, dated 2099: it is a conflict beside
    Alex's signed revision, never the text that stands, and Alex's can be kept."""
    alex = people.alex
    client_id, signed = _signed_by_alex(people)
    sibling = _written_by_bea(people.bea, client_id, 1, "Risk: none.", final=True, sealed_at=FUTURE)

    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert shown.code == 0, shown.err
    assert shown.text.index(SIGNED) < shown.text.index("Risk: none.")
    checked = alex.run("verify")
    assert checked.code == 1 and sibling.stem in checked.err and _bea_named(checked.err, sibling)
    assert f"signed on one machine ({signed.stem})" in checked.err  # Alex's stands, not "changed"
    kept = alex.run("resolve", NOTE, "--keep", signed.stem)
    assert kept.code == 0, kept.err
    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert SIGNED in shown.text and "Risk: none." not in shown.text
    assert alex.run("verify").code == 0


def test_a_signed_revision_written_after_a_signed_one_is_a_conflict_and_cannot_be_kept(
    people: People,
) -> None:
    """Revision 2, signed too and dated in the future: the first signature stands; keeping
    the later one is refused, keeping the first one works."""
    alex = people.alex
    client_id, signed = _signed_by_alex(people)
    later = _written_by_bea(people.bea, client_id, 2, "Risk: none.", final=True, sealed_at=FUTURE)

    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert shown.text.index(SIGNED) < shown.text.index("Risk: none.")
    assert alex.run("resolve", NOTE, "--keep", later.stem).code == 1
    assert alex.run("resolve", NOTE, "--keep", signed.stem).code == 0
    shown = alex.run("cat", "AB-1", "--note", NOTE)
    assert SIGNED in shown.text and "Risk: none." not in shown.text
    assert alex.run("verify").code == 0


def test_a_forged_resolution_cannot_swap_the_signed_text(people: People) -> None:
    """A "merge" revision naming the signed one, signed, with another text: the signed
    revision's own text is what is shown."""
    alex = people.alex
    client_id, signed = _signed_by_alex(people)
    bea = people.bea.vault()
    body = note_text(date=DAY, note_id=NOTE, body="Risk: none.", status="signed").encode()
    signed_header = revision_format.parse(signed.read_bytes(), signed).header
    header = revision_format.RevisionHeader(
        client_id,
        NOTE,
        2,
        bea.device.device_id,
        "note",
        True,
        FUTURE,
        signed_header.content_mac,  # claims the signed text
        (signed.stem,),
    )
    data, _ = revision_format.seal(header, body, bea.keyring.client_public(client_id), bea.device)
    bea.revision_files.path(client_id, NOTE, 2, bea.device.device_id).write_bytes(data)

    shown = alex.run("cat", "AB-1", "--note", NOTE, passphrase=PASSPHRASE)
    assert SIGNED in shown.text and "Risk: none." not in shown.text.split("=====")[0]
    assert SIGNED in _site_text(alex, client_id)
