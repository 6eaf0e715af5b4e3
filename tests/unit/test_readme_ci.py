"""README's test command and .ci/run must not drift apart."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_test_command() -> str:
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines()]
    testing = [c for c in commands if re.search(r"(^|&&\s*)pytest\b", c)]
    assert len(testing) == 1, f"README must show exactly one test command, found {testing!r}"
    return testing[0]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    command = _readme_test_command()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_readme_test_command_installs_test_extras_and_runs_pytest() -> None:
    command = _readme_test_command()
    assert re.fullmatch(
        r"pip install -e ['\"]?\.\[test[\w,]*\]['\"]? && (python -m )?pytest", command
    )


def test_ci_treats_no_collected_tests_as_failure() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r'"\$status" -eq 5', ci)
    assert ci.rstrip().endswith('exit "$status"')
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
