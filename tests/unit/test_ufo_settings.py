"""``[ufo]`` resolution and the CLI's choice between embedded services and luigi.cfg's."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest

from luigi_ufo.cli.pipeline import use_local_scheduler
from luigi_ufo.errors import ConfigError
from luigi_ufo.paths import data_dir
from luigi_ufo.settings.sections import config_overrides, configured
from luigi_ufo.ufo.database import postgres_configured
from luigi_ufo.ufo.settings import UfoSettings
from luigi_ufo.ufo.tasks import AggregateUFOsByState, TopTenStates

SetOption = Callable[[str, str, str], None]


def test_lake_defaults_to_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUIGI_UFO_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path
    assert UfoSettings.from_config().lake == str(tmp_path / "lake")


def test_relative_lake_becomes_absolute_and_s3_stays(
    luigi_config: SetOption, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    luigi_config("lake", "root", "lake/")
    assert UfoSettings.from_config().dataset("raw") == f"{tmp_path}/lake/ufo/raw"
    luigi_config("lake", "root", "s3://bucket/prefix/")
    assert UfoSettings.from_config().dataset("raw") == "s3://bucket/prefix/ufo/raw"


def test_top_must_be_positive(luigi_config: SetOption) -> None:
    luigi_config("ufo", "top", "0")
    with pytest.raises(ConfigError, match=r"\[ufo\] top = '0' is invalid: expected at least 1"):
        UfoSettings.from_config()


@pytest.mark.parametrize("value", ["-0.5", "1.01"])
def test_max_rejected_fraction_is_a_fraction(luigi_config: SetOption, value: str) -> None:
    luigi_config("ufo", "max_rejected_fraction", value)
    with pytest.raises(
        ConfigError,
        match=rf"\[ufo\] max_rejected_fraction = '{value}' is invalid: expected from 0 to 1",
    ):
        UfoSettings.from_config()


def test_task_arguments_come_from_ufo_section(luigi_config: SetOption, tmp_path: Path) -> None:
    luigi_config("lake", "root", str(tmp_path))
    luigi_config("ufo", "encoding", "cp1252")
    luigi_config("ufo", "delimiter", "tab")
    luigi_config("ufo", "top", "5")
    luigi_config("ufo", "max_rejected_fraction", "0.25")
    date = datetime.date(2024, 1, 15)
    task = AggregateUFOsByState(date=date)
    args = task.app_options()
    assert args[: args.index("--encoding")] == [
        *("--input", f"{tmp_path}/ufo/raw/2024-01-15/"),
        *("--output", f"{tmp_path}/ufo/by_state/2024-01-15/"),
        *("--rejected-output", f"{tmp_path}/ufo/rejected/2024-01-15/"),
        *("--samples-output", f"{tmp_path}/ufo/rejected_samples/2024-01-15/"),
    ]
    assert args[args.index("--encoding") :] == [
        *("--encoding", "cp1252"),
        *("--delimiter", "tab"),
        *("--country-rule", "us-or-blank"),
        *("--decode-errors", "strict"),
        *("--max-rejected-fraction", "0.25"),
    ]
    top = TopTenStates(date=date)
    assert top.app_options()[-2:] == ["--top", "5"]


def test_configured_services_replace_embedded_ones(luigi_config: SetOption) -> None:
    assert use_local_scheduler()
    luigi_config("core", "default_scheduler_url", "http://scheduler:8082")
    assert not use_local_scheduler()
    assert not postgres_configured()
    luigi_config("postgres_topn", "host", "db.example")
    assert postgres_configured()


def test_config_overrides_are_undone() -> None:
    with config_overrides() as set_option:
        set_option("ufo_test_section", "key", "value")
        assert configured("ufo_test_section", ("key",))
    assert not configured("ufo_test_section", ("key",))
