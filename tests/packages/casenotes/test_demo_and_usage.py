"""The first command a new user runs, and usage errors."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

from conftest import ROOT, Env

from casenotes.config import Practice


class Served:
    """A command that serves a site, run as a practitioner would, stopped by SIGTERM."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            command,
            env={**env, "BROWSER": "true"},
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        watchdog = threading.Timer(900, self.proc.kill)  # a hung install must fail, not hang CI
        watchdog.start()
        try:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self.lines.append(line)
                if line.startswith("Serving http://127.0.0.1:"):
                    break
        finally:
            watchdog.cancel()
            watchdog.join()
        assert self.lines and self.lines[-1].startswith("Serving"), (
            "".join(self.lines) + self.proc.stderr.read()
        )  # type: ignore[union-attr]
        self.url = self.lines[-1].split()[-1]
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        self.opener.open(self.url, timeout=20).close()  # the single-use token for the cookie

    def page(self) -> str:
        with self.opener.open(self.url.split("?")[0], timeout=20) as response:
            return response.read().decode()

    def stop(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, "".join(self.lines) + out, err


def test_demo_seals_a_practice_through_syncd_and_opens_a_client(empty: Env, tmp_path: Path) -> None:
    kept = tmp_path / "demo"
    served = Served(
        [sys.executable, "-m", "casenotes", "demo", "--keep", str(kept), "--no-browser"], empty.env
    )
    assert "In care since" in served.page() and "CL-0001" in served.page()
    code, out, err = served.stop()
    assert code == 0, err
    assert "verify: OK" in out and "1 on legal hold, 1 due for disposal" in out
    assert not list((kept / "inbox").iterdir())  # every note sealed, the plaintext gone
    demo_env = Env(
        Practice(kept, kept / ".device"),
        {**empty.env, "CASENOTES_HOME": str(kept), "CASENOTES_CONFIG_DIR": str(kept / ".device")},
    )
    status = demo_env.run("retention", "status", passphrase="correct horse battery staple").text
    assert "held: records request" in status and "due (disposal" in status
    templates = demo_env.run("cat", "CL-0001", passphrase="correct horse battery staple").text
    for kind in (
        "intake",
        "treatment-plan",
        "soap",
        "dap",
        "birp",
        "girp",
        "progress",
        "psychotherapy",
        "addendum",
    ):
        assert f"template: {kind}" in templates


def test_the_demo_opens_any_client_and_its_printed_commands_work_as_shown(empty: Env, tmp_path: Path) -> None:
    from fiction import RISK_FLAG
    from note_templates.risk import parse_risk

    kept = tmp_path / "demo"
    served = Served(
        [
            sys.executable,
            "-m",
            "casenotes",
            "demo",
            "--keep",
            str(kept),
            "--client",
            "CL-0002",
            "--no-browser",
        ],
        empty.env,
    )
    page = served.page()
    # the hard stretch eleven weeks ago heads the overview, by its level
    assert "CL-0002" in page and "Risk: low on" in page and "the highest in the last 90 days" in page
    assert parse_risk(RISK_FLAG).words.split(";")[0] in page
    code, out, err = served.stop()
    assert code == 0, err
    assert "CL-0003  a minor" in out and "CL-0006  discharged" in out and "CL-0002  a risk flag" in out
    lines = [line.strip() for line in out.splitlines()]
    # the commands printed while it runs, pasted into a shell that knows nothing of the demo
    tried = lines[lines.index(next(x for x in lines if x.startswith("Try the demo practice"))) + 1 :][:2]
    assert tried[0].startswith("export CASENOTES_HOME=") and tried[1].endswith("retention status")
    bare = {k: v for k, v in empty.env.items() if not k.startswith("CASENOTES_")}
    shown = subprocess.run(["bash", "-c", "; ".join(tried)], env=bare, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "held: records request" in shown.stdout
    # after it ends, the lines that say how to reach it again
    again = lines[lines.index(next(x for x in lines if x.startswith("The demo practice stays"))) + 1]
    listed = subprocess.run(
        [
            "bash",
            "-c",
            f"{again}; CASENOTES_PASSPHRASE='correct horse battery staple' {sys.executable} -m casenotes client list",
        ],
        env=bare,
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0 and "CL-0008" in listed.stdout, listed.stderr
    # every section of every demo note is a section: no heading lost to a placeholder
    notes = subprocess.run(
        [
            "bash",
            "-c",
            f"{again}; CASENOTES_PASSPHRASE='correct horse battery staple' {sys.executable} -m casenotes cat CL-0001",
        ],
        env=bare,
        capture_output=True,
        text=True,
    ).stdout
    assert notes.count("template: birp") == notes.count("## Behavior\nArrived on time") > 0
    assert "# Birp" not in notes and "# BIRP note, " in notes


def test_the_demo_refuses_a_client_it_does_not_have(empty: Env) -> None:
    result = empty.run("demo", "--client", "ZZ-1", "--no-browser")
    assert result.code == 2 and "no client 'ZZ-1'" in result.err and "CL-0008" in result.err


def test_the_demo_leaves_nothing_behind_without_keep(empty: Env) -> None:
    before = set(Path(tempfile.gettempdir()).glob("casenotes-demo-*"))
    served = Served([sys.executable, "-m", "casenotes", "demo", "--no-browser"], empty.env)
    code, out, err = served.stop()
    assert code == 0, err
    assert "demo practice is deleted" in out
    assert set(Path(tempfile.gettempdir()).glob("casenotes-demo-*")) == before


README_FIRST = re.compile(r"^python3 -m venv .*/casenotes demo$", re.M)
README_TESTS = re.compile(r"^python3 -m venv .* -m pytest$", re.M)


def test_the_readme_commands_work_in_a_fresh_virtual_environment(empty: Env, tmp_path: Path) -> None:
    """The README's two commands, run as written in a copy of the project (the test
    command on one test file: the whole suite is what CI runs with it)."""
    readme = (ROOT / "README.md").read_text()
    first, tests = README_FIRST.search(readme), README_TESTS.search(readme)
    assert first and tests, "the README must start with the two commands"
    copy = tmp_path / "checkout"
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    served = Served(["bash", "-c", first[0]], {**empty.env, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, cwd=copy)
    assert "In care since" in served.page()
    code, _, err = served.stop()
    assert code == 0, err
    done = subprocess.run(
        ["bash", "-c", tests[0] + " -q -p no:cacheprovider tests/architecture/test_layering.py"],
        cwd=copy,
        env=empty.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0 and " passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]


def test_usage_errors_exit_2(empty: Env) -> None:
    assert empty.run("no-such-command").code == 2
    assert empty.run("init", "--kdf", "extreme").code == 2


def test_the_readmes_own_practice_runs_as_written(empty: Env, tmp_path: Path) -> None:
    """'Start your own practice', line by line in bash, with an editor that writes the note.
    Left out: `open` (it serves until closed; the site tests cover it) and `consent add`
    (it needs a colleague's key; the sharing tests cover it)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Start your own practice", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```sh\n")[1:]]
    block = next(b for b in blocks if b.startswith("casenotes init"))  # after the install block
    lines = [
        line for line in block.splitlines() if not line.startswith(("casenotes open", "casenotes consent"))
    ]
    assert len(lines) >= 12 and lines[0].startswith("casenotes init")
    editor = tmp_path / "writes-the-note"
    editor.write_text(
        "#!/bin/sh\n"
        "sed -i -e 's/^risk:$/risk: none, denies ideation/' "
        "-e 's/^## \\(.*\\)$/## \\1\\nFictional text for \\1./' \"$1\"\n"
    )
    editor.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in empty.env.items() if not k.startswith("CASENOTES_")}
    env.update(
        HOME=str(home),
        EDITOR=str(editor),
        CASENOTES_PASSPHRASE="amber fjord whistle kettle",
        CASENOTES_CONFIG_DIR=str(tmp_path / "config"),
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
    )
    script = "set -e\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n" + "\n".join(lines) + "\n"
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "OK as a draft" not in done.stdout  # the editor wrote every section before `check`
    assert "signed " in done.stdout and "vault OK" in done.stdout and "audit log OK" in done.stdout


def test_version_and_help_that_is_not_cut_off(empty: Env) -> None:
    shown = empty.run("--version")
    assert shown.code == 0 and re.fullmatch(r"casenotes \S+\n", shown.text)
    listed = empty.run("--help").text
    assert "..." not in listed.split("Commands:")[1]
    assert re.search(r"127\.0\.0\.1,\s+wiped when closed or idle\.", listed)  # once cut at "127.0.0.1,..."
    assert "_CASENOTES_COMPLETE=bash_source casenotes" in listed


def complete(env: Env, words: str) -> list[str]:
    """What bash completion offers for the last of WORDS, as click's completion script asks."""
    parts = words.split(" ")
    proc = subprocess.run(
        [sys.executable, "-m", "casenotes"],
        env={
            **env.env,
            "_CASENOTES_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(["casenotes", *parts]),
            "COMP_CWORD": str(len(parts)),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return [line.split(",", 1)[1] for line in proc.stdout.splitlines() if line]


def test_completion_offers_templates_and_the_handles_and_ids_of_inbox_drafts(practice: Env) -> None:
    assert complete(practice, "new AB-1 --template S") == ["soap"]
    assert "treatment-plan" in complete(practice, "new AB-1 --template ")
    assert complete(practice, "new ") == []  # the index is blinded: no draft, no handle to offer
    draft = Path(practice.run("new", "AB-1", "--no-edit").text.strip())
    assert complete(practice, "new A") == ["AB-1"]
    assert complete(practice, "open A") == ["AB-1"]
    note_id = re.search(r"(?m)^id: (\S+)", draft.read_text())[1]
    assert set(complete(practice, "sign ")) == {draft.name, note_id}
