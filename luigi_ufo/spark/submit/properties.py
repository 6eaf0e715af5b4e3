"""Write a spec's private Spark properties to a temporary 0600 properties file for one run.

spark-submit takes one ``--properties-file`` and, given one, skips ``spark-defaults.conf``; so
the temporary file starts with the entries of the file Spark would have read (the user's
``properties_file``, else ``spark-defaults.conf``) and ends with the private properties, which
win over them (``--conf`` still wins over both, as everywhere in Spark).

The file lives in the private runtime directory, named after the process that wrote it: the
supervisor deletes it when the worker dies, and the next run sweeps any whose writer is dead
(should supervisor and worker both have been killed), so no SIGKILL leaves it behind for long.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from luigi_ufo.errors import ConfigError
from luigi_ufo.paths import runtime_dir
from luigi_ufo.services.process import ProcessRef, sweep
from luigi_ufo.spark.submit.spec import SubmitSpec

#: Name prefix of the temporary properties files in the runtime directory.
PREFIX = "spark-properties-"

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def escape(text: str) -> str:
    """Escape ``text`` as a ``java.util.Properties`` key or value (file read as UTF-8)."""
    escaped = "".join(_ESCAPES.get(c, c) for c in text)
    # Properties.load strips leading whitespace of a value, and ends a key at '=', ':' or space.
    for char in (" ", "=", ":", "#", "!"):
        escaped = escaped.replace(char, "\\" + char)
    return escaped


def properties_text(entries: Mapping[str, str]) -> str:
    """Render ``entries`` as properties file lines, sorted by key."""
    return "".join(f"{escape(k)}={escape(v)}\n" for k, v in sorted(entries.items()))


def default_properties_path(env: Mapping[str, str], spark_submit: str) -> Path:
    """Return the ``spark-defaults.conf`` spark-submit reads when given no properties file."""
    if env.get("SPARK_CONF_DIR"):
        return Path(env["SPARK_CONF_DIR"]) / "spark-defaults.conf"
    if env.get("SPARK_HOME"):
        return Path(env["SPARK_HOME"]) / "conf" / "spark-defaults.conf"
    found = (
        spark_submit if os.sep in spark_submit else shutil.which(spark_submit, path=env.get("PATH"))
    )
    # bin/spark-submit lives in SPARK_HOME/bin (the pyspark package dir for a pip install).
    return Path(found or spark_submit).parent.parent / "conf" / "spark-defaults.conf"


def merged_properties(spec: SubmitSpec, env: Mapping[str, str]) -> bytes:
    """Return the bytes of the properties file for ``spec``: base file, then private_conf."""
    base: Path | None = None
    if spec.properties_file is not None:
        base = Path(spec.properties_file)
    else:
        defaults = default_properties_path(env, spec.spark_submit)
        base = defaults if defaults.is_file() else None
    head = b""
    if base is not None:
        try:
            head = base.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"properties file {str(base)!r} cannot be read ({exc.strerror}); fix the path "
                "or its permissions"
            ) from None
    if head and not head.endswith(b"\n"):
        head += b"\n"
    # The blank line ends a continuation ('\' at the end) the base file may have left open.
    return head + b"\n" + properties_text(spec.private_conf).encode("utf-8")


@contextlib.contextmanager
def private_properties_file(spec: SubmitSpec, env: Mapping[str, str]) -> Iterator[SubmitSpec]:
    """Yield ``spec`` pointing at a temporary 0600 file holding its private_conf; delete it after.

    A spec without private_conf is yielded unchanged and nothing is written.
    """
    # Every run sweeps, so a file left by a killed run lasts only until the next run.
    sweep(runtime_dir(), PREFIX)
    if not spec.private_conf:
        yield spec
        return
    data = merged_properties(spec, env)
    # mkstemp creates the file with O_EXCL and mode 0600: it is private before a byte is in it.
    fd, path = tempfile.mkstemp(
        prefix=f"{PREFIX}{ProcessRef.current().tag}-", suffix=".properties", dir=runtime_dir()
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        yield dataclasses.replace(spec, properties_file=path, private_conf={})
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
