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

from luigi_ufo.pause_points import PAUSE_ENV
from luigi_ufo.testing.strict import missing

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

    Mounting needs root (CAP_SYS_ADMIN), as CI runs; elsewhere the test is skipped, saying so
    (a failure under LUIGI_UFO_TEST_STRICT).
    """
    mount = tmp_path / "tiny-fs"
    mount.mkdir()
    argv = ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mount)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        missing(f"cannot mount a 64 KiB tmpfs (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], capture_output=True, check=False)


def clean_copy(destination: Path) -> Path:
    """Copy the checkout's tracked and new (not ignored) files to ``destination``; return it.

    A build from the checkout itself would read a stale ``luigi_ufo.egg-info/SOURCES.txt`` left by
    an earlier build or editable install, and ship what that file lists: a fresh clone has none.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a file deleted in the work tree but still in the index is skipped
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="session")
def built_dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build luigi-ufo's sdist, then its wheel from that sdist, as a release does; return both.

    ``python -m build`` (the ``[test]`` extra) in an isolated build environment, from a clean copy
    of the checkout, so the wheel is what a user's ``pip install`` of a fresh clone builds.
    """
    source = clean_copy(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (sdist,) = out.glob("luigi_ufo-*.tar.gz")
    (wheel,) = out.glob("luigi_ufo-*.whl")
    return sdist, wheel


@pytest.fixture(scope="session")
def built_wheel(built_dists: tuple[Path, Path]) -> Path:
    """Return the path of luigi-ufo's wheel built from this checkout (once per session)."""
    return built_dists[1]


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
