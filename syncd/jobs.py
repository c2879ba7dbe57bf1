"""The daemon's scheduled jobs, on the `schedule` library, with catch-up and backoff.

`schedule` runs a job when the wall clock passes its next run time, so a job that fell
due while the laptop slept runs once at wake-up. Last-run times are also persisted (in
the daemon's state), so a job that fell due while the daemon was not running at all runs
at start. A failing job is logged and retried with exponential backoff; it never stops
the watcher. Its failure is kept in the state until it next succeeds (`status` shows it),
and in ``failed_now`` for this process (`syncd --once` exits 1 naming it).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import schedule

from .state import JobFailure, State

log = logging.getLogger(__name__)
MAX_BACKOFF = dt.timedelta(hours=1)
FIRST_BACKOFF = dt.timedelta(seconds=30)


@dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    action: Callable[[], object]
    at: str | None = None  # "HH:MM" local time: once a day at that time (then `every` is ignored)

    def last_occurrence(self, now: dt.datetime) -> dt.datetime:
        """The latest moment at or before ``now`` when a daily ``at`` job fell due."""
        assert self.at is not None
        hour, minute = (int(part) for part in self.at.split(":"))
        local = now.astimezone()
        moment = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return moment if moment <= local else moment - dt.timedelta(days=1)


class JobRunner:
    def __init__(
        self,
        jobs: list[Job],
        state: State,
        clock: Callable[[], dt.datetime],
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.jobs = jobs
        self.state = state
        self.clock = clock
        # Asked before each job: once the daemon is stopping (SIGTERM), no job starts; those
        # not run stay due (their last run unrecorded) for the next start.
        self.stopping = stopping
        self.scheduler = schedule.Scheduler()
        self.failures: dict[str, int] = {}
        self.failed_now: dict[str, str] = {}  # job -> why, for the jobs whose last run here failed
        self._scheduled: dict[str, schedule.Job] = {}

    def last_run(self, job: Job) -> dt.datetime | None:
        stamp = self.state.jobs.get(job.name)
        return dt.datetime.fromisoformat(stamp) if stamp else None

    def is_due(self, job: Job) -> bool:
        last = self.last_run(job)
        if last is None:
            return True
        if job.at:
            return last < job.last_occurrence(self.clock())
        return self.clock() - last >= job.every

    def run_due(self) -> None:
        """Run every job that is due by its persisted last run (start-up, `--once`)."""
        for job in self.jobs:
            if self.is_due(job):
                self.run(job)

    def start(self) -> None:
        """Schedule every job, then run those already due (so a failure's backoff applies)."""
        for job in self.jobs:
            if job.at:
                self._scheduled[job.name] = self.scheduler.every().day.at(job.at).do(self.run, job)
            else:
                every = max(1, round(job.every.total_seconds()))
                self._scheduled[job.name] = self.scheduler.every(every).seconds.do(self.run, job)
        self.run_due()

    def run_pending(self) -> None:
        self.scheduler.run_pending()

    def seconds_to_next(self) -> float | None:
        return self.scheduler.idle_seconds if self.scheduler.jobs else None

    def run(self, job: Job) -> None:
        if self.stopping():
            return
        try:
            job.action()
        except Exception as exc:  # a job's failure must never stop the watcher
            count = self.failures.get(job.name, 0) + 1
            self.failures[job.name] = count
            wait = min(FIRST_BACKOFF * 2 ** (count - 1), MAX_BACKOFF)
            if isinstance(exc, OSError) or hasattr(exc, "exit_code"):
                # a typed error (ours carry an exit code) or the disk: its sentence says it all
                why = str(exc)
                log.warning("job %s failed (%d in a row): %s; retrying in %s", job.name, count, exc, wait)
            else:  # a bug: the traceback is what a report needs
                why = f"unexpected error ({type(exc).__name__}); the traceback is in syncd.log"
                log.exception("job %s failed (%d in a row); retrying in %s", job.name, count, wait)
            self.failed_now[job.name] = why
            self.state.failed[job.name] = JobFailure(self.clock().isoformat(), why)
            self.state.dirty = True
            scheduled = self._scheduled.get(job.name)
            if scheduled is not None:
                scheduled.next_run = dt.datetime.now() + wait  # noqa: DTZ005 (schedule is naive local)
            return
        self.failures.pop(job.name, None)
        self.failed_now.pop(job.name, None)
        self.state.failed.pop(job.name, None)
        self.state.jobs[job.name] = self.clock().isoformat()
        self.state.dirty = True
