"""The built wheel carries the external scripts and the pytest plugin, and no NUFORC data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_wheel_ships_scripts_and_plugin_but_no_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("luigi_ufo-*.whl")
    with zipfile.ZipFile(wheel) as zf:
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
