"""Fixtures shared by integration tests: the ``luigi-ufo`` command's, and the built wheel's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from luigi_ufo._pause import PAUSE_ENV

REPO = Path(__file__).resolve().parents[2]


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


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A directory on a real 64 KiB file system (a tmpfs), for writes that hit ENOSPC.

    Mounting needs root (CAP_SYS_ADMIN), as CI runs; elsewhere the test is skipped, saying so.
    """
    mount = tmp_path / "tiny-fs"
    mount.mkdir()
    argv = ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a 64 KiB tmpfs (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], capture_output=True, check=False)


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build luigi-ufo's wheel from this checkout once per session; return its path."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("luigi_ufo-*.whl")
    return wheel


@pytest.fixture(scope="session")
def wheel_python(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the interpreter of a fresh venv with the built wheel installed (not editable).

    Its dependencies (luigi, pyspark, pytest, mypy, ...) come from this test run's own
    site-packages through a ``.pth`` line: installing them again takes minutes. Lines of a
    ``.pth`` file add directories without running *their* ``.pth`` files, so an editable
    luigi-ufo there is not activated; the venv's own luigi_ufo, from the wheel, comes first.
    """
    venv = tmp_path_factory.mktemp("wheel-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()
    lines = dict.fromkeys([ours["purelib"], ours["platlib"]])
    (Path(purelib) / "_luigi_ufo_test_deps.pth").write_text("\n".join(lines) + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(built_wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return python
