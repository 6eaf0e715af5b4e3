"""check_export: the input check before Spark starts, on legitimate and wrong exports."""

from __future__ import annotations

from pathlib import Path

import pytest

from luigi_ufo.errors import InputFormatError
from luigi_ufo.ufo.inputs import check_export, refusal
from luigi_ufo.ufo.settings import UfoSettings

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
    assert check_export(path, encoding="utf-8", delimiter=",").name == "nuforc"


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
    assert check_export(path, encoding="cp1252", delimiter=",").name == "nuforc"


@pytest.mark.parametrize(
    ("text", "settings", "message"),
    [
        (HEADER, {}, "export.csv: no records after the header"),
        (HEADER + ROW.replace("NV", "ON") * 3, {}, "3 of 3 records (all) were rejected"),
        (
            HEADER + ROW + ROW.replace("NV", "ON") * 3,
            {"max_rejected_fraction": 0.5},
            "3 of 4 records (75.0%) were rejected",
        ),
        (HEADER + ROW + ROW.replace("NV", "ON") * 3, {}, None),
        (HEADER.replace(",", "\t") + ROW.replace(",", "\t"), {"delimiter": "tab"}, None),
    ],
    ids=["header-only", "all-rejected", "above-threshold", "accepted", "tab"],
)
def test_refusal_is_the_aggregations_own_rule(
    tmp_path: Path, text: str, settings: dict[str, object], message: str | None
) -> None:
    path = write(tmp_path, text.encode())
    found = refusal(path, UfoSettings(**settings))  # type: ignore[arg-type]
    if message is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(path) or f"{path}, line" in found
        assert message in found


def test_refusal_leaves_unreadable_input_to_check_export(tmp_path: Path) -> None:
    assert refusal(str(tmp_path / "missing.csv"), UfoSettings()) is None
    assert refusal(write(tmp_path, b"order_id,amount\n1,2\n"), UfoSettings()) is None
