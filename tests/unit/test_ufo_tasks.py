"""ImportUFOExport puts an export into the lake as is, flag last; bad sources fail clearly."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from luigi_ufo.errors import InputFormatError
from luigi_ufo.ufo.tasks import ImportUFOExport, ReadUFOs, TopStatesToDatabase

DATE = datetime.date(2024, 1, 15)


@pytest.mark.parametrize(("compress", "name"), [(False, "export.csv"), (True, "export.csv.gz")])
def test_import_copies_bytes_and_completes_read_ufos(
    luigi_config: Callable[[str, str, str], None], tmp_path: Path, compress: bool, name: str
) -> None:
    luigi_config("lake", "root", str(tmp_path / "lake"))
    data = b"Date / Time,City,State,Shape,Duration,Summary,Posted\n"
    source = tmp_path / "in.bin"
    source.write_bytes(gzip.compress(data) if compress else data)
    external = ReadUFOs(date=DATE)  # type: ignore[no-untyped-call]
    assert not external.complete()
    ImportUFOExport(date=DATE, source=str(source)).run()  # type: ignore[no-untyped-call]
    partition = tmp_path / "lake" / "ufo" / "raw" / "2024-01-15"
    flag, record, part = sorted(p.name for p in partition.iterdir())
    assert (flag, part) == ("_SUCCESS", name)
    assert (partition / name).read_bytes() == source.read_bytes()
    assert external.complete()
    # Beside the flag: what the partition was made from, the source's size and sha256.
    assert record.startswith("_lineage.")
    made = json.loads((partition / record).read_text(encoding="utf-8"))
    data = source.read_bytes()
    assert [i["identity"] for i in made["inputs"]] == [
        f"content:{len(data)}:{hashlib.sha256(data).hexdigest()}"
    ]


def test_import_of_a_missing_file_names_it(
    luigi_config: Callable[[str, str, str], None], tmp_path: Path
) -> None:
    luigi_config("lake", "root", str(tmp_path / "lake"))
    task = ImportUFOExport(date=DATE, source=str(tmp_path / "nope.csv"))  # type: ignore[no-untyped-call]
    with pytest.raises(InputFormatError, match=r"nope\.csv"):
        task.run()
    assert not (tmp_path / "lake" / "ufo" / "raw" / "2024-01-15").exists()


def test_load_task_spec(luigi_config: Callable[[str, str, str], None]) -> None:
    luigi_config("ufo", "top", "7")
    task = TopStatesToDatabase(date=DATE)
    assert (task.table, task.n, task.rank_by, tuple(task.key_columns or ())) == (
        "ufo_top_states",
        7,
        "sightings",
        ("state",),
    )
    assert task.partition() == {"date": DATE}
