"""Run docs/testing.md's Python examples as a test file in a child pytest session."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.docs]

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"

# The page's luigid example runs a user's module "mypipeline"; this is a minimal one.
MYPIPELINE = textwrap.dedent(
    """
    import luigi

    class TopCountries(luigi.Task):
        date = luigi.DateParameter()

        def output(self):
            return luigi.LocalTarget(f"top-{self.date}.txt")

        def run(self):
            with self.output().open("w") as out:
                out.write("US\\n")
    """
)


def test_docs_testing_examples_pass(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 3
    tests = "\n\n".join(blocks)
    assert tests.count("def test_") == 6
    (tmp_path / "test_docs_examples.py").write_text(tests)
    (tmp_path / "mypipeline.py").write_text(MYPIPELINE)
    # Without PYTEST_ADDOPTS: CI's --junitxml of this session is not the child's.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env |= {"PYTHONPATH": str(tmp_path), "LUIGI_CONFIG_PATH": str(tmp_path / "none")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_docs_examples.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "6 passed" in proc.stdout
    assert (tmp_path / "top-2026-11-24.txt").read_text() == "US\n"
