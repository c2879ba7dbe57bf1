"""The bytes on disk and the crypto under them; knows no folder of the vault.

``revision`` seals and opens one note revision; ``keys`` wraps practitioner keys under the
passphrase and holds device keys and signed records; ``encoding`` and ``constants`` are
the canonical JSON, ids, and every crypto parameter and format name (docs/format.md);
``redact`` gives secrets a repr that cannot leak. Imports only ``vault.errors`` and
``vault.durable``.
"""
