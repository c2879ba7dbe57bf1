"""One practice's vault on disk (the layout is in ``store/vault.py``).

``vault`` is the `Vault`, the one object the layers above use: the practitioner's
unlock, locks, backups and sweeps; it passes the rest to ``handles`` (the handle index,
adding clients), ``sealing`` (a note's next revision, durable and audited) and
``reading`` (decrypting notes and profiles), which take the parts of it they use (each
names them in a small Protocol) and never import it. Those parts lie below it:
``revisions`` (revision files: their names, listing, loading, checking, opening),
``forks`` (one note sealed on two machines while apart), ``group_commit`` (what a burst
of seals shares), a ``trust`` (registered devices, pinned practitioners, colleagues;
``trust``, ``colleagues``) and a ``keyring`` (each client's key generations and who
holds them; ``client_keys``). Beside it: ``clients`` (client, key and index records),
``audit`` (the hash-chained, signed log), ``practice`` (creating a practice,
registering a device) and ``verify`` (checking it all without a passphrase). Imports
``vault.format`` and ``vault.backup``; no module here imports one that imports it
(tests/architecture/test_architecture.py).
"""
