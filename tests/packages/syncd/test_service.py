"""`casenotes syncd --install`: the hardened systemd user unit and the launchd agent.

No systemd runs on a test machine (it is not PID 1 there), so the unit is checked by
systemd's own tools (`systemd-analyze verify`, `systemd-analyze security --offline`), and
what the sandbox would deny is reproduced with the kernel: strace lists every place the
real daemon writes, which must all lie inside the unit's ReadWritePaths, and the daemon
seals and backs up with write-and-execute memory refused as MemoryDenyWriteExecute= does.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import plistlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSPHRASE, ROOT, Env, require_tool
from daemon import wait_for
from notes import write_note

UNIT = Path(".config/systemd/user/casenotes-syncd.service")
AGENT = Path("Library/LaunchAgents/org.casenotes.syncd.plist")


def install(env: Env, home: Path, *extra: str) -> str:
    done = env.run("syncd", "--install", *extra, passphrase=None)
    assert done.code == 0, done.err
    return done.text


def analyze(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    systemd_analyze = require_tool("systemd-analyze")
    runtime = tmp_path / "runtime"  # the user manager's runtime folder; --user needs one
    runtime.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        [systemd_analyze, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        timeout=60,
    )


def unit_values(text: str, key: str) -> list[str]:
    """The words of every KEY= line, unquoted and unescaped as systemd reads them."""
    words = []
    for line in text.splitlines():
        if line.startswith(f"{key}="):
            for quoted in re.findall(r'"([^"]*)"', line):
                words.append(quoted.replace("%%", "%").replace("$$", "$"))
    return words


@pytest.fixture
def with_drive(practice: Env, tmp_path: Path) -> tuple[Env, Path]:
    """The practice with a second backup target: a folder outside it, as an external drive."""
    home = tmp_path / "home"
    home.mkdir()
    practice.env["HOME"] = str(home)
    drive = tmp_path / "drive" / "casenotes"
    drive.parent.mkdir()
    done = practice.run("backup", "target", "add", str(drive))
    assert done.code == 0, done.err
    return practice, drive


def test_the_installed_unit_is_clean_to_systemd_analyze_verify(
    with_drive: tuple[Env, Path], tmp_path: Path
) -> None:
    env, drive = with_drive
    install(env, tmp_path / "home")
    unit = tmp_path / "home" / UNIT
    text = unit.read_text()
    for line in (
        "UMask=0077",
        "LimitCORE=0",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=strict",
        "StartLimitBurst=5",
    ):
        assert line in text.splitlines(), line
    assert "ProtectHome=read-only" in text and "MemoryDenyWriteExecute=yes" in text
    assert "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" in text
    writable = unit_values(text, "ReadWritePaths")
    root, config = env.practice.root, env.practice.config_dir
    assert writable == [str(root), str(config), f"-{drive}"]  # "backups" lies in the practice already
    # verify checks every line and that ExecStart's program exists and runs
    done = analyze(tmp_path, "verify", "--user", str(unit))
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stderr


def test_systemd_analyze_security_rates_the_unit_ok(practice: Env, tmp_path: Path) -> None:
    practice.env["HOME"] = str(tmp_path / "home")
    install(practice, tmp_path / "home")
    unit = tmp_path / "home" / UNIT
    # --threshold=30: exit 1 if the exposure is above 3.0 of 10 ("OK" ends at 4.9)
    done = analyze(tmp_path, "security", "--offline=yes", "--user", "--threshold=30", str(unit))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    level = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert level and float(level[1]) <= 3.0, done.stdout[-500:]
    for passed in (
        "MemoryDenyWriteExecute=",
        "NoNewPrivileges=",
        "ProtectSystem=",
        "UMask=",
        "PrivateTmp=",
        "SystemCallFilter=~@privileged",
        "SystemCallFilter=~@resources",
    ):
        assert re.search(rf"^✓ {re.escape(passed)}", done.stdout, re.MULTILINE), passed


def test_folders_with_spaces_percent_and_dollar_signs_are_written_as_systemd_reads_them(
    tmp_path: Path,
) -> None:
    from syncd.service import Service, systemd_unit

    odd = tmp_path / "Dr Ada 100% $HOME"
    odd.mkdir()
    (odd / "python").symlink_to(sys.executable)  # verify checks that this program exists
    service = Service(
        command=(str(odd / "python"), "-m", "casenotes", "--practice", str(odd / "practice"), "syncd"),
        environment={"CASENOTES_CONFIG_DIR": str(odd / "config")},
        practice=odd / "practice",
        config_dir=odd / "config",
        log=odd / "log",
        targets=(odd / "drive",),
    )
    unit = tmp_path / "casenotes-syncd.service"
    unit.write_text(systemd_unit(service))
    text = unit.read_text()
    assert unit_values(text, "ReadWritePaths") == [
        str(odd / "practice"),
        str(odd / "config"),
        f"-{odd / 'drive'}",
    ]
    assert unit_values(text, "Environment") == [f"CASENOTES_CONFIG_DIR={odd / 'config'}"]
    done = analyze(tmp_path, "verify", "--user", str(unit))
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stderr


def test_a_practice_folder_with_a_quote_is_refused_and_named(practice: Env, tmp_path: Path) -> None:
    home = tmp_path / "home"
    practice.env["HOME"] = str(home)
    odd = tmp_path / 'my "notes"'
    practice.practice.root.rename(odd)
    practice.env["CASENOTES_HOME"] = str(odd)
    done = practice.run("syncd", "--install", passphrase=None)
    assert done.code == 1 and 'my "notes"' in done.err and "rename the folder" in done.err, done.err
    assert not (home / UNIT).exists()


def test_install_without_a_practice_says_so_and_writes_nothing(empty: Env, tmp_path: Path) -> None:
    home = tmp_path / "home"
    empty.env["HOME"] = str(home)
    done = empty.run("syncd", "--install", passphrase=None)
    assert done.code == 1 and "is not a casenotes practice" in done.err and "casenotes init" in done.err
    assert str(empty.practice.root) in done.err and not (home / UNIT).exists()


# -- what the sandbox allows, tried with the real daemon --------------------------------------
WRITES = re.compile(r"O_WRONLY|O_RDWR|O_CREAT")


def written_paths(log: str, cwd: Path) -> set[Path]:
    """Every path a successful call in an strace -y log created, wrote, renamed or removed."""
    found: set[Path] = set()
    for line in log.splitlines():
        call = re.sub(r"^\d+\s+", "", line)
        name = call.split("(", 1)[0]
        if " = -1 " in call or "resumed>" in call or "(" not in call:
            continue
        if name in ("openat", "open", "creat") and not (name == "creat" or WRITES.search(call)):
            continue
        for match in re.finditer(r'(?:\d+<([^>]*)>|AT_FDCWD), "([^"]*)"', call):
            base = Path(match[1]) if match[1] else cwd
            found.add(base / match[2])
        plain = re.match(r'[a-z_0-9]+\("([^"]*)"(?:, "([^"]*)")?', call)
        if plain:
            found.update(cwd / p for p in plain.groups() if p)
    return found


def test_the_unit_lets_the_daemon_write_everything_it_writes_and_nothing_else(
    with_drive: tuple[Env, Path], tmp_path: Path
) -> None:
    strace = require_tool("strace")
    env, drive = with_drive
    install(env, tmp_path / "home")
    text = (tmp_path / "home" / UNIT).read_text()
    write_note(env.practice.inbox, status="signed")
    command = unit_values(text, "ExecStart") + ["--once"]  # the unit's own command line
    log = tmp_path / "syncd.strace"
    calls = "openat,open,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,link,linkat,symlinkat"
    child_env = {**env.env, **dict(v.split("=", 1) for v in unit_values(text, "Environment"))}
    child_env["PYTHONDONTWRITEBYTECODE"] = "1"  # a byte-code cache the sandbox refuses is skipped by Python
    child_env.pop("CASENOTES_HOME", None)  # the unit names the practice with --practice
    done = subprocess.run(
        [strace, "-f", "-qq", "-y", "-e", f"trace={calls}", "-o", str(log), *command],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert list((drive / "snapshots").iterdir()), "the daily backup reached the drive"
    assert not list(env.practice.inbox.glob("*.md")), "the signed note was sealed and removed"
    allowed = [Path(p.removeprefix("-")) for p in unit_values(text, "ReadWritePaths")]
    written = written_paths(log.read_text(), tmp_path)
    config = allowed[1]
    assert any(p.is_relative_to(drive) for p in written) and any(p.is_relative_to(config) for p in written)

    def forbidden(path: Path) -> bool:
        if any(path.is_relative_to(a) for a in allowed):
            return False
        # PrivateTmp= and PrivateDevices= give it a /tmp and a /dev of its own; the test's
        # folders lie in /tmp too, and stand for the user's home: read-only there
        private = any(path.is_relative_to(d) for d in ("/tmp", "/var/tmp", "/dev"))
        return not private or path.is_relative_to(tmp_path)

    outside = sorted(str(p) for p in written if forbidden(p))
    assert not outside, f"the daemon writes where the unit forbids it: {outside[:10]}"


SANDBOX = ROOT / "tests" / "unit_sandbox.py"
CONTROLS = """
import ctypes, errno, mmap, os, socket
libc = ctypes.CDLL(None, use_errno=True)
got = libc.syscall(139, 3)  # sysfs(3): how many file system types; obsolete, outside @system-service
print("sysfs", "ok" if got > 0 else errno.errorcode[ctypes.get_errno()])
try:  # to the priority it has already: setpriority is in @resources
    os.setpriority(os.PRIO_PROCESS, 0, os.getpriority(os.PRIO_PROCESS, 0)); print("setpriority ok")
except OSError as e:
    print("setpriority", errno.errorcode[e.errno])
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW).close(); print("netlink ok")
except OSError as e:
    print("netlink", errno.errorcode[e.errno])
try:
    mmap.mmap(-1, 4096, prot=7); print("wx ok")
except OSError as e:
    print("wx", errno.errorcode[e.errno])
"""


def need_pyseccomp() -> None:
    require_tool("systemd-analyze")  # the sandbox expands the unit's call groups with it
    if importlib.util.find_spec("pyseccomp") is None:
        reason = "pyseccomp is not installed (pip install -e '.[test]')"
        if os.environ.get("CASENOTES_REQUIRE_TOOLS") == "1":
            pytest.fail(reason + "; CASENOTES_REQUIRE_TOOLS=1 requires it")
        pytest.skip(reason)


@pytest.fixture
def webdav(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An off-site store: `rclone serve webdav` on 127.0.0.1, and an rclone config naming it."""
    rclone = require_tool("rclone")
    served = tmp_path / "offsite"
    served.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [rclone, "serve", "webdav", str(served), "--addr", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    config = tmp_path / "rclone" / "rclone.conf"
    config.parent.mkdir()
    config.write_text(f"[offsite]\ntype = webdav\nurl = http://127.0.0.1:{port}\nvendor = other\n")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    try:
        yield served, config
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_daemon_seals_backs_up_off_site_and_reads_under_the_units_system_call_filter(
    with_drive: tuple[Env, Path], webdav: tuple[Path, Path], tmp_path: Path
) -> None:
    """SystemCallFilter=@system-service, RestrictAddressFamilies= and the seccomp form of
    MemoryDenyWriteExecute=, rebuilt from the unit by tests/unit_sandbox.py: the daemon,
    rclone under it, a verify and a read all work, and what the unit forbids is refused."""
    need_pyseccomp()
    env, drive = with_drive
    served, config = webdav
    env.env["RCLONE_CONFIG"] = str(config)
    added = env.run("backup", "target", "add", "rclone:offsite:casenotes")
    assert added.code == 0, added.err
    install(env, tmp_path / "home")
    unit = tmp_path / "home" / UNIT
    assert f"-{config.parent}" in unit_values(unit.read_text(), "ReadWritePaths")  # rclone's tokens

    def sandboxed(*command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SANDBOX), str(unit), "--", *command],
            capture_output=True,
            text=True,
            env={**env.env, **extra},
            timeout=300,
        )

    free = subprocess.run([sys.executable, "-c", CONTROLS], capture_output=True, text=True).stdout
    assert free.split() == ["sysfs", "ok", "setpriority", "ok", "netlink", "ok", "wx", "ok"], free
    caged = sandboxed(sys.executable, "-c", CONTROLS)
    assert caged.stdout.split() == [
        "sysfs",
        "EPERM",
        "setpriority",
        "EPERM",
        "netlink",
        "EAFNOSUPPORT",
        "wx",
        "EPERM",
    ], caged.stdout + caged.stderr
    write_note(env.practice.inbox, status="signed")
    once = sandboxed(*unit_values(unit.read_text(), "ExecStart"), "--once")
    assert once.returncode == 0, once.stderr
    assert not list(env.practice.inbox.glob("*.md")), "the signed note was sealed and removed"
    assert list((drive / "snapshots").iterdir()) and list((served / "casenotes" / "snapshots").iterdir())
    # the daemon as the service runs it: watching with inotify, sealing a save, stopped by SIGTERM
    log = env.practice.state_dir / "syncd.log"
    daemon = subprocess.Popen(
        [sys.executable, str(SANDBOX), str(unit), "--", *unit_values(unit.read_text(), "ExecStart")],
        env=env.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: "(inotify)" in log.read_text() or daemon.poll() is not None, what="syncd watching")
        assert daemon.poll() is None
        write_note(env.practice.inbox, "later.md", note_id="00000000000000b2", status="signed")
        wait_for(lambda: not (env.practice.inbox / "later.md").exists(), timeout=30, what="the seal")
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    for args in (["verify"], ["backup", "verify", "--from", "rclone:offsite:casenotes"], ["cat", "AB-1"]):
        done = sandboxed(sys.executable, "-m", "casenotes", *args, CASENOTES_PASSPHRASE=PASSPHRASE)
        assert done.returncode == 0, (args, done.stderr)
    assert "zephyrquill" in done.stdout  # PyNaCl decrypted it under the filter
    assert "0123456789abcdef" in done.stdout and "00000000000000b2" in done.stdout  # both notes, sealed


def test_the_daemon_works_with_everything_read_only_but_the_units_writable_folders(
    with_drive: tuple[Env, Path], tmp_path: Path
) -> None:
    """ProtectSystem=strict, ProtectHome=read-only and ReadWritePaths= rebuilt in a mount
    namespace of the test's own (tests/unit_sandbox.py --mounts, with the seccomp settings
    too): the daemon seals and backs up, and a write anywhere else is refused."""
    unshare = require_tool("unshare")
    need_pyseccomp()
    if subprocess.run([unshare, "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("a mount namespace of its own needs root (unshare -m)")
    env, drive = with_drive
    install(env, tmp_path / "home")
    unit = tmp_path / "home" / UNIT

    def caged(*command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                unshare,
                "-m",
                "--propagation",
                "private",
                sys.executable,
                str(SANDBOX),
                "--mounts",
                str(unit),
                "--",
            ]
            + list(command),
            capture_output=True,
            text=True,
            env={**env.env, **extra},
            timeout=300,
        )

    def writes(path: Path) -> subprocess.CompletedProcess[str]:
        return caged(sys.executable, "-c", f"open({str(path)!r}, 'w').close()")

    refused = writes(tmp_path / "home" / "elsewhere")  # the home, as any folder not named in the unit
    assert refused.returncode == 1 and "Read-only file system" in refused.stderr, refused.stderr
    assert writes(env.practice.root / "probe").returncode == 0
    (env.practice.root / "probe").unlink()
    write_note(env.practice.inbox, status="signed")
    once = caged(*unit_values(unit.read_text(), "ExecStart"), "--once")
    assert once.returncode == 0, once.stderr
    assert not list(env.practice.inbox.glob("*.md")) and list((drive / "snapshots").iterdir())
    read = caged(sys.executable, "-m", "casenotes", "cat", "AB-1", CASENOTES_PASSPHRASE=PASSPHRASE)
    assert read.returncode == 0 and "zephyrquill" in read.stdout, read.stderr


PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def _refuse_write_execute() -> None:  # runs in the child, between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        os._exit(99)


def test_pynacl_and_the_daemon_work_with_write_execute_memory_refused(practice: Env) -> None:
    """MemoryDenyWriteExecute=yes is the kernel's PR_SET_MDWE under systemd 254 and later
    (Linux 6.3+), which this test sets; older ones filter mmap/mprotect with seccomp, which
    refuses the same calls and mprotect(PROT_EXEC) besides: docs/syncd.md has that run."""
    probe = subprocess.run(
        [sys.executable, "-c", "import mmap; mmap.mmap(-1, 4096, prot=7)"],
        preexec_fn=_refuse_write_execute,  # single-threaded: only the test's own process
        capture_output=True,
        text=True,
    )
    if probe.returncode == 99:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux 6.3+)")
    assert probe.returncode == 1 and "Permission denied" in probe.stderr, "W+X memory is refused"
    write_note(practice.practice.inbox, status="signed")
    for args in (["syncd", "--once"], ["backup", "run"], ["verify"], ["cat", "AB-1"]):
        done = subprocess.run(
            [sys.executable, "-m", "casenotes", *args],
            preexec_fn=_refuse_write_execute,
            capture_output=True,
            env={**practice.env, "CASENOTES_PASSPHRASE": "fictional test passphrase"},
            timeout=120,
        )
        assert done.returncode == 0, (args, done.stderr.decode())
    assert b"zephyrquill" in done.stdout  # cat decrypted the sealed note: PyNaCl ran throughout


def test_the_launchd_agent_parses_and_holds_the_same_limits(practice: Env, tmp_path: Path) -> None:
    home = tmp_path / "home"
    practice.env["HOME"] = str(home)
    said = install(practice, home, "--launchd")
    assert "launchctl bootstrap" in said
    agent = plistlib.loads((home / AGENT).read_bytes())
    root = str(practice.practice.root)
    assert agent["ProgramArguments"] == [sys.executable, "-m", "casenotes", "--practice", root, "syncd"]
    assert agent["Umask"] == 63  # 0o077
    assert agent["SoftResourceLimits"] == {"Core": 0} and agent["HardResourceLimits"] == {"Core": 0}
    assert agent["KeepAlive"] == {"SuccessfulExit": False} and agent["RunAtLoad"] is True
    assert agent["EnvironmentVariables"] == {"CASENOTES_CONFIG_DIR": str(practice.practice.config_dir)}
    assert agent["StandardErrorPath"].startswith(root)
    assert not (home / UNIT).exists()


def test_launchd_without_install_is_a_usage_error(practice: Env, tmp_path: Path) -> None:
    practice.env["HOME"] = str(tmp_path / "home")
    done = practice.run("syncd", "--launchd", passphrase=None)
    assert done.code == 2 and "--install" in done.err
