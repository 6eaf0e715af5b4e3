"""The built wheel carries the external scripts and the pytest plugin, and no NUFORC data."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
#: What `import benchmarks` leaves luigi_ufo and its scripts directory resolved to.
WHICH_LUIGI_UFO = (
    "import benchmarks, benchmarks._ufo, luigi_ufo; from luigi_ufo.spark.scripts import "
    "scripts_root; print(luigi_ufo.__file__, scripts_root(None))"
)


def test_wheel_ships_scripts_and_plugin_but_no_data(built_wheel: Path) -> None:
    with zipfile.ZipFile(built_wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        plugins = zf.read(entry_points).decode()
    assert {
        "luigi_ufo/scripts/aggregate_by_state.py",
        "luigi_ufo/scripts/top_10.py",
        "luigi_ufo/py.typed",
        "luigi_ufo/testing/plugin.py",
    } <= names
    assert "luigi_ufo.testing.plugin = luigi_ufo.testing.plugin" in plugins
    assert "luigi-ufo = luigi_ufo.cli:main" in plugins
    data = [n for n in names if n.endswith((".csv", ".gz", ".tsv"))]
    assert data == [], f"the wheel must not ship data files (licence): {data}"


@pytest.mark.slow
def test_benchmarks_run_from_a_checkout_with_a_non_editable_install(
    wheel_python: Path, tmp_path: Path
) -> None:
    # python -m puts the checkout first on sys.path; its luigi_ufo/ has no scripts subpackage.
    where = subprocess.run(
        [str(wheel_python), "-c", WHICH_LUIGI_UFO],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert where.returncode == 0, where.stderr[-3000:]
    package, scripts = where.stdout.split()
    installed = Path(wheel_python).parents[1]
    assert Path(package).is_relative_to(installed), package
    assert Path(scripts).is_relative_to(installed), scripts
    assert Path(scripts).name == "scripts", scripts
    quick = ["--quick", "--only", "aggregation", "--results-dir", str(tmp_path)]
    run = subprocess.run(
        [str(wheel_python), "-m", "benchmarks", *quick],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "spark-submit aggregate_by_state.py" in run.stdout
    assert (tmp_path / "aggregation.quick.json").exists()
