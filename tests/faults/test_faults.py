"""Real I/O faults, injected by strace into the Nth call of a syscall, under every command
that writes the vault (issue 15, DESIGN.md section 5, invariants 1 and 2).

For each command a practice is prepared once and copied for every fault. A first run
under ``strace -e trace=…`` counts the calls of each family (fsync, write, rename, link,
openat, unlink, mkdir) that touch the practice; then each sampled call is made to fail
with ENOSPC or EIO. After every fault:

- the note's plaintext is in the inbox, or a durable, audited revision of it is in the vault;
- the command failed with one sentence on stderr and a non-zero exit (or absorbed the
  fault and did its job), never a traceback;
- the next normal run recovers: ``verify`` and ``audit verify`` are clean, no note is
  there twice, and no temp file or empty folder is left.

By default a few calls per command are sampled, spread over the whole run, so the suite
stays within the CI budget; ``CASENOTES_FAULTS=full`` sweeps every call of every family.
The counts (faults fired, outcomes) are printed at the end (``pytest -s``) and written to
``faults-summary.json`` in pytest's base temp folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import CHEAP_KDF, PASSPHRASE, ROOT, require_tool
from helpers.four_practitioners import merge_due_on_alex
from notes import note_text

from casenotes import backups
from casenotes.config import Practice
from retention import certificate
from retention import records as retention_facts
from syncd.filing import file_note
from vault import Passphrase, Vault, verify
from vault.sharing import supervision
from vault.store.colleagues import join_practice
from vault.store.practice import create_practice

FAMILIES = {
    "fsync": ("fsync", "fdatasync"),
    "write": ("write", "pwrite64"),
    "rename": ("rename", "renameat", "renameat2"),
    "link": ("link", "linkat"),
    "openat": ("openat",),
    "unlink": ("unlink", "unlinkat"),
    "mkdir": ("mkdir", "mkdirat"),
}
FAMILY_OF = {name: family for family, names in FAMILIES.items() for name in names}
FULL = os.environ.get("CASENOTES_FAULTS") == "full"
PER_COMMAND = int(os.environ.get("CASENOTES_FAULTS_PER_COMMAND", "3"))
# Tracebacks are issue 15 item 6, fixed separately: until then they are counted and listed
# as known; CASENOTES_FAULTS_STRICT=1 fails on them. The invariants always hold.
STRICT = os.environ.get("CASENOTES_FAULTS_STRICT") == "1"
NOTE_ID = "0123456789abcdef"
CALL = re.compile(r"^(\d+)\s+(\w+)\(")


# -- the practices each command runs on ------------------------------------------------
def _practice(root: Path) -> tuple[Practice, dict[str, str]]:
    p = Practice(root / "practice", root / "config")
    create_practice(p.vault_dir, p.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF).close()
    p.create_layout()
    with Vault(p.vault_dir, p.config_dir) as vault:
        client_id = vault.add_client("AB-1", "Fictional Person", "1987-03-14")
        retention_facts.register_client(vault, client_id, None)
    return p, {}


def _seal_one(p: Practice, **fields: Any) -> None:
    path = p.inbox / "sealed-before.md"
    path.write_text(note_text(**fields))
    with Vault(p.vault_dir, p.config_dir) as vault:
        file_note(vault, path)
    path.unlink()


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASENOTES_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["CASENOTES_HOME"] = str(root / "practice")
    env["CASENOTES_CONFIG_DIR"] = str(root / "config")
    env["CASENOTES_PASSPHRASE"] = PASSPHRASE
    return env


def _cli(root: Path, *args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "casenotes", *args],
        capture_output=True,
        text=True,
        env=_env(root),
        timeout=120,
    )


@dataclass(frozen=True)
class Scenario:
    """One command, the practice it runs on, and what must hold after a fault."""

    name: str
    args: Callable[[Path], list[str]]
    prepare: Callable[[Path], None]
    # Another outcome of the recovery run that is also fine (e.g. "the handle is taken"
    # when the faulted run did finish the job before failing).
    also_fine: tuple[str, ...] = ()


def _prep_seal(root: Path) -> None:
    p, _ = _practice(root)
    # No `id:` line: a retry must find what a cut-short run sealed by its content.
    (p.inbox / "note.md").write_text(note_text(note_id=None, status="signed"))


def _prep_syncd(root: Path) -> None:
    p, _ = _practice(root)
    (p.inbox / "note.md").write_text(note_text(note_id=NOTE_ID, status="signed"))


def _prep_backup(root: Path) -> None:
    p, _ = _practice(root)
    _seal_one(p, note_id=NOTE_ID)


def _prep_restore(root: Path) -> None:
    _prep_backup(root)
    done = _cli(root, "backup", "run")
    assert done.returncode == 0, done.stderr


def _snapshot(root: Path) -> str:
    folder = root / "practice" / "backups"
    listed = _cli(root, "backup", "list")
    assert listed.returncode == 0, listed.stderr
    assert folder.exists()
    return listed.stdout.splitlines()[1].split()[0]


def _prep_purge(root: Path) -> None:
    p, _ = _practice(root)
    with Vault(p.vault_dir, p.config_dir) as vault:
        client_id = vault.add_client("GONE-1", "Fictional Gone")
        retention_facts.register_client(vault, client_id, None)
    _seal_one(p, client="GONE-1", date="2010-03-01", note_id=None)
    with Vault(p.vault_dir, p.config_dir) as vault:
        retention_facts.set_closed(vault, client_id, dt.date(2011, 1, 1))
        vault.backup(backups.targets(p)[0])


def _prep_revoke(root: Path) -> None:
    p, _ = _practice(root)
    identity, _ = join_practice(p.vault_dir, Passphrase("bea's fictional passphrase"), CHEAP_KDF)
    with Vault(p.vault_dir, p.config_dir) as vault:
        vault.trust.add_colleague(vault.unlock(Passphrase(PASSPHRASE)), "Bea", identity)
    granted = _cli(root, "access", "grant", "AB-1", "Bea")
    assert granted.returncode == 0, granted.stderr
    _seal_one(p, note_id=NOTE_ID)


def _prep_merge(root: Path) -> None:
    """Alex's machine where the note syncd seals first merges two key generations made apart."""
    p = Practice(root / "practice", root / "config")
    merge_due_on_alex(root.parent / f"{root.name}-group", p)
    (p.inbox / "note.md").write_text(note_text(note_id=NOTE_ID, status="signed"))


def _prep_recovery(root: Path) -> None:
    _practice(root)
    made = _cli(root, "recovery", "create", "--shares", "3", "--threshold", "2")
    assert made.returncode == 0, made.stderr  # so that the run under faults replaces a set


SCENARIOS = [
    Scenario("seal", lambda r: ["seal", str(r / "practice" / "inbox" / "note.md")], _prep_seal),
    Scenario("syncd --once", lambda r: ["syncd", "--once"], _prep_syncd),
    Scenario("backup run", lambda r: ["backup", "run"], _prep_backup),
    Scenario(
        "backup restore",
        lambda r: ["backup", "restore", (r / "snapshot").read_text(), str(r / "restored")],
        _prep_restore,
    ),
    Scenario("retention purge", lambda r: ["retention", "purge", "--confirm"], _prep_purge),
    Scenario(
        "access revoke",
        lambda r: ["access", "revoke", "AB-1", "Bea"],
        _prep_revoke,
        also_fine=("cannot read", "no key", "does not hold", "holds no"),
    ),
    Scenario(
        "client add", lambda r: ["client", "add", "CD-2"], _prep_seal, also_fine=("already has this handle",)
    ),
    # Issue 31 item 10: nothing sealed to the merged key before it is durable and audited.
    Scenario("syncd --once (key merge)", lambda r: ["syncd", "--once"], _prep_merge),
    # Issue 31 item 3: staged, shown, then put in force (tests/faults/test_valves.py checks the shares).
    Scenario(
        "recovery create",
        lambda r: ["recovery", "create", "--shares", "3", "--threshold", "2"],
        _prep_recovery,
    ),
]


# -- strace ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    family: str
    name: str
    number: int  # the how-manyth call of ``name`` in its process: strace's ``when=``
    where: str


def census(strace: str, root: Path, args: list[str]) -> list[Call]:
    """Every call of the families that touches the case folder, in order."""
    log = root.parent / f"{root.name}.census"
    names = ",".join(FAMILY_OF)
    done = _cli(
        root,
        *args,
        prefix=(strace, "-f", "-qq", "-y", "--seccomp-bpf", "-e", f"trace={names}", "-o", str(log)),
    )
    assert done.returncode == 0, f"{args} fails without a fault: {done.stderr}"
    counts: Counter[tuple[str, str]] = Counter()
    calls = []
    for line in log.read_text(errors="replace").splitlines():
        match = CALL.match(line)
        if not match or "resumed>" in line:
            continue
        pid, name = match[1], match[2]
        counts[pid, name] += 1
        if str(root) in line and name in FAMILY_OF:
            calls.append(Call(FAMILY_OF[name], name, counts[pid, name], line.split("(", 1)[1][:120]))
    return calls


def sample(calls: list[Call]) -> list[Call]:
    """Every call (full sweep), else a few spread evenly over the run."""
    if FULL:
        return calls
    picked: list[Call] = []
    # Quantiles, not the ends: the first calls (reading practice.json) are the same in
    # every command.
    spread = [calls[(i + 1) * len(calls) // (PER_COMMAND + 1)] for i in range(PER_COMMAND)]
    for call in spread:
        if call not in picked:
            picked.append(call)
    return picked


def _fault_run(
    strace: str, root: Path, args: list[str], call: Call, error: str
) -> tuple[subprocess.CompletedProcess[str], int]:
    log = root.parent / f"{root.name}.strace"
    inject = f"inject={call.name}:error={error}:when={call.number}"
    done = _cli(
        root,
        *args,
        prefix=(
            strace,
            "-f",
            "-qq",
            "--seccomp-bpf",
            "-e",
            f"trace={call.name}",
            "-e",
            inject,
            "-o",
            str(log),
        ),
    )
    fired = log.read_text(errors="replace").count("(INJECTED)")
    return done, fired


# -- what must hold ----------------------------------------------------------------------
def _vault(root: Path) -> Vault:
    return Vault(root / "practice" / "vault", root / "config")


def vault_problems(root: Path) -> list[str]:
    """What `casenotes verify` and `casenotes audit verify` would report (in-process: fast)."""
    vault = _vault(root)
    found = verify(vault) + retention_facts.problems(vault) + certificate.problems(vault)
    found += supervision.problems(vault) + vault.audit.verify(vault.trust.device_keys())
    return [str(p) for p in found]


def strays(root: Path) -> list[str]:
    """Temp files and leftover folders anywhere in the practice and config, but a temp file
    this device's next sweep removes (named for it and for a process now gone: a fault on
    the unlink that removes a temp file leaves it, whatever the next run is)."""
    vault = _vault(root)
    found = vault.leftovers()
    swept = {p for p in found.mine if p.name.startswith(".tmp-")}
    return [str(p) for p in root.rglob(".tmp-*") if p not in swept] + [
        str(p) for p in found if p not in swept
    ]


def note_safe(root: Path, plaintext: bytes, client: str = "AB-1") -> str | None:
    """None if the note is in the inbox or sealed, audited, exactly once; else what is wrong."""
    inbox = root / "practice" / "inbox" / "note.md"
    if inbox.exists() and inbox.read_bytes() == plaintext:
        return None
    vault = _vault(root)
    client_id = vault.resolve(client)
    holding = [
        nid
        for nid in vault.note_ids(client_id)
        if (revs := vault.revisions(client_id, nid))
        and vault.load(revs[-1][2]).header.content_mac == vault.content_mac(plaintext)
        and vault.audit.has("seal", file=str(revs[-1][2].relative_to(vault.root)))
    ]
    if len(holding) != 1:
        return f"plaintext gone from the inbox and {len(holding)} audited revisions hold it"
    return None


def duplicates(root: Path) -> str | None:
    vault = _vault(root)
    client_id = vault.resolve("AB-1")
    macs = Counter(
        vault.load(revs[-1][2]).header.content_mac
        for nid in vault.note_ids(client_id)
        if (revs := vault.revisions(client_id, nid))
    )
    twice = [mac for mac, count in macs.items() if count > 1]
    return f"{len(twice)} note(s) sealed twice" if twice else None


def one_sentence(stderr: str) -> bool:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return bool(lines) and "Traceback" not in stderr and lines[-1].startswith("casenotes: ")


@dataclass
class Tally:
    faults: int = 0
    fired: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    seconds: float = 0.0


TALLY: dict[str, Tally] = {}


@pytest.fixture(scope="module", autouse=True)
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    summary = {
        name: {
            "faults": t.faults,
            "fired": t.fired,
            "outcomes": dict(t.outcomes),
            "failures": t.failures,
            "known": t.known,
            "seconds": round(t.seconds, 1),
        }
        for name, t in TALLY.items()
    }
    (tmp_path_factory.getbasetemp() / "faults-summary.json").write_text(json.dumps(summary, indent=2))
    print("\nfault injection:", json.dumps(summary, indent=2))  # the suite's report


def run_case(
    strace: str, scenario: Scenario, template: Path, case: Path, call: Call, error: str
) -> tuple[str, str | None, str | None]:
    """One fault: (outcome, what broke an invariant or None, a known issue seen or None)."""
    shutil.copytree(template, case, symlinks=True)
    args = scenario.args(case)
    plaintext = (
        (case / "practice" / "inbox" / "note.md").read_bytes()
        if (case / "practice" / "inbox" / "note.md").exists()
        else b""
    )
    done, fired = _fault_run(strace, case, args, call, error)
    label = f"{scenario.name}: {error} on {call.name} #{call.number} ({call.where[:70]})"
    if not fired:
        return "not fired", None, None
    known = None
    if "Traceback" in done.stderr:
        outcome = "traceback"
    elif done.returncode == 0:
        outcome = "absorbed"
        if "could not" in done.stderr or "retrying" in done.stderr:
            outcome = "reported, exit 0"
            known = f"{label}: exit 0 after a problem (issue 15 item 7)"
    else:
        outcome = "failed cleanly" if one_sentence(done.stderr) else "unclear message"
    broken = None
    if outcome == "traceback" and not STRICT:
        last = done.stderr.strip().splitlines()[-1]
        known = f"{label}: traceback (issue 15 item 6): {last}"
    elif outcome in ("traceback", "unclear message"):
        broken = f"{label}: {outcome}: {done.stderr.strip()[-600:]}"
    if broken:
        pass
    elif plaintext and (wrong := note_safe(case, plaintext)):
        broken = f"{label}: {wrong}"
    if broken:
        return outcome, broken, known
    again = _cli(case, *args)
    if again.returncode != 0 and scenario.name == "backup restore" and "not empty" in again.stderr:
        known = f"{label}: the retry says only 'not empty' (issue 15 item 7)"
        shutil.rmtree(case / "restored", ignore_errors=True)
        again = _cli(case, *args)
    if again.returncode != 0 and not any(words in again.stderr for words in scenario.also_fine):
        return outcome, f"{label}: the next run fails: {again.stderr.strip()[-600:]}", known
    problems = vault_problems(case) + strays(case)
    if scenario.name == "seal" or scenario.name.startswith("syncd --once"):
        problems += [d] if (d := duplicates(case)) else []
        if scenario.name == "seal":
            problems += [w] if (w := note_safe(case, plaintext)) else []
        elif (case / "practice" / "inbox" / "note.md").exists():
            problems.append("the signed note is still in the inbox after the next run")
    if scenario.name == "client add":
        vault = _vault(case)
        orphans = len(vault.client_ids()) - len(list((vault.root / "index").glob("*.json")))
        if orphans:
            known = f"{label}: {orphans} client(s) without a handle left (issue 15 item 7)"
    if problems:
        return outcome, f"{label}: after the next run: {problems[:3]}", known
    return outcome, None, known


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name.replace(" ", "-"))
def test_every_fault_leaves_the_note_safe_and_the_next_run_recovers(
    scenario: Scenario, tmp_path: Path
) -> None:
    strace = require_tool("strace")
    started = time.monotonic()
    template = tmp_path / "template"
    template.mkdir()
    scenario.prepare(template)
    if scenario.name == "backup restore":
        (template / "snapshot").write_text(_snapshot(template))
    probe = tmp_path / "probe"
    shutil.copytree(template, probe, symlinks=True)
    calls = census(strace, probe, scenario.args(probe))
    assert calls, f"strace saw no call of {scenario.name} touching the practice"
    chosen = sample(calls)
    tally = TALLY.setdefault(scenario.name, Tally())
    jobs = [(tmp_path / f"case-{i}", call, ("ENOSPC", "EIO")[i % 2]) for i, call in enumerate(chosen)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # the suite's budget: 2 cores
        results = list(pool.map(lambda job: run_case(strace, scenario, template, *job), jobs))
    for (outcome, broken, known), _ in zip(results, jobs, strict=True):
        tally.faults += 1
        tally.fired += outcome != "not fired"
        tally.outcomes[outcome] += 1
        if broken:
            tally.failures.append(broken)
        if known:
            tally.known.append(known)
    tally.seconds += time.monotonic() - started
    assert not tally.failures, "\n".join(tally.failures)
