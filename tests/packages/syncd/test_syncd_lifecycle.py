"""The daemon's life: one per practice, clean stops, catch-up after downtime, parking
drafts, jobs that fail and recover, and a service file."""

from __future__ import annotations

import datetime as dt
import errno
import signal
import time
from pathlib import Path

import editors
import pytest
from conftest import Env
from daemon import RunningDaemon, configure, revision_count, sealed_notes, state, wait_for
from notes import note_text

from syncd import Daemon, DaemonSettings
from syncd.jobs import Job, JobRunner
from syncd.state import State


def v(body: str, **fields: str) -> bytes:
    return note_text(body=body, **fields).encode()


def test_a_second_daemon_exits_1_naming_the_first(practice: Env) -> None:
    first = RunningDaemon(practice).wait_ready()
    try:
        second = practice.run("syncd")
        assert second.code == 1
        assert f"PID {first.proc.pid}" in second.err and "already running" in second.err
        once = practice.run("syncd", "--once")
        assert once.code == 1 and "already running" in once.err
    finally:
        assert first.stop() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_ctrl_c_and_sigterm_stop_cleanly_and_keep_unsealed_drafts(practice: Env, signum) -> None:
    configure(practice, quiet_period_seconds=30)  # the draft will not be quiet in time
    running = RunningDaemon(practice).wait_ready()
    note = practice.practice.inbox / "note.md"
    note.write_bytes(v("not yet quiet"))
    time.sleep(0.5)
    running.proc.send_signal(signum)
    assert running.stop() == 0
    assert note.read_bytes() == v("not yet quiet")
    assert "stopped" in running.log_text()
    assert practice.run("audit", "verify").code == 0  # the checkpoint was written on the way out


def test_once_processes_the_inbox_and_exits(practice: Env) -> None:
    inbox = practice.practice.inbox
    (inbox / "a.md").write_bytes(v("a", note_id="aaaaaaaaaaaaaaaa"))
    (inbox / "b.md").write_bytes(v("b", note_id="bbbbbbbbbbbbbbbb", status="signed"))
    (inbox / "bad.md").write_bytes(b"no front matter\n")
    result = practice.run("syncd", "--once")
    assert result.code == 1  # a note was left in the inbox: a script can tell
    assert "sealed 2 revisions," in result.text and "bad.md" in result.err
    assert (inbox / "a.md").exists() and not (inbox / "b.md").exists() and (inbox / "bad.md").exists()
    again = practice.run("syncd", "--once")
    assert "sealed 0 revisions," in again.text  # nothing changed: no duplicate revision


def test_changes_made_while_syncd_was_down_are_sealed_at_start(practice: Env) -> None:
    configure(practice, quiet_period_seconds=0.3)
    note = practice.practice.inbox / "note.md"
    note.write_bytes(v("before the start"))
    running = RunningDaemon(practice).wait_ready()
    try:
        wait_for(lambda: revision_count(practice) == 1)
    finally:
        assert running.stop() == 0
    note.write_bytes(v("while it was down"))
    running = RunningDaemon(practice).wait_ready()
    try:
        wait_for(lambda: revision_count(practice) == 2)
    finally:
        assert running.stop() == 0
    assert sealed_notes(practice)["0123456789abcdef"] == [v("before the start"), v("while it was down")]


def test_the_periodic_scan_catches_what_the_watcher_missed(practice: Env) -> None:
    """Polling mode and the rescan job see a change no inotify event announced."""
    configure(practice, quiet_period_seconds=0.2, rescan_seconds=1)
    running = RunningDaemon(practice, "--polling").wait_ready()
    try:
        assert "(polling)" in running.log_text()
        editors.plain(practice.practice.inbox / "note.md", v("seen by polling"))
        wait_for(lambda: revision_count(practice) == 1, timeout=20)
    finally:
        assert running.stop() == 0


def test_an_untouched_draft_is_sealed_and_parked(practice: Env) -> None:
    configure(practice, quiet_period_seconds=0.2, draft_ttl_hours=1.5 / 3600)
    note = practice.practice.inbox / "note.md"
    note.write_bytes(v("left overnight"))
    running = RunningDaemon(practice).wait_ready()
    try:
        wait_for(lambda: not note.exists(), timeout=20, what="the draft to be parked")
    finally:
        assert running.stop() == 0
    assert sealed_notes(practice) == {"0123456789abcdef": [v("left overnight")]}
    assert state(practice)["files"]["note.md"]["state"] == "parked"


def test_a_full_disk_keeps_the_plaintext_and_retries(tiny_disk: Path, tmp_path: Path, base_env) -> None:
    """A real full disk (a small tmpfs): the note waits in the inbox, then seals once there is room."""
    from conftest import CHEAP_KDF, PASSPHRASE, fill

    from casenotes.config import Practice
    from vault import Passphrase
    from vault.store.practice import create_practice

    p = Practice(tiny_disk / "practice", tmp_path / "config")
    create_practice(p.vault_dir, p.config_dir, Passphrase(PASSPHRASE), CHEAP_KDF).close()
    p.create_layout()
    env = Env(p, {**base_env, "CASENOTES_HOME": str(p.root)})
    assert env.run("client", "add", "AB-1").code == 0
    configure(env, quiet_period_seconds=0.2)
    running = RunningDaemon(env).wait_ready()
    try:
        note = p.inbox / "note.md"
        note.write_bytes(v("waiting for space"))
        fill(tiny_disk)
        wait_for(lambda: "could not seal yet" in running.log_text(), what="the retry")
        assert note.read_bytes() == v("waiting for space") and revision_count(env) == 0
        (tiny_disk / "filler").unlink()
        wait_for(lambda: revision_count(env) == 1, timeout=30, what="the seal after space came back")
    finally:
        (tiny_disk / "filler").unlink(missing_ok=True)
        code = running.stop()
        assert code == 0, running.stderr
    assert env.run("verify").code == 0


def test_install_writes_a_systemd_user_unit(practice: Env, tmp_path: Path) -> None:
    practice.env["HOME"] = str(tmp_path / "home")
    result = practice.run("syncd", "--install")
    assert result.code == 0, result.err
    unit = tmp_path / "home" / ".config" / "systemd" / "user" / "casenotes-syncd.service"
    text = unit.read_text()
    assert "ExecStart=" in text and str(practice.practice.root) in text and "syncd" in text
    assert "CASENOTES_CONFIG_DIR" in text and "PASSPHRASE" not in text
    assert "systemctl --user enable --now casenotes-syncd.service" in result.text


def test_install_writes_a_launchd_agent() -> None:
    import plistlib

    from syncd import service

    spec = service.Service(
        ("/usr/bin/python3", "-m", "casenotes", "syncd"), {}, Path("/p"), Path("/c"), Path("/l")
    )
    plist = plistlib.loads(service.launchd_plist(spec))
    assert plist["Label"] == "org.casenotes.syncd" and plist["RunAtLoad"] is True


# -- the job runner, in process, with a clock the test controls -------------------------


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def test_a_job_missed_while_the_machine_slept_runs_at_the_next_start(tmp_path: Path) -> None:
    clock, ran = Clock(), []
    state_ = State(tmp_path / "state.json")
    job = Job("backup", dt.timedelta(hours=24), lambda: ran.append(clock.now))
    JobRunner([job], state_, clock).run_due()
    assert ran == [clock.now]
    state_.save()
    clock.now += dt.timedelta(hours=3)  # restarted soon after: not due
    JobRunner([job], State.load(tmp_path / "state.json"), clock).run_due()
    assert len(ran) == 1
    clock.now += dt.timedelta(days=2)  # the laptop slept through the night
    JobRunner([job], State.load(tmp_path / "state.json"), clock).run_due()
    assert len(ran) == 2


def test_a_failing_job_is_retried_with_backoff_and_does_not_stop_the_others(tmp_path: Path, caplog) -> None:
    clock, ran = Clock(), []

    def broken() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    runner = JobRunner(
        [
            Job("backup", dt.timedelta(minutes=5), broken),
            Job("retention", dt.timedelta(minutes=5), lambda: ran.append(1)),
        ],
        State(tmp_path / "s.json"),
        clock,
    )
    runner.start()
    assert ran == [1] and runner.failures == {"backup": 1}
    assert "backup" not in runner.state.jobs  # not recorded as run: due again
    retry = runner._scheduled["backup"].next_run
    assert retry is not None
    assert dt.timedelta(seconds=25) < retry - dt.datetime.now() < dt.timedelta(seconds=35)  # noqa: DTZ005
    runner.run(runner.jobs[0])
    assert runner.failures == {"backup": 2}
    for job in runner.scheduler.get_jobs():
        runner.scheduler.cancel_job(job)


def test_the_watch_limit_falls_back_to_polling(practice: Env, monkeypatch, caplog) -> None:
    """When inotify has no watches left (ENOSPC from the kernel), syncd polls instead."""
    from syncd import daemon as daemon_module

    class NoWatches(daemon_module.Observer):  # type: ignore[misc,valid-type]
        def schedule(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(daemon_module, "Observer", NoWatches)
    d = Daemon(
        practice.vault(),
        practice.practice.inbox,
        practice.practice.state_dir,
        DaemonSettings(quiet_period=0.1),
    )
    observer, how = d._start_observer()
    try:
        assert how == "polling"
        assert "max_user_watches" in caplog.text
    finally:
        observer.stop()
        observer.join()


@pytest.mark.parametrize(
    "last, now, due",
    [
        ("2026-11-26T02:05", "2026-11-27T01:00", False),  # ran last night, tonight's time not reached
        ("2026-11-26T02:05", "2026-11-27T03:00", True),  # tonight's time has passed
        ("2026-11-24T02:05", "2026-11-27T01:00", True),  # the laptop slept through a night
        ("2026-11-27T02:00", "2026-11-27T23:00", False),  # already ran today at the time
    ],
)
def test_a_daily_job_at_a_time_of_day(tmp_path: Path, last: str, now: str, due: bool) -> None:
    local = dt.datetime.now().astimezone().tzinfo
    clock = Clock()
    clock.now = dt.datetime.fromisoformat(now).replace(tzinfo=local)
    state_ = State(tmp_path / "s.json")
    state_.jobs["backup"] = dt.datetime.fromisoformat(last).replace(tzinfo=local).isoformat()
    job = Job("backup", dt.timedelta(hours=24), lambda: None, at="02:00")
    assert JobRunner([job], state_, clock).is_due(job) is due


def test_sigterm_in_the_middle_of_a_burst_stops_syncd_within_two_seconds_losing_nothing(
    practice: Env, tmp_path: Path
) -> None:
    # Before: the burst's every note was read, sealed and taken out of the inbox first (600
    # notes here: 4 s; 1,000: 6 to 7 s), past a service manager's patience at shutdown.
    import subprocess
    import sys

    import fiction
    from vault.format.encoding import new_id

    count = 600
    for number, day in enumerate(fiction.sessions(dt.date(2015, 1, 5), count), start=1):
        path = practice.practice.inbox / f"{day.isoformat()}-AB-1-{number}.md"
        path.write_bytes(fiction.note("AB-1", day, new_id(), number, "signed"))
    configure(practice, quiet_period_seconds=0.3)
    with (tmp_path / "stderr").open("wb") as stderr:  # a line a seal: more than a pipe holds
        audit = practice.vault_dir / "audit"

        def seals() -> int:  # of these notes (the client's profile was sealed when it was added)
            return sum(log.read_bytes().count(b'"event":"seal"') for log in audit.glob("*.log")) - before

        before = 0
        before = seals()
        proc = subprocess.Popen([sys.executable, "-m", "casenotes", "syncd"], env=practice.env, stderr=stderr)

        try:
            wait_for(lambda: seals() > 0 or proc.poll() is not None, timeout=30, what="the burst to start")
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                pass
            took = time.monotonic() - sent
            still_running = proc.poll() is None
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert not still_running, f"syncd still ran 2 s after SIGTERM ({took:.2f} s)"
    assert proc.returncode == 0, (tmp_path / "stderr").read_text()[-3000:]
    left = list(practice.practice.inbox.glob("*.md"))
    assert left, "the whole burst was sealed before the stop"
    assert len(left) + seals() == count  # each note: its plaintext in the inbox, or sealed
    assert practice.run("audit", "verify").code == 0
    assert practice.run("syncd", "--once").code == 0  # the rest, at the next start
    assert not list(practice.practice.inbox.glob("*.md")) and seals() == count


def test_a_stop_asked_during_a_catch_up_job_runs_no_further_job(practice: Env) -> None:
    # At start, every job missed while the machine was off runs (a backup, a weekly full
    # verify, the retention scan...). Before: a SIGTERM during the first still ran all the
    # others, minutes of them, before syncd stopped. The ones not run stay due.
    ran: list[str] = []
    p = practice.practice
    vault = practice.vault()
    daemon: Daemon

    def backup() -> None:
        ran.append("backup")
        daemon.stop()  # what the SIGTERM handler does, as the job works

    jobs = [
        Job("backup", dt.timedelta(hours=24), backup),
        Job("verify", dt.timedelta(days=7), lambda: ran.append("verify")),
    ]
    daemon = Daemon(vault, p.inbox, p.state_dir, DaemonSettings(polling=True), jobs=jobs)
    daemon.run()
    assert ran == ["backup"]
    assert "verify" not in state(practice)["jobs"] and "backup" in state(practice)["jobs"]
