"""Purging in a group practice: two machines (or three) holding copies of one vault,
merged by `Sync` as a sync engine merges them, and the steps of a purge's intent,
acknowledgement and agreement."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, Env

from helpers.retention_vault import Clock, add
from retention import PRESETS, certificate, intents
from retention.purge import RunReport, run
from vault import Passphrase, Vault
from vault.store import purged
from vault.store.practice import create_practice, register_device

APA = PRESETS["apa"]


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".tmp-")
    }


class Sync:
    """Two copies of one vault, merged file by file against what they last agreed on."""

    def __init__(self, a: Path, b: Path) -> None:
        self.a, self.b = a, b
        self.base = _tree(a)

    def __call__(self) -> None:
        ta, tb = _tree(self.a), _tree(self.b)
        for relative in sorted(set(ta) | set(tb)):
            here, there, before = ta.get(relative), tb.get(relative), self.base.get(relative)
            if here == there:
                continue
            assert not (here and there and before not in (here, there)), f"both changed {relative}"
            if here is None or there is None:  # one side lacks it: deleted there, or new here
                kept, side, other = (there, self.b, self.a) if here is None else (here, self.a, self.b)
                if kept == before:  # unchanged where it is, deleted where it is not
                    (side / relative).unlink()
                    continue
                source, target = side / relative, other / relative  # new or changed: it wins
            else:
                source, target = (self.a / relative, self.b / relative)
                if here == before:
                    source, target = target, source
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        for root in (self.a, self.b):  # folders a deletion emptied go too
            for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                if not any(folder.iterdir()) and folder.parent.name in ("clients", "records"):
                    folder.rmdir()
        assert _tree(self.a) == _tree(self.b)
        self.base = _tree(self.a)


@pytest.fixture
def machines(empty: Env, tmp_path: Path) -> tuple[Vault, Vault, Sync, Clock]:
    clock = Clock("2019-01-01T09:00:00")
    p = empty.practice
    create_practice(p.vault_dir, p.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF, clock=clock).close()
    p.create_layout()
    register_device(p.vault_dir, tmp_path / "laptop-config", Passphrase(PASSPHRASE), clock).close()
    laptop_root = tmp_path / "laptop" / "vault"
    shutil.copytree(p.vault_dir, laptop_root)
    return (
        Vault(p.vault_dir, p.config_dir, clock),
        Vault(laptop_root, tmp_path / "laptop-config", clock),
        Sync(p.vault_dir, laptop_root),
        clock,
    )


def _readable(vault: Vault, client_id: str) -> int:
    return len(vault.read_notes(vault.unlock(Passphrase(PASSPHRASE)), client_id))


def _nightly(vault: Vault) -> RunReport:
    """syncd's nightly run (the test's clock leaps years: that is not what is tested here)."""
    return run(vault, APA, [], unattended=True, max_clock_gap=dt.timedelta(days=9999))


def _acknowledged(sync: Sync, *vaults: Vault) -> None:
    """The intent reaches the other machines, whose syncd acknowledge it, and back."""
    sync()
    for vault in vaults:
        intents.acknowledge(vault, APA)
    sync()


def _purge(vault: Vault, sync: Sync, others: tuple[Vault, ...], **options) -> RunReport:
    """A person's purge in a group practice: its intent, every other machine's
    acknowledgement, then the purge itself (retention/intents.py)."""
    first = run(vault, APA, [], unattended=False, **options)
    assert first.purged == [] and first.intents, first
    _acknowledged(sync, *others)
    return run(vault, APA, [], unattended=False, **options)


def _heard(*vaults: Vault) -> None:
    """Each machine's nightly check, with nothing due yet."""
    for vault in vaults:
        assert _nightly(vault).purged == []


def _attended(vault: Vault):
    return run(vault, APA, [], unattended=False)


def _standing(vault: Vault) -> list[intents.Standing]:
    """The intents as this machine sees them: purge lines only those a registered device signed."""
    return intents.standing(vault, purged.trusted(vault.audit.entries(), purged.signed(vault)))


def _intent_of(vault: Vault, client_id: str) -> intents.Standing:
    [state] = [s for s in _standing(vault) if s.intent.client_id == client_id and not s.held] or [
        s for s in _standing(vault) if s.intent.client_id == client_id
    ]
    return state


def _events(vault: Vault, device: Vault, event: str) -> list[dict]:
    return [e.data for e in vault.audit.entries() if e.device == device.device.device_id and e.event == event]


def _due(machines) -> tuple[Vault, Vault, Sync, Clock, str]:
    desk, laptop, sync, clock = machines
    client_id = add(desk, "AB-1", ["2010-01-01"])
    sync()
    clock.set("2030-01-01T09:00:00")
    _heard(laptop)
    sync()
    return desk, laptop, sync, clock, client_id


@pytest.fixture
def three(empty: Env, tmp_path: Path) -> tuple[Vault, Vault, Vault, Sync, Clock]:
    """The desk, the laptop (apart, merged by `Sync`) and an old laptop of the same
    practitioner whose writes land in the desk's folder."""
    clock = Clock("2019-01-01T09:00:00")
    p = empty.practice
    create_practice(p.vault_dir, p.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF, clock=clock).close()
    p.create_layout()
    register_device(p.vault_dir, tmp_path / "laptop-config", Passphrase(PASSPHRASE), clock).close()
    register_device(p.vault_dir, tmp_path / "old-config", Passphrase(PASSPHRASE), clock).close()
    laptop_root = tmp_path / "laptop" / "vault"
    shutil.copytree(p.vault_dir, laptop_root)
    return (
        Vault(p.vault_dir, p.config_dir, clock),
        Vault(laptop_root, tmp_path / "laptop-config", clock),
        Vault(p.vault_dir, tmp_path / "old-config", clock),
        Sync(p.vault_dir, laptop_root),
        clock,
    )


def _purge_claimed_by(laptop: Vault, client_id: str, with_certificate: bool) -> None:
    """What the laptop's casenotes writes for a purge it never checked: its own signed log
    lines and, if asked, a signed certificate naming the client's key files as destroyed."""
    keys = sorted((laptop.client_dir(client_id) / "access").glob("*.sealed"))
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in keys]
    laptop.audit.append("purge-begin", client=client_id, keys=digests)
    if with_certificate:
        certificate.write(
            laptop,
            {
                "client_id": client_id,
                "policy": APA.describe(),
                "rule": "adult",
                "purged_at": laptop.clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "device": laptop.device.device_id,
                "destroyed": [
                    {"where": "vault", "what": f"sealed client key {p.name}", "sha256": d}
                    for p, d in zip(keys, digests, strict=True)
                ],
                "targets_done": [],
                "pending": [],
                "index_entries": [],
            },
        )
        laptop.audit.append("purge-done", client=client_id)
