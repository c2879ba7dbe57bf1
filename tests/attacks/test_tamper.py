"""Someone with the vault but no passphrase tries to change it: nothing passes silently."""

from __future__ import annotations

import shutil

import pytest
from conftest import PASSPHRASE, Env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.public import SealedBox
from nacl.signing import SigningKey
from notes import write_note

from vault import Passphrase, verify
from vault.errors import TamperedFile
from vault.format import revision
from vault.format.keys import Device


def seal_notes(practice: Env, *bodies: str, client: str = "AB-1", note_id: str = "0123456789abcdef"):
    for body in bodies:
        note = write_note(practice.practice.inbox, client=client, note_id=note_id, body=body)
        assert practice.run("seal", str(note)).code == 0
    vault = practice.vault()
    cid = vault.resolve(client)
    return vault, cid, [p for _, _, p in vault.revisions(cid, note_id)]


def problems_of(practice: Env) -> list[str]:
    return [str(p) for p in verify(practice.vault())]


def test_an_untouched_vault_verifies(practice: Env) -> None:
    seal_notes(practice, "one", "two")
    result = practice.run("verify")
    assert result.code == 0, result.err
    assert "vault OK" in result.text


@pytest.fixture
def sealed(practice: Env):
    vault, cid, revs = seal_notes(practice, "first", "second", "third")
    return practice, vault, cid, revs


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_any_flipped_byte_is_detected(sealed, data) -> None:
    practice, vault, cid, revs = sealed
    path = revs[-1]
    original = path.read_bytes()
    at = data.draw(st.integers(0, len(original) - 1))
    bit = data.draw(st.integers(0, 7))
    path.write_bytes(original[:at] + bytes([original[at] ^ (1 << bit)]) + original[at + 1 :])
    try:
        with pytest.raises(TamperedFile) as caught:
            vault.read_notes(vault.unlock(Passphrase(PASSPHRASE)), cid)
        assert caught.value.path == path
        assert any(str(path) in p for p in problems_of(practice))
    finally:
        path.write_bytes(original)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data())
def test_any_truncation_fails_and_never_gives_a_shorter_note(sealed, data) -> None:
    practice, vault, cid, revs = sealed
    path = revs[-1]
    original = path.read_bytes()
    cut = data.draw(st.integers(0, len(original) - 1))
    path.write_bytes(original[:cut])
    try:
        with pytest.raises(TamperedFile):
            revision.parse(path.read_bytes(), path) and vault.open_revision(
                path, vault.keyring.client_keys(vault.unlock(Passphrase(PASSPHRASE)), cid)
            )
    finally:
        path.write_bytes(original)


def test_the_cli_names_a_tampered_file_and_exits_1(sealed) -> None:
    practice, _, _, revs = sealed
    raw = bytearray(revs[-1].read_bytes())
    raw[-100] ^= 1
    revs[-1].write_bytes(bytes(raw))
    for args in (["cat", "AB-1"], ["verify"]):
        result = practice.run(*args)
        assert result.code == 1
        assert str(revs[-1]) in result.err
        assert result.out == b"" or b"first" not in result.out


def test_swapping_two_revisions_of_a_note_is_detected(sealed) -> None:
    practice, _, _, revs = sealed
    a, b = revs[0].read_bytes(), revs[1].read_bytes()
    revs[0].write_bytes(b)
    revs[1].write_bytes(a)
    found = problems_of(practice)
    assert any(str(revs[0]) in p and "renamed or swapped" in p for p in found)
    assert any(str(revs[1]) in p for p in found)


def test_a_revision_moved_into_another_note_is_detected(sealed) -> None:
    practice, vault, cid, revs = sealed
    _, _, other = seal_notes(practice, "other note", note_id="fedcba9876543210")
    shutil.copy(revs[0], other[0])  # same file name, other note's folder
    assert any(str(other[0]) in p and "another client or note" in p for p in problems_of(practice))
    with pytest.raises(TamperedFile):
        vault.read_notes(vault.unlock(Passphrase(PASSPHRASE)), cid, "fedcba9876543210")


def test_a_revision_moved_into_another_clients_folder_is_detected(sealed) -> None:
    practice, vault, cid, revs = sealed
    practice.run("client", "add", "CD-2")
    _, other_cid, other = seal_notes(practice, "theirs", client="CD-2")
    shutil.copy(revs[-1], other[0])
    assert any(str(other[0]) in p and "another client or note" in p for p in problems_of(practice))
    result = practice.run("cat", "CD-2")
    assert result.code == 1 and b"third" not in result.out


def test_a_deleted_revision_is_reported_even_when_it_was_the_newest(sealed) -> None:
    practice, _, _, revs = sealed
    revs[-1].unlink()
    assert any("missing (deleted?)" in p and str(revs[-1]) in p for p in problems_of(practice))
    assert practice.run("verify").code == 1


def test_a_deleted_middle_revision_leaves_a_gap_that_is_reported(sealed) -> None:
    practice, _, _, revs = sealed
    revs[1].unlink()
    found = problems_of(practice)
    assert any("revision 2 is missing" in p for p in found)


def test_a_revision_forged_with_the_clients_public_key_is_rejected(sealed) -> None:
    """Anyone can encrypt to a client's public key; only a registered device can sign."""
    practice, vault, cid, revs = sealed
    intruder = Device(
        "f" * 16, vault.practice_id, vault.device.practitioner_id, SigningKey.generate(), b"\0" * 32, {}
    )
    header = revision.RevisionHeader(
        cid, "0123456789abcdef", 4, vault.device.device_id, "note", False, "2026-11-26T00:00:00Z", "0" * 32
    )
    data, _ = revision.seal(
        header,
        b"---\nclient: AB-1\ndate: 2026-11-20\n---\nforged\n",
        vault.keyring.client_public(cid),
        intruder,
    )
    forged = revs[0].parent / f"000004-{vault.device.device_id}.rev"
    forged.write_bytes(data)
    assert any(str(forged) in p and "changed or forged" in p for p in problems_of(practice))
    result = practice.run("cat", "AB-1")
    assert result.code == 1 and b"forged" not in result.out


def test_a_replaced_client_public_key_is_detected(sealed) -> None:
    """An attacker who swaps in their own public key would read future notes: refuse it."""
    practice, vault, cid, _ = sealed
    path = vault.client_dir(cid) / "client.json"
    import json

    record = json.loads(path.read_text())
    from nacl.public import PrivateKey

    from vault.format.encoding import b64

    record["box_public"] = b64(bytes(PrivateKey.generate().public_key))
    path.write_text(json.dumps(record))
    assert any(str(path) in p for p in problems_of(practice))
    note = write_note(practice.practice.inbox, body="after the swap")
    result = practice.run("seal", str(note))
    assert result.code == 1 and str(path) in result.err


def test_a_sealed_client_key_for_another_client_is_refused(sealed) -> None:
    practice, vault, cid, _ = sealed
    practice.run("client", "add", "CD-2")
    other = vault.resolve("CD-2")
    mine = vault.client_dir(cid) / "access" / f"{vault.device.practitioner_id}.sealed"
    shutil.copy(vault.client_dir(other) / "access" / mine.name, mine)
    result = practice.run("cat", "AB-1")
    assert result.code == 1 and "belongs to another client" in result.err


def test_a_device_registration_not_signed_by_the_practitioner_is_refused(sealed) -> None:
    practice, vault, _, _ = sealed
    import json

    path = vault.root / "devices" / f"{vault.device.device_id}.json"
    record = json.loads(path.read_text())
    record["sign_public"] = record["sign_public"][::-1]
    path.write_text(json.dumps(record))
    assert any(str(path) in p for p in problems_of(practice))


def test_sealed_box_of_the_file_key_really_needs_the_client_key(sealed) -> None:
    """The sealed file key is an ordinary crypto_box_seal: a stranger's key cannot open it."""
    from nacl.exceptions import CryptoError
    from nacl.public import PrivateKey

    _, _, _, revs = sealed
    parsed = revision.parse(revs[0].read_bytes(), revs[0])
    with pytest.raises(CryptoError):
        SealedBox(PrivateKey.generate()).decrypt(parsed.sealed_key)


def test_a_swapped_practitioner_encryption_key_is_refused_and_reported(practice: Env) -> None:
    """Whoever swaps in their own key would get every new client's key sealed to them."""
    import json

    from nacl.public import PrivateKey

    from vault.format.encoding import b64

    path = next((practice.vault_dir / "practitioners").glob("*.json"))
    record = json.loads(path.read_text())
    record["box_public"] = b64(bytes(PrivateKey.generate().public_key))
    path.write_text(json.dumps(record))
    added = practice.run("client", "add", "CD-2")
    assert added.code == 1 and "not the one this device pinned" in added.err and str(path) in added.err
    assert any(str(path) in p for p in problems_of(practice))


def test_a_ciphertext_refiled_under_another_clients_header_and_re_signed_is_refused(sealed) -> None:
    """Someone holding this machine's device key and the note's file key (a colleague who
    may read AB-1) moves the ciphertext under CD-2's header, seals the file key to CD-2
    and signs the result: every check but the AEAD's associated data passes, and it must
    refuse the note in its new place."""
    import struct
    from dataclasses import replace

    from vault.format.constants import REVISION_MAGIC, REVISION_VERSION
    from vault.format.encoding import canonical

    practice, vault, cid, revs = sealed
    assert practice.run("client", "add", "CD-2").code == 0
    other = vault.resolve("CD-2")
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    parsed = revision.parse(revs[-1].read_bytes(), revs[-1])
    file_key = SealedBox(vault.keyring.client_keys(practitioner, cid)[-1]).decrypt(parsed.sealed_key)
    header = canonical(replace(parsed.header, client=other, revision=1).fields())  # as the writer does
    signed = (
        struct.pack(">8sHH", REVISION_MAGIC, REVISION_VERSION, len(header))
        + header
        + SealedBox(vault.keyring.client_public(other)).encrypt(file_key)
        + parsed.nonce
        + struct.pack(">I", len(parsed.ciphertext))
        + parsed.ciphertext
    )
    moved = vault.client_dir(other) / "records" / parsed.header.note / f"000001-{vault.device.device_id}.rev"
    moved.parent.mkdir(parents=True)
    moved.write_bytes(signed + vault.device.sign(signed))
    with pytest.raises(TamperedFile) as caught:
        vault.read_notes(practitioner, other)
    assert caught.value.path == moved and "does not authenticate" in caught.value.why
    result = practice.run("cat", "CD-2")
    assert result.code == 1 and b"third" not in result.out and str(moved) in result.err
