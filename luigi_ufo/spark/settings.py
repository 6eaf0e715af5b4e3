"""Spark settings as a value object, resolved from ``[ufo_spark]`` at run time."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luigi_ufo.errors import ConfigError
from luigi_ufo.spark.command import SparkOptions

#: Fields merged key by key when a task overrides them; every other field is replaced.
MERGED = ("conf", "env")


@dataclass(frozen=True)
class SparkSettings(SparkOptions):
    """Every ``[ufo_spark]`` option; a task's non-None attribute of the same name overrides.

    The spark-submit options come from :class:`SparkOptions`; these fields are the rest.
    """

    spark_submit: str | None = None
    scripts_dir: str | None = None
    python: str | None = None
    timeout: float | None = None
    tail_lines: int = 40
    kill_grace: float = 10.0
    secret_env: tuple[str, ...] = ()
    lease_timeout: float = 600.0

    @classmethod
    def from_config(cls) -> SparkSettings:
        """Read ``[ufo_spark]`` now (luigi.cfg / LUIGI_CONFIG_PATH)."""
        from luigi_ufo.config import section_values, ufo_spark

        return cls.of(section_values(ufo_spark(), cls))

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> SparkSettings:
        """Build settings from plain values, normalising luigi's frozen containers."""
        clean: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                continue
            value = values[f.name]
            if f.name in MERGED:
                value = {str(k): str(v) for k, v in dict(value or {}).items()}
            elif f.name in ("packages", "jars", "py_files", "files", "extra_args", "secret_env"):
                value = _strings(f.name, value)
            elif value == "":
                value = None if f.default is None else value
            clean[f.name] = value
        return cls(**clean)

    def override(self, values: Mapping[str, Any]) -> SparkSettings:
        """Return these settings with the non-None ``values`` applied (conf/env merged)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown Spark setting(s) {unknown!r}; known: {sorted(known)!r}")
        given = {k: v for k, v in values.items() if v is not None}
        parsed = SparkSettings.of(given)
        merged: dict[str, Any] = {}
        for name in given:
            value = getattr(parsed, name)
            merged[name] = {**getattr(self, name), **value} if name in MERGED else value
        return dataclasses.replace(self, **merged)


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
            "pip install 'luigi-ufo[spark]' or set [ufo_spark] spark_submit"
        )
    return found


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        # A comma-separated string is how spark-submit itself spells these lists.
        return tuple(v.strip() for v in value.split(",") if v.strip())
    try:
        return tuple(str(v) for v in value)
    except TypeError:
        raise ConfigError(
            f'Spark setting {name} = {value!r} is not a list; write e.g. ["a.jar", "b.jar"]'
        ) from None
