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
from nacl.public import PrivateKey, SealedBox
from nacl.signing import VerifyKey
from samples.make_v1 import NOTE_ID, PASSPHRASE, REVISIONS

from vault import Passphrase, Vault, verify
from vault.errors import NoteLocked

SAMPLE = Path(__file__).resolve().parent / "samples" / "v1"


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
