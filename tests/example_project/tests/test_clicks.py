"""The project's own tests: plain ones, and one using a luigi-ufo fixture."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from pathlib import Path

from clicks.tasks import CountClicks, TopPages

DAY = datetime.date(2024, 3, 1)


def test_tasks_chain_by_date() -> None:
    assert TopPages(date=DAY).requires() == CountClicks(date=DAY)
    assert CountClicks(date=DAY).output().uri.endswith("lake/clicks_by_page/2024-03-01/")


def test_environment_is_the_one_pytest_was_started_with() -> None:
    # The driving test writes the environment it starts pytest with (EXPECTED_ENVIRONMENT);
    # pytest itself adds only PYTEST_* variables.
    expected = json.loads(Path(os.environ["EXPECTED_ENVIRONMENT"]).read_text(encoding="utf-8"))
    actual = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    assert actual == expected


def test_lake_setting_for_one_test(luigi_config: Callable[[str, str, str], None]) -> None:
    luigi_config("lake", "root", "/elsewhere")
    assert CountClicks(date=DAY).output().uri == "/elsewhere/clicks_by_page/2024-03-01/"
