"""``luigi-ufo`` fails clearly, before starting any service, on bad input or a missing Java."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path

import luigi.configuration
import pytest

from luigi_ufo.cli import main as cli
from luigi_ufo.cli import pipeline
from luigi_ufo.errors import ConfigError, InputFormatError, JavaNotFoundError
from luigi_ufo.services.spark_home import find_java
from luigi_ufo.settings.sections import config_overrides
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


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("spark_script", "master", "locl[2]", "[spark_script] master = 'locl[2]' is invalid"),
        ("spark_script", "timeout", "10x", "[spark_script] timeout = '10x' is invalid"),
        (
            "postgres_topn",
            "password",
            "hunter2",
            "[postgres_topn] has key 'password', which looks like a credential",
        ),
        ("ufo", "top", "ten", "[ufo] top = 'ten' is invalid: expected a whole number"),
        # No task of the run reads [s3_endpoint] before PostgreSQL starts: the CLI checks it.
        (
            "s3_endpoint",
            "max_attempts",
            "many",
            "[s3_endpoint] max_attempts = 'many' is invalid: expected a whole number",
        ),
    ],
)
def test_bad_config_exits_2_before_any_service(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    luigi_config: object,
    section: str,
    key: str,
    value: str,
    message: str,
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    luigi_config(section, key, value)  # type: ignore[operator]
    code, err = run(["run", "--input", str(path)], capsys)
    assert code == 2
    assert message in err
    assert "hunter2" not in err
    assert not (tmp_path / "data" / "postgres").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[s3_endpoint]\nmax_attempts = 0\n", "[s3_endpoint] max_attempts = '0' is invalid"),
        ("[lineage]\nrebuild_when = always\n", "[lineage] rebuild_when = 'always' is invalid"),
        ("[lake]\nroots = /data\n", "[lake] roots is not a setting; did you mean 'root'?"),
        ("[ufo]\nlake = /data\n", "[ufo] lake is not a setting"),
    ],
)
def test_a_fresh_cli_checks_every_section_a_run_reads(
    tmp_path: Path, text: str, message: str
) -> None:
    # A process of its own: a section is checked only if what the CLI imports registered it.
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    (tmp_path / "luigi.cfg").write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "LUIGI_CONFIG_PATH": str(tmp_path / "luigi.cfg"),
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    run = [sys.executable, "-m", "luigi_ufo.cli.main", "run", "--input", str(path)]
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert (done.returncode, message in done.stderr) == (2, True), done.stderr
    assert not (tmp_path / "data" / "postgres").exists()


def test_check_export_accepts_each_layout_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "a.csv"
    plain.write_text(HEADER + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    zipped = tmp_path / "b.csv.gz"
    zipped.write_bytes(gzip.compress(b"state,country,shape,latitude,longitude \ntx,us,,1,2\n"))
    assert check_export(str(plain), encoding="utf-8", delimiter=",").name == "nuforc"
    assert check_export(str(zipped), encoding="utf-8", delimiter=",").name == "kaggle"


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
        find_java()


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
    text = pipeline.render_table(doc)
    assert "   1  CA        13,513" in text
    assert "records 14,443: counted 13,513, rejected 930" in text
    assert "blank_line" not in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20240101", "date '20240101' is not YYYY-MM-DD; write it as 2024-01-01"),
        ("2024-1-5", "date '2024-1-5' is not YYYY-MM-DD; e.g. 2024-01-15"),
        ("2024-02-30", "date '2024-02-30' is not a calendar date (day is out of range"),
        ("2024-01-01T00:00", "date '2024-01-01T00:00' is not YYYY-MM-DD"),
        ("\uff12\uff10\uff12\uff14-01-01", "is not YYYY-MM-DD"),  # fullwidth: \d, not [0-9]
    ],
)
def test_dates_other_than_yyyy_mm_dd_are_refused_on_one_line(
    text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(["run", "--input", "x", "--date", text], capsys)
    assert err.startswith("luigi-ufo: error: argument --date: ")
    assert message in err


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI, expect exit status 2 and return its one line of stderr."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    return err


def test_a_yyyy_mm_dd_date_is_accepted() -> None:
    assert pipeline.parse_date("2024-01-15").isoformat() == "2024-01-15"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rot13", "encoding 'rot13' is not a text encoding"),
        ("base64", "encoding 'base64' is not a text encoding"),
        ("no-such-codec", "unknown encoding 'no-such-codec' (--encoding)"),
    ],
)
def test_encodings_that_cannot_decode_text_are_refused_on_one_line(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(["run", "--input", "x", "--encoding", name], capsys)
    assert message in err
    assert "such as utf-8, cp1252 or latin-1" in err


@pytest.mark.parametrize("name", ["utf-8", "UTF8", "cp1252", "latin-1", "utf-16"])
def test_text_encodings_pass(name: str) -> None:
    args = cli.build_parser().parse_args(["run", "--input", "x", "--encoding", name])
    assert args.encoding == name


def test_an_encoding_from_luigi_cfg_is_checked_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "1/1/19,Reno,NV,,,,1/1/19\n", encoding="utf-8")
    with config_overrides() as set_option:
        set_option("ufo", "encoding", "rot13")
        with pytest.raises(ConfigError, match=r"\[ufo\] encoding 'rot13' is not a text"):
            pipeline.run_pipeline(str(path), pipeline.parse_date("2024-01-15"), set_option)


def test_quiet_and_verbose_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--quiet", "--verbose"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_db_psql_passes_arguments_after_the_double_dash() -> None:
    args = cli.build_parser().parse_args(["db", "psql", "--", "-Atc", "SELECT 1"])
    assert (args.command, args.action, args.psql_args) == ("db", "psql", ["-Atc", "SELECT 1"])


def test_db_status_of_a_never_started_server_exits_3(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["db", "status"]) == 3
    assert "not running" in capsys.readouterr().out
    assert cli.main(["db", "url"]) == 3
    assert cli.main(["db", "psql"]) == 3


def test_an_ignored_sigint_stays_ignored_and_sigterm_is_caught() -> None:
    # A background job of a shell script starts with SIGINT ignored; Python then raises no
    # KeyboardInterrupt, and luigi-ufo must not start to.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with cli._interrupts() as received:
            assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
            with pytest.raises(cli.Terminated):
                signal.raise_signal(signal.SIGTERM)
        assert received == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("command", ["db", "dev", "connect"])
def test_every_status_subcommand_exits_3_when_nothing_runs(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The data dir is empty (the autouse fixture): no server was ever started there.
    code, err = run([command, "status"], capsys)
    assert code == 3, err
