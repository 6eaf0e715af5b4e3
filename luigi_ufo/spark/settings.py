"""Spark settings as a value object, declared once and read from ``[spark_script]`` at run time."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from luigi_ufo.errors import ConfigError
from luigi_ufo.secrets import TOKEN_ENV, hint_for, refuse_credentials
from luigi_ufo.settings.fields import apply_overrides, check_fields, setting
from luigi_ufo.settings.sections import config_section, read_section
from luigi_ufo.spark.submit.spec import SparkOptions

SECTION = "spark_script"
#: How a task's script runs: spark-submit per run, or main(argv, spark) on a Connect server.
MODES = ("submit", "connect")
#: Spark's log levels, as log4j and ``SparkContext.setLogLevel`` spell them.
SPARK_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def _positive_seconds(value: float) -> str | None:
    return None if value > 0 else "a positive duration (90, 90s, 10m, 1h), or unset"


def _not_negative_seconds(value: float) -> str | None:
    return None if value >= 0 else "a duration of zero or more (10, 10s)"


def _connect_url(url: str) -> str | None:
    # Raised, not returned: the returned text is shown next to the value, here a secret.
    refuse_credentials(f"[{SECTION}] connect_url", url, hint_for(SECTION, "connect_url"))
    parts = urlsplit(url)
    if parts.scheme != "sc" or not parts.hostname:
        return (
            "a Spark Connect URL sc://host:port, e.g. sc://127.0.0.1:15002 (`luigi-ufo connect "
            "status` prints it)"
        )
    return None


def _positive_lines(value: int) -> str | None:
    return None if value >= 1 else "a positive whole number of lines"


@dataclass(frozen=True)
class SparkSettings(SparkOptions):
    """Every ``[spark_script]`` setting; a task's ``spark_overrides`` entries override them.

    The spark-submit options come from :class:`SparkOptions`; these fields are the rest.
    """

    spark_submit: str | None = setting(None, "spark-submit path; default: the installed pyspark's")
    scripts_dir: str | None = setting(None, "directory of user scripts; default: the package's own")
    python: str | None = setting(None, "interpreter for driver and executors; default: this one")
    timeout: float | None = setting(
        None,
        "time before the application is killed (90s, 10m, 1h); unset: none",
        form="duration",
        check=_positive_seconds,
    )
    tail_lines: int = setting(
        40, "output lines kept for the error message of a failed run", check=_positive_lines
    )
    spark_log_level: str = setting(
        "WARN",
        "lowest level of Spark's own log lines shown (INFO: hundreds per run); the script's "
        "output and tracebacks always show",
        choices=SPARK_LOG_LEVELS,
    )
    kill_grace: float = setting(
        10.0,
        "time between SIGTERM and SIGKILL when killing a run (10s)",
        form="duration",
        check=_not_negative_seconds,
    )

    secret_env: tuple[str, ...] = setting(
        (), "more environment variables whose values are masked in logs and errors"
    )
    lease_timeout: float = setting(
        600.0,
        "time to wait for another live application writing the same output (10m)",
        form="duration",
        check=_not_negative_seconds,
    )

    mode: str = setting(
        "submit",
        "submit: spark-submit per run; connect: main(argv, spark) on a Spark Connect server",
        choices=MODES,
    )
    connect_url: str = setting(
        "sc://127.0.0.1:15002",
        f"the Spark Connect server of mode = connect (its token: {TOKEN_ENV}, never here)",
        check=_connect_url,
    )

    def __post_init__(self) -> None:
        check_fields(self, f"[{SECTION}]")

    @classmethod
    def from_config(cls) -> SparkSettings:
        """Read ``[spark_script]`` now (command line, luigi.cfg / LUIGI_CONFIG_PATH)."""
        return cls(**read_section(SECTION))

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> SparkSettings:
        """Build settings from plain values (text parsed like luigi.cfg's), checked."""
        settings: SparkSettings = apply_overrides(cls(), values, "SparkSettings.of(...)")
        return settings

    @property
    def connect(self) -> bool:
        """Whether the script runs on the Spark Connect server at ``connect_url``."""
        return self.mode == "connect"

    def override(self, values: Mapping[str, Any], where: str = "spark_overrides") -> SparkSettings:
        """Return these settings with ``values`` applied (conf/env merged key by key)."""
        given = {k: v for k, v in values.items() if v is not None}
        settings: SparkSettings = apply_overrides(self, given, where)
        return settings


#: ``[spark_script]``: the luigi.Config section of SparkSettings.
spark_script = config_section(SECTION, SparkSettings)


def default_spark_submit() -> str:
    """Return the installed pyspark's ``bin/spark-submit``, else ``spark-submit`` on PATH."""
    spec = importlib.util.find_spec("pyspark")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "spark-submit"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("spark-submit")
    if found is None:
        raise ConfigError(
            "no spark-submit found (pyspark is not installed and none is on PATH); "
            "pip install 'luigi-ufo[spark]' or set [spark_script] spark_submit"
        )
    return found
