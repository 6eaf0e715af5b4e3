"""Exit statuses of the ``luigi-ufo`` command, one meaning each, for every subcommand."""

from __future__ import annotations

import signal

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_RUNNING",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
]

EXIT_OK = 0
#: The pipeline failed, a service could not be started or stopped, a ``dev`` already runs.
EXIT_FAILED = 1
#: Bad input, usage or configuration.
EXIT_USAGE = 2
#: ``db``, ``dev`` or ``connect`` ``status`` (and ``db url|psql``, a run needing the per-user
#: database): what was asked about is not running.
EXIT_NOT_RUNNING = 3
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM
