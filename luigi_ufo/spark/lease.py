"""Per-partition leases: a retry never writes into a partition another live application writes.

A lease is an exclusive ``flock`` on ``lease-<sha256 of the URI>.lock`` in the private runtime
directory. The runner takes it before spark-submit starts and hands the open file to the
supervisor, which hands it to spark-submit: the lock is held by the open file itself, so the OS
releases it when the last process of the application's tree that holds it dies, however it dies.
It covers one host and one user (flock is local); luigid already keeps one task id RUNNING on one
worker at a time, and the supervisor kills an orphan wherever it runs.

Not every process of an application can hold the file: the JVM closes it in the processes it
starts (the Python driver, pyspark's daemons). So each process of the application also carries
the lease's tag in its environment (``LEASE_ENV``, inherited like the rest of it), and a lease
counts as free only when its lock is free *and* no process carrying its tag lives: one still
living then is an orphan of a dead application (its worker, supervisor and JVM all gone) and is
stopped before the new holder writes.
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

from luigi_ufo.errors import LeaseError
from luigi_ufo.paths import runtime_dir
from luigi_ufo.services.process import kill_now, marked
from luigi_ufo.uris import absolute, to_s3a

logger = logging.getLogger("luigi_ufo.spark")

_POLL_S = 0.5
_LOG_EVERY_S = 30.0
#: Lists the tags (:func:`lease_tag`) of the leases a process writes under.
LEASE_ENV = "LUIGI_UFO_LEASES"


def lease_key(uri: str) -> str:
    """Return the partition URI a lease is keyed by (``s3://`` and ``s3a://`` are one key)."""
    return to_s3a(absolute(uri))


def lease_path(uri: str) -> Path:
    """Return the lock file of the lease on ``uri``."""
    digest = hashlib.sha256(lease_key(uri).encode("utf-8")).hexdigest()[:32]
    return runtime_dir() / f"lease-{digest}.lock"


def lease_tag(uri: str) -> str:
    """Return the tag of the lease on ``uri``: its lock file's path hashed (one per runtime dir)."""
    return hashlib.sha256(str(lease_path(uri)).encode("utf-8")).hexdigest()[:32]


class HeldLeases:
    """Open lease files of this process; closing them releases nothing a child still holds."""

    def __init__(self, fds: list[int], tags: Sequence[str] = ()) -> None:
        self.fds = fds
        self.tags = list(tags)

    def environment(self) -> dict[str, str]:
        """Return what the application's environment carries so its processes count as holders."""
        return {LEASE_ENV: ",".join(self.tags)} if self.tags else {}

    def close(self) -> None:
        """Close this process's copies (once spark-submit's supervisor has inherited them)."""
        while self.fds:
            os.close(self.fds.pop())


@contextlib.contextmanager
def partition_leases(uris: Sequence[str], *, timeout_s: float) -> Iterator[HeldLeases]:
    """Hold the leases of ``uris``, waiting up to ``timeout_s`` for live holders to end.

    Pass ``fds`` to a child in ``pass_fds`` and :meth:`HeldLeases.environment` in its
    environment: the leases are held for as long as it (or a descendant) lives.
    """
    # One order for every application, so two with overlapping outputs cannot deadlock.
    keys = sorted({lease_key(u) for u in uris})
    deadline = time.monotonic() + timeout_s
    held = HeldLeases([], [lease_tag(k) for k in keys])
    try:
        for key in keys:
            held.fds.append(_acquire(key, deadline, timeout_s))
        if keys:
            _stop_orphans(dict(zip(held.tags, keys, strict=True)))
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


def _stop_orphans(keys: dict[str, str]) -> None:
    """Stop processes still carrying a lease tag of ``keys`` (tag -> key) while we hold the lock.

    Nobody else holds these locks, so such a process is left from a dead application (on a
    system without parent-death signals, its driver outlives worker, supervisor and JVM).
    """
    orphans = marked(LEASE_ENV, *keys)
    if not orphans:
        return
    pids = kill_now(orphans)
    logger.warning(
        "stopped %d process(es) left by a dead Spark application writing %s (pids %s) before "
        "writing there again",
        len(pids),
        ", ".join(sorted(keys.values())),
        ", ".join(map(str, pids)),
    )


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
