"""Refuse, before it runs, a script that needs what Spark Connect does not have.

Under Spark Connect the script drives a remote server: there is no ``SparkContext``, no RDD API
and no Py4J gateway (``_jvm``). A script using them would fail half-way, perhaps after writing
part of its output, so the task reads the script's source first and names every such use.

A script that runs both ways marks each classic-only use with a line pragma, like ``# noqa``:
``sc = spark.sparkContext  # spark-connect: classic-only``. The guard then accepts that line; the
script promises the line runs only with a classic session (e.g. behind a check that the session
is not a Connect one).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

from luigi_ufo.errors import ConnectUnsupportedError
from luigi_ufo.spark.settings import SECTION

#: Attribute names that exist only on a classic (JVM-backed) session or DataFrame.
UNSUPPORTED_ATTRIBUTES = {
    "sparkContext": "SparkContext",
    "_sc": "SparkContext",
    "_jvm": "the Py4J JVM gateway",
    "_jsc": "the Java SparkContext",
    "_jsparkSession": "the Java SparkSession",
    "_jdf": "the Java DataFrame",
    "rdd": "the RDD API",
}
#: Names whose import means the script builds its own SparkContext or RDDs.
UNSUPPORTED_IMPORTS = {
    "SparkContext": "SparkContext",
    "pyspark.rdd": "the RDD API",
    "RDD": "the RDD API",
}

#: The comment that marks a line's uses as reached only with a classic session.
CLASSIC_ONLY = re.compile(r"#\s*spark-connect:\s*classic-only\b")


@dataclass(frozen=True)
class Finding:
    """One use of something Spark Connect lacks: where, and what it is."""

    line: int
    code: str
    what: str


def classic_only_lines(source: str) -> set[int]:
    """Return the numbers of the lines whose comment holds ``spark-connect: classic-only``."""
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {
        t.start[0] for t in tokens if t.type == tokenize.COMMENT and CLASSIC_ONLY.search(t.string)
    }


def find_unsupported(source: str, filename: str = "<script>") -> list[Finding]:
    """Return every use of SparkContext, the RDD API or ``_jvm`` in ``source``, in line order.

    A use on a line marked ``# spark-connect: classic-only`` is left out.
    """
    tree = ast.parse(source, filename=filename)
    found: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in UNSUPPORTED_ATTRIBUTES:
            found.append(Finding(node.lineno, ast.unparse(node), UNSUPPORTED_ATTRIBUTES[node.attr]))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module in UNSUPPORTED_IMPORTS:
                found.append(Finding(node.lineno, f"from {module} import ...", "the RDD API"))
            for alias in node.names:
                if module.startswith("pyspark") and alias.name in UNSUPPORTED_IMPORTS:
                    found.append(
                        Finding(
                            node.lineno,
                            f"from {module} import {alias.name}",
                            UNSUPPORTED_IMPORTS[alias.name],
                        )
                    )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in UNSUPPORTED_IMPORTS:
                    found.append(
                        Finding(
                            node.lineno, f"import {alias.name}", UNSUPPORTED_IMPORTS[alias.name]
                        )
                    )
    marked = classic_only_lines(source)
    return sorted((f for f in found if f.line not in marked), key=lambda f: (f.line, f.code))


def check_connect_script(path: Path) -> None:
    """Raise ConnectUnsupportedError naming each line of ``path`` that Spark Connect cannot run."""
    source = path.read_text(encoding="utf-8")
    found = find_unsupported(source, str(path))
    if not found:
        return
    shown = "\n".join(f"  line {f.line}: `{f.code}` ({f.what})" for f in found[:20])
    more = f"\n  ... and {len(found) - 20} more" if len(found) > 20 else ""
    raise ConnectUnsupportedError(
        f"script {str(path)!r} cannot run under Spark Connect, which has no SparkContext, RDD "
        f"API or JVM gateway; it uses:\n{shown}{more}\n"
        "  fix: rewrite these with the DataFrame API (spark.read, DataFrame functions, "
        f"mapInPandas), or run this task with [{SECTION}] mode = submit"
    )
