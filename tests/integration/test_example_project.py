"""tests/example_project, a user's own project, works with the built wheel as its README says.

In a fresh venv with luigi-ufo's wheel installed (not this checkout): mypy strict with luigi's
plugin passes, the project's own pytest run (``filterwarnings = error``) passes with the plugin
loaded from its entry point, and ``python -m luigi`` shows Spark's lines, loads the top pages
into a real PostgreSQL, and exits 30 (examples/luigi.cfg's ``task_failed``) when a run fails.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "example_project"
GOOD_DAY, BAD_DAY = "2024-03-01", "2024-03-02"
#: page,user rows of the good day: 4 x /home, 3 x /pricing, 2 x /docs, 1 x /blog.
CLICKS = [("/home", u) for u in "abcd"] + [("/pricing", u) for u in "abc"]
CLICKS += [("/docs", "a"), ("/docs", "b"), ("/blog", "a")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Copy the example project to a fresh directory and put two days of raw clicks in its lake."""
    root = tmp_path / "clicks-project"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns("__pycache__", ".*_cache"))
    for day, rows in ((GOOD_DAY, CLICKS), (BAD_DAY, [*CLICKS, ("", "z")])):
        partition = root / "lake" / "raw" / day
        partition.mkdir(parents=True)
        lines = ["page,user", *(f"{page},{user}" for page, user in rows)]
        (partition / "part-00000.csv").write_text("\n".join(lines) + "\n")
        (partition / "_SUCCESS").write_text("")
    return root


def project_env(wheel_python: Path, postgres_dsn: str) -> dict[str, str]:
    """The environment of a developer of the project: the venv first, own AWS profile, PG*."""
    params = dict(item.split("=", 1) for item in postgres_dsn.split())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LUIGI_CONFIG"))}
    env |= {
        "PATH": f"{wheel_python.parent}{os.pathsep}{env.get('PATH', '')}",
        "AWS_PROFILE": "clicks-dev",
        "AWS_ACCESS_KEY_ID": "AKIA-CLICKS-DEV",
        "PGHOST": params["host"],
        "PGPORT": params["port"],
        "PGUSER": params["user"],
        "PGDATABASE": params["dbname"],
    }
    for var in ("PYTHONPATH", "PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYTEST_ADDOPTS"):
        env.pop(var, None)
    return env


def run(
    python: Path, args: list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.timeout(1800)  # a wheel build, mypy, pytest and two Spark runs, on a busy machine
def test_example_project_with_the_built_wheel(
    wheel_python: Path, postgres_dsn: str, project: Path, tmp_path: Path
) -> None:
    env = project_env(wheel_python, postgres_dsn)
    where = run(wheel_python, ["-c", "import luigi_ufo; print(luigi_ufo.__file__)"], project, env)
    assert Path(where.stdout.strip()).is_relative_to(wheel_python.parents[1]), where

    # The project's luigi.cfg starts with the shipped example's [retcode].
    ours, shipped = configparser.ConfigParser(), configparser.ConfigParser()
    ours.read(project / "luigi.cfg")
    shipped.read(REPO / "examples" / "luigi.cfg")
    assert dict(ours["retcode"]) == dict(shipped["retcode"])

    typed = run(wheel_python, ["-m", "mypy", "--cache-dir", str(tmp_path / "mypy")], project, env)
    assert typed.returncode == 0, typed.stdout + typed.stderr
    assert "Success: no issues found in 4 source files" in typed.stdout

    snapshot = tmp_path / "environment.json"
    pytest_env = {**env, "EXPECTED_ENVIRONMENT": str(snapshot)}
    expected = {k: v for k, v in pytest_env.items() if not k.startswith("PYTEST_")}
    snapshot.write_text(json.dumps(expected))
    own_tests = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
    tested = run(wheel_python, own_tests, project, pytest_env)
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert "3 passed" in tested.stdout, tested.stdout[-2000:]
    assert "warning" not in tested.stdout

    luigi = ["-m", "luigi", "--module", "clicks.tasks", "TopPages", "--local-scheduler"]
    good = run(wheel_python, [*luigi, "--date", GOOD_DAY], project, env)
    assert good.returncode == 0, good.stderr[-4000:]
    # The runner's own lines reach Luigi's console (Spark's INFO lines are quiet by default).
    assert "INFO: running " in good.stderr, good.stderr[-4000:]
    assert "This progress looks :)" in good.stderr
    with psycopg2.connect(postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT rank, page, clicks FROM top_pages WHERE date = %s ORDER BY rank", (GOOD_DAY,)
        )
        assert cur.fetchall() == [(1, "/home", 4), (2, "/pricing", 3), (3, "/docs", 2)]
    conn.close()

    bad = run(wheel_python, [*luigi, "--date", BAD_DAY], project, env)
    assert bad.returncode == 30, bad.stderr[-4000:]
    assert "INFO: spark-submit: " in bad.stderr
    assert "ValueError: click row without page or user: {'page': None, 'user': 'z'}" in bad.stderr
    assert not (project / "lake" / "clicks_by_page" / BAD_DAY / "_SUCCESS").exists()
