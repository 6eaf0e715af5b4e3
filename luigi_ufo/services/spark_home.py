"""The local Spark installation: its SPARK_HOME, the Java it runs on, the jars s3a needs."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from luigi_ufo.errors import JavaNotFoundError, ServiceError

__all__ = ["JARS_DIR_ENV", "JARS_ENV", "find_java", "find_s3a_jars", "spark_home"]

JARS_ENV = "LUIGI_UFO_SPARK_JARS"
JARS_DIR_ENV = "LUIGI_UFO_SPARK_JARS_DIR"
_JAR_PREFIXES = ("hadoop-aws-", "aws-java-sdk-bundle-")


def spark_home() -> Path:
    """Return the installed pyspark package directory, which is a complete SPARK_HOME."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise ServiceError(
            "pyspark is not installed, so no Spark cluster can start; "
            "pip install 'luigi-ufo[spark]' (tests: or set LUIGI_UFO_TEST_SPARK_MASTER)"
        )
    return Path(spec.origin).parent


def find_java() -> str:
    """Return the java executable spark-submit will use, or raise JavaNotFoundError."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if os.access(java, os.X_OK):
            return str(java)
        raise JavaNotFoundError(
            f"JAVA_HOME={home!r} has no bin/java; point JAVA_HOME at a Java 17 runtime "
            "or unset it to use java from PATH"
        )
    found = shutil.which("java")
    if found is None:
        raise JavaNotFoundError(
            "java was not found on PATH and JAVA_HOME is unset; Spark needs Java 17: install it "
            "(e.g. apt-get install openjdk-17-jre-headless, brew install openjdk@17) or set "
            "JAVA_HOME"
        )
    return found


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
        has_both = all(any(n.startswith(p) for n in names) for p in _JAR_PREFIXES)
        return listed if has_both and all(jar.is_file() for jar in listed) else None
    directory = env.get(JARS_DIR_ENV)
    if not directory:
        return None
    found = [sorted(Path(directory).glob(f"{prefix}*.jar")) for prefix in _JAR_PREFIXES]
    if not all(found):
        return None
    return [matches[-1] for matches in found]
