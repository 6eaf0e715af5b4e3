"""``luigi-ufo run`` and ``demo`` end to end: real Spark, the embedded PostgreSQL, a local lake."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from luigi_ufo.cli.main import build_parser
from luigi_ufo.ufo.sample import write_sample
from tests import ufo_exports
from tests.real_nuforc import PRIMARY, PRIMARY_COUNTED, PRIMARY_RECORDS, PRIMARY_TOP, real_file

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LUIGI_UFO = Path(sys.executable).with_name("luigi-ufo")


def luigi_ufo(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(LUIGI_UFO), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_primary_file_json_and_rerun_replaces_the_date(
    home: dict[str, str], tmp_path: Path
) -> None:
    primary = real_file(PRIMARY)
    first = luigi_ufo(
        home, tmp_path, "run", "--input", str(primary), "--date", "2024-01-15", "--json"
    )
    doc = json.loads(first.stdout)
    assert doc["date"] == "2024-01-15"
    assert [(r["state"], r["sightings"]) for r in doc["top"]] == PRIMARY_TOP
    assert [r["rank"] for r in doc["top"]] == list(range(1, 11))
    assert doc["counted"] == PRIMARY_COUNTED
    assert doc["counted"] + sum(doc["rejected"].values()) == PRIMARY_RECORDS
    assert doc["rejected"]["repeated_header"] == 930
    assert re.search(r"AggregateUFOsByState \d+\.\d s", first.stderr)
    # Not a terminal: progress comes as plain lines, one per task start and end at least.
    for task in ("AggregateUFOsByState", "TopTenStates", "TopStatesToDatabase"):
        assert re.search(
            rf"^luigi-ufo: \[ *\d+\.\d s\] {task}\(date=2024-01-15\) done in ", first.stderr, re.M
        )
    assert "\x1b[" not in first.stderr

    # Same date again with N=3: the date's rows in PostgreSQL (which persisted) are replaced.
    second = luigi_ufo(
        home,
        tmp_path,
        "run",
        "--input",
        str(primary),
        "--date",
        "2024-01-15",
        "--top",
        "3",
        "--json",
        "--quiet",
    )
    again = json.loads(second.stdout)
    assert [(r["state"], r["sightings"]) for r in again["top"]] == PRIMARY_TOP[:3]
    assert again["counted"] == PRIMARY_COUNTED
    assert not re.search(r"^luigi-ufo: \[", second.stderr, re.M)  # --quiet: no progress


def test_readme_main_job_command_in_a_temp_dir(home: dict[str, str], tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    main_job = blocks[0].strip()
    assert main_job == (
        "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[all]' && luigi-ufo demo"
    )
    # The venv and install steps are the CI's own (.ci/run); here the installed command runs.
    command = main_job.rsplit("&& ", 1)[1]
    result = luigi_ufo(home, tmp_path, *command.split()[1:])
    table = result.stdout
    assert re.search(r"^Top 10 US states by NUFORC sightings, \d{4}-\d\d-\d\d$", table, re.M)
    ranks = re.findall(r"^\s+(\d+)  ([A-Z]{2})\s+([\d,]+)$", table, re.M)
    assert [int(r) for r, _, _ in ranks] == list(range(1, 11))
    # The demo's sample is seeded: the same sample, counted by the tests' own R1 counter.
    defaults = build_parser().parse_args(["demo"])
    sample = write_sample(tmp_path / "same.csv.gz", defaults.rows, seed=defaults.seed)
    counts = ufo_exports.count_file(sample.path)
    assert [(s, int(n.replace(",", ""))) for _, s, n in ranks] == counts.top(10)
    total = f"records {counts.records:,}: counted {counts.counted:,}"
    assert total in table


def run_status(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``luigi-ufo`` and return its result, whatever its exit status."""
    return subprocess.run(
        [str(LUIGI_UFO), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_bad_exports_exit_2_and_keep_the_dates_rows(home: dict[str, str], tmp_path: Path) -> None:
    good = write_sample(tmp_path / "good.csv.gz", 2_000, seed=5)
    first = luigi_ufo(home, tmp_path, "run", "--input", str(good.path), "--date", "2024-03-01")
    want = sorted(good.states.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    header = "Date / Time,City,State,Shape,Duration,Summary,Posted\n"
    rejected = tmp_path / "all-rejected.csv"
    rejected.write_text(header + "1/1/19,Toronto,ON,,,,1/2/19\n" * 3, encoding="utf-8")
    empty = tmp_path / "header-only.csv"
    empty.write_text(header, encoding="utf-8")
    for path, message in [
        (rejected, "3 of 3 records (all) were rejected"),
        (empty, "no records after the header"),
    ]:
        result = run_status(home, tmp_path, "run", "--input", str(path), "--date", "2024-03-01")
        assert result.returncode == 2, result.stderr[-4000:]
        assert f"luigi-ufo: error: {path}" in result.stderr
        assert message in result.stderr
        assert "Top 10" not in result.stdout
    # Nothing was loaded over the good run's rows.
    url = luigi_ufo(home, tmp_path, "db", "start").stdout.strip()
    try:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT state, sightings FROM ufo_top_states ORDER BY rank")
            assert cur.fetchall() == want
        conn.close()
    finally:
        luigi_ufo(home, tmp_path, "db", "stop")
    assert "Top 10" in first.stdout


def test_a_full_disk_during_the_import_names_the_path_and_exits_2(
    home: dict[str, str], tmp_path: Path, full_disk: Path
) -> None:
    export = write_sample(tmp_path / "export.csv.gz", 5_000, seed=2).path
    assert export.stat().st_size > 64 * 1024
    # A configured server: none is started, and the import fails before any connection.
    Path(home["LUIGI_CONFIG_PATH"]).write_text(
        f"[lake]\nroot = {full_disk / 'lake'}\n\n[postgres_topn]\ndsn = postgresql://127.0.0.1:9/x\n",
        encoding="utf-8",
    )
    result = run_status(home, tmp_path, "run", "--input", str(export), "--date", "2024-03-01")
    assert result.returncode == 2, result.stderr[-4000:]
    partition = full_disk / "lake" / "ufo" / "raw" / "2024-03-01"
    where = repr(str(partition / "export.csv.gz"))
    assert f"could not write {where}: No space left on device (ENOSPC)" in result.stderr
    assert "unexpected" not in result.stderr
    assert sorted(p.name for p in partition.iterdir()) == []  # no flag, no half-written part
