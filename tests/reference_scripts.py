"""The packaged reference scripts, imported the way their tasks run them.

A script imports its modules (``nuforc``, ``local_lake``) by name, as under ``spark-submit
--py-files``: the scripts directory goes on ``sys.path``. Every module of it pickles by value, as
the Connect runner ships a script and its ``script_files``, so Spark's Python workers need
nothing installed to run what a test hands them.
"""

from __future__ import annotations

import sys

from pyspark import cloudpickle

from luigi_ufo.spark.scripts import scripts_root

SCRIPTS = scripts_root(None)
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import aggregate_by_state  # noqa: E402
import local_lake  # noqa: E402
import nuforc  # noqa: E402
import top_10  # noqa: E402

for _module in (aggregate_by_state, local_lake, nuforc, top_10):
    cloudpickle.register_pickle_by_value(_module)

__all__ = ["SCRIPTS", "aggregate_by_state", "local_lake", "nuforc", "top_10"]
