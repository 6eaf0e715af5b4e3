"""A date imported from another export is rebuilt and reloaded, the CLI's way and Luigi's alike.

The reference pipeline on real Spark and the per-user PostgreSQL, as the tutorial runs it: every
output records what it was made from, so a new export for a date is not "complete".
"""

from __future__ import annotations

import csv
import datetime
import gzip
import json
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from tests.real_nuforc import PRIMARY, real_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LUIGI_UFO = Path(sys.executable).with_name("luigi-ufo")
DATE = "2024-02-01"


def r1_count(path: Path, state: str) -> int:
    """Count US state ``state`` by rule R1 with the csv module alone."""
    with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows)
        found = [r for r in rows if r != header and len(r) == len(header)]
    codes = [r[2].strip().upper() for r in found]
    return codes.count(state)


def run(env: dict[str, str], cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def luigi(env: dict[str, str], cwd: Path, task: str, *args: str) -> str:
    argv = [sys.executable, "-m", "luigi", "--module", "luigi_ufo.ufo", task, "--date", DATE]
    result = run(env, cwd, *argv, *args, "--local-scheduler")
    assert "This progress looks :)" in result.stderr, result.stderr[-4000:]
    return result.stderr


def top(dsn: str) -> list[tuple[int, str, int]]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT rank, state, sightings FROM ufo_top_states WHERE date = %s ORDER BY rank",
            (datetime.date.fromisoformat(DATE),),
        )
        rows: list[tuple[int, str, int]] = cur.fetchall()
    conn.close()
    return rows


def test_the_tutorials_import_after_a_run_of_another_export_ends_with_the_reference_top(
    home: dict[str, str], tmp_path: Path
) -> None:
    real_file(PRIMARY)
    truncated = tmp_path / "truncated.csv.gz"
    with gzip.open(PRIMARY, "rt", encoding="utf-8", newline="") as fh:
        head = "".join(next(fh) for _ in range(2000))
    truncated.write_bytes(gzip.compress(head.encode("utf-8")))
    small_ca = r1_count(truncated, "CA")
    dsn = run(home, tmp_path, str(LUIGI_UFO), "db", "start").stdout.strip()
    try:
        Path(home["LUIGI_CONFIG_PATH"]).write_text(
            f"[lake]\nroot = {tmp_path / 'lake'}\n\n[postgres_topn]\ndsn = {dsn}\n",
            encoding="utf-8",
        )
        cli = run(home, tmp_path, str(LUIGI_UFO), "run", "--input", str(truncated), "--date", DATE)
        assert f"{1:>4}  {'CA':<5}  {small_ca:>9,}" in cli.stdout
        # The tutorial's steps with the full export: the import runs, and so does everything below.
        done = luigi(home, tmp_path, "ImportUFOExport", "--source", str(PRIMARY))
        assert "complete ones were encountered" not in done
        done = luigi(home, tmp_path, "TopStatesToDatabase")
        for task in ("AggregateUFOsByState", "TopTenStates", "TopStatesToDatabase"):
            assert f"- 1 {task}(date={DATE})" in done.split("ran successfully")[1]
        assert top(dsn)[0] == (1, "CA", 13_513)  # the README's reference answer
        # The marker row keeps what it loaded: with the aggregates rebuilt from the small export
        # on their own, the load is due again even though TopTenStates is complete.
        luigi(home, tmp_path, "ImportUFOExport", "--source", str(truncated))
        luigi(home, tmp_path, "TopTenStates")
        done = luigi(home, tmp_path, "TopStatesToDatabase")
        assert f"- 1 TopStatesToDatabase(date={DATE})" in done.split("ran successfully")[1]
        assert top(dsn)[0] == (1, "CA", small_ca)
        # Nothing changed since: everything is complete, nothing runs.
        done = luigi(home, tmp_path, "TopStatesToDatabase")
        assert "complete ones were encountered" in done
        assert "ran successfully" not in done
        record = next((tmp_path / "lake/ufo/raw" / DATE).glob("_lineage.*.json"))
        made = json.loads(record.read_text(encoding="utf-8"))
        assert made["inputs"][0]["identity"].startswith(f"content:{truncated.stat().st_size}:")
    finally:
        run(home, tmp_path, str(LUIGI_UFO), "db", "stop")
