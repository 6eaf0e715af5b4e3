"""Execute the code example of docs/spark-task.md with real spark-submit on local[2]."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.docs, pytest.mark.slow]

DOC = Path(__file__).parents[2] / "docs" / "spark-task.md"
BLOCK = re.compile(r"<!-- docs-test: (file (\S+)|run) -->\n```\w*\n(.*?)```", re.DOTALL)


def blocks() -> tuple[dict[str, str], str]:
    files: dict[str, str] = {}
    run = ""
    for match in BLOCK.finditer(DOC.read_text(encoding="utf-8")):
        if match.group(2):
            files[match.group(2)] = match.group(3)
        else:
            run = match.group(3)
    return files, run


def test_doc_has_the_blocks_this_test_runs() -> None:
    files, run = blocks()
    assert set(files) == {"scripts/count_words.py", "luigi.cfg"}
    assert "luigi.build" in run


def test_doc_example_runs(tmp_path: Path, spark_local_master: str) -> None:
    files, run = blocks()
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert f"master = {spark_local_master}" in files["luigi.cfg"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "words.txt").write_text("The cat\nthe dog  the END\ncat\n")
    (tmp_path / "example.py").write_text(run)
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(tmp_path / "luigi.cfg")}
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    partition = tmp_path / "data" / "word_counts" / "2026-11-24"
    assert (partition / "_SUCCESS").exists(), done.stderr[-5000:]
    rows = "".join(p.read_text() for p in sorted(partition.glob("part-*"))).splitlines()
    assert rows == ["word,count", "cat,2", "the,3"]
