"""Print one CI leg's test counts from its JUnit XML; fail on a skip that is not declared expected.

Usage: python .ci/leg_report.py LEG REPORT.xml [REPORT.xml ...]

Every skipped test must match a line ``LEG PATTERN  # why`` of .ci/expected-skips (PATTERN is
``module::test`` where ``*`` matches anything, e.g. ``tests.unit.test_x::test_y[*]``); any other
skip fails the leg, so CI cannot pass while a test it claims to run did not. Exit status: 0, or 1
for an undeclared skip or a missing or empty report.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

EXPECTED = Path(__file__).with_name("expected-skips")


def declared(leg: str) -> list[str]:
    """Return the skip patterns ``.ci/expected-skips`` declares for ``leg``."""
    patterns = []
    for line in EXPECTED.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 2 and fields[0] in (leg, "*"):
            patterns.append(fields[1])
    return patterns


def matches(test: str, pattern: str) -> bool:
    """Tell whether ``test`` matches ``pattern``, where ``*`` stands for any text."""
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), test) is not None


def outcomes(report: Path) -> list[tuple[str, str, str]]:
    """Return ``(test id, outcome, message)`` for every test case of a JUnit XML report."""
    found = []
    # The leg's own report, written by its pytest: trusted input.
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, message = ("failed" if child.tag == "failure" else "error"), ""
                break
            if child.tag == "skipped":
                xfail = child.get("type") == "pytest.xfail"
                outcome, message = ("xfailed" if xfail else "skipped"), child.get("message", "")
        found.append((test, outcome, message))
    return found


def main(argv: list[str]) -> int:
    leg, reports = argv[0], [Path(p) for p in argv[1:]]
    cases = []
    for report in reports:
        if not report.is_file():
            print(f"[{leg}] no test report {str(report)!r}: the leg did not run", file=sys.stderr)
            return 1
        cases += outcomes(report)
    counts = Counter(outcome for _, outcome, _ in cases)
    patterns = declared(leg)
    skips = [(test, why) for test, outcome, why in cases if outcome == "skipped"]
    undeclared = [(t, why) for t, why in skips if not any(matches(t, p) for p in patterns)]
    order = ("passed", "failed", "error", "skipped", "xfailed")
    summary = ", ".join(f"{counts[name]} {name}" for name in order)
    print(f"[{leg}] {summary} ({len(skips) - len(undeclared)} skips declared expected)")
    for test, why in undeclared:
        print(f"[{leg}] undeclared skip: {test}: {why}", file=sys.stderr)
    if not cases:
        print(f"[{leg}] the reports hold no test", file=sys.stderr)
        return 1
    return 1 if undeclared else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
