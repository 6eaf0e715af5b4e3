"""Report a run's progress, status and tracking URL to Luigi without ever holding up the run.

Luigi's callbacks (``set_progress_percentage``, ``set_status_message``, ``set_tracking_url``)
are calls to the scheduler; against luigid, RPCs that retry for a minute or more when luigid is
gone, then raise. A report is not the run: :class:`Reporter` delivers reports from a thread of
its own, so an unreachable scheduler never delays the supervision of the application (its
timeout, its kill), and a failed report is logged (once per kind, as a warning) instead of
failing a run whose output is complete. Reports of a kind are throttled with a trailing edge:
at most one per ``min_interval_s``, and the newest value always arrives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from luigi_ufo.spark.logs import follow_luigi_console

logger = logging.getLogger("luigi_ufo.spark")

#: Kinds of report: the Luigi task callback each one feeds.
CALLBACKS = {
    "percent": "set_progress_percentage",
    "status": "set_status_message",
    "tracking_url": "set_tracking_url",
}
_NAMES = {"percent": "progress", "status": "status message", "tracking_url": "tracking URL"}
#: Spark redraws its progress bar every 200 ms: the scheduler does not need every frame.
MIN_INTERVAL_S = 0.5


class Finished(Protocol):
    """What a run returns: it says how it ended (:class:`~luigi_ufo.spark.run.RunResult`)."""

    @property
    def done(self) -> str: ...


R = TypeVar("R", bound=Finished)


def task_callback(task: Any, kind: str) -> Callable[[Any], None] | None:
    """The Luigi task's callback of ``kind`` (:data:`CALLBACKS`), or None outside a worker."""
    # Luigi sets these only while a worker runs the task; task.run() by hand has none.
    value = getattr(task, CALLBACKS[kind], None)
    return value if callable(value) else None


def follow_run(task: Any, run: Callable[[dict[str, Any]], R]) -> R:
    """Return ``run(callbacks)``, reporting to ``task`` and to Luigi's console, in either mode.

    ``callbacks`` are a runner's ``on_percent``, ``on_status`` and ``on_tracking_url``: the
    task's own, plus logging of each status change (on Luigi's console under its default
    logging). A report the scheduler cannot take is logged, never raised. The last status
    message says ``done: ...`` or ``failed ...``.
    """
    set_status = task_callback(task, "status")

    def on_status(message: str) -> None:
        logger.info("%s: %s", task.task_id, message)
        report_safely(set_status, "status", message)

    callbacks = {
        "on_percent": task_callback(task, "percent"),
        "on_status": on_status,
        "on_tracking_url": task_callback(task, "tracking_url"),
    }
    started = time.monotonic()
    with follow_luigi_console():
        try:
            result = run(callbacks)
        except Exception as exc:
            first_line = str(exc).split("\n", 1)[0]
            on_status(f"failed after {time.monotonic() - started:.0f} s: {first_line}")
            raise
        on_status(f"done: {result.done}")
    return result


def report_safely(
    callback: Callable[[Any], None] | None, kind: str, value: Any, *, level: int = logging.WARNING
) -> bool:
    """Call ``callback(value)``; log a failure at ``level`` instead of raising.

    Return whether it worked.
    """
    if callback is None:
        return True
    try:
        callback(value)
    except Exception as exc:  # whatever the scheduler client raises
        logger.log(
            level,
            "could not report the %s to the Luigi scheduler (%s: %s); the run goes on without it",
            _NAMES[kind],
            type(exc).__name__,
            exc,
        )
        return False
    return True


class Reporter:
    """Deliver reports of a run from a thread of their own; see the module docstring."""

    def __init__(
        self,
        callbacks: Mapping[str, Callable[[Any], None] | None],
        *,
        min_interval_s: float = MIN_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        unknown = set(callbacks) - set(CALLBACKS)
        if unknown:
            raise ValueError(f"unknown report kinds {sorted(unknown)!r}; use {sorted(CALLBACKS)!r}")
        self._callbacks = {k: cb for k, cb in callbacks.items() if cb is not None}
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._pending: dict[str, Any] = {}
        self._delivered: dict[str, Any] = {}
        self._sent_at: dict[str, float] = {}
        self._failed: set[str] = set()
        self._closing = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._deliver, name="luigi-ufo-reports", daemon=True)
        if self._callbacks:
            self._thread.start()

    def send(self, kind: str, value: Any) -> None:
        """Queue ``value`` for the ``kind`` callback; it replaces one of that kind not yet sent.

        A value equal to the last one sent is not sent again.
        """
        if kind not in self._callbacks:
            return
        with self._wake:
            if kind in self._delivered and self._delivered[kind] == value:
                self._pending.pop(kind, None)  # back to what the scheduler has: nothing to send
                return
            self._pending[kind] = value
            self._wake.notify()

    def close(self, timeout_s: float) -> None:
        """Deliver what is pending now (no throttling), waiting at most ``timeout_s`` for it."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _deliver(self) -> None:
        while True:
            with self._wake:
                due = self._due()
                while not due and not (self._closing and not self._pending):
                    self._wake.wait(timeout=self._next_due())
                    due = self._due()
                if not due:
                    return
                batch = [(kind, self._pending.pop(kind)) for kind in due]
                self._delivered.update(batch)
            for kind, value in batch:
                self._sent_at[kind] = self._clock()
                # A scheduler that is gone fails every report: say so once per kind.
                level = logging.DEBUG if kind in self._failed else logging.WARNING
                if not report_safely(self._callbacks[kind], kind, value, level=level):
                    self._failed.add(kind)

    def _due(self) -> list[str]:
        now = self._clock()
        return [
            kind
            for kind in self._pending
            if self._closing
            or kind not in self._sent_at
            or now - self._sent_at[kind] >= self._min_interval_s
        ]

    def _next_due(self) -> float | None:
        if not self._pending:
            return None
        now = self._clock()
        waits = [self._sent_at[k] + self._min_interval_s - now for k in self._pending]
        return max(0.0, min(waits))
