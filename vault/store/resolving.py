"""A `resolve` cut short, finished (issue 31 item 13).

`resolve` seals a merge revision naming every forked one, then audits it and writes its
``resolve`` entry. Cut short after the merge revision is linked (its folder's fsync, its
audit entry), the fork is settled on disk, so a rerun found "no conflict to resolve" and
left the revision unaudited for good. `finish` makes it durable and audited as the run
would have: sealing its own text again settles it (vault/store/sealing.py makes an
unchanged revision durable and writes its missing entry), then the ``resolve`` entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..format.keys import Practitioner
from .sealing import SealedRevision

if TYPE_CHECKING:
    from .vault import Vault


def cut_short(vault: Vault, client_id: str, note_id: str) -> bool:
    """Whether the note's newest revision is a merge that its resolve never audited."""
    revisions = vault.revisions(client_id, note_id)
    if not revisions:
        return False
    path = revisions[-1][2]
    return bool(vault.load(path).header.merges) and not vault.audit.has(
        "seal", file=str(path.relative_to(vault.root))
    )


def finish(vault: Vault, practitioner: Practitioner, client_id: str, note_id: str) -> SealedRevision:
    """Make a resolve cut short durable and audited (see `cut_short`)."""
    path = vault.revisions(client_id, note_id)[-1][2]
    parsed, body = vault.open_revision(path, vault.keyring.client_keys(practitioner, client_id))
    header = parsed.header
    sealed = vault.seal_record(client_id, note_id, bytes(body), header.kind, header.final)
    vault.audit.append(
        "resolve",
        client=client_id,
        note=note_id,
        kept="(a resolve cut short, finished)",
        merges=list(header.merges),
        practitioner=practitioner.practitioner_id,
    )
    return sealed
