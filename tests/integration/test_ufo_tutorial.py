"""docs/tutorial.md: every command of its laptop section runs, in order, and does what it says."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest
from luigi_ufo.scripts import aggregate_by_state

pytestmark = [pytest.mark.integration, pytest.mark.docs, pytest.mark.slow]

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"


def laptop_commands() -> list[str]:
    text = TUTORIAL.read_text(encoding="utf-8")
    section = text.split("## On a laptop", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S)]


def test_laptop_section_runs_as_written(postgres_dsn: str, tmp_path: Path) -> None:
    commands = laptop_commands()
    assert len(commands) == 5, commands
    params = dict(item.split("=", 1) for item in postgres_dsn.split())
    data = Path(tempfile.mkdtemp(prefix="luigi-ufo-tutorial-"))
    data.chmod(0o755)  # the embedded PostgreSQL's unprivileged user must enter it when we are root
    env = {k: v for k, v in os.environ.items() if k != "LUIGI_CONFIG_PATH"}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "LUIGI_UFO_DATA_DIR": str(data),
        "PGHOST": params["host"],
        "PGPORT": params["port"],
        "PGUSER": params["user"],
        "PGDATABASE": params["dbname"],
    }
    outputs, logs = [], []
    try:
        for command in commands:
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, (command, result.stderr[-4000:])
            outputs.append(result.stdout)
            logs.append(result.stderr)
    finally:
        shutil.rmtree(data, ignore_errors=True)

    export = tmp_path / "export.csv.gz"
    counts = aggregate_by_state.count_stream(lambda: export.open("rb"))
    expected = sorted(counts.states.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    table = outputs[1]
    rows = re.findall(r"^\s+\d+  ([A-Z]{2})\s+([\d,]+)$", table, re.M)
    assert [(s, int(n.replace(",", ""))) for s, n in rows] == expected
    assert f"counted {counts.counted:,}" in table

    backfill = logs[4]  # python -m luigi exits 0 even when a task fails: read its summaries
    assert backfill.count("This progress looks :)") == 6, backfill[-4000:]
    for of in ("AggregateUFOsByState", "TopTenStates"):
        assert f"ran successfully:\n    - 1 SparkBackfill(of={of}, start=2024-01-16" in backfill
    days = [datetime.date(2024, 1, 16) + datetime.timedelta(days=i) for i in range(4)]
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        for day in days:  # the first by the Luigi way, the others by the backfill
            cur.execute(
                "SELECT state, sightings FROM ufo_top_states WHERE date = %s ORDER BY rank",
                (day,),
            )
            assert cur.fetchall() == expected, day
    conn.close()
    for day in days:
        assert (tmp_path / "lake" / "ufo" / "top_states" / day.isoformat() / "_SUCCESS").exists()
