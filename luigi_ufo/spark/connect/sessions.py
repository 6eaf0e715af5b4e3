"""A Connect run's remote session: recorded beside its partitions' leases, ended for sure.

A run names its session itself (a UUID) and records the server and that id beside the lease of
every partition it writes, before anything runs there. The record goes only once every operation
of the session has ended. The server notices a dead client only after its detach timeouts, so a
run that finds a record under a lease it has just taken (the lease is free only when every
process of the run that held it has died) re-attaches to the session by id, interrupts its
operations, waits until they have ended, and releases the session (the server then refuses the
id, should any client of it survive) before anything is written.

:func:`end_session` talks gRPC and runs in a child process (see :mod:`.connect_child`): the Luigi
worker itself never opens a channel, so it can go on forking script processes safely.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from luigi_ufo.spark.connect.token import url_with_token
from luigi_ufo.spark.lease import lease_key, lease_path

RECORD_SUFFIX = ".session"
#: Spark checks a cancelled task's Python worker every 2 s and kills it after
#: ``spark.python.task.killTimeout``: until then a cancelled UDF may still write files.
PYTHON_KILL_CHECK_S = 2.0
SETTLE_MARGIN_S = 3.0
DEFAULT_PYTHON_KILL_TIMEOUT = "2s"
#: How long interrupted operations may take to end on the server before we give up.
END_WAIT_S = 60.0
#: First and longest wait between two looks at the operations (an operation the client saw end
#: is marked ended on the server a few milliseconds later).
_POLL_FIRST_S, _POLL_MAX_S = 0.005, 0.2
#: GetStatus operation states (pyspark.sql.connect.proto GetStatusResponse.OperationStatus).
_RUNNING, _TERMINATING, _SUCCEEDED = 2, 3, 4
#: Retries of one RPC while the run goes on: about 25 s in all, then the run fails (pyspark's
#: own default policy retries an unreachable server for 10 minutes, per call).
RUN_RETRY: dict[str, Any] = {
    "max_retries": 8,
    "initial_backoff": 100,
    "backoff_multiplier": 2.0,
    "max_backoff": 10_000,
    "max_server_retry_delay": 10_000,
}
#: Retries of one RPC while a session is being ended: about 2 s.
END_RETRY: dict[str, Any] = {**RUN_RETRY, "max_retries": 4}


@dataclass(frozen=True)
class SessionRecord:
    """Which session on which server may be writing a partition, and who started it."""

    url: str
    session_id: str
    owner: str
    started_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SessionEnd:
    """What ending a session did; ``settle_s``: how long to wait before writing after it."""

    found: tuple[str, ...] = ()
    interrupted: tuple[str, ...] = ()
    settle_s: float = 0.0
    note: str = ""

    def describe(self) -> str:
        """One line for logs and error messages."""
        parts = [self.note] if self.note else []
        if self.interrupted:
            parts.append(
                f"interrupted {len(self.interrupted)} operation(s) {list(self.interrupted)!r}"
            )
        elif self.found:
            parts.append(f"{len(self.found)} operation(s), none running")
        return "; ".join(parts) or "no operation"


def record_path(uri: str) -> Path:
    """Return the session record beside the lease of ``uri``."""
    return lease_path(uri).with_suffix(RECORD_SUFFIX)


def write_records(uris: Sequence[str], record: SessionRecord) -> None:
    """Record ``record`` beside the lease of each of ``uris`` (written whole, then renamed)."""
    text = json.dumps(asdict(record)) + "\n"
    for key in sorted({lease_key(u) for u in uris}):
        path = record_path(key)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        tmp.replace(path)


def read_records(uris: Sequence[str]) -> dict[SessionRecord, list[str]]:
    """Return the records beside the leases of ``uris``, each with the partitions it names."""
    found: dict[SessionRecord, list[str]] = {}
    for key in sorted({lease_key(u) for u in uris}):
        try:
            doc = json.loads(record_path(key).read_text(encoding="utf-8"))
            record = SessionRecord(**doc)
        except FileNotFoundError:
            continue
        except (OSError, ValueError, TypeError):
            # Written whole and renamed: unreadable means damaged by hand; it names no session.
            record_path(key).unlink(missing_ok=True)
            continue
        found.setdefault(record, []).append(key)
    return found


def remove_records(uris: Sequence[str]) -> None:
    """Remove the records beside the leases of ``uris``."""
    for key in {lease_key(u) for u in uris}:
        record_path(key).unlink(missing_ok=True)


def session_url(url: str, session_id: str) -> str:
    """Return ``url`` with ``;session_id=<id>``: a client of it joins that session.

    A local server's token is added too (in memory only: never shown, logged or recorded).
    """
    base, _, params = url.partition("/;")
    kept = [p for p in params.split(";") if p and not p.startswith("session_id=")]
    return url_with_token(f"{base.rstrip('/')}/;" + ";".join([*kept, f"session_id={session_id}"]))


def server_address(url: str) -> tuple[str, int]:
    """Return the host and port of an ``sc://`` URL (Spark Connect's default port 15002)."""
    parsed = urllib.parse.urlparse(url.replace("sc://", "http://", 1))
    return parsed.hostname or "", parsed.port or 15002


def server_listens(url: str, timeout_s: float = 2.0) -> bool | None:
    """True if something accepts connections at the server's address, False if it is refused.

    None when the answer is unknown (no route, time-out): the server may be alive elsewhere.
    """
    host, port = server_address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except ConnectionRefusedError:
        return False
    except OSError:
        return None


def is_loopback(url: str) -> bool:
    """Whether the server of ``url`` runs on this host's loopback interface."""
    host, _ = server_address(url)
    return host in ("localhost", "::1") or host.startswith("127.")


def time_s(value: str, default_unit: str = "ms") -> float:
    """Parse a Spark time string (``2s``, ``500ms``, ``1min``, ``2000`` = ms) into seconds."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", value.lower())
    if not found or (found.group(2) or default_unit) not in units:
        raise ValueError(f"not a Spark time string: {value!r}")
    return float(found.group(1)) * units[found.group(2) or default_unit]


def settle_after(kill_timeout: str) -> float:
    """Seconds after a cancelled operation ended within which its Python workers are gone."""
    try:
        kill = time_s(kill_timeout)
    except ValueError:
        kill = time_s(DEFAULT_PYTHON_KILL_TIMEOUT)
    return PYTHON_KILL_CHECK_S + kill + SETTLE_MARGIN_S


def bound_retries(client: Any, policy: dict[str, Any]) -> None:
    """Give a SparkConnectClient a bounded retry policy (pyspark's retries the same errors)."""
    from pyspark.sql.connect.client.retries import DefaultPolicy

    client.set_retry_policies([DefaultPolicy(**policy)])
    if hasattr(client, "_max_retry_exception_elapsed_time"):
        # pyspark >= 4.1 retries a stream that never reached the server for up to an hour.
        client._max_retry_exception_elapsed_time = 30.0


class SessionGone(Exception):
    """The server has no such session: closed (``closed=True``) or never created."""

    def __init__(self, closed: bool) -> None:
        super().__init__("closed" if closed else "not found")
        self.closed = closed


def statuses(client: Any) -> dict[str, int] | None:
    """Return the state of every operation of the client's session (None: not supported)."""
    get = getattr(client, "_get_operation_statuses", None)
    if get is None:
        return None
    try:
        response = get()
    except Exception as exc:
        text = str(exc)
        if "SESSION_CLOSED" in text:
            raise SessionGone(closed=True) from None
        if "SESSION_NOT_FOUND" in text:
            raise SessionGone(closed=False) from None
        if "UNIMPLEMENTED" in text or "Method not found" in text:
            return None
        raise
    return {s.operation_id: int(s.state) for s in response.operation_statuses}


def running(states: dict[str, int]) -> list[str]:
    """The operations still running or terminating."""
    return [op for op, state in states.items() if state in (_RUNNING, _TERMINATING)]


def end_client_session(client: Any, *, wait_s: float = END_WAIT_S, own: bool = False) -> SessionEnd:
    """Interrupt every operation of the client's session, wait for them to end, release it.

    ``own``: the client opened the session itself, so the server has it (no need to ask first:
    an interrupt would otherwise create a session the server never had). Raises RuntimeError if
    operations are still running after ``wait_s``.
    """
    states: dict[str, int] | None = {}
    if not own:
        try:
            states = statuses(client)
        except SessionGone as gone:
            if not gone.closed:
                return SessionEnd(note="no such session on the server (it never started there)")
            # Released by someone (the run's own script process, as its worker died): its
            # operations were interrupted then, at a moment we do not know.
            return SessionEnd(note="the session was already released", settle_s=_settle(client))
    interrupted = tuple(client.interrupt_all() or ())
    deadline = time.monotonic() + wait_s
    poll = _POLL_FIRST_S
    while states is not None:
        states = statuses(client)
        left = running(states or {})
        if not left:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"operation(s) {left!r} of the session still run {wait_s:g} s after their "
                "interruption"
            )
        time.sleep(poll)
        poll = min(poll * 2, _POLL_MAX_S)
    if states is None:
        # No GetStatus (an older client or server): nothing to watch, so settle in any case.
        settle = _settle(client)
        client.release_session()
        return SessionEnd(interrupted=interrupted, settle_s=settle, note="released")
    # A failed or cancelled operation's tasks are killed after it ended: give them the time.
    settle = _settle(client) if any(s != _SUCCEEDED for s in states.values()) else 0.0
    client.release_session()
    return SessionEnd(found=tuple(states), interrupted=interrupted, settle_s=settle)


def end_session(url: str, session_id: str) -> SessionEnd:
    """Re-attach to session ``session_id`` at ``url`` and end it (:func:`end_client_session`)."""
    from pyspark.sql.connect.client.core import SparkConnectClient

    client = SparkConnectClient(session_url(url, session_id))
    bound_retries(client, END_RETRY)
    try:
        return end_client_session(client)
    finally:
        with contextlib.suppress(Exception):
            client.close()


def _settle(client: Any) -> float:
    try:
        (value,) = client.get_config_with_defaults(
            ("spark.python.task.killTimeout", DEFAULT_PYTHON_KILL_TIMEOUT)
        )
    except Exception:
        value = DEFAULT_PYTHON_KILL_TIMEOUT
    return settle_after(str(value or DEFAULT_PYTHON_KILL_TIMEOUT))
