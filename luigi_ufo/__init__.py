"""luigi-ufo: Luigi base tasks for external PySpark scripts, dated S3 datasets and top-N loads.

The public surface is imported lazily, so ``import luigi_ufo`` needs none of the optional
extras (pyspark, boto3, psycopg2) until the class that uses one is touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_PUBLIC = {
    "DatedTarget": "luigi_ufo.dated",
    "S3DatedTarget": "luigi_ufo.dated",
    "ExternalSparkScriptTask": "luigi_ufo.spark",
    "PostgresTopNTask": "luigi_ufo.postgres",
    "SparkBackfill": "luigi_ufo.spark",
}

__all__ = [
    "DatedTarget",
    "ExternalSparkScriptTask",
    "PostgresTopNTask",
    "S3DatedTarget",
    "SparkBackfill",
    "__version__",
]

if TYPE_CHECKING:
    from luigi_ufo.dated import DatedTarget, S3DatedTarget
    from luigi_ufo.postgres import PostgresTopNTask
    from luigi_ufo.spark import ExternalSparkScriptTask, SparkBackfill


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'luigi_ufo' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
