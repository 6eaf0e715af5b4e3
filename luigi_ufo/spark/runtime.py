"""The private runtime directory of luigi-ufo: per-user, mode 0700, for leases and secret files.

Files that belong to one process carry its pid and start time in their name, so a later run can
sweep those whose owner is dead (killed by SIGKILL, the OOM killer, a power cut of the process).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

import psutil

from luigi_ufo.errors import ConfigError

#: Overrides the directory; every worker of a host must use the same one to see its leases.
RUNTIME_DIR_ENV = "LUIGI_UFO_RUNTIME_DIR"


def runtime_dir() -> Path:
    """Return (creating it) the private 0700 runtime directory of this user."""
    path = Path(
        os.environ.get(RUNTIME_DIR_ENV) or Path(tempfile.gettempdir()) / f"luigi-ufo-{os.getuid()}"
    )
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)
    info = path.lstat()
    # A shared /tmp: someone else may have created the name first, or put a symlink there.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ConfigError(
            f"runtime directory {str(path)!r} is not a private directory of this user (mode "
            f"{stat.S_IMODE(info.st_mode):o}, owner uid {info.st_uid}); remove it, or set "
            f"{RUNTIME_DIR_ENV} to a directory only you can read (mode 0700)"
        )
    return path


def owner_tag(pid: int | None = None) -> str:
    """Return ``<pid>-<start time>`` of a process: unique even when pids are reused."""
    proc = psutil.Process(pid)
    return f"{proc.pid}-{int(proc.create_time() * 1000)}"


def owner_alive(tag: str) -> bool:
    """Whether the process named by :func:`owner_tag` ``tag`` still runs."""
    try:
        pid, _ = tag.split("-", 1)
        return owner_tag(int(pid)) == tag
    except (ValueError, psutil.Error):
        return False


def sweep(prefix: str) -> list[Path]:
    """Delete ``<prefix><owner tag>-...`` files of the runtime directory whose owner is dead."""
    removed = []
    for path in runtime_dir().glob(f"{prefix}*"):
        tag = "-".join(path.name[len(prefix) :].split("-")[:2])
        if not owner_alive(tag):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed
