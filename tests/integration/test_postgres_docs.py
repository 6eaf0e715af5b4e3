"""Execute the Python example of docs/postgres-topn.md against the harness's PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import luigi
import pytest
from psycopg2 import sql

from luigi_ufo.postgres import ConnectionSettings, connect, transaction

pytestmark = [pytest.mark.integration, pytest.mark.docs]

DOC = Path(__file__).resolve().parents[2] / "docs" / "postgres-topn.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_doc_has_one_runnable_example() -> None:
    blocks = python_blocks()
    assert len(blocks) == 1
    assert "class TopStates(PostgresTopNTask)" in blocks[0]


def test_the_example_runs(
    postgres_dsn: str,
    luigi_config: Callable[[str, str, str], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    luigi_config("postgres_topn", "dsn", postgres_dsn)
    with connect(ConnectionSettings(dsn=postgres_dsn)) as conn, transaction(conn) as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("ufo", "top_states")))
    namespace: dict[str, Any] = {"__name__": "postgres_topn_doc"}
    try:
        exec(compile(python_blocks()[0], str(DOC), "exec"), namespace)  # noqa: S102 - the doc's code
    finally:
        luigi.task_register.Register.clear_instance_cache()
    assert len(namespace["rows"]) == 4
    assert (tmp_path / "lake/by_state/2024-01-07/_SUCCESS").exists()
    task = namespace["TopStates"](date=namespace["day"])
    assert task.complete()
