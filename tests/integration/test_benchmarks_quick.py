"""Every benchmark runs in ``--quick`` mode, so the scripts cannot rot between real runs.

The numbers of a quick run mean nothing; the test checks only that each benchmark completes,
prints its table and writes a well-formed result with at least one baseline row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import discover
from benchmarks._ufo import scripts_run_under_connect
from benchmarks.bench_backfill import (
    CONNECT_BATCH,
    CONNECT_PER_DATE,
    SUBMIT_PER_DATE,
    SUBMIT_PER_DATE_APPS,
)
from tests.real_nuforc import DATA_ENV

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
    if name == "backfill":  # equal work side by side, each row saying its mode and its work
        (rows,) = result["sections"].values()
        assert [r["variant"] for r in rows] == [
            SUBMIT_PER_DATE_APPS,
            SUBMIT_PER_DATE,
            *([CONNECT_PER_DATE, CONNECT_BATCH] if scripts_run_under_connect() else []),
        ]
    if name == "pipeline":  # a quick run measures a sample, and says so
        assert "not the NUFORC file" in result["title"]
        assert all("(generated sample)" in section for section in result["sections"])


def test_the_pipeline_benchmark_refuses_to_run_without_the_real_file(tmp_path: Path) -> None:
    env = {**os.environ, DATA_ENV: str(tmp_path / "no-such-dir")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "pipeline", "--results-dir", tmp_path],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode != 0
    assert "measures the primary NUFORC file" in proc.stderr
    assert f"set {DATA_ENV}" in proc.stderr
    assert list(tmp_path.glob("*.json")) == []
