"""Every crypto parameter and format version, named once.

Readers never rely on these to decode existing files: a key file stores its own KDF
parameters, a revision stores its own format version. These constants decide what new
files look like and what limits a reader accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

# The bindings, not nacl.pwhash: its import costs every command, and only a key derivation
# (vault/format/keys.py) needs its code.
import nacl.bindings as sodium

# -- format versions and names --------------------------------------------------------
PRACTICE_FORMAT = "casenotes-practice"
PRACTITIONER_KEY_FORMAT = "casenotes-practitioner-key"
DEVICE_FORMAT = "casenotes-device"
DEVICE_REGISTRATION_FORMAT = "casenotes-device-registration"
DEVICE_RETIRE_FORMAT = "casenotes-device-retire"  # devices/<did>.retired: signed by its practitioner
CLIENT_FORMAT = "casenotes-client"
CLIENT_KEY_FORMAT = "casenotes-client-key"
HANDLE_INDEX_FORMAT = "casenotes-handle-index"
CHECKPOINT_FORMAT = "casenotes-audit-checkpoint"
RECOVERY_FORMAT = "casenotes-recovery-key"
JSON_FORMAT_VERSION = 1  # every JSON record above is at version 1

REVISION_MAGIC = b"CASENOTE"
REVISION_VERSION = 1


# -- key derivation ---------------------------------------------------------------------
KDF_ALGORITHM = "argon2id13"
SALT_BYTES = sodium.crypto_pwhash_SALTBYTES


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost. Stored in full with every key so a reader needs no constants."""

    opslimit: int
    memlimit: int


KDF_PROFILES: dict[str, KdfParams] = {
    "interactive": KdfParams(
        sodium.crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE, sodium.crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE
    ),
    "moderate": KdfParams(
        sodium.crypto_pwhash_argon2id_OPSLIMIT_MODERATE, sodium.crypto_pwhash_argon2id_MEMLIMIT_MODERATE
    ),
    "sensitive": KdfParams(
        sodium.crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE, sodium.crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE
    ),
}
DEFAULT_KDF_PROFILE = "moderate"

# A key file is input like any other: a hostile one must not make us spend minutes or
# gigabytes before it can be refused. SENSITIVE (4 passes, 1 GiB) sits well inside.
MAX_OPSLIMIT = 16
MAX_MEMLIMIT = 2 * 1024**3
MIN_OPSLIMIT = sodium.crypto_pwhash_argon2id_OPSLIMIT_MIN
MIN_MEMLIMIT = sodium.crypto_pwhash_argon2id_MEMLIMIT_MIN

# -- second factor ----------------------------------------------------------------------
# A practitioner key record's "second_factor" names what, besides the passphrase, enters
# the key derivation. Absent: the passphrase alone (every key written before issue 19).
SECOND_FACTOR_KEY_FILE = "key-file"
# With a key file, Argon2id's input is SHA-256(SHA-256(passphrase) || SHA-256(key file)),
# as KeePassXC composes its key: neither part alone, nor any hash of one, opens the key.
KEY_FILE_NEW_BYTES = 64  # a key file casenotes makes itself: random bytes
MIN_KEY_FILE_BYTES = 16  # a shorter (or empty) file is refused as a key file

# -- recovery -----------------------------------------------------------------------------
# The recovery key: random, split with SLIP-39 (shamir-mnemonic) into N shares of which K
# open it. 16 bytes make 20-word shares; it is already uniform, so no slow KDF is needed:
# BLAKE2b with this personalisation turns it into the wrap key of the recovery copy.
RECOVERY_SECRET_BYTES = 16
RECOVERY_KEY_PERSON = b"cn-recovery-v1"
MAX_RECOVERY_SHARES = 16  # SLIP-39's limit per group
RECOVERY_BOX_PERSON = b"cn-recovery-box"  # the recovery key's X25519 key: renewed keys are sealed to it

# -- key renewal ----------------------------------------------------------------------------
# A passphrase or key-file change makes a new X25519 key (vault/store/key_renewal.py); the
# record keeps the ones it replaces, wrapped with it, so older access files still open.
# A record never holds more: each change adds one, and 64 changes are decades of use.
MAX_RETIRED_BOX_KEYS = 64
BOX_KEY_STATEMENT = "casenotes box key"  # what "box_signed" signs, with the id and key
SLIP39_ITERATION_EXPONENT = 1  # SLIP-39's own PBKDF2 cost (its passphrase is empty here)

# -- revisions --------------------------------------------------------------------------
FILE_KEY_BYTES = 32
SEALED_KEY_BYTES = 32 + 16 + FILE_KEY_BYTES  # crypto_box_seal: ephemeral pk + MAC + key
AEAD_NONCE_BYTES = 24  # XChaCha20-Poly1305-IETF
SIGNATURE_BYTES = 64
MAX_HEADER_BYTES = 4096

# Plaintext is padded to a bucket so a file's size does not fingerprint the note: powers
# of two from 1 KiB, then whole MiB. Notes are a few KiB; the cost is small.
MIN_BUCKET = 1024
POW2_BUCKET_LIMIT = 1024 * 1024
MAX_PLAINTEXT_BYTES = 8 * 1024 * 1024

# -- ids --------------------------------------------------------------------------------
ID_BYTES = 8  # client, note, device and practitioner ids: 16 lowercase hex digits
HANDLE_BLIND_BYTES = 16
HANDLE_BLIND_PERSON = b"cn-handle-v1"  # BLAKE2b personalisation, at most 16 bytes
CONTENT_MAC_BYTES = 16
CONTENT_MAC_PERSON = b"cn-content-v1"  # same key as the handle index, another domain
RETENTION_FORMAT = "casenotes-retention-facts"
RETENTION_KEY_PERSON = b"cn-retention-v1"  # retention facts: same key again, a third domain
RIGHTS_FACT_WHAT = "rights"  # a rights fact's associated data names this domain (vault/format/rights.py)
PRACTICE_RULES_FORMAT = "casenotes-practice-rules"  # vault/settings/<version>-<device>.json
