"""Read a run's child output: log each line masked, keep the tail, the traceback, ids and progress.

The child is ``spark-submit`` (through its supervisor) in submit mode, the script's process in
connect mode; either writes its stdout and stderr to one pipe, read here line by line (at ``\\n``
and at the ``\\r`` of Spark's progress bar).
"""

from __future__ import annotations

import codecs
import collections
import logging
import os
import queue
import threading

from luigi_ufo.secrets import mask
from luigi_ufo.spark.progress import (
    LOG4J_LEVELS,
    LOG4J_LINE,
    LineSplitter,
    StageBoard,
    is_progress_bar,
    parse_ids,
    spark_line_level,
)
from luigi_ufo.spark.run import DEFAULTS, TRACEBACK_HEAD, TRACEBACK_MAX
from luigi_ufo.spark.submit.supervisor import parse_killed

logger = logging.getLogger("luigi_ufo.spark")

#: What the reader saw that the run loop acts on: (kind, payload), kinds "status", "url",
#: "progress" (payload: percent and the stages' description).
Event = tuple[str, "str | tuple[int, str]"]


class OutputReader(threading.Thread):
    """Read a child's merged stdout/stderr, log each line and keep the tail, ids and progress.

    The script's own output (its prints, its tracebacks) is logged at INFO, prefixed with
    ``label``; Spark's own log lines at their level when it is at least ``spark_log_level``
    (``[spark_script] spark_log_level``), else at DEBUG. The tail keeps the lines shown.
    """

    def __init__(
        self,
        fd: int,
        secrets: tuple[str, ...],
        tail_lines: int,
        *,
        spark_log_level: str = DEFAULTS.spark_log_level,
        label: str = "spark-submit",
    ) -> None:
        super().__init__(name=f"{label}-output", daemon=True)
        self._fd = fd
        self._secrets = secrets
        self._shown_from = LOG4J_LEVELS[spark_log_level]
        self._label = label
        self._previous_level: int | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self.traceback: list[str] = []
        self._current_tb: list[str] | None = None
        self.app_id: str | None = None
        self.driver_id: str | None = None
        self.tracking_url: str | None = None
        #: (pid, signal name) of spark-submit, when the supervisor saw a signal kill it.
        self.killed: tuple[int, str] | None = None
        self.stages = StageBoard()
        self.events: queue.Queue[Event] = queue.Queue()

    def run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        splitter = LineSplitter()
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            for record in splitter.feed(decoder.decode(chunk)):
                self._handle_record(record)
        for record in splitter.feed(decoder.decode(b"", final=True)) + splitter.flush():
            self._handle_record(record)

    # Not ``_handle``: Python 3.13's Thread keeps its thread handle under that name.
    def _handle_record(self, record: str) -> None:
        if self.stages.feed(record):
            self.events.put(("progress", (self.stages.percent(), self.stages.describe())))
        if is_progress_bar(record):
            return
        line = mask(record, self._secrets)
        level = spark_line_level(line, self._previous_level)
        self._previous_level = level
        if level is None or level >= self._shown_from:
            logger.log(max(level or logging.INFO, logging.INFO), "%s: %s", self._label, line)
            self.tail.append(line)
        else:
            logger.debug("%s: %s", self._label, line)
        self._track_traceback(line)
        self.killed = self.killed or parse_killed(line)
        ids = parse_ids(line)
        if ids.app_id and not self.app_id:
            self.app_id = ids.app_id
            self.events.put(("status", f"application {ids.app_id}"))
        if ids.driver_id and not self.driver_id:
            self.driver_id = ids.driver_id
            self.events.put(("status", f"driver {ids.driver_id}"))
        if ids.tracking_url and not self.tracking_url:
            self.tracking_url = ids.tracking_url
            self.events.put(("url", ids.tracking_url))

    def _track_traceback(self, line: str) -> None:
        if line.startswith(TRACEBACK_HEAD):
            self._current_tb = [line]
            return
        if self._current_tb is None or LOG4J_LINE.match(line):
            # Spark's own log lines interleave with the driver's stderr; they are not frames.
            return
        if len(self._current_tb) < TRACEBACK_MAX:
            self._current_tb.append(line)
        if line[:1] not in (" ", "\t") and (": " in line or line.rstrip().isidentifier()):
            # The first unindented line after the frames names the exception: block complete.
            self.traceback = self._current_tb
            self._current_tb = None
