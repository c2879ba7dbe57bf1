"""Disposal certificates: what a purge destroyed, readable by a person and checkable by casenotes.

A certificate is a Markdown file in the vault's ``disposals/`` folder, in the same form as
a note: YAML front matter, then prose. The front matter carries the facts (client id,
dates, the policy applied, every sealed key destroyed with its SHA-256, the device, the
time) and the device's signature over their canonical JSON; the prose says the same in
words. No name, handle or birth date appears. The audit log records each certificate's
SHA-256, so an edited or deleted certificate is found by ``problems``.

``disposals/<cid>.<device>.md`` is written by the device that destroyed the vault's copy;
``disposals/<cid>.<device>.<target id>.md`` follows for each backup target that was away
at the time (or swapped in later at the same place). The device in the name means two
machines of a group practice never write one file (vaults before that wrote
``<cid>.md`` and ``<cid>.<target id>.md``: read as they are, never renamed, since the
audit log records each certificate by its path). Dates that could tell a birth date or a
session date are left out: the audit log keeps when each step happened.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import nacl.exceptions
import yaml

from vault import Problem, Vault
from vault.errors import TamperedFile
from vault.format import sync_artefacts
from vault.format.encoding import b64, canonical, unb64
from vault.store import retention_files

CERTIFICATE_FORMAT = "casenotes-disposal-certificate"
AUDIT_EVENT = "dispose"


def folder(vault: Vault) -> Path:
    return vault.root / retention_files.CERTIFICATES


def path_for(
    vault: Vault, client_id: str, target_id: str | None = None, device_id: str | None = None
) -> Path:
    """Where ``device_id`` (by default this device) certifies a disposal."""
    return retention_files.certificate_path(
        vault.root, client_id, device_id or vault.device.device_id, target_id
    )


def _prose(facts: dict[str, Any]) -> str:
    lines = [f"# Disposal certificate: client {facts['client_id']}", ""]
    if facts.get("completes"):
        lines.append(
            f"This completes the disposal of client {facts['client_id']} on backup target "
            f"`{facts['target']}` (target id {facts['target_id']})."
        )
    elif facts.get("request"):
        kept = (
            "Retention was overridden as a documented exception (the reason is sealed in the audit log)."
            if facts.get("override")
            else f"No retention rule of the policy *{facts['policy']}* required keeping them any longer."
        )
        lines += [
            f"The records of client {facts['client_id']} were erased at the client's request "
            f"{facts['request']} ({facts.get('basis', 'GDPR Art. 17')}). {kept} They were destroyed on "
            f"{facts['purged_at'][:10]} by crypto-shredding: every copy of the client's sealed private key "
            "was destroyed, so no note of this client can be decrypted again, with or without the "
            "passphrase. The ciphertext was then removed.",
        ]
    else:
        lines += [
            f"The records of client {facts['client_id']} were kept under the policy "
            f"*{facts['policy']}* until their retention period ended (set by: {facts['rule']}), "
            f"and were destroyed on {facts['purged_at'][:10]} by crypto-shredding: every copy of the "
            "client's sealed private key was destroyed, so no note of this client can be decrypted "
            "again, with or without the passphrase. The ciphertext was then removed.",
        ]
    lines += ["", "| where | what | SHA-256 |", "|---|---|---|"]
    for item in facts["destroyed"]:
        lines.append(f"| {item['where']} | {item['what']} | `{item.get('sha256', '')}` |")
    if facts.get("pending"):
        lines += ["", "Still to be shredded when they are next connected (a backup run does it):", ""]
        lines += [f"- backup target `{target}`" for target in facts["pending"]]
    lines += ["", f"Signed by device {facts['device']} at {facts['purged_at']}.", ""]
    return "\n".join(lines)


def write(vault: Vault, facts: dict[str, Any], target_id: str | None = None) -> Path:
    """Sign a certificate, have the vault store it, and record its hash in the audit log."""
    record = {"certificate": CERTIFICATE_FORMAT, "version": 1, **facts}
    record["signature"] = b64(vault.device.sign(canonical(record)))
    text = "---\n" + yaml.safe_dump(record, sort_keys=False, allow_unicode=True) + "---\n\n" + _prose(facts)
    path = path_for(vault, facts["client_id"], target_id)
    data = text.encode()
    retention_files.write_certificate(path, data)
    _audit(vault, str(facts["client_id"]), path, data)
    return path


def _audit(vault: Vault, client_id: str, path: Path, data: bytes) -> None:
    vault.audit.append(
        AUDIT_EVENT,
        client=client_id,
        file=str(path.relative_to(vault.root)),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def audit_unrecorded(vault: Vault) -> list[Path]:
    """Record the certificates this device wrote but a run cut short never audited (the
    disk filled up between the two): the next run finishes the job, and verify is clean.
    Only this device's own, signature-checked certificates: another machine's entry may
    simply not have synced yet."""
    good, _ = _read_all(vault)
    done = []
    for path, facts in good.items():
        # A byte search of the log per certificate of this device, not a parse of every
        # entry: this runs before every backup, and a 50,000-note log takes seconds to parse.
        relative = str(path.relative_to(vault.root))
        if facts.get("device") == vault.device.device_id and not vault.audit.has(AUDIT_EVENT, file=relative):
            _audit(vault, str(facts["client_id"]), path, path.read_bytes())
            done.append(path)
    return done


def read(vault: Vault, path: Path) -> dict[str, Any]:
    """A certificate's facts, its signature checked."""
    try:
        text = path.read_text(encoding="utf-8")
        _, head, _ = text.split("---\n", 2)
        record = yaml.safe_load(head)
        signature = unb64(record.pop("signature"), 64)
    except (OSError, ValueError, KeyError, AttributeError, TypeError, yaml.YAMLError) as exc:
        raise TamperedFile(path, "not a readable disposal certificate") from exc
    key = vault.trust.device_keys().get(str(record.get("device")))
    try:
        if key is None:
            raise ValueError("unregistered device")
        key.verify(canonical(record), signature)
    except (ValueError, TypeError, nacl.exceptions.BadSignatureError) as exc:  # TypeError: a YAML date
        raise TamperedFile(path, "disposal certificate signature does not match: it was changed") from exc
    return record


def _read_all(vault: Vault) -> tuple[dict[Path, dict[str, Any]], list[TamperedFile]]:
    good, bad = {}, []
    for path in sync_artefacts.glob(folder(vault), "*.md"):
        try:
            good[path] = read(vault, path)
        except TamperedFile as exc:
            bad.append(exc)
    return good, bad


def all_certificates(vault: Vault) -> dict[Path, dict[str, Any]]:
    """Every readable certificate, checked; a damaged one is skipped here (so it cannot
    stop a backup) and reported by `problems`."""
    return _read_all(vault)[0]


def problems(vault: Vault) -> list[Problem]:
    """Certificates that are missing, changed or not audited."""
    audited = {
        str(e.data.get("file")): str(e.data.get("sha256"))
        for e in vault.audit.entries()
        if e.event == AUDIT_EVENT
    }
    good, bad = _read_all(vault)
    found = [Problem(exc.path, exc.why) for exc in bad]
    for relative, digest in audited.items():
        path = vault.root / relative
        if not path.exists():
            found.append(Problem(path, "a disposal certificate the audit log records is missing"))
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            found.append(Problem(path, "disposal certificate differs from the one audited"))
    for path in sorted([*good, *(exc.path for exc in bad)]):
        if str(path.relative_to(vault.root)) not in audited:
            found.append(Problem(path, "disposal certificate that no audit entry records"))
    return found
