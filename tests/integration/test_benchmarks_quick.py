"""Every benchmark runs in ``--quick`` mode, so the scripts cannot rot between real runs.

The numbers of a quick run mean nothing; the test checks only that each benchmark completes,
prints its table and writes a well-formed result with at least one baseline row.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import discover

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(discover()))
def test_benchmark_runs_in_quick_mode(name: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", name, "--results-dir", tmp_path],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "| variant |" in proc.stdout
    result = json.loads((tmp_path / f"{name}.quick.json").read_text(encoding="utf-8"))
    assert result["quick"] is True
    assert result["machine"]["cores"]
    for rows in result["sections"].values():
        assert rows, f"{name}: a section without rows"
        assert all(r["runs"] >= 1 and r["median_s"] >= 0 for r in rows)
