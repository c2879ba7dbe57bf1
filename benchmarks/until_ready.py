"""Run a command until it prints a line on stderr, then stop it (SIGTERM) and wait.

    python benchmarks/until_ready.py 'casenotes: all pages ready' -- python -m casenotes open CL-0001 --no-browser

For timing the whole `casenotes open` process from outside (/usr/bin/time -v), which
otherwise serves until its idle timeout. Standard library only: it adds a few
milliseconds, not an import of casenotes.
"""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    marker, command = sys.argv[1], sys.argv[sys.argv.index("--") + 1 :]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(marker):
            proc.terminate()  # `open` wipes its site, says so and exits
            break
    proc.stderr.read()  # what it says while closing (a closed pipe would make it fail)
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
