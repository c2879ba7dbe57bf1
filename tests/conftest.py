"""Fixtures that build real things: a practice on disk with a cheap KDF, and the CLI run
as a real process with its real exit code."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from casenotes.config import Practice
from vault import KdfParams, Passphrase, Vault
from vault.store.practice import create_practice

ROOT = Path(__file__).resolve().parent.parent

# tests/helpers/ holds asserts moved out of test modules: pytest rewrites them as it did there,
# so a failing step still shows the values it compared.
pytest.register_assert_rewrite("helpers")

# No test reads the real terminal, whether pytest runs in one or not: every child process
# starts in a session of its own, with no controlling terminal, so getpass cannot open
# /dev/tty and a passphrase prompt reads the stdin the test gives it.
_popen_init = subprocess.Popen.__init__


def _without_terminal(self: subprocess.Popen, *args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("start_new_session", True)
    _popen_init(self, *args, **kwargs)


subprocess.Popen.__init__ = _without_terminal  # type: ignore[method-assign]

# Argon2id at 1 pass and 8 MiB: fast enough for hundreds of unlocks in a test run.
CHEAP_KDF = KdfParams(opslimit=1, memlimit=8 * 1024 * 1024)
PASSPHRASE = "fictional test passphrase"


@dataclass
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode()


@dataclass
class Env:
    """A practice on disk plus the environment the CLI needs to find it."""

    practice: Practice
    env: dict[str, str]

    @property
    def vault_dir(self) -> Path:
        return self.practice.vault_dir

    def vault(self) -> Vault:
        return Vault(self.practice.vault_dir, self.practice.config_dir)

    def run(self, *args: str, stdin: str | None = None, passphrase: str | None = PASSPHRASE) -> Result:
        env = dict(self.env)
        if passphrase is not None:
            env["CASENOTES_PASSPHRASE"] = passphrase
        proc = subprocess.run(
            [sys.executable, "-m", "casenotes", *args],
            input=stdin.encode() if stdin is not None else b"",
            capture_output=True,
            env=env,
            timeout=60,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr.decode())


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """A test that leaves a thread running has leaked part of a daemon."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads leaked: {leaked}"


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASENOTES_")}
    # `python -m casenotes` in a subprocess must import this tree, not another checkout's.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["CASENOTES_HOME"] = str(tmp_path / "practice")
    env["CASENOTES_CONFIG_DIR"] = str(tmp_path / "config")
    return env


@pytest.fixture
def empty(tmp_path: Path, base_env: dict[str, str]) -> Env:
    """No practice yet: for `casenotes init`."""
    return Env(Practice(tmp_path / "practice", tmp_path / "config"), base_env)


@pytest.fixture(scope="session")
def practice_template(tmp_path_factory: pytest.TempPathFactory) -> Practice:
    """One practice per test process, made through the core with the cheap KDF, with one
    client, AB-1; `practice` copies it, which is several times cheaper than making one."""
    base = tmp_path_factory.mktemp("practice-template")
    p = Practice(base / "practice", base / "config")
    create_practice(p.vault_dir, p.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF).close()
    p.create_layout()
    with Vault(p.vault_dir, p.config_dir) as vault:
        vault.add_client("AB-1", "Wilhelmina Testperson", "1987-03-14")
    return p


def copy_practice(source: Practice, env: Env) -> Env:
    """ENV's practice becomes a copy of SOURCE (same keys and ids: a test never meets
    another test's practice); copy2 keeps the 0600/0700 modes."""
    shutil.copytree(source.root, env.practice.root, symlinks=True)
    shutil.copytree(source.config_dir, env.practice.config_dir, symlinks=True)
    return env


def session_env(practice: Practice) -> Env:
    """An Env for a practice made once per test process (a session fixture has no base_env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASENOTES_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["CASENOTES_HOME"] = str(practice.root)
    env["CASENOTES_CONFIG_DIR"] = str(practice.config_dir)
    return Env(practice, env)


@pytest.fixture
def practice(empty: Env, practice_template: Practice) -> Env:
    """A practice of its own for this test, with one client, AB-1: a copy of the session's."""
    return copy_practice(practice_template, empty)


@pytest.fixture(scope="session")
def story_template(practice_template: Practice, tmp_path_factory: pytest.TempPathFactory) -> Practice:
    """The practice with the story of site_fixtures sealed through syncd, once per test process."""
    base = tmp_path_factory.mktemp("story-template")
    env = copy_practice(practice_template, session_env(Practice(base / "practice", base / "config")))
    from site_fixtures import seal_story  # site_fixtures imports this module

    seal_story(env)
    return env.practice


@pytest.fixture
def story(empty: Env, story_template: Practice) -> Env:
    """A practice of its own for this test, with the story of site_fixtures sealed: a copy of the session's."""
    return copy_practice(story_template, empty)


def require_tool(name: str) -> str:
    """The path of an outside tool a test drives (strace, chromium, rclone). Missing: the
    test is skipped with the reason, or fails when CASENOTES_REQUIRE_TOOLS=1 (CI installs
    them, so there a missing tool is a broken CI, not a reason to pass)."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (Debian: apt-get install {name})"
        if os.environ.get("CASENOTES_REQUIRE_TOOLS") == "1":
            pytest.fail(reason + "; CASENOTES_REQUIRE_TOOLS=1 requires it")
        pytest.skip(reason)
    return path


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A real 256 KiB tmpfs, so that ENOSPC comes from the kernel, not a mock."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def practice_on(disk: Path, tmp_path: Path, base_env: dict[str, str]) -> Env:
    """A practice whose vault lies on ``disk``, with one client, AB-1."""
    practice = Practice(disk / "practice", tmp_path / "config")
    create_practice(practice.vault_dir, practice.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF).close()
    practice.create_layout()
    env = Env(practice, {**base_env, "CASENOTES_HOME": str(practice.root)})
    assert env.run("client", "add", "AB-1").code == 0
    return env


def fill(folder: Path) -> None:
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


@pytest.fixture
def strace() -> list[str]:
    """strace, checked to be allowed to trace here (ptrace is often off in containers):
    the command to put before a traced program. Faults are injected with ``-e inject=``."""
    path = require_tool("strace")
    probe = subprocess.run([path, "-f", "-qq", "-o", os.devnull, "true"], capture_output=True)
    if probe.returncode != 0:
        reason = f"strace cannot trace here: {probe.stderr.decode(errors='replace').strip()}"
        if os.environ.get("CASENOTES_REQUIRE_TOOLS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return [path, "-f", "-qq", "-o", os.devnull]


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two real Syncthing instances on 127.0.0.1 (tests/syncthing.py), Alex's and Bea's
    machines, stopped after the test."""
    from syncthing import Syncthing  # only the tests that ask for engines pay for it

    binary = require_tool("syncthing")
    started: list[Syncthing] = []
    try:
        for name in ("alex-machine", "bea-machine"):
            started.append(Syncthing(binary, tmp_path / f"syncthing-{name}"))
        yield started[0], started[1]
    finally:
        for engine in started:
            engine.stop()
