"""The luigi.cfg ``luigi-ufo dev`` writes, and the env file of the S3 lake's fake keys.

The luigi.cfg holds addresses only (and the path of the private file holding the Spark
cluster's authentication secret): the plugin refuses credentials in it. moto accepts any key,
but boto3 and s3a send none unless the credential chain has one, so moto's fake keys go in a
private env file the user sources; they are printed by path, never by value, the way real keys
would be handled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from luigi_ufo.errors import ConfigError

#: The first line of every luigi.cfg written here; a file without it is not overwritten.
MARKER = "# Written by `luigi-ufo dev`"
#: ``[retcode]`` as in examples/luigi.cfg: a failed task, missing input or scheduling error
#: makes ``python -m luigi`` exit non-zero.
RETCODES = {
    "already_running": 10,
    "missing_data": 20,
    "not_run": 25,
    "task_failed": 30,
    "scheduling_error": 35,
    "unhandled_exception": 40,
}


@dataclass(frozen=True)
class Topology:
    """The addresses luigi.cfg points the plugin at."""

    scheduler_url: str
    spark_master: str
    dsn: str
    lake: str
    s3_endpoint: str | None = None
    region: str = "us-east-1"
    jars: Sequence[str] = ()
    connect_url: str | None = None
    spark_properties: str | None = None


def render(topology: Topology) -> str:
    """Return the luigi.cfg text for ``topology``."""
    t = topology
    lines = [
        f"{MARKER}; it rewrites this file at every start and refuses to overwrite it without",
        "# that first line (so remove the line to keep your edits from being replaced).",
        "[core]",
        f"default_scheduler_url = {t.scheduler_url}",
        "autoload_range = true",
        "",
        "[lake]",
        f"root = {t.lake}",
        "",
        "[spark_script]",
        f"master = {t.spark_master}",
        "# One core per application: parallel Luigi workers share the cluster.",
        "total_executor_cores = 1",
    ]
    if t.spark_properties:
        lines += [
            "# The cluster's spark.authenticate secret, in a file only you can read (never argv).",
            f"properties_file = {t.spark_properties}",
        ]
    if t.jars:
        lines.append(f"jars = {json.dumps(list(t.jars))}")
    if t.connect_url:
        lines += ["mode = connect", f"connect_url = {t.connect_url}"]
    lines += ["", "[postgres_topn]", f"dsn = {t.dsn.replace('%', '%%')}", ""]
    if t.s3_endpoint:
        lines += [
            "# moto's keys are not here: source the env file `luigi-ufo dev` printed.",
            "[s3_endpoint]",
            f"endpoint_url = {t.s3_endpoint}",
            "path_style = true",
            f"region = {t.region}",
            "",
        ]
    lines.append("[retcode]")
    lines += [f"{key} = {value}" for key, value in RETCODES.items()]
    return "\n".join(lines) + "\n"


def check_writable(path: Path, *, force: bool) -> None:
    """Raise ConfigError if ``path`` holds a file ``dev`` did not write (unless ``force``)."""
    if force or not path.exists():
        return
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            first = handle.readline()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {str(path)!r} ({exc.strerror}); pick another --config"
        ) from None
    if path.stat().st_size and not first.startswith(MARKER):
        raise ConfigError(
            f"{str(path)!r} exists and was not written by `luigi-ufo dev`; pass --force to "
            "replace it or --config PATH to write elsewhere"
        )


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (whole, then renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write ``export`` lines for ``env`` to ``path``, readable by this user only."""
    lines = ["# Fake AWS keys of the `luigi-ufo dev` moto S3 lake: `source` this file."]
    lines += [f"export {key}={value}" for key, value in env.items()]
    lines.append("unset AWS_SESSION_TOKEN AWS_PROFILE")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    path.chmod(0o600)
