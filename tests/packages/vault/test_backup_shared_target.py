"""One backup folder for two machines (issue 29, item 4). Alex's `backup prune` deleted the
pack Bea's `backup run`, slow on a NAS, had just written and no manifest named yet: her run
exited 0, then both verifies found objects missing. Now a run, a prune and a purge's shred
hold a lease on the target (casenotes-lock.json: the device, and until when), which another
machine respects until it runs out. The slow target is modelled by strace delaying every
fsync of Bea's run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Env
from daemon import wait_for
from notes import write_note

from casenotes.config import Practice
from vault.backup.lease import LOCK, TargetBusy, lease
from vault.backup.storage import FolderStorage


def _use_target(env: Env, target: Path) -> None:
    settings = env.practice.settings_file
    text = settings.read_text().replace('backup_targets: ["backups"]', f'backup_targets: ["{target}"]')
    assert str(target) in text
    settings.write_text(text)


def _ok(env: Env, *args: str) -> str:
    result = env.run(*args)
    assert result.code == 0, f"{args}: {result.err}"
    return result.text


def _seal_some(env: Env, tag: str, count: int) -> None:
    for i in range(count):
        body = f"Fictional {tag} {i}. " + "Fictional words of a long session. " * 60
        path = write_note(env.practice.inbox, f"{tag}-{i}.md", note_id=None, body=body)
        _ok(env, "seal", str(path))
        path.unlink(missing_ok=True)


def _packs(target: Path) -> set[Path]:
    return {p for p in (target / "packs").rglob("*") if p.is_file() and not p.name.startswith(".tmp-")}


def _sync_new_files(source: Path, target: Path) -> None:
    """What a sync engine carries: here, the files one vault has and the other lacks."""
    for path in source.rglob("*"):
        there = target / path.relative_to(source)
        if path.is_file() and not there.exists() and not path.name.startswith(".tmp-"):
            there.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, there)


def _second_machine(practice: Env, tmp_path: Path) -> Env:
    """Bea's machine: a copy of the practice, registered as a device of its own."""
    root = tmp_path / "bea-practice"
    shutil.copytree(practice.practice.root, root, ignore=shutil.ignore_patterns(".syncd"))
    config = tmp_path / "bea-config"
    bea = Env(
        Practice(root, config),
        {**practice.env, "CASENOTES_HOME": str(root), "CASENOTES_CONFIG_DIR": str(config)},
    )
    _ok(bea, "device", "register")
    return bea


def test_a_prune_on_one_machine_waits_for_the_backup_another_is_writing(
    practice: Env, tmp_path: Path, strace: list[str]
) -> None:
    tracer = strace
    nas = tmp_path / "nas" / "casenotes"
    nas.parent.mkdir()
    _use_target(practice, nas)
    _seal_some(practice, "alex", 5)
    _ok(practice, "backup", "run")
    bea = _second_machine(practice, tmp_path)
    _use_target(bea, nas)
    _seal_some(bea, "bea", 5)  # her run writes packs Alex's snapshot does not name
    with bea.vault() as vault:
        bea_device = vault.device.device_id
    _sync_new_files(bea.vault_dir, practice.vault_dir)  # her device's registration reaches Alex
    packs_before = _packs(nas)

    # Every fsync of Bea's run takes 0.5 s (a slow NAS), and her packs are small, so her run
    # writes several, one after another, before the manifest that names them.
    slow = subprocess.Popen(
        [*tracer, "-e", "trace=fsync,fdatasync", "-e", "inject=fsync,fdatasync:delay_exit=500000",
         sys.executable, "-c", "import sys; import vault.backup.packs as p; p.PACK_SIZE = 2000; "
         "from casenotes.cli import main; sys.argv[0] = 'casenotes'; main()", "backup", "run"],
        env={**bea.env, "CASENOTES_PASSPHRASE": "unused"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: _packs(nas) - packs_before, timeout=60, what="Bea's first pack")
        pruned = practice.run("backup", "prune")
        assert slow.poll() is None  # her run was still writing all along
        assert pruned.code == 1, pruned.err
        assert f"in use by device {bea_device}" in pruned.err and "a target of its own" in pruned.err
    finally:
        _, err = slow.communicate(timeout=300)
    assert slow.returncode == 0, err.decode()
    assert not (nas / LOCK).exists()  # released at the end of the run

    _ok(practice, "backup", "prune")  # now it runs, and keeps what her snapshot names
    for env in (practice, bea):
        assert _ok(env, "backup", "verify", "--full")
    snapshots = [json.loads(p.read_bytes()) for p in (nas / "snapshots").glob("*.json")]
    assert bea_device in {s["device"] for s in snapshots}


def test_a_lease_another_machine_left_runs_out_and_is_taken_over(tmp_path: Path) -> None:
    storage = FolderStorage(tmp_path / "target")
    storage.prepare(create=True)
    now = time.time()
    storage.write_new(
        LOCK, json.dumps({"format": "casenotes-target-lock", "device": "b" * 16, "until": now + 60}).encode()
    )
    with pytest.raises(TargetBusy, match=f"in use by device {'b' * 16}"), lease(storage, "a" * 16):
        pass
    assert json.loads(storage.read(LOCK))["device"] == "b" * 16  # left alone
    with lease(storage, "a" * 16, clock=lambda: now + 61):  # its machine crashed: the lease ran out
        assert json.loads(storage.read(LOCK))["device"] == "a" * 16
    assert not storage.exists(LOCK)
