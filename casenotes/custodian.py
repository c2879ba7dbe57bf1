"""The custodian letter: the professional will's page for the people who hold the shares.

A pure function of facts anyone with the vault folder could read (paths, ids, the share
counts, the retention policy): it never takes a passphrase, a key, a share or a key file,
so it cannot print one. Markdown, or the same as a printable HTML page.
"""

from __future__ import annotations

import html as html_escape
from dataclasses import dataclass, replace

import markdown as markdown_lib

from vault.store.recovery import RecoveryStatus


@dataclass(frozen=True)
class LetterFacts:
    practice_root: str
    vault_dir: str
    config_dir: str
    backup_targets: list[str]
    practitioner_id: str
    practice_id: str
    recovery: RecoveryStatus | None
    retention: str
    today: str


def markdown(facts: LetterFacts) -> str:
    """The letter, in Markdown."""
    backups = "\n".join(f"   - `{t}`" for t in facts.backup_targets) or "   - (none configured)"
    if facts.recovery:
        k, n = facts.recovery.threshold, facts.recovery.shares
        shares = (
            f"I have given a recovery share — a list of 20 words — to each of {n} custodians. "
            f"**Any {k} of you together** can open my records; fewer than {k} learn nothing. "
            f"The set in force was made on {facts.recovery.created[:10]}; a share from an older set "
            "opens nothing."
        )
    else:
        k = 0
        shares = (
            "**No recovery shares exist yet.** Until they do, no one can open my records without "
            "my passphrase. (Practitioner: run `casenotes recovery create`, then write this letter again.)"
        )
    steps = (
        f"1. Meet (in person or by phone) so that {k or 'the required number of'} of you have your "
        "shares at hand. Never send a share by e-mail or message, and never write one into a file.\n"
        f"2. On my computer (it holds this practice's device key in `{facts.config_dir}`), open a "
        "terminal and run `casenotes recovery use`. Type each share when asked, then choose a new "
        "passphrase and keep it safe.\n"
        "3. `casenotes client list` then lists the clients; `casenotes open HANDLE` shows one client's "
        "records. Every opening is written to the practice's audit log.\n"
        "4. Once done, run `casenotes recovery create` to make new shares: the ones you brought "
        "together have been seen by each other."
    )
    return f"""# Letter to the custodians of my clinical records

*Practice {facts.practice_id}, practitioner {facts.practitioner_id}; written {facts.today}.*

You are named in my professional will as a custodian of my clients' records. This letter
tells you where they are and how to reach them if I die or can no longer practise. It holds
no password and no share: keep it with your share, but apart from it.

## What casenotes is

My session notes are kept by *casenotes*, an encrypted record-keeping program. Every note is
locked with my key; the files alone, or a stolen backup drive, reveal no client's name or
notes. My key opens with my passphrase, and, if I cannot give it, with your recovery shares.

## Where the records are

- The practice folder: `{facts.practice_root}` (the encrypted vault is `{facts.vault_dir}`).
- Backups (encrypted copies):
{backups}

## How you open them

{shares}

{steps}

## Your duties

- **Confidentiality.** Open the records only to carry out these duties. Do not copy notes out
  of casenotes, print them or send them unencrypted.
- **Notify my clients.** Tell my current and recent clients, in plain words and promptly, that
  I can no longer see them; offer a referral to another practitioner and, on request, a copy of
  their records or a summary sent to whoever they name.
- **Retention.** Keep the records as long as the law and my profession require (the policy in
  force is: {facts.retention}), then dispose of them: `casenotes retention status` lists what is
  due and `casenotes retention purge` destroys it for good, with a disposal certificate.
- **Keep the backups.** Keep the backup drives safe and connected now and then, so that
  retention reaches them too.
"""


def html(facts: LetterFacts) -> str:
    """The letter as one printable HTML page (every fact escaped)."""
    esc = html_escape.escape
    safe = replace(
        facts,
        practice_root=esc(facts.practice_root),
        vault_dir=esc(facts.vault_dir),
        config_dir=esc(facts.config_dir),
        practitioner_id=esc(facts.practitioner_id),
        practice_id=esc(facts.practice_id),
        retention=esc(facts.retention),
        backup_targets=[esc(t) for t in facts.backup_targets],
    )
    body = markdown_lib.markdown(markdown(safe), extensions=["tables"])
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Letter to the custodians of my clinical records</title>"
        "<style>body{font:11pt/1.4 Georgia,serif;max-width:42em;margin:2em auto}"
        "code{font-size:90%}@page{margin:2cm}</style></head>\n<body>\n"
        f"{body}\n</body></html>\n"
    )
