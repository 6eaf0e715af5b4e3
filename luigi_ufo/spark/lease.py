"""Per-partition leases: a retry never writes into a partition another live application writes.

A lease is an exclusive ``flock`` on ``lease-<sha256 of the URI>.lock`` in the private runtime
directory. The runner takes it before spark-submit starts and hands the open file to the
supervisor, which hands it to spark-submit: the lock is held by the open file itself, so the OS
releases it when the last process of the application's tree that holds it dies, however it dies.
It covers one host and one user (flock is local); luigid already keeps one task id RUNNING on one
worker at a time, and the supervisor kills an orphan wherever it runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from luigi_ufo.dated.paths import to_s3a
from luigi_ufo.errors import LeaseError
from luigi_ufo.spark.runtime import runtime_dir

logger = logging.getLogger("luigi_ufo.spark")

_POLL_S = 0.5
_LOG_EVERY_S = 30.0


def lease_key(uri: str) -> str:
    """Return the partition URI a lease is keyed by (``s3://`` and ``s3a://`` are one key)."""
    uri = uri.rstrip("/") or uri
    if "://" not in uri:
        return os.path.abspath(uri)
    return to_s3a(uri)  # the one s3/s3n -> s3a rewrite (dated.paths)


def lease_path(uri: str) -> Path:
    """Return the lock file of the lease on ``uri``."""
    digest = hashlib.sha256(lease_key(uri).encode("utf-8")).hexdigest()[:32]
    return runtime_dir() / f"lease-{digest}.lock"


class HeldLeases:
    """Open lease files of this process; closing them releases nothing a child still holds."""

    def __init__(self, fds: list[int]) -> None:
        self.fds = fds

    def close(self) -> None:
        """Close this process's copies (once spark-submit's supervisor has inherited them)."""
        while self.fds:
            os.close(self.fds.pop())


@contextlib.contextmanager
def partition_leases(uris: Sequence[str], *, timeout_s: float) -> Iterator[HeldLeases]:
    """Hold the leases of ``uris``, waiting up to ``timeout_s`` for live holders to end.

    Pass ``fds`` to a child in ``pass_fds``, then :meth:`HeldLeases.close`: the child keeps
    the leases for as long as it (or a descendant it passes them to) lives.
    """
    # One order for every application, so two with overlapping outputs cannot deadlock.
    keys = sorted({lease_key(u) for u in uris})
    deadline = time.monotonic() + timeout_s
    held = HeldLeases([])
    try:
        for key in keys:
            held.fds.append(_acquire(key, deadline, timeout_s))
        yield held
    finally:
        held.close()


def release_unused(uris: Sequence[str]) -> None:
    """Delete the lock files of ``uris`` that nobody holds (after a run; keeps the dir small)."""
    for key in sorted({lease_key(u) for u in uris}):
        path = lease_path(key)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Holding the lock: nobody else can hold this inode; later openers retry (_acquire).
            if _same_file(fd, path):
                path.unlink()
        except BlockingIOError:
            pass
        finally:
            os.close(fd)


def _acquire(key: str, deadline: float, timeout_s: float) -> int:
    path = lease_path(key)
    logged = 0.0
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            now = time.monotonic()
            if now >= deadline:
                raise LeaseError(
                    f"partition {key!r} is still being written by another live Spark "
                    f"application (pid {holder}, lease {str(path)!r}) after waiting "
                    f"{timeout_s:g} s; let it finish, or stop it (`kill {holder}`) if it is a "
                    "leftover, then rerun"
                ) from None
            if now - logged >= _LOG_EVERY_S:
                logged = now
                logger.warning(
                    "partition %s is being written by another live Spark application (pid %s, "
                    "lease %s); waiting up to %g s for it to end",
                    key,
                    holder,
                    path,
                    max(deadline - now, 0.0),
                )
            time.sleep(_POLL_S)
            continue
        if not _same_file(fd, path):
            # release_unused() deleted the file between our open and our lock: open it again.
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return fd


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
    except OSError:
        return "unknown"
