"""The custodian letter: the professional will's page for the people who hold the shares.

A pure function of facts anyone with the vault folder could read (paths, ids, the share
counts, the retention policy): it never takes a passphrase, a key, a share or a key file,
so it cannot print one. Markdown, or the same as a printable HTML page.
"""

from __future__ import annotations

import html as html_escape
import shlex
from dataclasses import dataclass, replace

import markdown as markdown_lib

from vault.store.recovery import RecoveryStatus


@dataclass(frozen=True)
class LetterFacts:
    practice_root: str
    vault_dir: str
    config_dir: str
    backup_targets: list[str]
    practitioner_name: str
    practitioner_id: str
    practice_id: str
    #: how casenotes is installed here (casenotes/installation.py)
    program: str
    version: str
    source: str
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
    # One command prefix, typed the same in every step: the program by its full path and the
    # practice by its folder, so that neither PATH nor a default folder can get in the way.
    run = f"{facts.program} --practice {shlex.quote(facts.practice_root)}"
    steps = (
        f"1. Meet (in person or by phone) so that {k or 'the required number of'} of you have your "
        "shares at hand. Never send a share by e-mail or message, and never write one into a file.\n"
        f"2. On my computer (it holds this practice's device key in `{facts.config_dir}`), log in as "
        f"me, open a terminal and run `{run} recovery use`. Type each share when asked, then choose a "
        "new passphrase and keep it safe.\n"
        f"3. `{run} client list` then lists the clients; `{run} open HANDLE` shows one client's "
        "records. Every opening is written to the practice's audit log.\n"
        f"4. Once done, run `{run} recovery create` to make new shares: the ones you brought "
        "together have been seen by each other."
    )
    return f"""# Letter to the custodians of my clinical records

*{facts.practitioner_name} (practitioner {facts.practitioner_id}), practice {facts.practice_id};
written {facts.today}.*

I, {facts.practitioner_name}, have named you in my professional will as a custodian of my
clients' records. This letter tells you where they are and how to reach them if I die or can
no longer practise. It holds no password and no share: keep it with your share, but apart
from it.

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

## If the program is missing

casenotes {facts.version} is installed on my computer as `{facts.program}`; the steps above
use that full path, so they work in any terminal. If it is gone (after a system update, or
on another computer onto which you copied the practice folder and the device key's folder
to the same places), install it again. It
needs Python 3.11 or newer (`python3 --version`); then, in a terminal:

```
python3 -m venv ~/casenotes-app
~/casenotes-app/bin/pip install {shlex.quote(facts.source)}
~/casenotes-app/bin/casenotes --version
```

or, where pipx is installed, `pipx install {shlex.quote(facts.source)}`. Then use
`~/casenotes-app/bin/casenotes` (or, after pipx, `casenotes`) wherever the steps say
`{facts.program}`. If `{facts.source}` no longer exists, any copy of casenotes
{facts.version} or later does: its source folder or its `.whl` file in place of that name.

## Your duties

- **Confidentiality.** Open the records only to carry out these duties. Do not copy notes out
  of casenotes, print them or send them unencrypted.
- **Notify my clients.** Tell my current and recent clients, in plain words and promptly, that
  I can no longer see them; offer a referral to another practitioner and, on request, a copy of
  their records or a summary sent to whoever they name.
- **Retention.** Keep the records as long as the law and my profession require (the policy in
  force is: {facts.retention}), then dispose of them: `{run} retention status` lists what is
  due and `{run} retention purge` destroys it for good, with a disposal certificate.
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
        practitioner_name=esc(facts.practitioner_name),
        practitioner_id=esc(facts.practitioner_id),
        program=esc(facts.program),
        version=esc(facts.version),
        source=esc(facts.source),
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
