"""The first command a new user runs, and usage errors."""

from __future__ import annotations

from conftest import Env


def test_demo_seals_a_fictional_practice_and_shows_a_timeline(empty: Env, tmp_path) -> None:
    result = empty.run("demo", "--keep", str(tmp_path / "demo"), passphrase=None)
    assert result.code == 0, result.err
    assert "verify: OK" in result.text and "newest first" in result.text
    lines = [line for line in result.text.splitlines() if line.startswith("  20")]
    assert len(lines) == 6 and lines == sorted(lines, reverse=True)
    assert not list((tmp_path / "demo" / "inbox").iterdir())


def test_usage_errors_exit_2(empty: Env) -> None:
    assert empty.run("no-such-command").code == 2
    assert empty.run("init", "--kdf", "extreme").code == 2
