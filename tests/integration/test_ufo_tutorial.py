"""docs/tutorial.md: every ``sh`` command of it runs as written, in order, and does what it says.

The laptop section runs on the tutorial's own embedded defaults (``luigi-ufo db`` in a fresh data
dir); the cluster section on services the fixtures start: luigid, a Spark standalone cluster with
the s3a jars, PostgreSQL and an S3 server (moto) holding the lake. The dates are fixed, so the
``--days-back`` the tutorial computes makes this pass on any calendar date.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import psycopg2
import pytest

from tests import ufo_exports

pytestmark = [pytest.mark.integration, pytest.mark.docs, pytest.mark.slow, pytest.mark.s3a]

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
LAPTOP_DAYS = [datetime.date(2024, 1, 15) + datetime.timedelta(days=i) for i in range(5)]
CLUSTER_DAYS = [datetime.date(2024, 2, 1), datetime.date(2024, 2, 2)]


def commands(section: str) -> list[str]:
    """Return the ``sh`` blocks of the tutorial's section titled ``section``, in order."""
    text = TUTORIAL.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", body, flags=re.S)]


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-4000:])
    return result


def expected_top(export: Path) -> tuple[list[tuple[str, int]], int]:
    counts = ufo_exports.count_file(export)  # the tests' own R1 counter, not the script's
    return counts.top(10), counts.counted


@pytest.mark.timeout(3600)  # eleven Spark applications, two of them on s3a
def test_tutorial_runs_as_written(
    home: dict[str, str],
    tmp_path: Path,
    luigid: Any,
    spark_master: Any,
    postgres_dsn: str,
    s3_endpoint: str,
    s3_bucket: str,
    s3a_jars: list[str],
) -> None:
    laptop, cluster = commands("On a laptop"), commands("On a cluster")
    assert len(laptop) == 7, laptop
    assert len(cluster) == 2, cluster
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in home.items() if not k.startswith("PG")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    outputs = [run(command, work, env) for command in laptop]

    ranked, counted = expected_top(work / "export.csv.gz")
    table = outputs[1].stdout
    rows = re.findall(r"^\s+\d+  ([A-Z]{2})\s+([\d,]+)$", table, re.M)
    assert [(s, int(n.replace(",", ""))) for s, n in rows] == ranked
    assert f"counted {counted:,}" in table
    backfill = outputs[5].stderr
    for of in ("AggregateUFOsByState", "TopTenStates"):
        assert f"ran successfully:\n    - 1 SparkBackfill(of={of}, start=2024-01-16" in backfill
    # The psql query prints every loaded date's ranking; `db stop` stopped the server.
    queried = re.findall(
        r"^\s*(\d{4}-\d\d-\d\d) \|\s+(\d+) \| (\w\w)\s+\|\s+(\d+)$", outputs[6].stdout, re.M
    )
    for day in LAPTOP_DAYS:  # 01-15 by `luigi-ufo run`, 01-16 the Luigi way, then the backfill
        got = [(s, int(n)) for d, _, s, n in queried if d == day.isoformat()]
        assert got == ranked, (day, outputs[6].stdout[-3000:])
    for day in LAPTOP_DAYS[1:]:
        assert (work / "lake" / "ufo" / "top_states" / day.isoformat() / "_SUCCESS").exists()
    status = subprocess.run(["luigi-ufo", "db", "status"], env=env, capture_output=True)
    assert status.returncode == 3, status  # `db stop` stopped it

    # The cluster section: its addresses from the environment, as the tutorial says. moto is an
    # S3-compatible store, so [s3_endpoint] also gets its endpoint (from the config path Luigi reads
    # after ./luigi.cfg).
    overlay = tmp_path / "s3-endpoint.cfg"
    overlay.write_text(
        f"[s3_endpoint]\nendpoint_url = {s3_endpoint}\npath_style = true\nregion = us-east-1\n"
    )
    env |= {
        "LUIGI_CONFIG_PATH": str(overlay),
        "LUIGID_URL": luigid.url,
        "SPARK_MASTER": spark_master.master_url,
        "LAKE": f"s3://{s3_bucket}/prod",
        "S3A_JARS": json.dumps(s3a_jars),
        "PG_DSN": postgres_dsn,
    }
    for command in cluster:
        run(command, work, env)

    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    done = luigid.task_list("DONE")
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        for day in CLUSTER_DAYS:
            cur.execute(
                "SELECT state, sightings FROM ufo_top_states WHERE date = %s ORDER BY rank",
                (day,),
            )
            assert cur.fetchall() == ranked, day
            flag = f"prod/ufo/top_states/{day.isoformat()}/_SUCCESS"
            s3.head_object(Bucket=s3_bucket, Key=flag)
            assert any(
                t["name"] == "TopStatesToDatabase" and t["params"]["date"] == day.isoformat()
                for t in done.values()
            ), done.keys()
    conn.close()
