"""The pyarrow path takes only input it parses exactly as Python's csv module; else it declines."""

from __future__ import annotations

import importlib.util

import pytest

from luigi_ufo.postgres import LoadSpec
from luigi_ufo.postgres.ranking import arrow
from luigi_ufo.postgres.ranking.arrow import _parse
from luigi_ufo.postgres.ranking.parts import CsvPart, Declined
from luigi_ufo.postgres.ranking.reader import RecordReader
from luigi_ufo.postgres.settings import ConnectionSettings

HEADER = ["g", "k", "extra", "m"]
NAMES = ("g", "k", "m")


def test_needed_columns_by_first_occurrence_and_exact_integers() -> None:
    table = _parse(b"x,a,1,007\ny,b,,-0\nz,c,q,999999999999999999", HEADER, NAMES, "f")
    assert table.to_pylist() == [
        {"c0": "x", "c1": "a", "c2": 7},
        {"c0": "y", "c1": "b", "c2": 0},
        {"c0": "z", "c1": "c", "c2": 999999999999999999},
    ]
    assert _parse(b"", HEADER, NAMES, "f").num_rows == 0
    twice = _parse(b"a,1,b\n", ["k", "m", "k"], ("k", "m"), "f")
    assert twice.to_pylist() == [{"c0": "a", "c1": 1}]


@pytest.mark.parametrize(
    "data",
    [
        b'x,"a",1,2\n',  # quotes: csv and pyarrow would read them differently
        b"x,a,1,2\r\n",
        b"x,a\x00,1,2\n",
        b"x,a,1,2\n\ny,b,1,3\n",  # a blank line is a bad row for csv
        b"\nx,a,1,2\n",
        b"x,a,1,2,3\n",  # field count
        b"x,a,1\n",
        b",a,1,2\n",  # empty group
        b"x,,1,2\n",  # empty key
        b"x,a,1, 2\n",  # int() takes it, but it is not a plain integer
        b"x,a,1,+2\n",
        b"x,a,1,1.5\n",
        b"x,a,1,1234567890123456789\n",  # past 18 digits: maybe not an int64
        b"x,\xff,1,2\n",  # not UTF-8
    ],
)
def test_declines_what_it_cannot_read_exactly(data: bytes) -> None:
    with pytest.raises(Declined):
        _parse(data, HEADER, NAMES, "f")


def test_without_the_extra_it_declines_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numpy" else real(name, *a)
    )
    assert not arrow.available()

    def never_opened() -> None:
        raise AssertionError("read although pyarrow is missing")

    with pytest.raises(Declined, match="extra 'columnar'"):
        arrow.rank_columnar(
            [CsvPart("x.csv", never_opened)],  # type: ignore[arg-type]
            reader=RecordReader("m", None, (), (), False),
            n=1,
            ties="stable",
            spec_for=lambda keys: LoadSpec.build(
                table="t", rank_by="m", key_columns=keys, update_id="u"
            ),
            settings=ConnectionSettings(dsn="host=nowhere"),
        )
