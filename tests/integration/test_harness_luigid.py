from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from luigi_ufo.testing.luigid import LuigidService

pytestmark = pytest.mark.integration

PIPELINE = textwrap.dedent(
    """
    import luigi

    class Extract(luigi.Task):
        root = luigi.Parameter()

        def output(self):
            return luigi.LocalTarget(f"{self.root}/extract.txt")

        def run(self):
            with self.output().open("w") as out:
                out.write("CA\\nTX\\nCA\\n")

    class Count(luigi.Task):
        root = luigi.Parameter()

        def requires(self):
            return Extract(root=self.root)

        def output(self):
            return luigi.LocalTarget(f"{self.root}/count.txt")

        def run(self):
            with self.input().open() as src, self.output().open("w") as out:
                out.write(str(len(src.read().split())))
    """
)


def test_two_task_run_through_luigid_is_done_in_task_list(
    luigid: LuigidService, tmp_path: Path
) -> None:
    (tmp_path / "harness_pipeline.py").write_text(PIPELINE)
    root = tmp_path / "out"
    argv = [
        sys.executable,
        "-m",
        "luigi",
        "--module",
        "harness_pipeline",
        "Count",
        "--root",
        str(root),
        "--scheduler-url",
        luigid.url,
        "--workers",
        "2",
    ]
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "LUIGI_CONFIG_PATH": str(tmp_path / "no")}
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (root / "count.txt").read_text() == "3"
    done = luigid.task_list("DONE")
    # luigid is shared by the session: look only at this run's tasks.
    ours = sorted(task["name"] for task in done.values() if task["params"]["root"] == str(root))
    assert ours == ["Count", "Extract"]
    failed = luigid.task_list("FAILED").values()
    assert not [task for task in failed if task["params"].get("root") == str(root)]
