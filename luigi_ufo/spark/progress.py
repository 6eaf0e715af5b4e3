"""Parsing of spark-submit output: progress of stages, Spark's own log lines, ids.

Spark's console progress bar redraws one terminal line with carriage returns
(``\\r[Stage 1:=====>     (12 + 2) / 40]\\r``), so output is split on ``\\r`` as well as
``\\n`` before it is parsed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

_STAGE = re.compile(r"\[Stage (\d+)(?:\.(\d+))?:[=> ]*\((\d+) \+ (\d+)\) / (\d+)\]")
_APP_ID = re.compile(
    r"\b(app-\d{14}-\d{4,}|application_\d+_\d+|local-\d{10,}|spark-[0-9a-f]{32})\b"
)
_DRIVER_ID = re.compile(r"\b(driver-\d{14}-\d{4,})\b|submission ID (\S+)")
_TRACKING_URL = re.compile(r"(?:tracking URL: |started at )(https?://\S+)")
#: Spark's log4j2 line: ``26/11/25 08:31:42 INFO SparkContext: ...`` (its default pattern).
LOG4J_LINE = re.compile(r"\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ")
LOG4J_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
}
#: What the JVM and Spark print at start, before log4j is set up: Spark's chatter, not the script's.
_PREAMBLE = (
    "Using Spark's default log4j profile: ",
    "WARNING: Using incubator modules: ",
)
#: A Java exception under a log line: its class, its frames, its causes.
_JAVA_CONTINUATION = re.compile(
    r"\tat |\t\.\.\. \d+ (more|common frames omitted)|Caused by: |\tSuppressed: "
    r"|[a-z][\w$]*(\.[\w$]+)+(Exception|Error|Throwable)\b"
)
# The scheduler's INFO lines: a stage's task count, each finished task, the stage's end.
_SUBMITTED = re.compile(r"Submitting (\d+) missing tasks from (?:ShuffleMap|Result)Stage (\d+) ")
_TASK_STARTED = re.compile(r"TaskSetManager: Starting task \S+ in stage (\d+)\.\d+ ")
_TASK_FINISHED = re.compile(
    r"TaskSetManager: Finished task \S+ in stage (\d+)\.\d+ \(TID \d+\) in \d+ ms on .*"
    r"\((\d+)/(\d+)\)\s*$"
)
_STAGE_ENDED = re.compile(r"(?:ShuffleMap|Result)Stage (\d+) \(.*\) (?:finished|failed) in ")


@dataclass(frozen=True)
class StageProgress:
    """One ``[Stage N:...(done + running) / total]`` group of the console progress bar."""

    stage: int
    done: int
    running: int
    total: int
    attempt: int = 0


@dataclass(frozen=True)
class SubmissionIds:
    """Identifiers found in one output line (``None`` where the line names none)."""

    app_id: str | None = None
    driver_id: str | None = None
    tracking_url: str | None = None


class LineSplitter:
    """Split a character stream into records at ``\\n``, ``\\r`` and ``\\r\\n``."""

    def __init__(self) -> None:
        self._buffer = ""
        self._after_cr = False

    def feed(self, chunk: str) -> list[str]:
        """Add ``chunk``; return the records it completed (without terminators)."""
        if self._after_cr and chunk.startswith("\n"):
            # The "\n" of a "\r\n" split across two reads ends no new record.
            chunk = chunk[1:]
        self._after_cr = False
        data = self._buffer + chunk
        records: list[str] = []
        start = 0
        i = 0
        n = len(data)
        while i < n:
            ch = data[i]
            if ch == "\n" or ch == "\r":
                records.append(data[start:i])
                if ch == "\r":
                    if i + 1 < n and data[i + 1] == "\n":
                        i += 1
                    elif i + 1 == n:
                        self._after_cr = True
                start = i + 1
            i += 1
        self._buffer = data[start:]
        return records

    def flush(self) -> list[str]:
        """Return the unterminated rest of the stream, if any."""
        rest, self._buffer = self._buffer, ""
        return [rest] if rest else []


def parse_progress(record: str) -> list[StageProgress]:
    """Return every stage progress group in one record (empty if it is not a progress bar)."""
    return [
        StageProgress(
            stage=int(m.group(1)),
            attempt=int(m.group(2) or 0),
            done=int(m.group(3)),
            running=int(m.group(4)),
            total=int(m.group(5)),
        )
        for m in _STAGE.finditer(record)
    ]


def is_progress_bar(record: str) -> bool:
    """Whether a record is only progress bar drawing (or the blank line that erases it)."""
    stripped = record.strip()
    return not stripped or (_STAGE.sub("", stripped) == "" and _STAGE.search(stripped) is not None)


def percent(stages: Iterable[StageProgress]) -> int:
    """Return completed tasks over all tasks of the shown stages, as 0..100."""
    items = list(stages)
    total = sum(s.total for s in items)
    if total <= 0:
        return 0
    done = sum(min(s.done, s.total) for s in items)
    return max(0, min(100, (100 * done) // total))


def describe(stages: Iterable[StageProgress]) -> str:
    """Render stages as a short status message."""
    return "; ".join(
        f"Stage {s.stage}: {s.done}/{s.total} tasks done, {s.running} running" for s in stages
    )


class StageBoard:
    """The progress of the application's stages, from Spark's progress bar and its INFO lines.

    Spark draws its console bar only for stages running longer than 500 ms and erases it when
    they end, so the bar alone never shows a stage complete, nor a short one at all. The
    scheduler's INFO lines (Spark logs them by default; they are read even when not shown) fill
    in: a stage's task count when it is submitted, every finished task, the stage's end.

    :meth:`percent` is the share of finished tasks among the stages running together, as in
    Spark's own bar: it reaches 100 when they end, and the next stage starts from 0.
    """

    def __init__(self) -> None:
        self._stages: dict[int, StageProgress] = {}
        self._active: set[int] = set()
        self._bar_shown = False

    def feed(self, record: str) -> bool:
        """Take one output record into account; return whether the progress changed."""
        before = (self.percent(), self.describe())
        drawn = parse_progress(record)
        if drawn:
            self._bar_shown = True
            for stage in drawn:
                known = self._stages.get(stage.stage)
                done = max(stage.done, known.done if known else 0)
                self._set(replace(stage, done=min(done, stage.total)))
        elif self._bar_shown and record and not record.strip():
            # Spark erases the bar (a line of spaces) when the job ends: its stages are over.
            # An empty record is only the gap between two redraws ("\\r[...]\\r\\r[...]").
            self._bar_shown = False
            for number in list(self._active):
                self._end(number)
        else:
            self._feed_log_line(record)
        return (self.percent(), self.describe()) != before

    def _feed_log_line(self, record: str) -> None:
        if match := _SUBMITTED.search(record):
            total, stage = int(match[1]), int(match[2])
            self._set(StageProgress(stage=stage, done=0, running=0, total=total))
        elif match := _TASK_STARTED.search(record):
            known = self._stages.get(int(match[1]))
            if known is not None and int(match[1]) in self._active:
                self._set(replace(known, running=known.running + 1))
        elif match := _TASK_FINISHED.search(record):
            stage, done, total = int(match[1]), int(match[2]), int(match[3])
            known = self._stages.get(stage)
            if known is None or stage in self._active:  # not a late line of an ended stage
                base = known or StageProgress(stage=stage, done=0, running=1, total=total)
                running = max(base.running - 1, 0)
                self._set(replace(base, done=max(base.done, done), running=running, total=total))
        elif match := _STAGE_ENDED.search(record):
            self._end(int(match[1]))

    def _set(self, stage: StageProgress) -> None:
        if not self._active:
            # Nothing was running: a new set of stages begins, the ended ones are history.
            self._stages = {}
        self._stages[stage.stage] = stage
        self._active.add(stage.stage)

    def _end(self, stage: int) -> None:
        known = self._stages.get(stage)
        if known is not None:
            self._stages[stage] = replace(known, done=known.total, running=0)
        self._active.discard(stage)

    def percent(self) -> int:
        """Return finished tasks over all tasks of the current stages, as 0..100."""
        return percent(self._stages.values())

    def describe(self) -> str:
        """Render the current stages as a short status message."""
        return describe(sorted(self._stages.values(), key=lambda s: s.stage))


def spark_line_level(record: str, previous: int | None) -> int | None:
    """Return the logging level of a line Spark itself wrote, or None for the script's output.

    ``previous`` is the result for the line before: a Java exception's lines under a log line
    (its class, ``\\tat`` frames, causes) have that line's level.
    """
    match = LOG4J_LINE.match(record)
    if match:
        return LOG4J_LEVELS[match[1]]
    if record.startswith(_PREAMBLE):
        return logging.INFO
    if previous is not None and _JAVA_CONTINUATION.match(record):
        return previous
    return None


def parse_ids(record: str) -> SubmissionIds:
    """Find an application id, a driver (submission) id and a tracking URL in one record."""
    app = _APP_ID.search(record)
    driver = _DRIVER_ID.search(record)
    url = _TRACKING_URL.search(record)
    return SubmissionIds(
        app_id=app.group(1) if app else None,
        driver_id=(driver.group(1) or driver.group(2)) if driver else None,
        tracking_url=url.group(1) if url else None,
    )
