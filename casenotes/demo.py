"""`casenotes demo`: a fictional practice, sealed, verified, and one client's notes shown."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from note_templates import read_note
from syncd.filing import file_note
from vault import KDF_PROFILES, Passphrase, Vault, verify
from vault.encoding import new_id

from . import fiction
from .config import Practice

DEMO_PASSPHRASE = "correct horse battery staple"  # fictional practice, printed on purpose


def run_demo(keep: Path | None, say: Callable[[str], object]) -> None:
    root = keep or Path(tempfile.mkdtemp(prefix="casenotes-demo-"))
    try:
        practice = Practice(root, root / ".device")  # the demo never touches your real config
        with Vault.create(
            practice.vault_dir,
            practice.config_dir,
            Passphrase(DEMO_PASSPHRASE),
            KDF_PROFILES["interactive"],
        ) as vault:
            practice.create_layout()
            people = fiction.clients(4)
            sealed = 0
            for person in people:
                vault.add_client(person.handle, person.name, person.dob)
                for number, day in enumerate(fiction.sessions(dt.date(2025, 9, 1), 6), start=1):
                    draft = practice.inbox / f"{day.isoformat()}-{person.handle}.md"
                    draft.write_bytes(fiction.note(person.handle, day, new_id(), number))
                    file_note(vault, draft)
                    draft.unlink()  # signed and sealed: the plaintext leaves the inbox
                    sealed += 1
            problems = verify(vault)
            say(f"Demo practice in {root} (passphrase: {DEMO_PASSPHRASE!r})")
            say(
                f"Sealed {sealed} fictional notes for {len(people)} clients; "
                f"verify: {'OK' if not problems else problems}"
            )
            first = people[0]
            practitioner = vault.unlock(Passphrase(DEMO_PASSPHRASE))
            notes = vault.read_notes(practitioner, vault.resolve(first.handle))
            say(f"\nTimeline of {first.handle} ({first.name}), newest first:")
            for opened in sorted(notes, key=lambda n: read_note(n.body, Path(n.note_id)).date, reverse=True):
                fields = read_note(opened.body, Path(opened.note_id))
                say(
                    f"  {fields.date}  {fields.meta.get('template', 'note'):<6} "
                    f"{fields.body.strip().splitlines()[0]}"
                )
            if keep:
                say(f"\nExplore it: export CASENOTES_HOME={root} CASENOTES_CONFIG_DIR={practice.config_dir}")
            else:
                say("\nThe demo practice is deleted now; `casenotes demo --keep DIR` keeps it.")
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
