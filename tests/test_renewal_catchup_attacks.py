# ruff: noqa: F811  (`people` is the fixture imported from test_sharing)
"""Issue 28, the key-renewal catch-up (vault/store/renewal_catchup.py) as an attacker tries
it: a colleague's still-registered machine writing into the synced folder, a client the
catch-up must not drop before it is renewed, a full disk, a state file tampered with.
What matters is whether a note sealed afterwards opens with the key record from before the
renewal and the old passphrase, and whether the command the user ran still works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from test_key_renewal import NEW, apart_during_a_renewal, renewed_since
from test_sharing import People, people  # noqa: F401 (people: a fixture)

from vault import Passphrase
from vault.format import key_generations as kg
from vault.format.encoding import stamp
from vault.store import renewal_catchup
from vault.store.clients import key_record


def forge_generation_over(people: People, handle: str, signed: bool) -> Path:
    """Bea's machine (registered, so it signs key files that check) writes a generation of
    a client she does not hold, replacing its only one: refused by `Keyring.entitled`. Not
    ``signed``: a key file that does not check (anyone who can write the folder; or a real
    one whose device's registration has not synced yet)."""
    alex, bea = people.alex.vault(), people.bea.vault()
    client = alex.resolve(handle)
    found, _ = alex.keyring.generations(client)
    [tip] = kg.tips(found)
    gid = kg.new_gid(max(g.number for g in found.values()) + 1, bea.device.device_id)
    generation = kg.Generation(
        gid, PrivateKey.generate().public_key, (tip,), frozenset({bea.device.practitioner_id}), frozenset()
    )
    path = alex.client_dir(client) / "keys" / f"{gid}.json"
    path.parent.mkdir(exist_ok=True)
    record = key_record(client, generation, bea.device, stamp(bea.clock()))
    if not signed:  # the signature no longer covers what it says
        record = record.replace(bea.device.practitioner_id.encode(), alex.device.practitioner_id.encode())
    path.write_bytes(record)
    assert bool(alex.keyring.generations(client)[1]) is not signed
    return path


@pytest.mark.parametrize("signed", [True, False], ids=["forged-by-a-colleague", "does-not-check"])
def test_a_forged_generation_over_an_old_key_client_does_not_make_the_catch_up_drop_it(
    people: People, tmp_path: Path, signed: bool
) -> None:
    """Alex's laptop, apart during his renewal, adds CD-2 (sealed to his old key). Before his
    first unlock after the meeting, Bea's machine lays a generation of CD-2 on top (she does
    not hold it: refused, and sealing to CD-2 stops meanwhile). Had the catch-up judged CD-2
    by that tip, it would drop it as "nothing to do"; once the forged file is gone, notes of
    CD-2 would again be sealed to the generation the old record opens."""
    alex = people.alex
    old_copy = apart_during_a_renewal(alex, tmp_path, "CD-2")
    forged = forge_generation_over(people, "CD-2", signed)
    met = alex.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0, met.err
    with alex.vault() as vault:
        vault.unlock(Passphrase(NEW))
        assert vault.caught_up.waiting == [vault.resolve("CD-2")]  # kept, not dropped
    forged.unlink()  # Bea takes it back (or verify named it and Alex removed it)
    met = alex.run("cat", "AB-1", passphrase=NEW)
    assert met.code == 0 and "gave 1 client(s) a new key" in met.err, met.err
    assert renewed_since(alex, old_copy, "CD-2", "00000000000000d1")
    with alex.vault() as vault:
        vault.unlock(Passphrase(NEW))
        assert json.loads(renewal_catchup.state_path(vault).read_bytes())["pending"] == {}
