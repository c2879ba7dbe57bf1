"""The chart header says which consents and releases are on file and when they expire
(issue 30, "a chart header ... consent and releases on file and when they expire"): five
minutes before a session, whether the school may still hear from me is on the first screen,
and a consent that ran out says "expired", never passes for one in force.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import PASSPHRASE, Env

from site_builder import build_site, pages
from site_builder.timeline import Entry, OnFile, assemble
from vault import Passphrase, Vault
from vault.format.encoding import new_id
from vault.sharing import consent
from vault.sharing.consent import Consent

TODAY = dt.date(2026, 12, 7)


def _consent(to_name: str, until: str, given: str = "2026-01-02") -> Consent:
    return Consent(new_id(), new_id(), to_name, "coordination of care", given, None, until)


def test_the_header_counts_the_consents_names_the_recipients_and_marks_the_expired() -> None:
    session = Entry("a" * 16, dt.date(2026, 12, 1), "soap", {"risk": "none"}, "Text.", 1, True)
    t = assemble("AB-1", [session], today=TODAY)
    t.consents = [
        OnFile("Dr Lee (GP)", dt.date(2027, 6, 30)),
        OnFile("Riverside School", dt.date(2026, 12, 6)),  # ran out yesterday
        OnFile("", dt.date(2026, 12, 7)),  # names no one; holds through its last day
        OnFile("Probation office", dt.date(2027, 1, 1), revoked=dt.date(2026, 11, 3)),
    ]
    header = pages.chart_header(t)[0]
    assert (
        "**4 consents on file**: to Dr Lee (GP), until 30 Jun 2027; to Riverside School, **expired** 06 Dec 2026"
        in header
    )
    assert "; until 07 Dec 2026; to Probation office, **revoked** 03 Nov 2026" in header
    t.consents = t.consents[:1]
    assert "**1 consent on file**: to Dr Lee (GP), until 30 Jun 2027" in pages.chart_header(t)[0]
    t.consents = []
    assert "on file" not in "".join(pages.chart_header(t))


def _loads(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The revision files the vault's own ``load`` reads (each note is read through reading's)."""
    seen: list[Path] = []
    real = vault.load

    def counted(path: Path):
        seen.append(path)
        return real(path)

    monkeypatch.setattr(vault, "load", counted)
    return seen


def test_the_overview_shows_the_consents_on_file_opening_only_the_consents(
    story: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault = story.vault()
    client_id = vault.resolve("AB-1")
    consent.add(vault, client_id, _consent("Dr Lee (GP)", "2099-06-30"))
    consent.add(vault, client_id, _consent("Riverside School", "2020-03-31", given="2019-09-01"))
    loads = _loads(vault, monkeypatch)
    (tmp_path / "ram").mkdir()
    site = build_site(vault, vault.unlock(Passphrase(PASSPHRASE)), client_id, "AB-1", tmp_path / "ram")
    index = (site.html / "index.html").read_text()
    assert (
        "<strong>2 consents on file</strong>: to Riverside School, <strong>expired</strong> 31 Mar 2020"
        in index
    )
    assert "to Dr Lee (GP), until 30 Jun 2099" in index
    assert len(loads) == 2  # the two consents, found by the read of the notes: no pass over every note


def test_a_client_without_a_consent_has_no_consent_line(story: Env, tmp_path: Path) -> None:
    vault = story.vault()
    (tmp_path / "ram").mkdir()
    site = build_site(
        vault, vault.unlock(Passphrase(PASSPHRASE)), vault.resolve("AB-1"), "AB-1", tmp_path / "ram"
    )
    assert "on file" not in (site.html / "index.html").read_text()


@pytest.mark.parametrize("fork", ["works", "refused"])
def test_a_long_history_read_in_two_processes_finds_the_consents_in_both_halves(
    story: Env, monkeypatch: pytest.MonkeyPatch, fork: str
) -> None:
    """`open` of 120 notes or more reads them in two processes: a consent in either half is
    found, and so when the second process could not be started."""
    from dataclasses import replace

    from site_builder import decrypt

    vault = story.vault()
    client_id = vault.resolve("AB-1")
    first, last = "0000000000000001", "ffffffffffffff01"  # sorted before and after the notes
    consent.add(vault, client_id, replace(_consent("Dr Lee (GP)", "2099-06-30"), consent_id=first))
    consent.add(vault, client_id, replace(_consent("Riverside School", "2099-01-31"), consent_id=last))
    if fork == "refused":
        monkeypatch.setattr(
            decrypt.os, "fork", lambda: (_ for _ in ()).throw(OSError(11, "no process to spare"))
        )
    others: list[tuple[str, str]] = []
    shares = decrypt.read_notes_in_two(
        vault, vault.unlock(Passphrase(PASSPHRASE)), client_id, lambda notes: len(notes), [], others=others
    )
    assert sum(shares) == 5  # the story's notes, and no consent taken for one
    assert sorted(others) == [(first, "consent"), (last, "consent")]
