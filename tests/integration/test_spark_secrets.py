"""Credentials printed by a failing script never reach logs, the error text or luigid."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import luigi
import pytest

SCRIPTS = Path(__file__).parent / "spark_scripts"
sys.path.insert(0, str(SCRIPTS))  # probe_tasks must be importable by name

from probe_tasks import FAST_CONF, PgProbe, Probe  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SetConfig = Callable[[str, str, str], None]
ECHO = ["PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "MY_API_TOKEN"]


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(logging.Formatter("%(message)s").format(record))


@pytest.fixture
def all_logs() -> Iterator[list[str]]:
    handler = _Everything()
    root = logging.getLogger()
    loggers = [root, logging.getLogger("luigi-interface"), logging.getLogger("luigi_ufo")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    try:
        yield handler.text
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.removeHandler(handler)
            log.setLevel(level)


@pytest.fixture
def secrets(
    tmp_path: Path,
    luigi_config: SetConfig,
    spark_local_master: str,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    root = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, root, ignore=shutil.ignore_patterns("__pycache__"))
    luigi_config("spark_script", "scripts_dir", str(root))
    luigi_config("spark_script", "master", spark_local_master)
    luigi_config("spark_script", "conf", json.dumps(FAST_CONF))
    luigi_config("spark_script", "secret_env", json.dumps(["MY_API_TOKEN"]))
    values = {name: f"{name.lower()}-{uuid.uuid4().hex}" for name in ECHO}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def fetch_error(luigid: Any, task_id: str) -> str:
    query = urllib.parse.urlencode({"data": json.dumps({"task_id": task_id})})
    url = f"{luigid.url.rstrip('/')}/api/fetch_error?{query}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (local luigid)
        body = json.loads(response.read())
    return str(body["response"]["error"])


@pytest.mark.parametrize("task_class", [Probe, PgProbe], ids=["withheld", "asked-for"])
def test_no_credential_in_logs_error_or_luigid(
    task_class: type[Probe],
    secrets: dict[str, str],
    tmp_path: Path,
    luigid: Any,
    all_logs: list[str],
) -> None:
    task = task_class(
        root=str(tmp_path / "out"), script_args=["--mode", "fail", "--echo-env", *ECHO]
    )
    result = luigi.build(
        [task],
        detailed_summary=True,
        scheduler_host=luigid.host,
        scheduler_port=luigid.port,
    )
    assert result.status == luigi.LuigiStatusCode.FAILED
    error = fetch_error(luigid, task.task_id)
    assert "ValueError: probe failed on purpose" in error
    logged = "\n".join(all_logs)
    assert "probe AWS_SECRET_ACCESS_KEY=***" in logged  # the script did print it
    assert "probe MY_API_TOKEN=***" in logged
    if task_class is PgProbe:
        assert "probe PGPASSWORD=***" in logged  # asked for, passed, masked
    else:
        assert "spark-submit: probe PGPASSWORD=" in all_logs  # never reached spark-submit
    for name, value in secrets.items():
        assert value not in logged, f"{name} in the logs"
        assert value not in error, f"{name} on luigid's error page"
