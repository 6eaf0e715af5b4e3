"""A local ``[lake] root`` holding ``#`` and ``%`` works end to end with real Spark.

``#`` used to be cut off as a URI fragment on the way to the executors ("No such file"); ``%``
is ConfigParser interpolation in luigi.cfg and is written ``%%`` there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from luigi_ufo.ufo.sample import write_sample

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_pipeline_on_a_lake_whose_path_holds_hash_and_percent(
    tmp_path: Path, spark_local_master: str
) -> None:
    lake = tmp_path / "lake #1 50%"
    sample = write_sample(tmp_path / "export.csv.gz", 500, seed=7)
    config = tmp_path / "luigi.cfg"
    config.write_text(
        "[core]\nautoload_range = false\n"
        f"[lake]\nroot = {str(lake).replace('%', '%%')}\n"
        f"[spark_script]\nmaster = {spark_local_master}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config)}
    for task in (
        ["ImportUFOExport", "--source", str(sample.path)],
        ["TopTenStates"],
    ):
        argv = [sys.executable, "-m", "luigi", "--module", "luigi_ufo.ufo", "--local-scheduler"]
        result = subprocess.run(
            [*argv, *task, "--date", "2024-03-01"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert "This progress looks :)" in result.stderr, result.stderr[-4000:]
    by_state = lake / "ufo" / "by_state" / "2024-03-01"
    assert (by_state / "_SUCCESS").exists()
    # A local lake takes the scripts' classic fast path: its Python writer names the part so.
    # Beside the flag, the task recorded what the partition was made from.
    names = sorted(p.name for p in by_state.iterdir() if not p.name.startswith("_lineage."))
    assert names == ["_SUCCESS", "part-00000.csv"]
    assert len(list(by_state.glob("_lineage.*.json"))) == 1
    (part,) = by_state.glob("part-*.csv")
    rows = part.read_text(encoding="utf-8").splitlines()[1:]
    counted = {line.split(",")[0]: int(line.split(",")[1]) for line in rows}
    assert counted == sample.states
    (top_part,) = (lake / "ufo" / "top_states" / "2024-03-01").glob("part-*.csv")
    top = top_part.read_text("utf-8")
    assert len(top.splitlines()) == 1 + min(10, len(sample.states))
