"""Regenerate tests/samples/v1 (run once per format version; the output is checked in).

    python tests/samples/make_v1.py

A fictional practice: one client, one note with two revisions, a cheap KDF and the
passphrase below. Never regenerate v1 after release: it exists to prove old files read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vault import KdfParams, Passphrase
from vault.store.practice import create_practice

HERE = Path(__file__).resolve().parent / "v1"
PASSPHRASE = "sample passphrase"
NOTE_ID = "5a3b1c0d9e8f7a6b"
REVISIONS = [
    b"---\nid: 5a3b1c0d9e8f7a6b\nclient: SAMPLE-1\ndate: 2026-01-05\nstatus: draft\n---\n\nFirst draft.\n",
    b"---\nid: 5a3b1c0d9e8f7a6b\nclient: SAMPLE-1\ndate: 2026-01-05\nstatus: signed\n---\n\nSigned text.\n",
]

if __name__ == "__main__":
    shutil.rmtree(HERE, ignore_errors=True)
    with create_practice(
        HERE / "vault", HERE / "config", Passphrase(PASSPHRASE), KdfParams(1, 8 * 1024 * 1024)
    ) as v:
        cid = v.add_client("SAMPLE-1", "Sample Fictional", "2000-01-01")
        for number, body in enumerate(REVISIONS, start=1):
            v.seal(cid, NOTE_ID, body, final=number == len(REVISIONS))
    print(f"wrote {HERE}")
