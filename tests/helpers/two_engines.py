"""A practice of two, Alex's and Bea's machines joined by real Syncthing instances on
127.0.0.1 (tests/syncthing.py)."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import CHEAP_KDF, PASSPHRASE, Env
from syncthing import Syncthing, converge

from casenotes.config import Practice
from vault import Passphrase
from vault.sharing import access
from vault.store.colleagues import identity_of, join_practice
from vault.store.practice import create_practice, register_device

BEA_PASS = "fictional bravo passphrase"


def _machine(tmp_path: Path, base_env: dict[str, str], name: str) -> Env:
    practice = Practice(tmp_path / name, tmp_path / f"{name}-config")
    env = {**base_env, "CASENOTES_HOME": str(practice.root), "CASENOTES_CONFIG_DIR": str(practice.config_dir)}
    return Env(practice, env)


def _read(env: Env, passphrase: str, handle: str) -> list[str]:
    with env.vault() as vault:
        practitioner = vault.unlock(Passphrase(passphrase))
        return [n.note_id for n in vault.read_notes(practitioner, vault.resolve(handle))]


def _practice_of_two(
    engines: tuple[Syncthing, Syncthing], tmp_path: Path, base_env: dict[str, str]
) -> tuple[Env, Env]:
    """Alex's practice on one machine, Bea joined on hers, AB-1 shared with her; in sync."""
    st_a, st_b = engines
    a, b = _machine(tmp_path, base_env, "alex"), _machine(tmp_path, base_env, "bea")
    create_practice(a.vault_dir, a.practice.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF).close()
    a.practice.create_layout()
    with a.vault() as vault:
        vault.add_client("AB-1", "Fictional Person A", None)
    os.makedirs(b.vault_dir, mode=0o700)
    b.practice.create_layout()
    st_a.share(a.vault_dir, st_b)
    st_b.share(b.vault_dir, st_a)
    converge(st_a, a.vault_dir, st_b, b.vault_dir)

    # Bea joins on her machine; Alex adds her on his; she registers her machine.
    identity, _ = join_practice(b.vault_dir, Passphrase(BEA_PASS), CHEAP_KDF)
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    with a.vault() as vault:
        alex = vault.unlock(Passphrase(PASSPHRASE))
        vault.trust.add_colleague(alex, "Bea", identity)
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    with register_device(b.vault_dir, b.practice.config_dir, Passphrase(BEA_PASS)) as vault:
        vault.trust.add_colleague(vault.unlock(Passphrase(BEA_PASS)), "Alex", identity_of(alex))
        vault.add_client("BE-1", "Fictional Person B", None)
    with a.vault() as vault:
        access.grant(
            vault, vault.unlock(Passphrase(PASSPHRASE)), vault.resolve("AB-1"), vault.trust.colleague("Bea")
        )
    converge(st_a, a.vault_dir, st_b, b.vault_dir)
    return a, b
