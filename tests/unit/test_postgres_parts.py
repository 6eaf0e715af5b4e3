"""The fast engines' Python side: which inputs qualify, header reading, what stops the COPY."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import luigi
import luigi.format
import pytest

from luigi_ufo.dated import DatedTarget
from luigi_ufo.postgres.ranking.database import _PartStream
from luigi_ufo.postgres.ranking.parts import Declined, csv_parts, read_header

DAY = datetime.date(2024, 6, 1)


def test_csv_parts_of_dated_and_local_targets_in_reading_order(tmp_path: Path) -> None:
    folder = tmp_path / "lake" / DAY.isoformat()
    folder.mkdir(parents=True)
    for name in ("part-00001.csv", "part-00000.csv", "_SUCCESS", ".x.crc"):
        (folder / name).write_text("k,m\n", encoding="utf-8")
    dated = DatedTarget(str(tmp_path / "lake"), DAY)
    local = luigi.LocalTarget(str(tmp_path / "one.csv"), format=luigi.format.UTF8)
    parts = csv_parts([dated, {"x": local}.get("x")])
    assert parts is not None
    assert [p.where.rsplit("/", 1)[1] for p in parts] == [
        "part-00000.csv",
        "part-00001.csv",
        "one.csv",
    ]
    with parts[0].open() as fh:
        assert fh.read() == b"k,m\n"
    assert csv_parts({"a": dated}) is not None


@pytest.mark.parametrize(
    "source",
    [[{"k": "a", "m": 1}], "text", [], luigi.LocalTarget("/x.gz", format=luigi.format.Gzip)],
)
def test_other_inputs_are_read_in_python(source: object) -> None:
    assert csv_parts(source) is None


@pytest.mark.parametrize(
    ("data", "header", "rest"),
    [
        (b"k,m\nCA,1\n", ["k", "m"], b"CA,1\n"),
        (b"k,m\r\nCA,1\r\n", ["k", "m"], b"CA,1\r\n"),
        (b"k,m\rCA,1\r", ["k", "m"], b"CA,1\r"),
        (b"k,m", ["k", "m"], b""),
        (b"", None, b""),
        ("\ufeffk,m\n".encode(), ["\ufeffk", "m"], b""),  # as Python's utf-8 reads it
    ],
)
def test_header_and_the_bytes_after_it(data: bytes, header: list[str] | None, rest: bytes) -> None:
    assert read_header(io.BytesIO(data), "f.csv") == (header, rest)


def test_quoted_header_or_bad_utf8_needs_python() -> None:
    with pytest.raises(Declined, match="quoted header"):
        read_header(io.BytesIO(b'"k",m\n'), "f.csv")
    with pytest.raises(Declined, match="not UTF-8"):
        read_header(io.BytesIO(b"k\xff,m\n"), "f.csv")


def _drain(stream: _PartStream) -> bytes:
    out = b""
    while chunk := stream.read():
        out += chunk
    return out


def test_part_stream_passes_plain_csv_and_stops_at_quotes_or_end_marker() -> None:
    assert _drain(_PartStream(io.BytesIO(b"b,2\n"), b"a,1\n", "f.csv")) == b"a,1\nb,2\n"
    quoted = _PartStream(io.BytesIO(b'"x",1\n'), b"a,1\n", "f.csv")
    with pytest.raises(Declined, match="quoted fields"):
        _drain(quoted)
    assert quoted.problem == "f.csv has quoted fields"
    # "\." split across two reads still stops the COPY (PostgreSQL ends CSV data there).
    marker = _PartStream(io.BytesIO(b".\n"), b"a,1\n\\", "f.csv")
    with pytest.raises(Declined, match="ends COPY"):
        _drain(marker)
