"""One PostgreSQL per base directory, shared by every process that uses it.

``luigi-ufo run`` and ``luigi-ufo db`` keep the per-user server here. Beside the cluster, the base
directory holds:

- ``server.lock``: locked exclusively while a process starts, adopts or stops the server, so two
  processes never both start one (they would collide on ``postmaster.pid``);
- ``server.users``: each process using the server holds a shared lock on it while it does; the
  kernel drops the lock of a killed process, so a crashed user never pins the server;
- ``server.kept``: the postmaster ``luigi-ufo db start`` started (pid and start time); the last
  run leaving stops any other server, also one a killed run left behind;
- ``server.port``: the port, reused at every start so the URL stays the same;
- ``socket/``: the server's Unix socket, in a directory only its owner can enter. The server
  listens on no TCP port, so no other local account can connect (a superuser connection there
  could run programs as the owner: ``COPY ... TO PROGRAM``).

Clients connect as the role ``luigi_ufo``, which owns the database ``luigi_ufo`` and is no
superuser; the superuser ``postgres`` is used only to create it.
"""

from __future__ import annotations

import contextlib
import fcntl
import signal
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg2
from psycopg2 import sql

from luigi_ufo.errors import ServiceError
from luigi_ufo.paths import data_dir
from luigi_ufo.services.postgres import (
    SOCKET_DIR,
    PostgresServer,
    Postmaster,
    find_postmaster,
    stop_postmaster,
)

__all__ = ["ServerStatus", "SharedServer", "per_user_server"]

#: The superuser initdb creates; only used to create the client role and database.
SUPERUSER = "postgres"
#: The role and database clients use: owner of its database, not a superuser.
CLIENT = "luigi_ufo"
DEFAULT_PORT = 5432
_STOPPING_WAIT_S = 60.0


@dataclass(frozen=True)
class ServerStatus:
    """A running shared server: its postmaster, URL and whether ``db start`` keeps it."""

    pid: int
    port: int
    url: str
    kept: bool
    adopted: bool  # already running when this process came (another user, or a killed run's)
    started: float = 0.0  # the postmaster's start time: with the pid, its ProcessRef


def per_user_server(say: Callable[[str], None] = lambda _: None) -> SharedServer:
    """Return the per-user PostgreSQL (``<data dir>/postgres``) that ``luigi-ufo db`` manages."""
    return SharedServer(data_dir() / "postgres", say=say)


def url_for(socket_dir: Path, port: int, *, user: str = CLIENT, dbname: str = CLIENT) -> str:
    """Return the libpq URI of the shared server: its private socket, no password."""
    host = urllib.parse.quote(str(socket_dir), safe="/")
    return f"postgresql://{user}@/{dbname}?host={host}&port={port}"


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while the server is stopped, then deliver them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, frame: caught.append(signum))
        for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)


class SharedServer:
    """The PostgreSQL of ``base_dir``: started by the first user, stopped by the last.

    ``say`` receives one-line notes for the user (waiting for another process, a port change).
    """

    def __init__(self, base_dir: Path, *, say: Callable[[str], None] = lambda _: None) -> None:
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self._say = say
        self._lock = base_dir / "server.lock"
        self._users = base_dir / "server.users"
        self._kept = base_dir / "server.kept"
        self._port = base_dir / "server.port"
        self.socket_dir = base_dir / SOCKET_DIR

    # -- reading ----------------------------------------------------------------------------

    def status(self) -> ServerStatus | None:
        """Return the running server, or None."""
        running = find_postmaster(self.data_dir)
        if running is None:
            return None
        return self._status(running, adopted=True)

    def url(self) -> str | None:
        """Return the server's URL: the running one's, else the one the next start will use."""
        running = find_postmaster(self.data_dir)
        if running is not None and running.port:
            return url_for(self.socket_dir, running.port)
        saved = self._saved_port()
        return url_for(self.socket_dir, saved) if saved else None

    def _status(self, postmaster: Postmaster, *, adopted: bool) -> ServerStatus:
        return ServerStatus(
            pid=postmaster.pid,
            port=postmaster.port,
            url=url_for(self.socket_dir, postmaster.port),
            kept=self._is_kept(postmaster),
            adopted=adopted,
            started=postmaster.ref.started,
        )

    def _is_kept(self, postmaster: Postmaster) -> bool:
        try:
            return self._kept.read_text(encoding="utf-8").split() == [
                str(postmaster.pid),
                postmaster.started,
            ]
        except OSError:
            return False

    def _saved_port(self) -> int | None:
        try:
            return int(self._port.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    # -- changing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def use(self) -> Iterator[ServerStatus]:
        """Run the block with the server running; stop it after, unless kept or still in use."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with self._users.open("a+b") as users:
            entered = False  # still waiting for the lock: there is nothing to clean up
            try:
                with self._exclusive():
                    entered = True
                    fcntl.flock(users, fcntl.LOCK_SH)
                    status = self._ensure_running()
                yield status
            finally:
                if entered:
                    self._leave(users)

    def _leave(self, users: IO[bytes]) -> None:
        # The last user stops the server, unless `db start` keeps it.
        with signals_deferred(), self._exclusive():
            if self._alone(users):
                running = find_postmaster(self.data_dir)
                if running is not None and not self._is_kept(running):
                    self._server(running.port).stop()

    def start_kept(self) -> ServerStatus:
        """Start the server (or take the running one) and keep it running after every run."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with self._exclusive():
            status = self._ensure_running()
            running = find_postmaster(self.data_dir)
            if running is None:  # pragma: no cover - it was ready a moment ago
                return status
            self._kept.write_text(f"{running.pid} {running.started}\n", encoding="utf-8")
            return self._status(running, adopted=status.adopted)

    def stop(self) -> str:
        """Stop the server unless a run uses it; return what happened, for the user."""
        if not self.base_dir.exists():
            return "not running"
        with signals_deferred(), self._exclusive(), self._users.open("a+b") as users:
            running = find_postmaster(self.data_dir)
            self._kept.unlink(missing_ok=True)
            if running is None:
                return "not running"
            if not self._alone(users):
                return (
                    f"in use by a running luigi-ufo (pid {running.pid} stays up); it stops when "
                    "the last run using it ends"
                )
            self._server(running.port).stop()
            return f"stopped (pid {running.pid})"

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock.open("a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._say(
                    "waiting for another luigi-ufo that is starting or stopping the embedded "
                    f"PostgreSQL in {str(self.base_dir)!r}"
                )
                fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _alone(self, users: IO[bytes]) -> bool:
        # Converting our shared lock to exclusive succeeds only if no other user holds one.
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _ensure_running(self) -> ServerStatus:
        running = find_postmaster(self.data_dir)
        if running is not None and running.status == "stopping":
            stop_postmaster(running.ref, grace_s=_STOPPING_WAIT_S)
            running = None
        if running is not None:
            # A server another process started, or one a killed run left (maybe still starting).
            server = self._server(running.port)
            server.adopt(running)
            try:
                server.wait_ready()
            except ServiceError:
                if find_postmaster(self.data_dir) is not None:
                    raise
                running = None  # it died while starting: start a new one below
        if running is not None:
            # A run killed between start and this step left no client role yet.
            self._ensure_client(self._server(running.port))
            ready = find_postmaster(self.data_dir) or running
            return self._status(ready, adopted=True)
        server = self._server(self._choose_port())
        try:
            server.start()
            self._ensure_client(server)
        except BaseException:
            with signals_deferred():
                server.stop()
            raise
        started = find_postmaster(self.data_dir)
        if started is None:  # pragma: no cover - wait_ready saw it ready
            raise RuntimeError("the PostgreSQL just started is gone")
        return self._status(started, adopted=False)

    def _server(self, port: int) -> PostgresServer:
        return PostgresServer(base_dir=self.base_dir, port=port, user=SUPERUSER, private=True)

    def _ensure_client(self, server: PostgresServer) -> None:
        """Create the client role and its database unless they exist (as the superuser)."""
        try:
            conn = psycopg2.connect(server.dsn)
        except psycopg2.OperationalError as exc:
            raise ServiceError(
                f"cannot reach the PostgreSQL of {str(self.base_dir)!r} on its private socket "
                f"({str(exc).strip()}); if an older luigi-ufo started it, stop it with "
                "`luigi-ufo db stop` and start it again"
            ) from None
        try:
            conn.autocommit = True  # CREATE DATABASE runs outside a transaction
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (CLIENT,))
                if cur.fetchone() is None:
                    cur.execute(
                        sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                            sql.Identifier(CLIENT)
                        )
                    )
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (CLIENT,))
                if cur.fetchone() is None:
                    cur.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(CLIENT), sql.Identifier(CLIENT)
                        )
                    )
        finally:
            conn.close()

    def _choose_port(self) -> int:
        # Only the socket's file name: with no TCP listener, no other program can take it.
        saved = self._saved_port()
        if saved is not None:
            return saved
        self._port.write_text(f"{DEFAULT_PORT}\n", encoding="utf-8")
        return DEFAULT_PORT
