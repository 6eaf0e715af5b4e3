"""examples/luigi.cfg makes ``python -m luigi`` exit non-zero on failures; the docs agree."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.docs]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "luigi.cfg"

TASKS = """
import luigi


class Missing(luigi.ExternalTask):
    def output(self):
        return luigi.LocalTarget("not-there")


class NeedsMissing(luigi.Task):
    def requires(self):
        return Missing()

    def output(self):
        return luigi.LocalTarget("never")


class Fails(luigi.Task):
    def output(self):
        return luigi.LocalTarget("never")

    def run(self):
        raise ValueError("fails on purpose")


class Works(luigi.Task):
    def output(self):
        return luigi.LocalTarget("works.txt")

    def run(self):
        with self.output().open("w") as out:
            out.write("ok")
"""


def run_luigi(tmp_path: Path, config: Path, task: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tasks.py").write_text(TASKS)
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config), "PYTHONPATH": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "tasks", task, "--local-scheduler"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(("task", "code"), [("Works", 0), ("Fails", 30), ("NeedsMissing", 20)])
def test_example_config_gives_failures_non_zero_exit_codes(
    tmp_path: Path, task: str, code: int
) -> None:
    done = run_luigi(tmp_path, EXAMPLE, task)
    assert done.returncode == code, done.stderr[-3000:]
    assert "DeprecationWarning" not in done.stderr  # [core] autoload_range is set


def test_without_it_a_failed_task_exits_0(tmp_path: Path) -> None:
    # Luigi's own default, the reason the example exists.
    empty = tmp_path / "empty.cfg"
    empty.write_text("")
    done = run_luigi(tmp_path, empty, "Fails")
    assert "ValueError: fails on purpose" in done.stderr
    assert done.returncode == 0


def retcodes(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return dict(parser["retcode"])


@pytest.mark.parametrize("doc", ["docs/tutorial.md", "docs/spark-task.md"])
def test_docs_show_the_example_retcodes(doc: str) -> None:
    text = (REPO / doc).read_text(encoding="utf-8")
    blocks = re.findall(r"^\[retcode\]\n(?:\w+ = \d+\n)+", text, flags=re.M)
    assert blocks, f"{doc} shows no [retcode] section"
    expected = retcodes(EXAMPLE.read_text(encoding="utf-8"))
    assert all(retcodes(block) == expected for block in blocks)
    assert "examples/luigi.cfg" in text
