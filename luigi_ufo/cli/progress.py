"""What ``luigi-ufo`` says on stderr: its messages, and the live progress of ``run``/``demo``.

Progress is the running step or task, Spark's stage % and the time elapsed: a terminal gets a
live display (``rich``), anything else plain lines, ``--quiet`` nothing. Tasks report through
Luigi's own channels: the START/SUCCESS/FAILURE events, and the scheduler calls behind
``set_progress_percentage``/``set_status_message`` (which the Spark runner feeds from Spark's
console progress bar), picked up by wrapping the scheduler Luigi builds with.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Protocol

import luigi
import luigi.interface

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

__all__ = [
    "LiveDisplay",
    "PlainLines",
    "ProgressSink",
    "Quiet",
    "ReportingFactory",
    "open_display",
    "reporting",
    "say",
]


def say(message: str) -> None:
    """Print one ``luigi-ufo:`` line on stderr."""
    print(f"luigi-ufo: {message}", file=sys.stderr, flush=True)


class ProgressSink(Protocol):
    """Where progress goes; ``key`` is a Luigi task id or the name of a step of the CLI."""

    def started(self, key: str, label: str) -> None: ...
    def percent(self, key: str, value: int) -> None: ...
    def status(self, key: str, message: str) -> None: ...
    def finished(self, key: str, ok: bool) -> None: ...
    def close(self) -> None: ...


class Quiet:
    """``--quiet``: no progress at all."""

    def started(self, key: str, label: str) -> None:
        """Ignore."""

    def percent(self, key: str, value: int) -> None:
        """Ignore."""

    def status(self, key: str, message: str) -> None:
        """Ignore."""

    def finished(self, key: str, ok: bool) -> None:
        """Ignore."""

    def close(self) -> None:
        """Ignore."""


class PlainLines:
    """Lines for logs and pipes (no escape codes): start, end, each new tenth and status change.

    A status change (e.g. Spark's next stage) is printed at most every ``every_s`` per task.
    """

    def __init__(self, stream: IO[str], clock: Any = time.monotonic, every_s: float = 5.0) -> None:
        self._stream = stream
        self._clock = clock
        self._every_s = every_s
        self._begun = clock()
        self._labels: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._last_line: dict[str, float] = {}
        self._decile: dict[str, int] = {}
        self._percent: dict[str, int] = {}
        self._status: dict[str, str] = {}

    def _line(self, key: str, text: str) -> None:
        now = self._clock()
        self._last_line[key] = now
        print(f"luigi-ufo: [{now - self._begun:6.1f} s] {text}", file=self._stream)
        self._stream.flush()

    def _progress_line(self, key: str) -> None:
        status = self._status.get(key, "")
        text = f"{self._labels[key]} {self._percent.get(key, 0)}%"
        self._line(key, text + (f" ({status})" if status else ""))

    def started(self, key: str, label: str) -> None:
        """Say that a step or task began."""
        self._labels[key] = label
        self._started[key] = self._clock()
        self._decile[key] = 0
        self._line(key, f"{label} ...")

    def percent(self, key: str, value: int) -> None:
        """Say the task's percentage when it reaches another tenth (of the current stages)."""
        if key not in self._labels:
            return
        if value < self._percent.get(key, 0):
            # Spark's next stages start again from 0%: their tenths are new ones.
            self._decile[key] = 0
        self._percent[key] = value
        decile = value // 10
        if 0 < value < 100 and decile > self._decile.get(key, 0):
            self._decile[key] = decile
            self._progress_line(key)

    def status(self, key: str, message: str) -> None:
        """Say the task's new status message, unless the last line about it is recent."""
        if key not in self._labels or self._status.get(key) == message:
            return
        self._status[key] = message
        if self._clock() - self._last_line.get(key, self._begun) >= self._every_s:
            self._progress_line(key)

    def finished(self, key: str, ok: bool) -> None:
        """Say that a step or task ended, and how long it took."""
        label = self._labels.get(key, key)
        seconds = self._clock() - self._started.get(key, self._begun)
        self._line(key, f"{label} {'done' if ok else 'FAILED'} in {seconds:.1f} s")

    def close(self) -> None:
        """Nothing to tear down."""


class LiveDisplay:
    """A live ``rich`` display on a terminal: one row per step or task, with Spark's stage %."""

    def __init__(self, console: Console) -> None:
        # Imported here: only a terminal needs the live display.
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[note]}"),
            console=console,
            transient=False,
        )
        self._rows: dict[str, TaskID] = {}
        self._progress.start()

    def started(self, key: str, label: str) -> None:
        """Add a row for the step or task."""
        self._rows[key] = self._progress.add_task(label, total=100, note="")

    def percent(self, key: str, value: int) -> None:
        """Move the row's bar."""
        if key in self._rows:
            self._progress.update(self._rows[key], completed=value)

    def status(self, key: str, message: str) -> None:
        """Show the status message (e.g. Spark's stage) beside the bar."""
        if key in self._rows:
            self._progress.update(self._rows[key], note=message)

    def finished(self, key: str, ok: bool) -> None:
        """Complete the row (or mark it failed) and stop its clock."""
        row = self._rows.get(key)
        if row is None:
            return
        if ok:
            self._progress.update(row, completed=100, note="")
        else:
            self._progress.update(row, note="[red]FAILED")
        self._progress.stop_task(row)

    def close(self) -> None:
        """Stop the live display, leaving its last frame on the terminal."""
        self._progress.stop()


def open_display(*, quiet: bool, stream: IO[str]) -> ProgressSink:
    """Return the display for ``stream``: nothing if quiet, live on a terminal, else lines."""
    if quiet:
        return Quiet()
    from rich.console import Console

    console = Console(file=stream)
    if console.is_terminal:
        return LiveDisplay(console)
    return PlainLines(stream)


class _ReportingScheduler:
    """A Luigi scheduler that also hands task progress and status messages to a sink."""

    def __init__(self, inner: Any, sink: ProgressSink) -> None:
        self._inner = inner
        self._sink = sink

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # pickling and copying look these up before __init__ ran
            raise AttributeError(name)
        return getattr(self._inner, name)

    def set_task_progress_percentage(self, task_id: str, progress_percentage: int) -> None:
        self._inner.set_task_progress_percentage(task_id, progress_percentage)
        self._sink.percent(task_id, int(progress_percentage))

    def set_task_status_message(self, task_id: str, status_message: str) -> None:
        self._inner.set_task_status_message(task_id, status_message)
        self._sink.status(task_id, status_message)


class ReportingFactory(luigi.interface._WorkerSchedulerFactory):
    """Luigi's worker/scheduler factory, with every scheduler reporting to ``sink``."""

    def __init__(self, sink: ProgressSink) -> None:
        self._sink = sink

    def create_local_scheduler(self) -> Any:
        """Luigi's local scheduler, reporting."""
        return _ReportingScheduler(super().create_local_scheduler(), self._sink)  # type: ignore[no-untyped-call]

    def create_remote_scheduler(self, url: str) -> Any:
        """Luigi's RPC client of luigid, reporting."""
        return _ReportingScheduler(super().create_remote_scheduler(url), self._sink)  # type: ignore[no-untyped-call]


_ACTIVE: list[ProgressSink] = []


@contextlib.contextmanager
def reporting(sink: ProgressSink) -> Iterator[ReportingFactory]:
    """Report Luigi's task events to ``sink`` in the block; yield the factory to build with."""
    _ACTIVE.append(sink)
    try:
        yield ReportingFactory(sink)
    finally:
        _ACTIVE.remove(sink)


def _on_start(task: luigi.Task) -> None:
    for sink in _ACTIVE:
        sink.started(task.task_id, str(task))  # Family(param=value, ...)


def _on_success(task: luigi.Task) -> None:
    for sink in _ACTIVE:
        sink.finished(task.task_id, True)


def _on_failure(task: luigi.Task, exception: BaseException) -> None:
    for sink in _ACTIVE:
        sink.finished(task.task_id, False)


luigi.Task.event_handler(luigi.Event.START)(_on_start)  # type: ignore[no-untyped-call]
luigi.Task.event_handler(luigi.Event.SUCCESS)(_on_success)  # type: ignore[no-untyped-call]
luigi.Task.event_handler(luigi.Event.FAILURE)(_on_failure)  # type: ignore[no-untyped-call]
