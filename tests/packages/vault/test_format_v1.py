"""Version 1 files, checked in, stay readable; and docs/format.md is enough to read them.

The second test is an independent reader written from docs/format.md alone, with raw
libsodium calls and none of casenotes' vault code: if the doc and the code drift, it fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import struct
from pathlib import Path

import nacl.bindings as sodium
import nacl.pwhash.argon2id as argon2id
import pytest
from conftest import ROOT
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey, VerifyKey
from samples.make_v1 import NOTE_ID, PASSPHRASE, REVISIONS

from vault import Passphrase, Vault, verify
from vault.errors import NoteLocked, TamperedFile
from vault.format import retention_facts

SAMPLE = ROOT / "tests" / "samples" / "v1"


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    copy = tmp_path / "v1"
    shutil.copytree(SAMPLE, copy)  # reading appends audit entries: never touch the original
    return copy


def test_casenotes_reads_the_v1_sample(sample: Path) -> None:
    vault = Vault(sample / "vault", sample / "config")
    assert verify(vault) == []
    practitioner = vault.unlock(Passphrase(PASSPHRASE))
    profile = vault.find(practitioner, "sample-1")
    assert (profile.name, profile.dob) == ("Sample Fictional", "2000-01-01")
    [note] = vault.read_notes(practitioner, profile.client_id)
    assert (note.note_id, note.revision, note.final) == (NOTE_ID, 2, True)
    assert bytes(note.body) == REVISIONS[-1]
    with pytest.raises(NoteLocked):
        vault.seal(profile.client_id, NOTE_ID, b"a change after signing")


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def test_an_independent_reader_written_from_the_format_doc(sample: Path) -> None:
    root = sample / "vault"
    # practitioner key: Argon2id with the stored parameters, XChaCha20-Poly1305, AD = record without "wrapped"
    [key_path] = (root / "practitioners").glob("*.json")
    record = json.loads(key_path.read_text())
    kdf = record["kdf"]
    wrap_key = argon2id.kdf(
        32, PASSPHRASE.encode(), unb64(kdf["salt"]), opslimit=kdf["opslimit"], memlimit=kdf["memlimit"]
    )
    ad = json.dumps(
        {k: v for k, v in record.items() if k != "wrapped"}, sort_keys=True, separators=(",", ":")
    ).encode()
    wrapped = unb64(record["wrapped"])
    secret = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(wrapped[24:], ad, wrapped[:24], wrap_key)
    practitioner_box = PrivateKey(secret[:32])

    [client_dir] = (root / "clients").iterdir()
    client_key = PrivateKey(
        SealedBox(practitioner_box).decrypt((client_dir / "access" / f"{key_path.stem}.sealed").read_bytes())
    )
    [device_reg] = (root / "devices").glob("*.json")
    device_key = VerifyKey(unb64(json.loads(device_reg.read_text())["sign_public"]))

    latest = sorted((client_dir / "records" / NOTE_ID).glob("*.rev"))[-1]
    data = latest.read_bytes()
    magic, version, h = struct.unpack(">8sHH", data[:12])
    assert (magic, version) == (b"CASENOTE", 1)
    header = json.loads(data[12 : 12 + h])
    assert (header["client"], header["note"], header["revision"]) == (client_dir.name, NOTE_ID, 2)
    sealed_key = data[12 + h : 92 + h]
    nonce = data[92 + h : 116 + h]
    (c,) = struct.unpack(">I", data[116 + h : 120 + h])
    assert len(data) == 184 + h + c
    device_key.verify(data[: 120 + h + c], data[120 + h + c :])
    file_key = SealedBox(client_key).decrypt(sealed_key)
    padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        data[120 + h : 120 + h + c], data[: 12 + h], nonce, file_key
    )
    (length,) = struct.unpack(">I", padded[:4])
    assert len(padded) == 1024 and not any(padded[4 + length :])
    assert padded[4 : 4 + length] == REVISIONS[-1]

    # the audit log: a hash chain, and each seal entry names the file and its SHA-256
    log = next((root / "audit").glob("*.log")).read_bytes().splitlines()
    prev = "0" * 64
    for line in log:
        entry = json.loads(line)
        assert entry["prev"] == prev
        prev = hashlib.sha256(line).hexdigest()
    seals = [json.loads(line)["data"] for line in log if json.loads(line)["event"] == "seal"]
    assert hashlib.sha256(data).hexdigest() == seals[-1]["sha256"]


# Retention facts sealed by casenotes before their format moved from retention/ to
# vault/format/retention_facts.py (index key bytes 0..31, device key seed of 32 zeros, nonce
# of zeros): a vault written then must read the same after.
RETENTION_INDEX_KEY = bytes(range(32))
RETENTION_KEY = "293a40e1f99137ece9a3a2d644c3fa2d4a597fec97046877af347c94ade562b1"
RETENTION_RECORD = (
    '{"box":"CiXAtxMJ6ddtTMDmfEUadfYfIAboxnyj8pjHSl/1lhqaU8R3MuYgc6jkWVXfCEUvxpLzOIA0DBJ1LGOPhT+92xbnIm33e'
    "w/o4vJccDkbxXE+LQwGcNBkDB0lIunHuetV4D7nbx8YoXxX9gU7fFoOStZ8/ng8D0BIf2oeB8DwvjFihgnXANIPOZGwc+BgadLItX"
    "TgQQfNGewsAmzIsiAmGetYehVjZPzMfnyEyTYV+Q0/twVVNeVwn5kRsAPaIWsWUMWAVF+fEs68EdyFIiOhL3kB7B0PrZw88oG/tkGk"
    'sEd27+XwpA==","client_id":"8df335f248395250","device":"cd0b66ede6f9b3e9","format":"casenotes-retention'
    '-facts","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","seq":3,"signature":"I4/5DU2Vwe8GP983ukZaZ2IAPKsk6k'
    'WSGCmfZRVmtEBp6jQ7cEOPzbU4YxZkyi9Nzg8psgw1qgT9M8SL3vOyAg==","version":1}'
)
RETENTION_SESSION = (
    "zFVASeq0lnz5odOVtEGYpo0CeL28bv0A9rwtyXaZPiaWC22GnB0vLZQFQocDRGMdYi0WBUE7iaUvNtOSG5/J/+f+xXuRL7nU5eB/tm"
    "DPv1l+mhUWpmVHwwIZTKj6HzlurNenWgdPSvU="
)


def test_retention_facts_sealed_before_the_format_moved_still_open(tmp_path: Path) -> None:
    key = retention_facts.key(RETENTION_INDEX_KEY)
    assert key.hex() == RETENTION_KEY  # the key derivation is the one the files were sealed under
    path = tmp_path / "clients" / "8df335f248395250" / "retention" / "cd0b66ede6f9b3e9.json"
    path.parent.mkdir(parents=True)
    path.write_text(RETENTION_RECORD)
    device_key = SigningKey(bytes(32)).verify_key
    record = retention_facts.read(str(path), {"cd0b66ede6f9b3e9": device_key})
    seq, facts = retention_facts.open_facts(record, key, "8df335f248395250", "cd0b66ede6f9b3e9", str(path))
    assert seq == 3 and facts["sessions"] == {"soap": "2020-02-03"} and facts["born"][0] == "1980-01-01"
    fact = retention_facts.open_session(RETENTION_SESSION, key, "8df335f248395250", "5a3b1c0d9e8f7a6b")
    assert fact == {"day": "2026-03-14", "kind": "soap"}
    # and what is sealed now has the same shape and opens the same way
    again = retention_facts.seal_session(key, "8df335f248395250", "5a3b1c0d9e8f7a6b", "soap", "2026-03-14")
    assert len(again) == len(RETENTION_SESSION)
    assert retention_facts.open_session(again, key, "8df335f248395250", "5a3b1c0d9e8f7a6b") == fact
    with pytest.raises(TamperedFile):  # bound to its client: the same bytes under another fail
        retention_facts.open_facts(record, key, "0000000000000001", "cd0b66ede6f9b3e9", str(path))
