"""The practitioner's digital signature on a PDF (pyHanko), made so that a recipient
without casenotes can see the document was not changed since it was signed.

The key is derived, never stored: an Ed25519 key computed from the practitioner's own
signing key (unlocked by their passphrase) and a fixed label, so it is the same key at
every export and never the signing key itself (a signature made for a PDF can never pass
for one of the vault's). Its certificate is self-signed, made afresh at each export, with
the practitioner's name; its key fingerprint, printed by `casenotes export`, is what a
recipient compares by phone (docs/export.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from vault.format.keys import Practitioner

from .pdf import Password

LABEL = b"casenotes pdf signature v1"  # the derivation's context: change it, change every key
FIELD = "Practitioner"
CERTIFICATE_YEARS = 10


@contextmanager
def _quietly() -> Iterator[None]:
    """pyHanko imports DSA support, which `cryptography` warns is deprecated: not ours to
    fix, and not a line for a practitioner's terminal."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DSA is deprecated")
        yield


@dataclass(frozen=True, repr=False)
class PdfSigner:
    """The derived key and its self-signed certificate (DER). Client data none; the key secret."""

    seed: bytes
    certificate: bytes
    name: str

    def __repr__(self) -> str:
        return f"<PdfSigner {self.fingerprint}>"

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the public key, in groups of four hex digits: what is read by phone."""
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = ed25519.Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        digest = hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:32]
        return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def derive(practitioner: Practitioner, name: str, now: dt.datetime) -> PdfSigner:
    """The practitioner's PDF-signing key (BLAKE2b keyed by their signing key's seed over
    LABEL) and a certificate for it, valid from yesterday for CERTIFICATE_YEARS years."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    seed = hashlib.blake2b(LABEL, key=bytes(practitioner.signing_key), digest_size=32).digest()
    key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "casenotes practitioner"),
            x509.NameAttribute(NameOID.USER_ID, practitioner.practitioner_id),
        ]
    )
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, None)
    )
    return PdfSigner(seed, certificate.public_bytes(Encoding.DER), name)


def sign(pdf: bytes, signer: PdfSigner, password: Password | None = None) -> bytes:
    """``pdf`` with the practitioner's signature over every byte of it, as an incremental
    update; an encrypted PDF is opened with ``password`` and stays encrypted (pyHanko signs
    inside the encryption, and the signature validates once the file is decrypted)."""
    from asn1crypto import keys, x509
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    with _quietly():
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = ed25519.Ed25519PrivateKey.from_private_bytes(signer.seed)
    simple = signers.SimpleSigner(
        signing_cert=x509.Certificate.load(signer.certificate),
        signing_key=keys.PrivateKeyInfo.load(
            key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        ),
        cert_registry=SimpleCertificateStore(),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    if password is not None:
        writer.encrypt(password.value)
    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD, md_algorithm="sha512", name=signer.name, reason="The client's record, as exported"
    )
    signers.sign_pdf(writer, meta, signer=simple, output=out)
    return out.getvalue()


@dataclass(frozen=True)
class Checked:
    """What pyHanko's validator found: ``intact`` (the signed bytes unchanged), ``valid``
    (the signature matches them), ``trusted`` (by the certificate given), and whether
    anything was appended after the signature."""

    intact: bool
    valid: bool
    trusted: bool
    untouched: bool
    summary: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.untouched


def check(pdf: bytes, certificate: bytes, password: Password | None = None) -> Checked:
    """Validate the practitioner's signature of ``pdf`` against their certificate."""
    from asn1crypto import x509

    with _quietly():
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext

    reader = PdfFileReader(io.BytesIO(pdf))
    if password is not None:
        reader.decrypt(password.value)
    [embedded] = reader.embedded_signatures
    status = validate_pdf_signature(
        embedded, ValidationContext(trust_roots=[x509.Certificate.load(certificate)])
    )
    untouched = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    return Checked(status.intact, status.valid, status.trusted, untouched, status.summary())
