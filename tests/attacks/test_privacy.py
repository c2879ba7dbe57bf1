"""What a thief with the vault (and no passphrase) learns: ids, counts, sizes, times."""

from __future__ import annotations

import base64

from conftest import Env
from notes import SESSION_TEXT, write_note

from vault.format.revision import bucket

SECRETS = {
    "name": "Wilhelmina Testperson",
    "handle": "AB-1",
    "dob": "1987-03-14",
    "note text": "zephyrquill",
    "front-matter value": "glimmerstone-technique",
    "session date": "2026-11-20",
    "template": "birp",
}


def forms(text: str) -> list[bytes]:
    raw = text.encode()
    return [
        raw,
        raw.lower(),
        raw.upper(),
        base64.b64encode(raw),
        raw.hex().encode(),
        text.encode("utf-16-le"),
    ]


def test_no_vault_file_holds_a_name_handle_date_text_or_field(practice: Env) -> None:
    note = write_note(
        practice.practice.inbox,
        extra='template: birp\ntime: "10:00"\nduration_minutes: 50\nmodality: video\n'
        "intervention: glimmerstone-technique\nrisk: none\n",
        status="signed",
        # a signed BIRP note has its four sections written (sign refuses blank ones)
        body=SESSION_TEXT + "\n\n## Behavior\nCalm.\n\n## Intervention\nListening.\n\n"
        "## Response\nEngaged.\n\n## Plan\nNext week.",
    )
    assert practice.run("seal", str(note)).code == 0
    assert practice.run("cat", "AB-1").code == 0  # decryption leaves nothing behind either
    files = [p for p in practice.vault_dir.rglob("*") if p.is_file()]
    assert len(files) > 8
    for path in files:
        data = path.read_bytes()
        for what, secret in SECRETS.items():
            for form in forms(secret):
                assert form not in data, f"{what} found in {path}"
        for what, secret in SECRETS.items():
            assert secret.lower() not in str(path.relative_to(practice.vault_dir)).lower(), (
                f"{what} in a file name"
            )


def test_file_sizes_do_not_fingerprint_notes(practice: Env) -> None:
    inbox = practice.practice.inbox
    sizes = set()
    for index, body in enumerate(["short", "a somewhat longer session summary " * 10, "x" * 700]):
        note = write_note(inbox, note_id=f"{index + 1:016x}", body=body)
        assert practice.run("seal", str(note)).code == 0
    for path in practice.vault_dir.rglob("*.rev"):
        if path.parent.name != "0000000000000000":
            sizes.add(path.stat().st_size)
    assert len(sizes) == 1  # three different notes, one padded size


def test_padding_buckets() -> None:
    assert bucket(1) == 1024 and bucket(1024) == 1024 and bucket(1025) == 2048
    assert bucket(1024 * 1024) == 1024 * 1024 and bucket(1024 * 1024 + 1) == 2 * 1024 * 1024
    assert bucket(3 * 1024 * 1024 + 5) == 4 * 1024 * 1024
