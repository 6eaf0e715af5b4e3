"""What ships is the tree: the sdist and wheel built by ``build``, checked by the tools made for it.

Expected contents come from the source tree (every package directory under ``luigi_ufo/`` and
every file in it, ``src/spark`` as ``luigi_ufo.scripts``), not from the packaging configuration,
so a package added to the tree and left out of the build fails here.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
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
#: Every module of the installed package, imported: a package left out fails on import. The
#: Spark scripts import their sibling modules by name, as spark-submit's --py-files gives them:
#: their directory is on sys.path here too.
IMPORT_ALL = (
    "import importlib, pkgutil, sys, luigi_ufo, luigi_ufo.scripts\n"
    "sys.path.append(luigi_ufo.scripts.__path__[0])\n"
    "names = [m.name for m in pkgutil.walk_packages(luigi_ufo.__path__, 'luigi_ufo.')]\n"
    "for name in names: importlib.import_module(name)\n"
    "print(len(names), luigi_ufo.__file__)"
)
#: Suffixes of data files (NUFORC's licence forbids redistribution) and of caches.
DATA = (".csv", ".gz", ".tsv", ".parquet", ".json", ".7z", ".zip")
CACHES = ("__pycache__", ".pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis")


def tree_files() -> dict[str, Path]:
    """Map each file that must ship, by its path in the wheel, to its file in the checkout."""
    files = {}
    for source, package in (
        (REPO / "luigi_ufo", "luigi_ufo"),
        (REPO / "src" / "spark", "luigi_ufo/scripts"),
    ):
        for path in source.rglob("*"):
            if (
                path.is_file()
                and not any(part in CACHES for part in path.parts)
                and path.suffix != ".pyc"
            ):
                files[f"{package}/{path.relative_to(source).as_posix()}"] = path
    return files


def tree_packages() -> set[str]:
    """Every package of the tree, dotted: directories with an ``__init__.py``."""
    return {
        name[: -len("/__init__.py")].replace("/", ".")
        for name in tree_files()
        if name.endswith("/__init__.py")
    }


def test_the_tree_has_the_packages_a_user_imports() -> None:
    # The reference of the comparisons below is itself sane: these are the packages users import.
    assert {
        "luigi_ufo",
        "luigi_ufo.cli",
        "luigi_ufo.services",
        "luigi_ufo.settings",
        "luigi_ufo.spark.submit",
        "luigi_ufo.spark.connect",
        "luigi_ufo.postgres.ranking",
        "luigi_ufo.pictures",
        "luigi_ufo.testing",
        "luigi_ufo.scripts",
    } <= tree_packages()


def test_wheel_has_every_file_of_the_tree_and_nothing_else(built_wheel: Path) -> None:
    with zipfile.ZipFile(built_wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        plugins = zf.read(entry_points).decode()
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert zf.read(licence) == (REPO / "LICENSE").read_bytes()
    shipped = {n for n in names if ".dist-info/" not in n}
    expected = set(tree_files())
    assert shipped - expected == set(), "the wheel ships files the tree does not have"
    assert expected - shipped == set(), "files of the tree missing from the wheel"
    packages = {
        n[: -len("/__init__.py")].replace("/", ".") for n in shipped if n.endswith("/__init__.py")
    }
    assert packages == tree_packages()
    assert {
        "luigi_ufo/py.typed",
        "luigi_ufo/scripts/aggregate_by_state.py",
        "luigi_ufo/scripts/top_10.py",
        "luigi_ufo/testing/plugin.py",
    } <= names
    assert "luigi_ufo.testing.plugin = luigi_ufo.testing.plugin" in plugins
    assert "luigi-ufo = luigi_ufo.cli.main:console" in plugins
    assert [n for n in names if n.endswith(DATA)] == [], "no data files (NUFORC's licence)"
    assert [n for n in names if any(c in n for c in CACHES)] == []
    assert [n for n in names if n.startswith(("tests/", "benchmarks/"))] == []


def test_sdist_has_the_sources_licence_and_changelog_but_no_tests_data_or_caches(
    built_dists: tuple[Path, Path],
) -> None:
    sdist, _ = built_dists
    with tarfile.open(sdist) as tf:
        top, *_ = tf.getnames()[0].split("/")
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    sources = {f"{path.relative_to(REPO).as_posix()}" for path in tree_files().values()}
    assert sources - names == set(), "files of the tree missing from the sdist"
    assert {
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "setup.cfg",
        "setup.py",
        "pyproject.toml",
    } <= names
    assert [n for n in names if n.endswith(DATA)] == [], "no data files (NUFORC's licence)"
    assert [n for n in names if any(c in n for c in CACHES)] == []
    assert [n for n in names if n.startswith(("tests/", "benchmarks/", ".ci/", "deploy/"))] == []
    assert top.startswith("luigi_ufo-")


def test_twine_and_check_wheel_contents_pass(built_dists: tuple[Path, Path]) -> None:
    for tool in (
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, built_dists)],
        [sys.executable, "-m", "check_wheel_contents", str(built_dists[1])],
    ):
        checked = subprocess.run(tool, capture_output=True, text=True, timeout=300, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.slow
def test_every_module_of_the_installed_wheel_imports(wheel_python: Path, tmp_path: Path) -> None:
    # Outside the checkout, so nothing but the installed wheel can answer the imports.
    imported = subprocess.run(
        [str(wheel_python), "-c", IMPORT_ALL],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    count, package = imported.stdout.split()
    assert Path(package).is_relative_to(wheel_python.parents[1]), package
    assert (
        int(count) == len([n for n in tree_files() if n.endswith(".py")]) - 1
    )  # minus __init__ of luigi_ufo
    cli = subprocess.run(
        [str(wheel_python.parent / "luigi-ufo"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert cli.stdout.startswith("usage: luigi-ufo"), cli.stdout


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
