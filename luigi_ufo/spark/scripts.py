"""Resolve an external script name to a file on disk, at submit time."""

from __future__ import annotations

import difflib
import hashlib
import importlib.resources
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from luigi_ufo.errors import ConfigError, ScriptNotFoundError

PACKAGE_SCRIPTS = "luigi_ufo.scripts"


@dataclass(frozen=True)
class Script:
    """A resolved script: its absolute path and the SHA-256 of the bytes read at submit time."""

    path: Path
    sha256: str


def scripts_root(scripts_dir: str | None) -> Path:
    """Return the configured scripts directory, or the package's own ``luigi_ufo.scripts``."""
    if scripts_dir:
        return Path(scripts_dir).expanduser().resolve()
    root = importlib.resources.files(PACKAGE_SCRIPTS)
    if not isinstance(root, Path):
        # spark-submit needs a real file; a zipped install cannot provide one.
        raise ConfigError(
            f"package {PACKAGE_SCRIPTS!r} is not on the file system ({root!r}); install "
            "luigi-ufo unzipped or set [spark_script] scripts_dir"
        )
    return root.resolve()


def resolve_script(
    name: str, scripts_dir: str | None = None, *, attribute: str = "script"
) -> Script:
    """Return the script ``name`` under the scripts directory, refusing anything outside it.

    ``attribute`` names the task attribute that gave ``name``, for the error messages.
    """
    if not name:
        raise ScriptNotFoundError(
            'the task\'s script is empty; set `script = "name.py"` on the task class'
        )
    if PurePath(name).is_absolute():
        raise ScriptNotFoundError(
            f"script {name!r} is an absolute path; give a name relative to the scripts "
            "directory and set [spark_script] scripts_dir to its directory"
        )
    root = scripts_root(scripts_dir)
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise ScriptNotFoundError(
            f"script {name!r} resolves to {str(path)!r}, outside the scripts directory "
            f"{str(root)!r}; use a name inside it (no '..', no symlink leading out)"
        )
    data = _read_regular(name, path, root, scripts_dir, attribute)
    return Script(path=path, sha256=hashlib.sha256(data).hexdigest())


def resolve_script_files(
    names: Sequence[str], scripts_dir: str | None = None
) -> tuple[Script, ...]:
    """Return the files ``names`` (``script_files``: modules the script imports) like the script."""
    for name in names:
        if PurePath(name).suffix != ".py":
            raise ScriptNotFoundError(
                f"script_files entry {name!r} is not a Python module; list the .py files of "
                "the scripts directory that the script imports"
            )
    return tuple(resolve_script(n, scripts_dir, attribute="script_files") for n in names)


def code_sha256(script: Script, files: Sequence[Script]) -> str:
    """Return the identity of a script's code: its sha256, or with files, one over all of them."""
    if not files:
        return script.sha256
    return hashlib.sha256(" ".join(s.sha256 for s in (script, *files)).encode()).hexdigest()


def _read_regular(
    name: str, path: Path, root: Path, scripts_dir: str | None, attribute: str
) -> bytes:
    """Read ``path`` if it is a regular file; never open a FIFO, socket or device."""
    not_found = ScriptNotFoundError(_not_found(name, root, scripts_dir, attribute))
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise not_found from None
    if stat.S_ISDIR(mode):
        raise not_found
    if not stat.S_ISREG(mode):
        raise _not_regular(name, root, mode)
    # O_NONBLOCK: should the name be swapped for a FIFO after the check, open() cannot hang.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(name, root, mode)
        return fh.read()


def _not_regular(name: str, root: Path, mode: int) -> ScriptNotFoundError:
    return ScriptNotFoundError(
        f"script {name!r} in {str(root)!r} is not a regular file ({_kind(mode)}); "
        "spark-submit needs a file it can read: replace it with the script file"
    )


def _kind(mode: int) -> str:
    kinds = [
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]
    return next((label for test, label in kinds if test(mode)), f"mode {mode:o}")


def _not_found(name: str, root: Path, scripts_dir: str | None, attribute: str) -> str:
    # The package's own directory is no place for a user's script: never suggest it.
    where = (
        f"in [spark_script] scripts_dir {str(root)!r}"
        if scripts_dir
        else "among luigi-ufo's packaged scripts ([spark_script] scripts_dir is unset)"
    )
    existing = sorted(p.name for p in root.glob("*.py") if not p.name.startswith("_"))
    match = difflib.get_close_matches(name, existing, n=1, cutoff=0.6)
    hint = f"; did you mean {match[0]!r}?" if match else ""
    return (
        f"script {name!r} not found {where}{hint} Fix the task's `{attribute}`, or set "
        "[spark_script] scripts_dir in luigi.cfg to the directory that holds your scripts"
    )
