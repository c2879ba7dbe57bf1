"""`casenotes doctor`: each check, passing and failing, on real files where the machine allows."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env
from daemon import RunningDaemon
from notes import write_note

from casenotes import doctor
from checkup import keys, machine
from vault import KDF_PROFILES, Passphrase, Vault


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_permissions(practice: Env) -> None:
    device = practice.vault().device_dir / "device.json"
    assert machine.permissions(practice.practice, device).status == "ok"
    os.chmod(practice.practice.inbox, 0o755)
    finding = machine.permissions(practice.practice, device)
    assert finding.status == "fail" and "chmod 700" in finding.detail
    os.chmod(practice.practice.inbox, 0o700)
    os.chmod(device, 0o644)
    assert "chmod 600" in machine.permissions(practice.practice, device).detail


def fake_sys(tmp_path: Path, crypt: bool) -> Path:
    """A /sys/block tree as the kernel shows a dm device (the test cannot make a LUKS volume)."""
    root = tmp_path / "sys"
    (root / "block" / "dm-0" / "dm").mkdir(parents=True)
    (root / "block" / "dm-0" / "dm" / "uuid").write_text("CRYPT-LUKS2-abc-root\n" if crypt else "LVM-xyz\n")
    return root


@pytest.mark.parametrize(("crypt", "status"), [(True, "ok"), (False, "warn")])
def test_encrypted_inbox_on_linux(tmp_path: Path, crypt: bool, status: str) -> None:
    assert (
        machine.encrypted_inbox("/dev/dm-0", "ext4", fake_sys(tmp_path, crypt), "linux", None).status
        == status
    )


def test_encrypted_inbox_on_macos_and_unknown() -> None:
    assert machine.encrypted_inbox(None, None, Path("/sys"), "darwin", "FileVault is On.\n").status == "ok"
    assert machine.encrypted_inbox(None, None, Path("/sys"), "darwin", "FileVault is Off.\n").status == "warn"
    assert "could not tell" in machine.encrypted_inbox(None, None, Path("/sys"), "linux", None).detail


def test_encrypted_swap(tmp_path: Path) -> None:
    header = "Filename\tType\tSize\tUsed\tPriority\n"
    assert machine.encrypted_swap(header, tmp_path).status == "ok"
    assert machine.encrypted_swap(header + "/dev/zram0 partition 100 0 100\n", tmp_path).status == "ok"
    assert (
        machine.encrypted_swap(header + "/dev/dm-0 partition 100 0 -2\n", fake_sys(tmp_path, True)).status
        == "ok"
    )
    plain = machine.encrypted_swap(header + "/swapfile file 100 0 -2\n", tmp_path)
    assert plain.status == "warn" and "/swapfile" in plain.detail


def test_editor_residue(practice: Env) -> None:
    inbox = practice.practice.inbox
    write_note(inbox, "session.md")
    assert machine.residue(inbox).status == "ok"
    (inbox / ".session.md.swp").write_bytes(b"vim swap holding plaintext")
    assert machine.residue(inbox).status == "warn"


def test_ram_directory(tmp_path: Path) -> None:
    assert machine.ram_directory([Path("/dev/shm")]).status == "ok"
    assert machine.ram_directory([tmp_path / "no-such-tmpfs"]).status == "warn"


def test_kdf_cost(empty: Env, practice: Env) -> None:
    assert keys.kdf_cost(practice.vault().practitioner_file).status == "warn"  # the tests' cheap key
    vault = practice.vault()
    vault.change_passphrase(Passphrase(PASSPHRASE), Passphrase(PASSPHRASE), KDF_PROFILES["moderate"])
    assert keys.kdf_cost(vault.practitioner_file).status == "ok"


def test_device_registered(practice: Env) -> None:
    vault = practice.vault()
    assert keys.device_registered(vault).status == "ok"
    (practice.vault_dir / "devices" / f"{vault.device.device_id}.json").unlink()
    assert keys.device_registered(Vault(practice.vault_dir, practice.practice.config_dir)).status == "fail"


def test_backups(practice: Env) -> None:
    [missing] = doctor.backups_checked(practice.vault(), practice.practice, now())
    assert missing.status == "warn" and "backup run" in missing.detail
    assert practice.run("backup", "run").code == 0
    [unverified] = doctor.backups_checked(practice.vault(), practice.practice, now())
    assert unverified.status == "warn" and "never fully verified" in unverified.detail
    state = practice.practice.state_dir / "state.json"
    state.parent.mkdir(exist_ok=True)
    state.write_text(json.dumps({"jobs": {"backup-verify": now().isoformat()}}))
    [same_disk] = doctor.backups_checked(practice.vault(), practice.practice, now())
    assert same_disk.status == "warn" and "practice's own disk, not yet a real backup" in same_disk.detail
    [stale] = doctor.backups_checked(practice.vault(), practice.practice, now() + dt.timedelta(days=9))
    assert stale.status == "warn" and "9 days ago" in stale.detail


def test_doctor_and_status_agree_on_a_backup_on_the_practices_own_disk(practice: Env, tmp_path: Path) -> None:
    state = practice.practice.state_dir / "state.json"
    state.parent.mkdir(exist_ok=True)
    state.write_text(json.dumps({"jobs": {"backup-verify": now().isoformat()}}))
    assert practice.run("backup", "run").code == 0
    said = practice.run("doctor").text
    assert [x for x in practice.run("status").text.splitlines() if "not yet a real backup" in x]
    assert [x for x in said.splitlines() if "backup" in x and "not yet a real backup" in x]
    # outside the practice folder, but on its disk (tmp_path is): still not a real backup (issue 30)
    beside = tmp_path / "beside-the-practice"
    beside.mkdir()
    settings = practice.practice.settings_file
    settings.write_text(
        settings.read_text().replace('backup_targets: ["backups"]', f'backup_targets: ["{beside}"]')
    )
    assert practice.run("backup", "run").code == 0
    [beside_it] = doctor.backups_checked(practice.vault(), practice.practice, now())
    assert beside_it.status == "warn" and "practice's own disk" in beside_it.detail
    assert "not yet a real backup" in practice.run("status").text
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:  # another file system: a drive apart
        drive = Path(other) / "usb-drive"
        drive.mkdir()
        settings.write_text(settings.read_text().replace(str(beside), str(drive)))
        assert practice.run("backup", "run").code == 0
        [good] = doctor.backups_checked(practice.vault(), practice.practice, now())
        assert good.status == "ok", good.detail
        assert "not yet a real backup" not in practice.run("status").text


def test_purges_due(practice: Env) -> None:
    assert doctor.purges(practice.vault(), practice.practice, now().date()).status == "ok"
    note = write_note(practice.practice.inbox, client="AB-1", date="2010-01-04")
    assert practice.run("seal", str(note)).code == 0
    assert practice.run("client", "close", "AB-1", "--on", "2010-02-01").code == 0
    finding = doctor.purges(practice.vault(), practice.practice, now().date())
    assert finding.status == "warn" and "1 client(s) due" in finding.detail


def test_syncd_running(practice: Env) -> None:
    assert machine.syncd_running(practice.practice).status == "warn"
    daemon = RunningDaemon(practice).wait_ready()
    try:
        assert machine.syncd_running(practice.practice).status == "ok"
    finally:
        assert daemon.stop() == 0


def test_the_command_prints_a_line_per_check_and_fails_on_a_failure(practice: Env) -> None:
    result = practice.run("doctor")
    lines = result.text.splitlines()
    assert result.code == 0 and len(lines) >= 10 and all(line[:4] in ("OK  ", "WARN") for line in lines)
    os.chmod(practice.vault_dir, 0o755)
    failed = practice.run("doctor")
    assert failed.code == 1 and "FAIL  permissions" in failed.text and "1 check(s) failed" in failed.err
