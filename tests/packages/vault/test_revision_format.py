"""The revision format as pure functions: any plaintext round-trips; ids cannot escape."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from vault import Passphrase
from vault.errors import InvalidHandle, NoteTooLarge, UnknownClient, UnknownNote
from vault.format import revision
from vault.format.keys import Device

CLIENT = PrivateKey.generate()
DEVICE = Device("d" * 16, "p" * 16, "a" * 16, SigningKey.generate(), b"\0" * 32, {})
HEADER = revision.RevisionHeader(
    "c" * 16, "e" * 16, 1, "d" * 16, "note", False, "2026-11-26T00:00:00Z", "0" * 32
)
HERE = Path("sample.rev")


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=5000))
def test_any_plaintext_round_trips(body: bytes) -> None:
    data, _ = revision.seal(HEADER, body, CLIENT.public_key, DEVICE)
    parsed = revision.parse(data, HERE)
    revision.check_signature(parsed, HERE, DEVICE.signing_key.verify_key)
    assert revision.decrypt(parsed, CLIENT, HERE) == body
    assert parsed.header == HEADER


@given(a=st.binary(max_size=1019), b=st.binary(max_size=1019))
def test_notes_in_one_bucket_have_one_size(a: bytes, b: bytes) -> None:
    sa, _ = revision.seal(HEADER, a, CLIENT.public_key, DEVICE)
    sb, _ = revision.seal(HEADER, b, CLIENT.public_key, DEVICE)
    assert len(sa) == len(sb)


def test_a_note_over_the_limit_is_refused_before_any_work() -> None:
    with pytest.raises(NoteTooLarge):
        revision.seal(HEADER, b"x" * (8 * 1024 * 1024 + 1), CLIENT.public_key, DEVICE)


@pytest.mark.parametrize(
    "note_id", ["../../../etc", "..", "0000000000000000", "ABCDEF0123456789", "/tmp", ""]
)
def test_a_note_id_cannot_reach_outside_the_client(practice: Env, note_id: str) -> None:
    vault = practice.vault()
    with pytest.raises(UnknownNote):
        vault.read_notes(vault.unlock(Passphrase(PASSPHRASE)), vault.resolve("AB-1"), note_id or "x")


@settings(max_examples=100, deadline=None)
@given(handle=st.text(max_size=80))
def test_no_handle_is_used_as_a_path(handle: str) -> None:
    """Handles are hashed before they name a file; odd ones are refused, none escapes."""
    from vault.store.clients import blind

    try:
        blinded = blind(handle, b"k" * 32)
    except InvalidHandle:
        return
    assert len(blinded) == 32 and all(c in "0123456789abcdef" for c in blinded)


def test_cat_of_an_unknown_note_says_which(practice: Env) -> None:
    result = practice.run("cat", "AB-1", "--note", "fedcba9876543210")
    assert result.code == 1 and "no note fedcba9876543210 for client" in result.err


def test_unknown_client_id_in_the_core(practice: Env) -> None:
    with pytest.raises(UnknownClient):
        practice.vault().keyring.client_public("f" * 16)
