"""`casenotes status` says what protects the records (issue 30, item 8): the legal holds in
force, whether a recovery set exists and when it was made, whether the key asks for a key
file and whether it is there. It used to print job lines and nothing of them, so a
practitioner learnt of a hold, or of having no recovery set, too late.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from conftest import PASSPHRASE, Env

REASON = "Subpoena from the county court, fictional case 12"


def line(practice: Env, start: str, passphrase: str | None = PASSPHRASE) -> str:
    shown = practice.run("status", passphrase=passphrase)
    assert shown.code == 0, shown.err
    found = [text for text in shown.text.splitlines() if text.startswith(start)]
    assert len(found) == 1, shown.text
    return found[0]


def test_a_new_practice_hears_it_has_no_recovery_set_no_key_file_and_no_hold(practice: Env) -> None:
    assert line(practice, "legal holds:") == "legal holds: none in force"
    assert line(practice, "recovery:").startswith("recovery: none set up: a forgotten passphrase")
    assert "`casenotes recovery create" in line(practice, "recovery:")
    assert line(practice, "key file:").startswith("key file: not required: the passphrase alone")


def test_a_client_under_a_legal_hold_is_named_with_the_passphrase_and_counted_without(practice: Env) -> None:
    assert practice.run("retention", "hold", "AB-1", "--reason", REASON).code == 0
    named = line(practice, "legal holds:")
    assert named.startswith("legal holds: 1 hold in force on 1 client (AB-1): never purged while held")
    anonymous = line(practice, "legal holds:", passphrase=None)
    assert anonymous.startswith("legal holds: 1 hold in force on 1 client:") and "AB-1" not in anonymous
    assert practice.run("retention", "release", "AB-1").code == 0
    assert line(practice, "legal holds:") == "legal holds: none in force"
    assert REASON not in practice.run("status").text  # the reason is kept encrypted, never printed


def test_status_says_when_the_recovery_set_was_made_and_how_many_shares_open_it(practice: Env) -> None:
    assert practice.run("recovery", "create", "--shares", "3", "--threshold", "2").code == 0
    today = dt.datetime.now(dt.UTC).date()
    said = line(practice, "recovery:", passphrase=None)
    assert said in (
        f"recovery: a set made {day:%d %b %Y}: any 2 of 3 custodians' shares set a new passphrase"
        for day in (today, today - dt.timedelta(days=1))  # run across midnight
    )


def test_status_says_the_key_file_is_required_and_whether_it_is_plugged_in(
    practice: Env, tmp_path: Path
) -> None:
    usb = tmp_path / "usb" / "casenotes.key"
    assert practice.run("passphrase", "--key-file", str(usb)).code == 0
    with_usb = Env(practice.practice, {**practice.env, "CASENOTES_KEY_FILE": str(usb)})
    assert line(with_usb, "key file:") == f"key file: required, present at {usb}"
    assert line(practice, "key file:").startswith("key file: required, none named: give --key-file PATH")
    assert with_usb.run("retention", "hold", "AB-1", "--reason", REASON).code == 0
    usb.rename(tmp_path / "unplugged.key")  # the stick is pulled out
    said = with_usb.run("status")  # a hold to name, and the key cannot be unlocked: counted, not failed
    assert said.code == 0, said.err
    assert f"key file: required, and {usb} is not there: plug in the drive" in said.text
    assert "legal holds: 1 hold in force on 1 client:" in said.text
