# ruff: noqa: F811  (`people` is the fixture imported from helpers.people)
"""A colleague's key renewal is not undone by her older key record (issue 28, "a second
factor that nothing older can undo"): whoever holds that record and her old passphrase (a
backup, a sync engine's version folder, the thief of her laptop) puts it back into the
vault after she changed her passphrase; a client Alex grants her afterwards must not be
sealed to the key that record opens."""

from __future__ import annotations

import shutil

from helpers.key_renewal import keys_an_old_record_opens, seal
from helpers.people import BEA_PASS, People, ok, people  # noqa: F401 (people: a fixture)

from vault import Passphrase

NEW_BEA = "quince ladder velvet harbour tangent"


def test_a_colleagues_older_key_record_put_back_gets_no_grant_made_after_her_renewal(
    people: People, tmp_path
) -> None:
    alex, bea = people.alex, people.bea
    seal(alex, "00000000000000d1", "A session before Bea's change.")
    older = tmp_path / "bea-record-before.json"
    shutil.copyfile(bea.vault().practitioner_file, older)
    assert bea.run("passphrase", stdin=f"{BEA_PASS}\n{NEW_BEA}\n{NEW_BEA}\n", passphrase=None).code == 0
    shutil.copyfile(older, bea.vault().practitioner_file)  # put back, as a sync engine carries it

    granted = alex.run("access", "grant", "AB-1", "Bea")
    assert keys_an_old_record_opens(bea, older, Passphrase(BEA_PASS), "AB-1") == [], granted.err
    assert granted.code == 1 and "practitioners/" in granted.err and "older copy" in granted.err, granted.err
    checked = alex.run("verify")
    assert checked.code == 1 and "older key" in checked.err, checked.err
