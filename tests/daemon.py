"""Run the real daemon in a subprocess against a practice on disk, and read what it sealed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from conftest import PASSPHRASE, Env

from vault import Passphrase


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def configure(env: Env, **settings: float) -> None:
    path = env.practice.settings_file
    lines = [line for line in path.read_text().splitlines() if line.split(":")[0] not in settings]
    lines += [f"{key}: {value}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n")


class RunningDaemon:
    def __init__(self, env: Env, *args: str) -> None:
        self.env = env
        self.log = env.practice.state_dir / "syncd.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "casenotes", "syncd", *args],
            env=env.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self) -> RunningDaemon:
        wait_for(
            lambda: self.log.exists() and "watching" in self.log.read_text() or self.proc.poll() is not None,
            what="syncd to start",
        )
        assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
        return self

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=20)
            self.stderr = err.decode(errors="replace")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        return self.proc.returncode

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=20)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


def state(env: Env) -> dict:
    path = env.practice.state_dir / "state.json"
    return json.loads(path.read_text()) if path.exists() else {"files": {}, "ids": {}, "jobs": {}}


def sealed_notes(env: Env, handle: str = "AB-1") -> dict[str, list[bytes]]:
    """Every revision of every note of a client, decrypted, oldest first."""
    vault = env.vault()
    client_id = vault.resolve(handle)
    key = vault.keyring.client_keys(vault.unlock(Passphrase(PASSPHRASE)), client_id)
    notes = {}
    for note_id in vault.note_ids(client_id):
        notes[note_id] = [
            bytes(vault.open_revision(path, key)[1]) for _, _, path in vault.revisions(client_id, note_id)
        ]
    return notes


def revision_count(env: Env) -> int:
    return sum(1 for p in env.vault_dir.rglob("*.rev") if p.parent.name != "0000000000000000")
