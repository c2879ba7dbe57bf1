"""Alex and Bea in one practice, Cleo in another (the `people` fixture), and the
command-line steps the sharing tests take: `ok` (a command that must succeed) and `seal`
(a signed note)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env

from casenotes.config import Practice
from vault import Passphrase
from vault.format.encoding import new_id
from vault.store.colleagues import identity_of, join_practice
from vault.store.practice import create_practice, register_device

BEA_PASS, CLEO_PASS = "fictional bravo passphrase", "fictional charlie passphrase"


@dataclass
class People:
    alex: Env  # owns the practice and client AB-1
    bea: Env  # joined the same practice folder
    cleo: Env  # her own practice elsewhere


def as_(env: Env, passphrase: str, config: Path) -> Env:
    return Env(Practice(env.practice.root, config), {**env.env, "CASENOTES_CONFIG_DIR": str(config)})


@pytest.fixture
def people(practice: Env, tmp_path: Path) -> People:
    root = practice.vault_dir
    alex_vault = practice.vault()
    alex = alex_vault.unlock(Passphrase(PASSPHRASE))
    bea_identity, _ = join_practice(root, Passphrase(BEA_PASS), CHEAP_KDF)
    alex_vault.trust.add_colleague(alex, "Bea", bea_identity)
    bea_vault = register_device(root, tmp_path / "bea-config", Passphrase(BEA_PASS))
    bea_vault.trust.add_colleague(bea_vault.unlock(Passphrase(BEA_PASS)), "Alex", identity_of(alex))
    cleo_home = tmp_path / "cleo"
    cleo_vault = create_practice(
        cleo_home / "vault", tmp_path / "cleo-config", Passphrase(CLEO_PASS), CHEAP_KDF
    )
    Practice(cleo_home, tmp_path / "cleo-config").create_layout()
    cleo = cleo_vault.unlock(Passphrase(CLEO_PASS))
    cleo_vault.trust.add_colleague(cleo, "Alex", identity_of(alex))
    alex_vault.trust.add_colleague(alex, "Cleo", identity_of(cleo))
    for v in (alex_vault, bea_vault, cleo_vault):
        v.close()
    bea = as_(practice, BEA_PASS, tmp_path / "bea-config")
    cleo_env = Env(
        Practice(cleo_home, tmp_path / "cleo-config"),
        {
            **practice.env,
            "CASENOTES_HOME": str(cleo_home),
            "CASENOTES_CONFIG_DIR": str(tmp_path / "cleo-config"),
        },
    )
    return People(practice, bea, cleo_env)


def ok(env: Env, *args: str, passphrase: str = PASSPHRASE) -> str:
    result = env.run(*args, passphrase=passphrase)
    assert result.code == 0, result.err
    return result.text


def seal(env: Env, day: str, body: str, template: str = "soap", client: str = "AB-1") -> str:
    """A signed note with its template's sections written; ``body`` goes into the first one only."""
    note_id = new_id()
    path = env.practice.inbox / f"{client}-{day}-{template}.md"
    process = "\n\n## Process notes\nWritten after the session." if template == "psychotherapy" else ""
    path.write_text(
        f'---\nid: {note_id}\nclient: {client}\ndate: {day}\ntime: "10:00"\nduration_minutes: 50\n'
        f"modality: video\ntemplate: {template}\nstatus: signed\nrisk: none\n---\n\n# Session\n\n"
        f"## Subjective\n{body}\n\n## Objective\nOn time.\n\n## Assessment\nProgress is steady.\n\n"
        f"## Plan\nNext week.{process}\n"
    )
    ok(env, "seal", str(path))
    path.unlink()
    return note_id


def consent_for_cleo(people: People, *extra: str) -> str:
    return ok(
        people.alex, "consent", "add", "AB-1", "--to", "Cleo", "--purpose", "referral for assessment", *extra
    ).strip()
