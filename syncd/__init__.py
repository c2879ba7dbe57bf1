"""syncd: the daemon that seals every save from the inbox and runs the scheduled jobs."""

from .daemon import Daemon, DaemonSettings, Summary
from .errors import AlreadyRunning, SyncdError
from .jobs import Job

__all__ = ["AlreadyRunning", "Daemon", "DaemonSettings", "Job", "Summary", "SyncdError"]
