"""One note changed on two machines while they were apart: Alex's and Bea's revision 2
of the same note."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from conftest import PASSPHRASE, Env
from notes import note_text

from helpers.people import BEA_PASS, People
from helpers.people import people as people  # a fixture: Alex and Bea in one practice

DAY = dt.datetime.now(dt.UTC).date().isoformat()


NOTE = "0123456789abcdef"


def _draft(env: Env, text: str, status: str = "draft") -> Path:
    path = env.practice.inbox / f"AB-1-{NOTE}.md"
    path.write_text(note_text(date=DAY, note_id=NOTE, body=text, status=status))
    return path


def _seal(env: Env, text: str, passphrase: str, status: str = "draft") -> None:
    path = _draft(env, text, status)
    sealed = env.run("seal", str(path), passphrase=passphrase)
    assert sealed.code == 0, sealed.err
    path.unlink(missing_ok=True)


def _fork(people: People, alex_text: str, bea_text: str, alex_status: str = "draft") -> tuple[Path, Path]:
    """Revision 1 by Alex; then revision 2 by each while apart; then the files meet."""
    alex, bea = people.alex, people.bea
    assert alex.run("access", "grant", "AB-1", "Bea").code == 0
    _seal(alex, "First text of the session.", PASSPHRASE)
    _seal(alex, alex_text, PASSPHRASE, alex_status)
    folder = next(alex.vault_dir.glob(f"clients/*/records/{NOTE}"))
    [alex_rev2] = [p for p in folder.iterdir() if p.name.startswith("000002-")]
    aside = alex_rev2.parent.parent / "aside.rev"  # Alex's machine is away: Bea cannot see it
    shutil.move(alex_rev2, aside)
    _seal(bea, bea_text, BEA_PASS)
    shutil.move(aside, alex_rev2)  # sync delivers both
    [bea_rev2] = [p for p in folder.iterdir() if p.name.startswith("000002-") and p != alex_rev2]
    return alex_rev2, bea_rev2
