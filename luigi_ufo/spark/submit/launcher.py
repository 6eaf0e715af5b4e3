"""Start the Spark driver's Python so that it dies with its JVM (Linux).

In client deploy mode spark-submit's JVM starts the driver's Python as a child. When the JVM dies
(the out-of-memory killer picks it, or its supervisor died and took it along), the driver would
be reparented and go on running the script: writing part files and a ``_SUCCESS`` flag after
its task has failed. So the runner sets ``PYSPARK_DRIVER_PYTHON`` to a launcher: a tiny
executable Python file that asks Linux for SIGKILL when its parent dies
(``PR_SET_PDEATHSIG``) and execs the real interpreter, which keeps that request. It costs one
bare interpreter start per application (about 13 ms measured, against seconds for the JVM).

Only the driver is launched so: pyspark's daemons are started by executor threads, which may
end long before the JVM (a parent-death signal follows the thread), and they exit by themselves
when the JVM's end closes their stdin. Where the launcher cannot be used (not Linux, the runtime
directory is mounted ``noexec``, an interpreter path a ``#!`` line cannot hold, or Spark
properties choose the driver's Python), nothing is wrapped: the supervisor and the runner still
stop every process carrying the application's mark.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping

from luigi_ufo.files import write_text_atomically
from luigi_ufo.paths import runtime_dir
from luigi_ufo.spark.submit.supervisor import SUPERVISOR_ENV

DRIVER_ENV = "PYSPARK_DRIVER_PYTHON"
#: Spark properties that choose the driver's Python over the environment.
_DRIVER_CONF = ("spark.pyspark.driver.python", "spark.pyspark.python")
#: Linux reads at most this many bytes of a ``#!`` line (older kernels: 127).
_SHEBANG_MAX = 127
_PREFIX = "driver-python-"

_LAUNCHER = """\
#!{interpreter} -IS
# luigi-ufo: run {target} as the Spark driver's Python, killed when its parent (the JVM) dies.
import ctypes, os, sys
parent = os.getppid()
ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
# The JVM died before the request (we were reparented: to init, or to the supervisor, the
# tree's subreaper): die now.
if os.getppid() != parent or parent in (1, int(os.environ.get({supervisor_env!r}, "1"))):
    os._exit(137)
try:
    os.execvp({target!r}, [{target!r}, *sys.argv[1:]])
except OSError as exc:
    sys.exit(f"luigi-ufo: cannot start the driver's Python {target!r}: {{exc.strerror}}; "
             "set [spark_script] python to an interpreter")
"""


def driver_environment(
    env: Mapping[str, str], conf: Mapping[str, str], *, client_mode: bool
) -> dict[str, str]:
    """Return ``env`` with the driver's Python started through a launcher, where one can be."""
    chosen_by_conf = any(k in conf for k in _DRIVER_CONF)
    if not client_mode or chosen_by_conf or not sys.platform.startswith("linux"):
        return dict(env)
    # Spark's own order: PYSPARK_DRIVER_PYTHON, then PYSPARK_PYTHON, then python3.
    target = env.get(DRIVER_ENV) or env.get("PYSPARK_PYTHON") or "python3"
    launcher = driver_launcher(target)
    return {**env, DRIVER_ENV: launcher} if launcher else dict(env)


def driver_launcher(target: str, interpreter: str = sys.executable) -> str | None:
    """Return the launcher of ``target`` (created once in the runtime directory), or None."""
    shebang = f"#!{interpreter} -IS"
    if len(shebang) > _SHEBANG_MAX or any(c.isspace() for c in interpreter) or not interpreter:
        return None
    text = _LAUNCHER.format(interpreter=interpreter, target=target, supervisor_env=SUPERVISOR_ENV)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    path = runtime_dir() / f"{_PREFIX}{digest}"
    if not path.exists():
        write_text_atomically(path, text, mode=0o700)
    # A noexec mount (a hardened /tmp) refuses to run it: then go without.
    return str(path) if os.access(path, os.X_OK) else None
