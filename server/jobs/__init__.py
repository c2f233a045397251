"""Background jobs: a row per job in the database, Huey to carry job ids to workers.

Embedded default: Huey on a SQLite file with consumer threads inside the server.
At scale: Huey on Redis with ``fieldbook worker`` processes on other machines.
Tasks take job ids, never objects; the job row holds status, progress and error.
"""

from server.jobs.queue import JobQueue, jobs
from server.jobs.runner import FAILURE_HOOKS, JobContext, PermanentJobError, register

__all__ = ["FAILURE_HOOKS", "JobContext", "JobQueue", "PermanentJobError", "jobs", "register"]
