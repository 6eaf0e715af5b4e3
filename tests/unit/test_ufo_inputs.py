"""check_export: the input check before Spark starts, on legitimate and wrong exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from luigi_ufo.errors import InputFormatError
from luigi_ufo.ufo.inputs import check_export

HEADER = "Date / Time,City,State,Shape,Duration,Summary,Posted\n"
ROW = "1/1/19,Reno,NV,Light,5,x,1/2/19\n"


def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize(
    "header",
    [
        # A 200 KB quoted field and a 10 MB line in the header record itself.
        HEADER.replace("Posted", f'"Posted{" " * 200_000}"'),
        HEADER.replace("Posted", "Posted" + " " * 10_000_000),
        '\ufeff"Date / Time",City,State,Shape,Duration,Summary,Posted\n',
    ],
    ids=["200KB-field", "10MB-line", "bom-quoted"],
)
def test_legitimate_headers_pass(tmp_path: Path, header: str) -> None:
    path = write(tmp_path, (header + ROW).encode())
    assert check_export(path, encoding="utf-8", delimiter=",") == "nuforc"


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("utf-16", r"'utf-16'.*try --encoding utf-8"),
        ("rot13", r"encoding 'rot13' is not a text encoding \(--encoding\); use the text encoding"),
    ],
)
def test_wrong_encodings_name_the_value_and_the_fix(
    tmp_path: Path, encoding: str, message: str
) -> None:
    path = write(tmp_path, (HEADER + ROW).encode())
    with pytest.raises(InputFormatError, match=message):
        check_export(path, encoding=encoding, delimiter=",")


def test_cp1252_export_is_named_with_its_byte_offset(tmp_path: Path) -> None:
    data = (HEADER + "1/1/19,Montr\xe9al,QC,,,,1/1/19\n").encode("cp1252")
    path = write(tmp_path, data)
    offset = data.index(b"\xe9")
    with pytest.raises(InputFormatError, match=f"at byte offset {offset}"):
        check_export(path, encoding="utf-8", delimiter=",")
    assert check_export(path, encoding="cp1252", delimiter=",") == "nuforc"
