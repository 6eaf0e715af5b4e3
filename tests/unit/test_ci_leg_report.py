""".ci/leg_report.py: a leg's counts from its JUnit report, and a failure for an undeclared skip."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "leg_report.py"
REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.unit.test_a" name="test_ok" />
<testcase classname="tests.unit.test_a" name="test_p[x]" />
<testcase classname="tests.unit.test_a" name="test_bad"><failure message="no" /></testcase>
<testcase classname="tests.unit.test_b" name="test_mac[1]">
  <skipped type="pytest.skip" message="needs macOS" /></testcase>
<testcase classname="tests.unit.test_b" name="test_known">
  <skipped type="pytest.xfail" message="known bug" /></testcase>
</testsuite></testsuites>
"""


def report(tmp_path: Path, declared: str) -> subprocess.CompletedProcess[str]:
    ci = tmp_path / "ci"
    ci.mkdir()
    shutil.copy(SCRIPT, ci / SCRIPT.name)
    (ci / "expected-skips").write_text(declared)
    (tmp_path / "leg.xml").write_text(REPORT)
    return subprocess.run(
        [sys.executable, str(ci / SCRIPT.name), "unit", str(tmp_path / "leg.xml")],
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_undeclared_skip_fails_the_leg_and_is_named(tmp_path: Path) -> None:
    ran = report(tmp_path, "# nothing expected\nother tests.unit.test_b::*  # another leg's\n")
    assert ran.returncode == 1
    assert "[unit] 2 passed, 1 failed, 0 error, 1 skipped, 1 xfailed" in ran.stdout
    assert "undeclared skip: tests.unit.test_b::test_mac[1]: needs macOS" in ran.stderr


def test_a_declared_skip_is_counted_and_passes(tmp_path: Path) -> None:
    ran = report(tmp_path, "unit tests.unit.test_b::test_mac[*]  # needs macOS\n")
    assert ran.returncode == 0, ran.stderr
    assert "(1 skips declared expected)" in ran.stdout


def test_a_missing_report_fails(tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, str(SCRIPT), "unit", str(tmp_path / "none.xml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 1
    assert "the leg did not run" in ran.stderr
