"""The run record: kept in the lake as a dated partition, read back for the report."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path

from luigi_ufo.ufo.run_record import RunRecord, read_record, record_target, write_record
from luigi_ufo.ufo.settings import UfoSettings

DAY = datetime.date(2024, 1, 15)


def test_a_record_is_written_flag_last_and_read_back(
    luigi_config: Callable[[str, str, str], None], tmp_path: Path
) -> None:
    luigi_config("lake", "root", str(tmp_path / "lake"))
    luigi_config("ufo", "encoding", "cp1252")
    assert read_record(DAY) is None
    record = RunRecord.of_run(
        "/data/export.csv", UfoSettings.from_config(), {"TopTenStates": 1.23456}, "demo"
    )
    write_record(DAY, record)
    partition = tmp_path / "lake" / "ufo" / "runs" / "2024-01-15"
    assert sorted(p.name for p in partition.iterdir()) == ["_SUCCESS", "run.json"]
    assert read_record(DAY) == RunRecord(
        source="/data/export.csv",
        encoding="cp1252",
        delimiter=",",
        country_rule="us-or-blank",
        decode_errors="strict",
        top=10,
        seconds={"TopTenStates": 1.235},
        finished=record.finished,
        command="demo",
    )
    record_target(DAY).remove_flag()
    assert read_record(DAY) is None  # an unflagged record is no record


def test_keys_a_newer_version_adds_are_ignored() -> None:
    doc = {
        "source": "s",
        "encoding": "utf-8",
        "delimiter": ",",
        "country_rule": "us",
        "decode_errors": "strict",
        "top": 3,
        "added_later": True,
    }
    assert RunRecord.from_json(json.loads(json.dumps(doc))).top == 3
