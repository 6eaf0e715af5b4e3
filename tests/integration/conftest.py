"""Fixtures shared by the integration tests of the ``luigi-ufo`` command."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from luigi_ufo._pause import PAUSE_ENV


def postgres_processes(data: Path) -> list[psutil.Process]:
    """Every live postgres process (postmaster or backend) working below ``data``."""
    found = []
    for proc in psutil.process_iter(["name"]):
        try:
            if (
                proc.info["name"] == "postgres"
                and proc.status() != psutil.STATUS_ZOMBIE
                and Path(proc.cwd()).resolve().is_relative_to(data.resolve())
            ):
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a ``luigi-ufo`` subprocess: its own data dir and an empty luigi.cfg."""
    # The embedded PostgreSQL runs as an unprivileged user when we are root: it must be able to
    # enter the data directory, which pytest's 0700 tmp_path does not allow.
    data = Path(tempfile.mkdtemp(prefix="luigi-ufo-cli-"))
    data.chmod(0o755)
    config = tmp_path / "luigi.cfg"
    config.write_text("", encoding="utf-8")
    env = {**os.environ, "LUIGI_UFO_DATA_DIR": str(data), "LUIGI_CONFIG_PATH": str(config)}
    env.pop(PAUSE_ENV, None)
    yield env
    for proc in postgres_processes(data):  # never leave a server behind, even on failure
        proc.kill()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def postgres_left(home: dict[str, str]) -> Callable[[], list[psutil.Process]]:
    """Return a function listing the postgres processes still running on ``home``'s data dir."""
    data = Path(home["LUIGI_UFO_DATA_DIR"])
    return lambda: postgres_processes(data)
