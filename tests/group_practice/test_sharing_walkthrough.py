"""docs/sharing.md's steps for a second machine, walked through as written, with real
Syncthing on 127.0.0.1 (issue 29, item 5). Before, Bea's machine after steps 4 to 6 had no
inbox and no casenotes.yml: `casenotes syncd` exited 1 although the docs said her syncd
seals her inbox, and `doctor` failed on a practice folder `mkdir -p` had left open (0755).
Now the steps end with both machines' `doctor` reporting no failure and her syncd running
and sealing, her note arriving on Alex's machine."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import PASSPHRASE, Env
from daemon import RunningDaemon, wait_for
from notes import note_text
from syncthing import Syncthing, converge

from casenotes.config import Practice

BEA_PASS = "fictional bravo passphrase for the walkthrough"


def _ok(env: Env, *args: str, passphrase: str = PASSPHRASE) -> str:
    result = env.run(*args, passphrase=passphrase)
    assert result.code == 0, f"{args}: {result.err}"
    return result.text


def _doctor_failures(env: Env, passphrase: str) -> list[str]:
    result = env.run("doctor", passphrase=passphrase)
    return [line for line in result.text.splitlines() if line.startswith("FAIL")] + (
        [result.err] if result.code else []
    )


def test_the_second_machine_set_up_as_the_docs_say_is_ready(
    engines: tuple[Syncthing, Syncthing], tmp_path: Path, base_env: dict[str, str]
) -> None:
    st_a, st_b = engines
    machines = {}
    for name in ("alex", "bea"):
        practice = Practice(tmp_path / name / "casenotes", tmp_path / f"{name}-config")
        variables = {
            **base_env,
            "CASENOTES_HOME": str(practice.root),
            "CASENOTES_CONFIG_DIR": str(practice.config_dir),
        }
        machines[name] = Env(practice, variables)
    alex, bea = machines["alex"], machines["bea"]

    # 1. Alex: casenotes init, and a client.
    _ok(alex, "init", "--kdf", "interactive")
    _ok(alex, "client", "add", "AB-1", "--name", "Fictional Person A")
    # 2-3. Syncthing shares Alex's vault folder; Bea accepts it into an empty practice folder.
    os.makedirs(bea.vault_dir)  # as `mkdir -p ~/casenotes/vault` makes it: mode 0755 here
    bea.vault_dir.parent.chmod(0o755)
    st_a.share(alex.vault_dir, st_b)
    st_b.share(bea.vault_dir, st_a)
    converge(st_a, alex.vault_dir, st_b, bea.vault_dir)

    # 4. Bea: practitioner join.
    joined = bea.run("practitioner", "join", "--kdf", "interactive", passphrase=BEA_PASS)
    assert joined.code == 0, joined.err
    bea_line = joined.text.strip().splitlines()[-1]
    converge(st_a, alex.vault_dir, st_b, bea.vault_dir)
    # 5. Alex adds her (after comparing fingerprints), and sends his own line.
    _ok(alex, "practitioner", "add", "Bea", bea_line)
    alex_line = _ok(alex, "identity", "export").strip().splitlines()[-1]
    converge(st_a, alex.vault_dir, st_b, bea.vault_dir)
    # 6. Bea registers her machine and adds Alex.
    _ok(bea, "device", "register", passphrase=BEA_PASS)
    _ok(bea, "practitioner", "add", "Alex", alex_line, passphrase=BEA_PASS)
    _ok(bea, "client", "add", "BE-1", "--name", "Fictional Person B", passphrase=BEA_PASS)
    converge(st_a, alex.vault_dir, st_b, bea.vault_dir)

    # 7. Bea starts syncd; it seals her inbox, and her note reaches Alex's machine.
    assert bea.practice.inbox.is_dir() and bea.practice.settings_file.exists()
    assert (bea.vault_dir / ".stignore").exists()
    daemon = RunningDaemon(bea).wait_ready()
    try:
        draft = bea.practice.inbox / "be-1.md"
        draft.write_text(note_text(client="BE-1", note_id=None, status="signed", body="Fictional by Bea."))
        wait_for(lambda: not draft.exists(), timeout=30, what="Bea's syncd to seal her note")
        converge(st_a, alex.vault_dir, st_b, bea.vault_dir)
        for env, passphrase in ((alex, PASSPHRASE), (bea, BEA_PASS)):
            assert _doctor_failures(env, passphrase) == [], env.practice.root
        assert "syncd: running" in _ok(bea, "doctor", passphrase=BEA_PASS)
    finally:
        assert daemon.stop() == 0
    assert "Fictional by Bea." in _ok(bea, "cat", "BE-1", passphrase=BEA_PASS)
    with alex.vault() as vault:
        assert len(vault.client_ids()) == 2
    for env, passphrase in ((alex, PASSPHRASE), (bea, BEA_PASS)):
        assert re.search(r"vault OK: 2 clients", _ok(env, "verify", passphrase=passphrase))
