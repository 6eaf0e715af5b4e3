"""What both ways of running a script share: the result, the runner, interruption, failure text.

A :class:`Runner` runs a script's ``argv`` (:meth:`~Runner.run_script`) or every run of a backfill
in one application or session (:meth:`~Runner.run_batch`): :class:`~luigi_ufo.spark.submit.
runner.SparkSubmitRunner` with ``spark-submit``, :class:`~luigi_ufo.spark.connect.runner.
ConnectRunner` on a Spark Connect server. Both take the same options, report through one
:class:`~luigi_ufo.spark.reporting.Reporter`, stop on SIGTERM, Ctrl-C or their timeout the same
way, and fail with the same kind of message.
"""

from __future__ import annotations

import abc
import contextlib
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, ClassVar

from luigi_ufo.secrets import credential_values, mask
from luigi_ufo.spark.connect.token import local_tokens
from luigi_ufo.spark.lease import HeldLeases, partition_leases, release_unused
from luigi_ufo.spark.reporting import Reporter
from luigi_ufo.spark.settings import SparkSettings

#: The first line of a Python traceback.
TRACEBACK_HEAD = "Traceback (most recent call last):"
#: Lines of a script's traceback kept in a failure message (the last ones: they name the error).
TRACEBACK_MAX = 80
#: How long the end of a run waits for its last reports to reach the scheduler.
REPORT_FLUSH_S = 5.0
#: The defaults of a runner's options: the one declaration of each is in [spark_script].
DEFAULTS = SparkSettings()


@dataclass
class RunResult:
    """What one run produced (all text already masked); ``mode``: ``submit`` or ``connect``."""

    returncode: int
    command: str
    duration_s: float
    app_id: str | None = None
    driver_id: str | None = None
    tracking_url: str | None = None
    tail: list[str] = field(default_factory=list)
    traceback: list[str] = field(default_factory=list)
    mode: str = "submit"

    @property
    def succeeded(self) -> str:
        """How a successful run ended: ``spark-submit exited 0`` or ``main() returned 0``."""
        return "main() returned 0" if self.mode == "connect" else "spark-submit exited 0"

    @property
    def done(self) -> str:
        """The run's final status line, e.g. ``application app-2026... in 42 s``."""
        what = f"application {self.app_id}" if self.app_id else self.succeeded
        return f"{what} in {self.duration_s:.0f} s"


class Runner(abc.ABC):
    """Run a script one way (``mode``); both ways take these options.

    ``leases`` are the output URIs the run writes: no other live run writes them meanwhile, and
    ``before_write`` is called once they are held, before the script starts (the task removes
    its outputs' flags there). The callbacks get progress (0..100), status lines and a tracking
    URL, delivered from a thread of their own: one that fails or hangs never stops the run.
    """

    mode: ClassVar[str]

    def __init__(
        self,
        *,
        timeout: float | None = None,
        tail_lines: int = DEFAULTS.tail_lines,
        kill_grace_s: float = DEFAULTS.kill_grace,
        spark_log_level: str = DEFAULTS.spark_log_level,
        leases: Sequence[str] = (),
        lease_timeout_s: float = DEFAULTS.lease_timeout,
        before_write: Callable[[], None] | None = None,
        on_percent: Callable[[int], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_tracking_url: Callable[[str], None] | None = None,
    ) -> None:
        self.timeout = timeout
        self.tail_lines = tail_lines
        self.kill_grace_s = kill_grace_s
        self.spark_log_level = spark_log_level
        self.leases = tuple(leases)
        self.lease_timeout_s = lease_timeout_s
        self.before_write = before_write
        self.on_percent = on_percent
        self.on_status = on_status
        self.on_tracking_url = on_tracking_url
        #: Pid of the run's root process (the supervisor, or the script's process).
        self.pid: int | None = None

    @abc.abstractmethod
    def run_script(self, argv: Sequence[str]) -> RunResult:
        """Run the script with ``argv``; raise SparkSubmitError unless it succeeds."""

    @abc.abstractmethod
    def run_batch(self, runs: Sequence[Mapping[str, Any]]) -> RunResult:
        """Do every run (``{"label": ..., "argv": [...]}``) in one application or session.

        The script's optional ``main_batch(runs, spark)`` first, then ``main(argv, spark)`` per
        run left; a failing run does not stop the others. Raise naming the failed runs.
        """

    @contextlib.contextmanager
    def held(self) -> Iterator[tuple[HeldLeases, Reporter]]:
        """Hold the run's leases and its reporter; release both (last reports flushed) after."""
        reporter = Reporter(
            {
                "percent": self.on_percent,
                "status": self.on_status,
                "tracking_url": self.on_tracking_url,
            }
        )
        try:
            with partition_leases(self.leases, timeout_s=self.lease_timeout_s) as held:
                yield held, reporter
        finally:
            release_unused(self.leases)
            # After the leases: a scheduler slow to take the last reports holds up nobody.
            reporter.close(REPORT_FLUSH_S)


def runner_options(settings: SparkSettings) -> dict[str, Any]:
    """The options of a :class:`Runner` that ``[spark_script]`` settings give."""
    return {
        "timeout": settings.timeout,
        "tail_lines": settings.tail_lines,
        "kill_grace_s": settings.kill_grace,
        "spark_log_level": settings.spark_log_level,
        "lease_timeout_s": settings.lease_timeout,
    }


def masked_values(
    settings: SparkSettings, environs: Sequence[Mapping[str, str]], extra: Sequence[str] = ()
) -> tuple[str, ...]:
    """Values a run masks in its output and errors, in either mode.

    The credentials of ``environs`` (and of ``secret_env``), the tokens of this user's local
    Connect servers (a script may print one in either mode), and ``extra``.
    """
    found = credential_values(environs, settings.secret_env) + local_tokens()
    return tuple(v for v in [*found, *extra] if v)


class Interrupted(BaseException):
    """The run must stop now: SIGTERM, Ctrl-C or its timeout; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Raise :class:`Interrupted` in the block on SIGTERM or Ctrl-C, so the run is stopped first.

    SIGTERM is caught only in the main thread (where Python runs signal handlers).
    """
    previous = None
    if threading.current_thread() is threading.main_thread():

        def handler(signum: int, frame: FrameType | None) -> None:
            raise Interrupted("terminated by SIGTERM")

        previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("interrupted (SIGINT)") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def failure_message(
    headline: str,
    facts: Sequence[str],
    actions: Sequence[str] = (),
    traceback: Sequence[str] = (),
    tail: Sequence[str] = (),
    secrets: Sequence[str] = (),
) -> str:
    """Say why a run failed: the facts, what was done, the script's traceback, its last lines."""
    lines = [headline, *(f"  {fact}" for fact in facts)]
    lines += [f"  action: {a}" for a in actions]
    if traceback:
        lines.append("  Python traceback of the script:")
        lines += [f"    {clip(t)}" for t in traceback]
    shown = set(traceback)
    other = [t for t in tail if t not in shown]
    if other:
        lines.append(f"  last {len(other)} other lines of output:")
        lines += [f"    {clip(t)}" for t in other]
    lines.append(
        "  fix: read the traceback/output above, correct the script or its settings, and rerun"
    )
    return mask("\n".join(lines), secrets)


def clip(line: str, limit: int = 400) -> str:
    """Cut a long line for a message (Spark 4 logs some errors as one JSON line with a whole Java
    stack trace inside)."""
    return line if len(line) <= limit else line[:limit] + f"... ({len(line) - limit} more chars)"


def traceback_lines(exc: BaseException, hide: Sequence[str] = ()) -> list[str]:
    """``exc``'s traceback as lines, chained exceptions included, without a JVM's frames.

    Frames in the files ``hide`` (the code that called the script) are left out.
    """
    shown = traceback.TracebackException.from_exception(exc)
    hidden = {os.path.abspath(f) for f in hide}
    shown.stack = traceback.StackSummary.from_list(
        [frame for frame in shown.stack if os.path.abspath(frame.filename) not in hidden]
    )
    text = "".join(shown.format())
    lines = [line for line in text.rstrip("\n").splitlines() if not line.startswith("\tat ")]
    return lines[-TRACEBACK_MAX:]


def first_line(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """``Type: first line of the message``, masked."""
    text = str(exc).strip().splitlines()
    return mask(f"{type(exc).__name__}: {text[0] if text else ''}", secrets)
