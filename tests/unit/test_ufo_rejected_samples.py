"""The aggregation keeps the first rejected record of each reason in its own small dataset.

``--samples-output`` is optional: without it the script writes what it always wrote, so a run
by hand, and every reader of ``reason,records``, is unchanged.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tests.reference_scripts import aggregate_by_state as agg
from tests.reference_scripts import local_lake

EXPORT = (
    "Date / Time,City,State,Shape,Duration,Summary,Posted\n"
    "1/1/19,Tucson,AZ,light,5 min,bright,1/2/19\n"
    "1/2/19,Toronto,ON,disk,1 min,odd,1/3/19\n"
    "1/3/19,Nowhere,,disk,1 min,odd,1/3/19\n"
    "Date / Time,City,State,Shape,Duration,Summary,Posted\n"
    "1/4/19,Reno,NV\n"
    "1/5/19,Toronto,ON,disk,2 min,again,1/6/19\n"
)


def read_csv(directory: Path) -> list[list[str]]:
    assert sorted(p.name for p in directory.iterdir()) == ["_SUCCESS", "part-00000.csv"]
    with (directory / "part-00000.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def argv(tmp_path: Path, source: Path, *extra: str) -> list[str]:
    outputs = ["--output", str(tmp_path / "s"), "--rejected-output", str(tmp_path / "r")]
    return ["--input", str(source), *outputs, *extra]


def test_the_first_record_of_each_reason_is_kept_with_its_file_and_line(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text(EXPORT, encoding="utf-8")
    args = agg.parse(argv(tmp_path, source, "--samples-output", str(tmp_path / "x")))
    agg.run_locally(args, local_lake.in_process)
    # Written by hand from EXPORT: line numbers count the header as line 1.
    assert read_csv(tmp_path / "x") == [
        ["reason", "sample"],
        [
            "repeated_header",
            f"{source}, line 5: 'Date / Time,City,State,Shape,Duration,Summary,Posted'",
        ],
        ["blank_state", f"{source}, line 4: '1/3/19,Nowhere,,disk,1 min,odd,1/3/19'"],
        ["not_us_state", f"{source}, line 3: '1/2/19,Toronto,ON,disk,1 min,odd,1/3/19'"],
        ["malformed_record", f"{source}, line 6: '1/4/19,Reno,NV'"],
    ]
    counts = {reason: int(n) for reason, n in read_csv(tmp_path / "r")[1:]}
    assert {k: n for k, n in counts.items() if n} == {
        "repeated_header": 1,
        "blank_state": 1,
        "not_us_state": 2,
        "malformed_record": 1,
    }


def test_without_samples_output_only_the_two_datasets_are_written(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text(EXPORT, encoding="utf-8")
    args = agg.parse(argv(tmp_path, source))
    assert args.samples_output is None
    agg.run_locally(args, local_lake.in_process)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv", "r", "s"]
    assert read_csv(tmp_path / "r")[0] == ["reason", "records"]
