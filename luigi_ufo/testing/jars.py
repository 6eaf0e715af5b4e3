"""Find the hadoop-aws and AWS SDK bundle jars that Spark needs for ``s3a://``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["JARS_DIR_ENV", "JARS_ENV", "find_s3a_jars"]

JARS_ENV = "LUIGI_UFO_SPARK_JARS"
JARS_DIR_ENV = "LUIGI_UFO_SPARK_JARS_DIR"
_PREFIXES = ("hadoop-aws-", "aws-java-sdk-bundle-")


def find_s3a_jars(environ: Mapping[str, str] | None = None) -> list[Path] | None:
    """Return the s3a jars named by ``$LUIGI_UFO_SPARK_JARS`` or found in a jars directory.

    ``LUIGI_UFO_SPARK_JARS`` is a comma-separated list of jar paths; all must exist.
    Otherwise ``LUIGI_UFO_SPARK_JARS_DIR`` must hold one ``hadoop-aws-*.jar`` and one
    ``aws-java-sdk-bundle-*.jar``. Returns None when neither yields both jars.
    """
    env = os.environ if environ is None else environ
    listed = [Path(p.strip()) for p in env.get(JARS_ENV, "").split(",") if p.strip()]
    if listed:
        names = [jar.name for jar in listed]
        has_both = all(any(n.startswith(p) for n in names) for p in _PREFIXES)
        return listed if has_both and all(jar.is_file() for jar in listed) else None
    directory = env.get(JARS_DIR_ENV)
    if not directory:
        return None
    found = [sorted(Path(directory).glob(f"{prefix}*.jar")) for prefix in _PREFIXES]
    if not all(found):
        return None
    return [matches[-1] for matches in found]
