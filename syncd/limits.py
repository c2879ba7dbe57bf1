"""What syncd takes from the inbox: a module of its own, below the daemon and the filing
path, so that reading casenotes.yml (which needs the limit) loads neither."""

from __future__ import annotations

#: The largest note casenotes reads from the inbox: syncd, `status` and `seal` alike (the
#: `max_note_mib` setting changes it for syncd and `status`). Below the format's own
#: limit, MAX_PLAINTEXT_BYTES, which also bounds attachments.
MAX_NOTE_BYTES = 5 * 1024 * 1024
