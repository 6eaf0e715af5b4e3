"""Submit external PySpark scripts from Luigi: spec -> argv, a runner that owns the process, a task.

``ExternalSparkScriptTask`` is the public entry point and ``SparkBackfill`` runs many of its dates
in one application; ``SubmitSpec``/``build_argv`` and ``SparkSubmitRunner`` are usable without
Luigi.
"""

from __future__ import annotations

from luigi_ufo.spark.backfill import SparkBackfill
from luigi_ufo.spark.run import RunResult
from luigi_ufo.spark.settings import SparkSettings
from luigi_ufo.spark.submit.runner import SparkSubmitRunner
from luigi_ufo.spark.submit.spec import SubmitSpec, build_argv, mask
from luigi_ufo.spark.task import ExternalSparkScriptTask

__all__ = [
    "ExternalSparkScriptTask",
    "RunResult",
    "SparkBackfill",
    "SparkSettings",
    "SparkSubmitRunner",
    "SubmitSpec",
    "build_argv",
    "mask",
]
