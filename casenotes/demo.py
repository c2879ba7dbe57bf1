"""`casenotes demo`: a fictional practice, sealed through syncd, and one client's site opened."""

from __future__ import annotations

import datetime as dt
import re
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import fiction
import note_templates
from retention import records
from retention.purge import scan
from syncd import Daemon, DaemonSettings
from vault import KDF_PROFILES, Passphrase, Vault, verify
from vault.store.practice import create_practice

from .config import Practice
from .practice_rules import practice_rules

DEMO_PASSPHRASE = "correct horse battery staple"  # fictional practice, printed on purpose


@dataclass
class Demo:
    practice: Practice
    vault: Vault
    handle: str  # the client whose site is opened
    clients: list[tuple[str, str]]  # (handle, what their story shows)

    def env_line(self) -> str:
        """The one line that points later commands at this practice, as a shell reads it."""
        return (
            f"export CASENOTES_HOME={shlex.quote(str(self.practice.root))} "
            f"CASENOTES_CONFIG_DIR={shlex.quote(str(self.practice.config_dir))}"
        )


def invoked_as(argv0: str, on_path: str | None, executable: str) -> str:
    """How to type casenotes again, as this process was started: `casenotes` when that is
    the one on PATH, else the path it was run by (`.venv/bin/casenotes`), else `python -m`."""
    if Path(argv0).name == "casenotes":
        if on_path and Path(on_path).resolve() == Path(argv0).resolve():
            return "casenotes"
        return shlex.quote(argv0)
    return f"{shlex.quote(executable)} -m casenotes"


def template_headings(practice: Practice) -> dict[str, list[str]]:
    return {
        name: re.findall(r"(?m)^## +(.+?)\s*$", template.text)
        for name, template in note_templates.available(practice.templates_dir).items()
    }


def make_demo(root: Path, say: Callable[[str], object], opened: str | None = None) -> Demo:
    """Create the practice in ``root``, write every note into its inbox, and let syncd seal it."""
    if opened is not None and opened not in fiction.demo_handles():
        raise UnknownDemoClient(opened, fiction.demo_handles())
    practice = Practice(root, root / ".device")  # the demo never touches your real config
    vault = create_practice(
        practice.vault_dir, practice.config_dir, Passphrase(DEMO_PASSPHRASE), KDF_PROFILES["interactive"]
    )
    practice.create_layout()
    today = vault.clock().date()
    story = fiction.demo_story(today, template_headings(practice))
    ids = {}
    for client in story:
        person = client.person
        ids[person.handle] = vault.add_client(person.handle, person.name, person.dob)
        records.register_client(vault, ids[person.handle], dt.date.fromisoformat(person.dob))
        for name, text in client.notes:
            (practice.inbox / name).write_bytes(text)
    daemon = Daemon(vault, practice.inbox, practice.state_dir, DaemonSettings(quiet_period=0))
    summary = daemon.run_once()  # the real syncd path: seal, read back, remove signed plaintext
    for client in story:
        if client.closed:
            records.set_closed(vault, ids[client.person.handle], client.closed)
        if client.hold:
            records.place_hold(vault, ids[client.person.handle], client.hold)
    problems = verify(vault)
    policy = practice_rules(practice, vault).policy
    states = [r.decision.state for r in scan(vault, policy, today) if r.decision]
    say(f"Demo practice in {root} (passphrase: {DEMO_PASSPHRASE!r})")
    say(
        f"syncd sealed {summary.sealed} fictional notes of {len(story)} clients (every template, "
        f"an addendum, a minor, a discharge); verify: {'OK' if not problems else problems}"
    )
    say(
        f"Retention: {states.count('held')} on legal hold, {states.count('due')} due for disposal, "
        f"{states.count('active') + states.count('closed')} kept"
    )
    return Demo(
        practice, vault, opened or story[0].person.handle, [(c.person.handle, c.about) for c in story]
    )


class UnknownDemoClient(ValueError):
    def __init__(self, handle: str, known: list[str]) -> None:
        super().__init__(f"the demo has no client {handle!r}: choose one of {', '.join(known)}")


def demo_root(keep: Path | None) -> Path:
    if keep is None:
        return Path(tempfile.mkdtemp(prefix="casenotes-demo-"))
    keep.mkdir(parents=True, exist_ok=True)
    return keep
