"""A second local account, created for one test and removed after: what another user can reach.

Tests run as root (here and in CI), so ``useradd`` works; the account gets no home, no password
and no login shell, and every command it runs goes through ``setpriv`` with its uid and gid only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import psutil
import pytest


@dataclass(frozen=True)
class Account:
    """A throwaway local user: run commands as it."""

    name: str
    uid: int
    gid: int

    def run(
        self, argv: Sequence[str], *, timeout: float = 120.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as this account (its uid and gid, no supplementary groups)."""
        prefix = [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--",
        ]
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", "LANG": "C.UTF-8"}
        proc = subprocess.Popen(
            [*prefix, *argv],
            env={**base, **(env or {})},
            cwd="/tmp",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own group: a timeout ends JVM and Python children too
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@contextmanager
def other_account() -> Iterator[Account]:
    """Create a local account for the block; delete it (and its processes) afterwards."""
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("a second local account needs root, useradd and setpriv (tests run as root)")
    name = f"lufo-{uuid.uuid4().hex[:10]}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    ids = subprocess.run(["id", "-u", name], check=True, capture_output=True, text=True)
    gid = subprocess.run(["id", "-g", name], check=True, capture_output=True, text=True)
    try:
        yield Account(name=name, uid=int(ids.stdout), gid=int(gid.stdout))
    finally:
        for proc in psutil.process_iter(["uids"]):  # what the account started, by pid
            if proc.info["uids"] and proc.info["uids"].real == int(ids.stdout):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        subprocess.run(["userdel", name], capture_output=True, check=True)
