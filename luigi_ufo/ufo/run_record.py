"""The facts of one ``luigi-ufo run`` of a date, kept in the lake for its report.

What the lake and PostgreSQL hold says what a run produced; how it ran (the reading settings,
each step's duration) is known only while it runs. ``luigi-ufo run`` and ``demo`` write it as
the dated dataset ``<lake>/ufo/runs/<date>/run.json`` (flag last, like every partition), so
``luigi-ufo report --date D`` rebuilds the same report later, from any machine that sees the lake.
A date built another way (``python -m luigi``) has no record; its report says so.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from luigi_ufo.dated import DatedTarget
from luigi_ufo.ufo.settings import UfoSettings, ufo_dataset

DATASET = "runs"
PART = "run.json"


@dataclass(frozen=True)
class RunRecord:
    """How a date was run: its input and reading settings, each step's seconds, when."""

    source: str
    encoding: str
    delimiter: str
    country_rule: str
    decode_errors: str
    top: int
    seconds: Mapping[str, float] = field(default_factory=dict)
    finished: str = ""
    command: str = "run"

    @classmethod
    def of_run(
        cls, source: str, settings: UfoSettings, seconds: Mapping[str, float], command: str
    ) -> RunRecord:
        """Return the record of a run that read ``source`` with ``settings`` just now."""
        return cls(
            source=source,
            encoding=settings.encoding,
            delimiter=settings.delimiter,
            country_rule=settings.country_rule,
            decode_errors=settings.decode_errors,
            top=settings.top,
            seconds={name: round(s, 3) for name, s in seconds.items()},
            finished=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            command=command,
        )

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RunRecord:
        """Return the record a ``run.json`` holds (unknown keys, from a newer version, ignored)."""
        known = {name: doc[name] for name in cls.__dataclass_fields__ if name in doc}
        return cls(**known)


def record_target(date: datetime.date) -> DatedTarget:
    """Return the partition of ``date`` in the lake's ``ufo/runs`` dataset."""
    return DatedTarget(ufo_dataset(DATASET), date)


def write_record(date: datetime.date, record: RunRecord) -> None:
    """Replace the run record of ``date`` (its flag written last)."""
    with record_target(date).writer() as out:
        out.write_text(PART, json.dumps(asdict(record), indent=1) + "\n")


def read_record(date: datetime.date) -> RunRecord | None:
    """Return the run record of ``date``, or None when no complete one is in the lake."""
    target = record_target(date)
    if not target.exists():
        return None
    with target.open_part(PART) as fh:
        return RunRecord.from_json(json.load(fh))
