"""Execute the Python examples of docs/pictures.md, and open the pages they write."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import luigi
import pytest
from psycopg2 import sql

from luigi_ufo.postgres import ConnectionSettings, connect, transaction
from tests.browser import chromium, open_file

pytestmark = [pytest.mark.integration, pytest.mark.docs]

DOC = Path(__file__).resolve().parents[2] / "docs" / "pictures.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_doc_has_a_calendar_and_a_chart_example() -> None:
    blocks = python_blocks()
    assert len(blocks) == 2
    assert "gaps_calendar(gaps)" in blocks[0]
    assert "read_topn(TopStates(date=day))" in blocks[1]


def test_the_examples_run_and_their_pages_load_nothing(
    postgres_dsn: str,
    luigi_config: Callable[[str, str, str], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    luigi_config("postgres_topn", "dsn", postgres_dsn)
    with connect(ConnectionSettings(dsn=postgres_dsn)) as conn, transaction(conn) as cur:
        cur.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("pictures_top_states"))
        )
    namespace: dict[str, Any] = {"__name__": "pictures_doc"}
    try:
        for block in python_blocks():
            exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the doc's own code
    finally:
        luigi.task_register.Register.clear_instance_cache()
    out = capsys.readouterr().out
    assert "missing: 2024-01-10" in out
    assert "unflagged: 2024-01-20" in out
    pages = [tmp_path / "gaps.html", tmp_path / "top.html"]
    assert [line for line in out.splitlines() if line.endswith(".html")] == list(map(str, pages))
    with chromium() as browser:
        gaps = open_file(browser, pages[0])
        assert gaps.requests == [pages[0].as_uri()]
        assert gaps.count('[id^="gaps-calendar-day-"]') == 31
        top = open_file(browser, pages[1])
        assert top.requests == [pages[1].as_uri()]
        assert [top.text(f"#topn-chart-label-{i}") for i in range(3)] == ["CA", "FL", "TX"]
        assert top.count('[id^="topn-chart-left-out-"]') == 1  # WA, tied with TX at 3rd place
