"""``luigi-ufo`` fails clearly, before starting any service, on bad input or a missing Java."""

from __future__ import annotations

import gzip
from pathlib import Path

import luigi.configuration
import pytest

from luigi_ufo import cli
from luigi_ufo.errors import InputFormatError, JavaNotFoundError
from luigi_ufo.ufo import embedded
from luigi_ufo.ufo.inputs import check_export

HEADER = "Date / Time,City,State,Shape,Duration,Summary,Posted\n"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUIGI_UFO_DATA_DIR", str(tmp_path / "data"))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_wrong_header_names_the_file_and_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount\n1,9.99\n", encoding="utf-8")
    code, err = run(["run", "--input", str(path)], capsys)
    assert code == 2
    assert "['order_id', 'amount'] is not a NUFORC export" in err
    assert str(path) in err


def test_wrong_encoding_names_the_byte_offset_and_suggests_cp1252(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (HEADER + "1/1/19,Montr\xe9al,QC,,,,1/1/19\n").encode("cp1252")
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress(data))
    code, err = run(["run", "--input", str(path)], capsys)
    assert code == 2
    offset = data.index(b"\xe9")
    assert f"at byte offset {offset} are not valid 'utf-8'" in err
    assert "try --encoding cp1252" in err


def test_check_export_accepts_each_layout_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "a.csv"
    plain.write_text(HEADER + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    zipped = tmp_path / "b.csv.gz"
    zipped.write_bytes(gzip.compress(b"state,country,shape,latitude,longitude \ntx,us,,1,2\n"))
    assert check_export(str(plain), encoding="utf-8", delimiter=",") == "nuforc"
    assert check_export(str(zipped), encoding="utf-8", delimiter=",") == "kaggle"


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (b"", {}, "file is empty"),
        (HEADER.encode(), {"encoding": "no-such-codec"}, "unknown encoding 'no-such-codec'"),
        (HEADER.encode(), {"delimiter": "::"}, "must be one character"),
        (HEADER.encode(), {"delimiter": "tab"}, "is not a NUFORC export"),
        (gzip.compress(HEADER.encode())[:-8], {}, "is it a complete file"),
    ],
)
def test_check_export_errors(
    tmp_path: Path, content: bytes, kwargs: dict[str, str], message: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    options = {"encoding": "utf-8", "delimiter": ","} | kwargs
    with pytest.raises(InputFormatError, match=message):
        check_export(str(path), **options)


def test_missing_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["run", "--input", str(tmp_path / "nope.csv")], capsys)
    assert code == 2
    assert "is not a file" in err


def test_missing_java_is_reported_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    code, err = run(["run", "--input", str(path)], capsys)
    assert code == 2
    assert "java was not found on PATH and JAVA_HOME is unset" in err
    assert not (tmp_path / "data" / "postgres").exists()


def test_java_home_without_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match="has no bin/java"):
        embedded.find_java()


def test_overrides_are_undone_after_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = luigi.configuration.get_config()  # type: ignore[no-untyped-call]
    before = config.has_option("ufo", "encoding")
    code, _ = run(["run", "--input", str(tmp_path / "nope"), "--encoding", "cp1252"], capsys)
    assert code == 2
    assert config.has_option("ufo", "encoding") == before


@pytest.mark.parametrize("argv", [["run"], ["run", "--input", "x", "--date", "15/01/2024"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2


def test_render_table_lists_nonzero_reasons() -> None:
    doc = {
        "date": "2024-01-15",
        "top": [{"rank": 1, "state": "CA", "sightings": 13513}],
        "rejected": {"repeated_header": 930, "blank_line": 0},
        "counted": 13513,
    }
    text = cli.render_table(doc)
    assert "   1  CA        13,513" in text
    assert "records 14,443: counted 13,513, rejected 930" in text
    assert "blank_line" not in text
