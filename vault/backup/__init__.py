"""Backups of a vault folder: content-addressed snapshots on a storage target (a folder or
an rclone remote), signed manifests, verify, restore, prune, and the crypto-shredding of a
purged client's objects; ``generations`` decides which snapshots to keep. Knows the
vault only as a folder of files: imports ``vault.format``, never ``vault.store``.
"""
