"""Practitioners, access, consent-bound sharing and supervision: a group practice of two
(Alex and Bea, one vault) and a colleague in another practice (Cleo)."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import PASSPHRASE
from helpers.people import BEA_PASS, CLEO_PASS, People, consent_for_cleo, ok, seal
from helpers.people import people as people  # a fixture
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from vault import Passphrase
from vault.errors import NoAccess, TamperedFile
from vault.format import key_generations
from vault.format.encoding import new_id
from vault.sharing import consent, share
from vault.store.colleagues import Identity, NameTaken, parse_identity

TODAY = dt.datetime.now(dt.UTC).date()


def test_identities_carry_a_fingerprint_and_refuse_tampering(people: People) -> None:
    line = people.alex.run("identity", "export")
    assert line.code == 0 and "fingerprint:" in line.err
    parsed = parse_identity(line.text)
    assert parsed.fingerprint in line.err
    flipped = line.text.strip()[:-5] + ("A" if line.text.strip()[-5] != "A" else "B") + line.text.strip()[-4:]
    refused = people.alex.run("practitioner", "add", "Mallory", flipped)
    assert refused.code == 1 and "not a casenotes identity" in refused.err
    assert "Bea" in ok(people.alex, "practitioner", "list") and "Cleo" in ok(
        people.alex, "practitioner", "list"
    )


def test_a_colleague_reads_a_granted_client_and_is_refused_another(people: People) -> None:
    seal(people.alex, "2026-10-01", "the zephyrquill session")
    ok(people.alex, "client", "add", "CD-2")
    before = people.bea.run("cat", "AB-1", passphrase=BEA_PASS)
    assert before.code == 1 and "holds no key for client" in before.err
    assert "Bea can now read client" in ok(people.alex, "access", "grant", "AB-1", "Bea")
    assert b"zephyrquill" in people.bea.run("cat", "AB-1", passphrase=BEA_PASS).out
    refused = people.bea.run("cat", "CD-2", passphrase=BEA_PASS)
    assert refused.code == 1 and "ask a colleague with access to grant it" in refused.err
    events = [
        e.event for e in people.bea.vault().audit.entries() if e.device == people.bea.vault().device.device_id
    ]
    assert "access-denied" in events
    again = people.alex.run("access", "grant", "AB-1", "Bea")
    assert again.code == 1 and "can already read" in again.err


def test_after_revoke_a_later_note_does_not_open_with_the_revoked_keys(people: People) -> None:
    first = seal(people.alex, "2026-10-01", "before the revoke")
    ok(people.alex, "access", "grant", "AB-1", "Bea")
    bea_vault = people.bea.vault()
    client_id = bea_vault.resolve("AB-1")
    bea_keys = bea_vault.keyring.client_keys(
        bea_vault.unlock(Passphrase(BEA_PASS)), client_id
    )  # what Bea may keep
    said = ok(people.alex, "access", "revoke", "AB-1", "Bea")
    assert "may already have copied" in said and "1 notes" in said
    later = seal(people.alex, "2026-10-08", "after the revoke")
    path = bea_vault.revisions(client_id, later)[-1][2]
    with pytest.raises(TamperedFile):
        bea_vault.open_revision(path, bea_keys)  # the kept keys open nothing sealed later
    assert bea_vault.open_revision(bea_vault.revisions(client_id, first)[-1][2], bea_keys)  # but the old: yes
    with pytest.raises(NoAccess):
        bea_vault.keyring.client_keys(bea_vault.unlock(Passphrase(BEA_PASS)), client_id)
    both = people.alex.run("cat", "AB-1").out
    assert b"before the revoke" in both and b"after the revoke" in both  # Alex reads every generation
    assert ok(people.alex, "verify").startswith("vault OK")
    ok(people.alex, "access", "grant", "AB-1", "Bea")  # granted again: all generations
    again = people.bea.run("cat", "AB-1", passphrase=BEA_PASS).out
    assert b"before the revoke" in again and b"after the revoke" in again


def bundle(people: People, consent_id: str, tmp: Path) -> Path:
    out = tmp / f"share-{consent_id}.casenotes"
    ok(people.alex, "share", "AB-1", "--consent", consent_id, "-o", str(out))
    return out


def opened(people: People, path: Path, today: dt.date | None = None) -> share.SharedNotes:
    cleo_vault = people.cleo.vault()
    me = cleo_vault.unlock(Passphrase(CLEO_PASS))
    known = {c.practitioner_id: c for c in cleo_vault.trust.colleagues()}
    return share.open_bundle(path, path.read_bytes(), me, known, today or TODAY)


def test_a_share_leaves_out_notes_outside_the_consents_dates_and_sections(
    people: People, tmp_path: Path
) -> None:
    seal(people.alex, "2026-01-10", "too early to share")
    seal(people.alex, "2026-03-10", "inside the window")
    seal(people.alex, "2026-03-17", "process thoughts", template="psychotherapy")
    consent_id = consent_for_cleo(
        people, "--from", "2026-02-01", "--sections", "Assessment", "--sections", "plan"
    )
    [shared] = opened(people, bundle(people, consent_id, tmp_path)).notes
    text = shared[1].decode()
    assert "## Assessment" in text and "## Plan" in text
    assert "## Subjective" not in text and "## Summary" not in text and "inside the window" not in text
    assert "client: AB-1" not in text and "2026-03-10" in text
    with_process = consent_for_cleo(people, "--from", "2026-02-01", "--psychotherapy-notes")
    notes = [t.decode() for _, t in opened(people, bundle(people, with_process, tmp_path)).notes]
    assert len(notes) == 2 and any("process thoughts" in n for n in notes)
    assert not any("too early" in n for n in notes)


def test_sharing_needs_a_consent_in_force(people: People, tmp_path: Path) -> None:
    seal(people.alex, "2026-03-10", "inside the window")
    consent_id = consent_for_cleo(people)
    ok(people.alex, "consent", "revoke", "AB-1", consent_id)
    refused = people.alex.run("share", "AB-1", "--consent", consent_id, "-o", str(tmp_path / "x"))
    assert refused.code == 1 and "revoked on" in refused.err and not (tmp_path / "x").exists()
    assert "[revoked on" in ok(people.alex, "consent", "list", "AB-1")
    bad = people.alex.run("consent", "add", "AB-1", "--to", "Cleo", "--purpose", "x", "--sections", "gossip")
    assert bad.code == 2 and "no note section is called 'gossip'" in bad.err
    stranger = people.alex.run("consent", "add", "AB-1", "--to", "Zed", "--purpose", "x")
    assert stranger.code == 1 and "no colleague is called 'Zed'" in stranger.err


def test_a_bundle_is_refused_when_tampered_misaddressed_unknown_or_expired(
    people: People, tmp_path: Path
) -> None:
    seal(people.alex, "2026-03-10", "inside the window")
    path = bundle(people, consent_for_cleo(people, "--until", "2030-12-31"), tmp_path)
    assert opened(people, path).sender.name == "Alex"
    record = json.loads(path.read_bytes())
    for field, value in [("box", record["box"][:-8] + "AAAAAAA="), ("expires", "2099-12-31")]:
        changed = tmp_path / f"changed-{field}"
        changed.write_text(json.dumps({**record, field: value}))
        with pytest.raises(TamperedFile, match="signature of Alex does not match"):
            opened(people, changed)
    with pytest.raises(share.ShareExpired, match="ran until 2030-12-31"):
        opened(people, path, dt.date(2031, 1, 1))
    bea_vault = people.bea.vault()  # Bea knows Alex, but the bundle is Cleo's
    with pytest.raises(share.NotForYou):
        share.open_bundle(
            path,
            path.read_bytes(),
            bea_vault.unlock(Passphrase(BEA_PASS)),
            {c.practitioner_id: c for c in bea_vault.trust.colleagues()},
            TODAY,
        )
    cleo_vault = people.cleo.vault()
    with pytest.raises(share.UnknownSender):
        share.open_bundle(path, path.read_bytes(), cleo_vault.unlock(Passphrase(CLEO_PASS)), {}, TODAY)
    refused = people.cleo.run(
        "open-share", str(tmp_path / "changed-box"), "--no-browser", passphrase=CLEO_PASS
    )
    assert refused.code == 1 and "does not match" in refused.err


def test_an_expired_consent_cannot_be_used_to_share(people: People, tmp_path: Path) -> None:
    vault = people.alex.vault()
    client_id = vault.resolve("AB-1")
    old = consent.Consent(
        new_id(), vault.trust.colleague("Cleo").practitioner_id, "Cleo", "x", "2024-01-01", None, "2024-12-31"
    )
    consent.add(vault, client_id, old)
    refused = people.alex.run("share", "AB-1", "--consent", old.consent_id, "-o", str(tmp_path / "x"))
    assert refused.code == 1 and "expired on 2024-12-31" in refused.err


def test_open_share_serves_the_notes_with_a_banner_and_audits_it(people: People, tmp_path: Path) -> None:
    seal(people.alex, "2026-03-10", "the zephyrquill session")
    path = bundle(people, consent_for_cleo(people), tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "casenotes", "open-share", str(path), "--no-browser"],
        env={**people.cleo.env, "CASENOTES_PASSPHRASE": CLEO_PASS},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving http://127.0.0.1:"), line + proc.stderr.read()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        base = line.split()[-1].split("/?")[0]
        opener.open(line.split()[-1], timeout=10).close()  # the token for the cookie, once
        with opener.open(f"{base}/", timeout=10) as response:
            page = response.read().decode()
        assert "Shared by Alex for: referral for assessment" in page
        month = page.split('href="sessions/')[1].split('"')[0]
        with opener.open(f"{base}/sessions/{month}", timeout=10) as response:
            assert "zephyrquill" in response.read().decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    events = [e.event for e in people.cleo.vault().audit.entries()]
    assert "share-open" in events and "site-close" in events
    assert "share" in [e.event for e in people.alex.vault().audit.entries()]


def test_a_supervisee_note_waits_for_the_supervisors_cosignature(people: People, tmp_path: Path) -> None:
    ok(people.bea, "client", "add", "EF-3", passphrase=BEA_PASS)
    assert "supervises client" in ok(people.bea, "supervise", "EF-3", "Alex", passphrase=BEA_PASS)
    note_id = seal(people.bea, "2026-11-02", "supervised session", client="EF-3")
    queue = ok(people.bea, "status", passphrase=BEA_PASS)
    assert f"awaiting co-signature by Alex: note {note_id} (client EF-3; `casenotes cosign" in queue
    assert b"supervised session" in people.alex.run("cat", "EF-3").out  # the supervisor reads it
    refused = people.bea.run("cosign", note_id, passphrase=BEA_PASS)
    assert refused.code == 1 and "do not supervise" in refused.err
    asked = people.alex.run("cosign", note_id, stdin="n\n")  # shown first, and refused: nothing signed
    assert asked.code == 1 and "supervised session" in asked.text and "was not co-signed" in asked.err
    assert f"awaiting co-signature by Alex: note {note_id}" in ok(people.bea, "status", passphrase=BEA_PASS)
    agreed = people.alex.run("cosign", note_id, stdin="y\n")
    assert (
        agreed.code == 0
        and "supervised session" in agreed.text
        and f"co-signed note {note_id}" in agreed.text
    )
    again = people.alex.run("cosign", note_id, "--yes")  # --yes for scripts: no text, no question
    assert again.code == 1 and "already co-signed" in again.err and "supervised session" not in again.text
    cat = people.bea.run("cat", "EF-3", passphrase=BEA_PASS)
    assert f"note {note_id} is co-signed by Alex on " in cat.err
    from site_builder import build_site

    bea_vault = people.bea.vault()
    (tmp_path / "site").mkdir()
    site = build_site(
        bea_vault,
        bea_vault.unlock(Passphrase(BEA_PASS)),
        bea_vault.resolve("EF-3"),
        "EF-3",
        tmp_path / "site",
    )
    month = (site.html / "sessions" / "2026-11.html").read_text()
    assert "signed by you on " in month and " · co-signed by Alex on " in month  # who, and when
    assert "signed</span>, co-signed by Alex" in (site.html / "timeline.html").read_text()
    assert "awaiting co-signature" not in ok(people.bea, "status", passphrase=BEA_PASS)
    assert "cosign" in [e.event for e in people.alex.vault().audit.entries()]
    cosign = next((people.alex.vault_dir / "clients").glob(f"*/cosign/{note_id}-*.json"))
    cosign.write_text(cosign.read_text().replace('"revision":1', '"revision":2'))
    broken = people.alex.run("verify")
    assert broken.code == 1 and "cosign" in broken.err


def test_a_running_daemon_seals_to_the_new_key_as_soon_as_a_revoke_happens_elsewhere(people: People) -> None:
    daemon_vault = people.alex.vault()  # syncd's long-lived view of the vault
    client_id = daemon_vault.resolve("AB-1")
    ok(people.alex, "access", "grant", "AB-1", "Bea")
    bea_vault = people.bea.vault()
    bea_keys = bea_vault.keyring.client_keys(bea_vault.unlock(Passphrase(BEA_PASS)), client_id)
    daemon_vault.seal(client_id, new_id(), b"before")  # caches the client's keys
    ok(people.alex, "access", "revoke", "AB-1", "Bea")  # another process
    later = daemon_vault.seal(client_id, new_id(), b"sealed by the daemon after the revoke")
    with pytest.raises(TamperedFile):
        bea_vault.open_revision(later.path, bea_keys)


def test_a_deleted_key_generation_is_reported_by_verify(people: People) -> None:
    ok(people.alex, "access", "grant", "AB-1", "Bea")
    ok(people.alex, "access", "revoke", "AB-1", "Bea")
    [key_file] = (people.alex.vault_dir / "clients").glob("*/keys/000002-*.json")
    key_file.unlink()  # what a revoked colleague with write access to the folder might try
    result = people.alex.run("verify")
    assert result.code == 1 and "client key made at" in result.err and "missing" in result.err


def test_a_revoke_cut_short_can_be_run_again(people: People) -> None:
    ok(people.alex, "access", "grant", "AB-1", "Bea")
    vault = people.alex.vault()
    client_id = vault.resolve("AB-1")
    alex = vault.unlock(Passphrase(PASSPHRASE))
    stale = [PrivateKey.generate(), *vault.keyring.client_keys(alex, client_id)]
    gid = key_generations.new_gid(2, vault.device.device_id)  # the generation the revoke was making
    # then the crash
    vault.keyring.seal_access(client_id, stale, alex.practitioner_id, alex.box_key.public_key, gid)
    assert "cannot read notes" in ok(people.alex, "access", "revoke", "AB-1", "Bea")
    assert ok(people.alex, "verify").startswith("vault OK")


def test_a_second_colleague_cannot_take_a_name_already_in_use(people: People) -> None:
    vault = people.alex.vault()
    stranger = PrivateKey.generate(), SigningKey.generate()
    identity = Identity(new_id(), stranger[0].public_key, stranger[1].verify_key)
    with pytest.raises(NameTaken):
        vault.trust.add_colleague(vault.unlock(Passphrase(PASSPHRASE)), "BEA", identity)


def test_an_addendum_to_a_psychotherapy_note_stays_with_it(people: People, tmp_path: Path) -> None:
    private = seal(people.alex, "2026-03-17", "process thoughts", template="psychotherapy")
    path = people.alex.practice.inbox / "addendum.md"
    path.write_text(
        f"---\nid: {new_id()}\nclient: AB-1\ndate: 2026-03-18\ntemplate: addendum\nstatus: signed\n"
        f"amends: {private}\n---\n\n## What is added or corrected\nMore process thoughts.\n\n"
        "## Reason\nRemembered later.\n"
    )
    ok(people.alex, "seal", str(path))
    seal(people.alex, "2026-03-19", "an ordinary session")
    notes = [t.decode() for _, t in opened(people, bundle(people, consent_for_cleo(people), tmp_path)).notes]
    assert len(notes) == 1 and "an ordinary session" in notes[0]


def test_an_addendum_to_an_addendum_of_a_psychotherapy_note_stays_with_it(
    people: People, tmp_path: Path
) -> None:
    """The chain of ``amends`` is followed to its end, not one level."""
    parent = seal(people.alex, "2026-03-17", "process thoughts", template="psychotherapy")
    for day, words in (("2026-03-18", "first afterthought"), ("2026-03-19", "second afterthought")):
        note_id = new_id()
        path = people.alex.practice.inbox / f"addendum-{day}.md"
        path.write_text(
            f"---\nid: {note_id}\nclient: AB-1\ndate: {day}\ntemplate: addendum\nstatus: signed\n"
            f"amends: {parent}\n---\n\n## What is added or corrected\n{words}\n\n## Reason\nRemembered later.\n"
        )
        ok(people.alex, "seal", str(path))
        parent = note_id
    seal(people.alex, "2026-03-20", "an ordinary session")
    notes = [t.decode() for _, t in opened(people, bundle(people, consent_for_cleo(people), tmp_path)).notes]
    assert len(notes) == 1 and "an ordinary session" in notes[0]
