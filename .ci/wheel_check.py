"""CI: the wheel a user installs (pip, pipx) starts and runs the demo, far from the source tree.

Every test runs against the editable install, which sees the whole checkout; a package
left out of the wheel (as vault.format once was) is seen only here. Builds the wheel,
installs it into a new venv in a temporary folder, and from there runs `casenotes
--version` and `casenotes demo --no-browser` until its first page is served, then stops it
as a user would (SIGTERM) and expects the site closed and wiped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="casenotes-wheel-") as tmp:
        work = Path(tmp)
        wheels, venv, source = work / "wheels", work / "venv", work / "source"
        # From a copy: setuptools reuses a checkout's build/ folder, whose stale files can
        # hide a package the configuration leaves out. Without the tests: their fixtures'
        # marker words must not lie in /tmp while the leak tests look for them.
        shutil.copytree(
            SOURCE,
            source,
            ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "tests", "benchmarks"),
        )
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
            check=True,
        )
        (wheel,) = wheels.glob("casenotes-*.whl")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True)
        program = str(venv / "bin" / "casenotes")
        # Run from the temporary folder, with no PYTHONPATH: nothing of the checkout is importable.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CASENOTES_HOME")}
        env["HOME"] = str(work / "home")
        version = subprocess.run(
            [program, "--version"], cwd=work, env=env, capture_output=True, text=True, check=False
        )
        print(f"wheel: {wheel.name}: {version.stdout.strip() or version.stderr.strip()}")
        if version.returncode != 0:
            return 1
        return demo(program, work, env) or service(program, work, env)


def demo(program: str, cwd: Path, env: dict[str, str]) -> int:
    proc = subprocess.Popen(
        [program, "demo", "--no-browser"],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    served = False
    deadline = time.monotonic() + 300
    for line in proc.stdout:
        if line.startswith("Serving http://127.0.0.1:"):
            served = True
            break
        if time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        print("wheel: the demo did not stop within 60 s of SIGTERM", file=sys.stderr)
        return 1
    if not served or proc.returncode != 0 or "its files are wiped" not in err:
        print(f"wheel: the installed demo failed (exit {proc.returncode}):\n{err[-3000:]}", file=sys.stderr)
        return 1
    if "end of life" in err:  # Material's notice is for documentation authors, not practitioners
        print(f"wheel: the demo printed Material's end-of-life notice:\n{err[-3000:]}", file=sys.stderr)
        return 1
    print("wheel: the installed demo served its first page and closed, wiped")
    return 0


def service(program: str, cwd: Path, env: dict[str, str]) -> int:
    """`syncd --install` from the installed wheel, for a new practice, writes a unit systemd
    accepts as it is."""
    made = subprocess.run(
        [program, "init", "--kdf", "interactive"],
        cwd=cwd,
        env={**env, "CASENOTES_PASSPHRASE": "fictional wheel check orbit marmalade"},
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        print(f"wheel: init failed (exit {made.returncode}):\n{made.stderr}", file=sys.stderr)
        return 1
    done = subprocess.run(
        [program, "syncd", "--install"], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    unit = Path(env["HOME"]) / ".config" / "systemd" / "user" / "casenotes-syncd.service"
    if done.returncode != 0 or not unit.exists():
        print(f"wheel: syncd --install failed (exit {done.returncode}):\n{done.stderr}", file=sys.stderr)
        return 1
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("wheel: syncd --install wrote its unit (systemd-analyze is not installed: not verified)")
        return 0
    runtime = cwd / "runtime"  # `--user` needs a runtime folder, as a logged-in user has
    runtime.mkdir(mode=0o700, exist_ok=True)
    checked = subprocess.run(
        [analyze, "verify", "--user", str(unit)],
        env={**env, "XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode != 0 or checked.stdout + checked.stderr:
        print(f"wheel: systemd-analyze verify finds fault with the unit:\n{checked.stderr}", file=sys.stderr)
        return 1
    print("wheel: syncd --install wrote a unit that systemd-analyze verify finds clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
