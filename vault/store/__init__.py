"""One practice's vault on disk (the layout is in ``store/vault.py``).

``vault`` is the `Vault`: clients, sealed notes and the practitioner's unlock; it holds a
``trust`` (registered devices, pinned practitioners, colleagues; ``trust``,
``colleagues``) and a ``keyring`` (each client's key generations and who holds them;
``client_keys``). Beside it: ``clients`` (client, key and index records), ``audit`` (the
hash-chained, signed log), ``practice`` (creating a practice, registering a device) and
``verify`` (checking it all without a passphrase). Imports ``vault.format`` and
``vault.backup``.
"""
