"""Pure parsing of spark-submit output: console progress bars, application and driver ids.

Spark's console progress bar redraws one terminal line with carriage returns
(``\\r[Stage 1:=====>     (12 + 2) / 40]\\r``), so output is split on ``\\r`` as well as
``\\n`` before it is parsed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_STAGE = re.compile(r"\[Stage (\d+)(?:\.(\d+))?:[=> ]*\((\d+) \+ (\d+)\) / (\d+)\]")
_APP_ID = re.compile(
    r"\b(app-\d{14}-\d{4,}|application_\d+_\d+|local-\d{10,}|spark-[0-9a-f]{32})\b"
)
_DRIVER_ID = re.compile(r"\b(driver-\d{14}-\d{4,})\b|submission ID (\S+)")
_TRACKING_URL = re.compile(r"(?:tracking URL: |started at )(https?://\S+)")


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
