"""Per-user directories: the data directory, and the private runtime directory with owner tags.

The data directory keeps what outlives a run (the per-user PostgreSQL, the default lake, the dev
stack's state). The runtime directory (mode 0700) keeps leases and secret files; files that
belong to one process carry its :class:`~luigi_ufo.services.process.ProcessRef` tag in their
name, so a later run can sweep those whose owner is dead (killed by SIGKILL, the OOM killer, a
power cut of the process: :func:`luigi_ufo.services.process.sweep`).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from luigi_ufo.errors import ConfigError

#: Overrides the directory; every worker of a host must use the same one to see its leases.
RUNTIME_DIR_ENV = "LUIGI_UFO_RUNTIME_DIR"
#: Overrides the per-user data directory.
DATA_DIR_ENV = "LUIGI_UFO_DATA_DIR"


def data_dir() -> Path:
    """Return the per-user data directory: ``$LUIGI_UFO_DATA_DIR``, else the XDG data home.

    Root gets ``/var/lib/luigi-ufo``: the embedded PostgreSQL runs as an unprivileged user that
    cannot enter ``/root``.
    """
    explicit = os.environ.get(DATA_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    if os.geteuid() == 0:
        return Path("/var/lib/luigi-ufo")
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "luigi-ufo"


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
