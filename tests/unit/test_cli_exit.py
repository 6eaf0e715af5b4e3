"""The ``luigi-ufo`` console script's quick exit keeps what a normal exit guarantees."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(body: str) -> subprocess.CompletedProcess[str]:
    code = "from luigi_ufo.cli.main import exit_quickly\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_atexit_handlers_run_and_buffered_output_is_kept() -> None:
    done = _run(
        """
        import atexit, logging, sys
        logging.basicConfig(stream=sys.stderr, format="%(message)s")
        atexit.register(print, "atexit handler ran")
        print("table", end=" ")  # a pipe: block-buffered, not yet written
        logging.getLogger("x").warning("logged")
        exit_quickly(3)
        """
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        3,
        "table atexit handler ran\n",
        "logged\n",
    )


def test_a_running_non_daemon_thread_gets_the_normal_exit_which_waits_for_it() -> None:
    done = _run(
        """
        import threading, time
        def late():
            time.sleep(0.5)
            print("thread finished", flush=True)
        threading.Thread(target=late).start()
        exit_quickly(0)
        """
    )
    assert (done.returncode, done.stdout) == (0, "thread finished\n"), done.stderr
