"""README's test command and .ci/run must not drift apart."""

from __future__ import annotations

import configparser
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
    assert re.search(r'"\$native_status" -eq 5', ci)
    assert ci.rstrip().endswith('exit "$status"')
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def tox_commands(env: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "tox.ini")
    return [line.strip() for line in parser[env]["commands"].splitlines() if line.strip()]


def test_ci_runs_tox_lint_and_type_commands_verbatim() -> None:
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = tox_commands("testenv:lint") + tox_commands("testenv:type")
    assert commands, "tox.ini has no lint or type commands"
    assert [c for c in commands if c not in ci_lines] == []


def test_ci_runs_every_leg_strict_and_reports_its_counts() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "export LUIGI_UFO_TEST_STRICT=1" in ci
    for leg in (".ci/wheel-smoke", ".ci/docker-leg test"):
        assert f'bash {leg} "$reports"' in ci, leg
    # The tox leg runs from a copy of the checkout, in two parts (beside and after the native leg).
    for part in ("unit", "spark"):
        assert f'bash "$tox_src/.ci/tox-leg" "$reports" {part}' in ci, part
    assert 'python .ci/leg_report.py native "$reports/native.xml"' in ci
    for script in ("tox-leg", "docker-leg", "wheel-smoke"):
        assert "leg_report.py" in (ROOT / ".ci" / script).read_text(), script
