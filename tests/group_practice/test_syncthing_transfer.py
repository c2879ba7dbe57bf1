"""A group practice mid-transfer, on two machines joined by real Syncthing instances (issue
29). Bea's laptop comes back online while Syncthing is still pulling the notes Alex sealed
meanwhile, and she starts syncd, which sweeps at start, hourly and with every `seal`.
Syncthing makes a note's folder before its file: a sweep that took every empty folder for a
leftover removed folders being filled, and the engine carried the removal to Alex's machine,
notes and all."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from conftest import PASSPHRASE, Env
from daemon import RunningDaemon
from helpers.two_engines import BEA_PASS, _practice_of_two, _read
from notes import note_text
from syncthing import Syncthing, converge

from syncd.filing import file_note
from vault.format import sync_artefacts

PULLED = 300


def _seal_many(env: Env, handle: str, count: int, tag: str) -> None:
    """``count`` notes sealed by this machine's syncd in one burst."""
    drafts = []
    for i in range(count):
        path = env.practice.inbox / f"{tag}-{i}.md"
        path.write_text(note_text(client=handle, note_id=None, body=f"Fictional session {tag} {i}."))
        drafts.append(path)
    with env.vault() as vault, vault.group_commit():
        for path in drafts:
            file_note(vault, path, fallback_id=None)
    for path in drafts:
        path.unlink()


def test_notes_still_arriving_survive_syncd_starting_sweeping_and_sealing_on_the_receiving_machine(
    engines: tuple[Syncthing, Syncthing], tmp_path: Path, base_env: dict[str, str]
) -> None:
    st_a, st_b = engines
    a, b = _practice_of_two(engines, tmp_path, base_env)
    st_b.pause()  # Bea's laptop is away; Alex seals the day's notes
    with a.vault() as vault:
        al2 = vault.add_client("AL-2", "Fictional Person C", None)  # a client's folder arrives too
    _seal_many(a, "AB-1", PULLED, "away")
    _seal_many(a, "AL-2", 20, "al2")
    with a.vault() as vault:
        al2_notes = vault.note_ids(al2)
    alex_ab1 = sorted(_read(a, PASSPHRASE, "AB-1"))
    assert len(alex_ab1) == PULLED
    st_a.scan()

    stop = threading.Event()
    swept = []

    def sweeping() -> None:  # the hourly sweep, as often as it can run
        with b.vault() as vault:
            while not stop.is_set():
                swept.append(vault.sweep(time.time()))

    sweeper = threading.Thread(target=sweeping)
    sweeper.start()
    st_b.resume()  # back online: the pull begins, and Bea starts syncd
    daemon = RunningDaemon(b).wait_ready()
    bea_notes = []
    deadline = time.monotonic() + 60
    rounds = 0
    try:
        while time.monotonic() < deadline:
            rounds += 1
            if rounds % 5 == 0:  # `seal` of a note without `id:` sweeps the client first
                draft = b.practice.inbox.parent / f"seal-{rounds}.md"
                draft.write_text(note_text(client="AB-1", note_id=None, body=f"Fictional bea {rounds}."))
                sealed = b.run("seal", str(draft), passphrase=BEA_PASS)
                assert sealed.code == 0, sealed.err
                bea_notes.append(rounds)
            if rounds % 20 == 0:  # syncd started again: its start-up sweep
                assert daemon.stop() == 0, daemon.stderr
                daemon = RunningDaemon(b).wait_ready()
            if st_b.up_to_date_with(st_a) and st_a.up_to_date_with(st_b) and rounds > 20:
                break
    finally:
        daemon.stop()
        stop.set()
        sweeper.join()
    assert len(swept) > 20 and rounds > 20  # it swept all through the pull (before: 53 of 300 lost)
    converge(st_a, a.vault_dir, st_b, b.vault_dir, timeout=60)

    for env, passphrase in ((a, PASSPHRASE), (b, BEA_PASS)):
        notes = _read(env, passphrase, "AB-1")
        assert set(alex_ab1) <= set(notes), f"{len(set(alex_ab1) - set(notes))} notes lost"
        assert len(notes) == PULLED + len(bea_notes)
        with env.vault() as vault:
            assert vault.note_ids(al2) == al2_notes  # Alex's, which Bea cannot read
        for command in (["verify"], ["audit", "verify"]):
            result = env.run(*command, passphrase=passphrase)
            assert result.code == 0, f"{command} on {env.practice.root.name}: {result.err}"
            assert "missing" not in result.err
        assert not [p for p, kind in sync_artefacts.find(env.vault_dir) if kind == "conflict"]
