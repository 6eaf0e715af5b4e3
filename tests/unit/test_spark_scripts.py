"""Script resolution: scripts dir, package scripts, traversal refusal, read at submit time."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from luigi_ufo.errors import ScriptNotFoundError
from luigi_ufo.spark.scripts import resolve_script, scripts_root


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    root = tmp_path / "scripts"
    (root / "sub").mkdir(parents=True)
    (root / "job.py").write_text("print('v1')\n")
    (root / "sub" / "nested.py").write_text("print('nested')\n")
    (tmp_path / "outside.py").write_text("print('outside')\n")
    return root


def test_resolves_under_scripts_dir(scripts: Path) -> None:
    found = resolve_script("job.py", str(scripts))
    assert found.path == scripts.resolve() / "job.py"
    assert found.sha256 == hashlib.sha256(b"print('v1')\n").hexdigest()


def test_nested_name(scripts: Path) -> None:
    assert resolve_script("sub/nested.py", str(scripts)).path.name == "nested.py"


def test_reads_current_content_each_time(scripts: Path) -> None:
    first = resolve_script("job.py", str(scripts)).sha256
    (scripts / "job.py").write_text("print('v2')\n")
    assert resolve_script("job.py", str(scripts)).sha256 != first


@pytest.mark.parametrize("name", ["../outside.py", "sub/../../outside.py"])
def test_traversal_is_refused(scripts: Path, name: str) -> None:
    with pytest.raises(ScriptNotFoundError, match="outside the scripts directory"):
        resolve_script(name, str(scripts))


def test_symlink_leading_out_is_refused(scripts: Path) -> None:
    (scripts / "link.py").symlink_to(scripts.parent / "outside.py")
    with pytest.raises(ScriptNotFoundError, match="outside the scripts directory"):
        resolve_script("link.py", str(scripts))


def test_absolute_name_is_refused(scripts: Path) -> None:
    with pytest.raises(ScriptNotFoundError, match="is an absolute path"):
        resolve_script(str(scripts / "job.py"), str(scripts))


@pytest.mark.parametrize("name", ["missing.py", "sub"])
def test_missing_script(scripts: Path, name: str) -> None:
    with pytest.raises(ScriptNotFoundError, match=f"script '{name}' not found in"):
        resolve_script(name, str(scripts))


def test_missing_script_names_the_closest_and_the_setting(scripts: Path) -> None:
    with pytest.raises(ScriptNotFoundError) as caught:
        resolve_script("jobb.py", str(scripts))
    message = str(caught.value)
    assert "did you mean 'job.py'?" in message
    assert "[spark_script] scripts_dir" in message


def test_missing_packaged_script_never_points_into_the_package() -> None:
    with pytest.raises(ScriptNotFoundError) as caught:
        resolve_script("top_11.py", None)
    message = str(caught.value)
    assert str(scripts_root(None)) not in message
    assert "site-packages" not in message
    assert "did you mean 'top_10.py'?" in message
    assert "set [spark_script] scripts_dir in luigi.cfg" in message


def test_empty_name() -> None:
    with pytest.raises(ScriptNotFoundError, match="script is empty"):
        resolve_script("", None)


def test_package_scripts_are_the_default() -> None:
    root = scripts_root(None)
    assert (root / "__init__.py").is_file()
    assert root.name == "spark" or root.name == "scripts"
    with pytest.raises(ScriptNotFoundError, match="outside the scripts directory"):
        resolve_script("../luigi_ufo/__init__.py", None)


def test_fifo_is_refused_without_opening_it(scripts: Path) -> None:
    # Opening a FIFO for reading blocks until a writer comes: resolve must never open it.
    os.mkfifo(scripts / "pipe.py")
    with pytest.raises(ScriptNotFoundError, match=r"'pipe.py' .* is not a regular file \(a FIFO\)"):
        resolve_script("pipe.py", str(scripts))


def test_directory_named_like_a_script_is_not_found(scripts: Path) -> None:
    (scripts / "dir.py").mkdir()
    with pytest.raises(ScriptNotFoundError, match=r"'dir\.py' not found"):
        resolve_script("dir.py", str(scripts))
