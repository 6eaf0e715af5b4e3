"""Top-N load throughput into a real PostgreSQL (started with luigi_ufo.services.postgres).

Every variant writes the same aggregate rows (all kept: n = number of rows) into an empty table
with the same columns; the table is emptied before each timed run, outside the timing.

- raw COPY FROM STDIN (baseline): psycopg2 ``copy_expert`` of CSV text rendered beforehand, into
  a table with the same primary key: the floor for any COPY-based loader.
- luigi_ufo load(): ``luigi_ufo.postgres.load`` with already ranked rows (one transaction:
  create-if-missing, delete partition, streamed COPY, marker upsert, commit).
- PostgresTopNTask.run(): the whole task path from a dated CSV part file (17 MB), with the
  ``columnar`` extra installed: parsed, checked and ranked with pyarrow, one COPY of the ranked
  rows into a new child table of the LIST-partitioned table the task creates (same columns and
  primary key as the others, partitioned on ``day``), primary key built, child attached, marker
  written, in one transaction. Input over 32 MiB (the memory section below) is ranked in SQL.
- PostgresTopNTask.run() rerun: the same, when the partition already holds the rows it replaces
  (the old child table is dropped at the end of the transaction, so no dead tuples).
- luigi CopyToTable: Luigi 3.8.1's ``luigi.contrib.postgres.CopyToTable.run()`` with ``rows()``
  over the same tuples, nothing deleted; once into the table it creates itself (no primary
  key), once into a table with the same DDL as the others (primary key included).
- executemany: ``cursor.executemany`` INSERT of a smaller sample (it is far slower); compare
  its rows/s, not its seconds.

A second section runs ``PostgresTopNTask.run()`` keeping the top 10 of 10,000,000 input rows in
a child process (once: it takes minutes) and records the child's peak resident memory
(``VmHWM`` of ``/proc/self/status``) in MB.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import luigi
import psycopg2
from luigi.contrib.postgres import CopyToTable
from psycopg2 import sql

from benchmarks._common import Row
from luigi_ufo.dated import DatedTarget
from luigi_ufo.postgres import (
    ConnectionSettings,
    LoadSpec,
    PostgresTopNTask,
    Record,
    connect,
    load,
    top_n,
    transaction,
)
from luigi_ufo.postgres import sql as q
from luigi_ufo.services.postgres import PostgresServer

NAME = "topn_load"
TITLE = "Top-N load into PostgreSQL: rows/s of the task's load path vs raw COPY and CopyToTable"

DAY = datetime.date(2024, 1, 7)
SERVER_SETTINGS = {"shared_buffers": "256MB", "max_wal_size": "4GB"}


def _timed(setup: Callable[[], None], fn: Callable[[], Any], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        setup()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def _row(variant: str, samples: list[float], rows: int, baseline: bool = False) -> Row:
    row = Row(variant, samples, {"rows": rows}, baseline=baseline)
    row.extra["rows_per_s"] = rows / row.median
    return row


def _execute(dsn: str, statement: Any) -> None:
    with connect(ConnectionSettings(dsn=dsn)) as conn, transaction(conn) as cur:
        cur.execute(statement)


def _truncate(dsn: str, table: str) -> Callable[[], None]:
    def setup() -> None:
        if _exists(dsn, table):  # the first CopyToTable run creates its own table
            _execute(dsn, sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))

    return setup


def _exists(dsn: str, table: str) -> bool:
    with connect(ConnectionSettings(dsn=dsn)) as conn, transaction(conn) as cur:
        cur.execute(q.TABLE_EXISTS, (q.quote_ident(table),))
        row = cur.fetchone()
        return bool(row and row[0])


class _Task(PostgresTopNTask):
    root = luigi.Parameter()
    dsn = luigi.Parameter(significant=False)
    size = luigi.IntParameter(significant=False)
    date = luigi.DateParameter()
    table = "bench_task"
    rank_by = "m"
    key_columns = ("k",)
    column_types = {"m": "bigint"}  # noqa: RUF012
    # The same DDL as the other variants: (day, rank, k, m), primary key (day, rank).
    partition_columns = {"day": "date"}  # noqa: RUF012

    @property
    def n(self) -> int:  # keep every row: measure the load, not the cut
        return int(self.size)

    def requires(self) -> luigi.Task:
        return _Partition(root=self.root, date=self.date)

    def connection_settings(self) -> ConnectionSettings:
        return ConnectionSettings(dsn=self.dsn)


class _Partition(luigi.ExternalTask):
    root = luigi.Parameter()
    date = luigi.DateParameter()

    def output(self) -> DatedTarget:
        return DatedTarget(self.root, self.date)


class _TopTen(PostgresTopNTask):
    """Top 10 of a big dated CSV, for the memory measurement."""

    root = luigi.Parameter()
    dsn = luigi.Parameter(significant=False)
    date = luigi.DateParameter()
    table = "bench_top_ten"
    n = 10
    rank_by = "m"
    key_columns = ("k",)
    column_types = {"m": "bigint"}  # noqa: RUF012
    partition_columns = {"day": "date"}  # noqa: RUF012

    def requires(self) -> luigi.Task:
        return _Partition(root=self.root, date=self.date)

    def connection_settings(self) -> ConnectionSettings:
        return ConnectionSettings(dsn=self.dsn)


# Runs in a child process: one top-10 run, then its own peak RSS in KiB. VmHWM, not
# ru_maxrss: on Linux ru_maxrss survives fork + exec, so it would report this parent's peak.
_MEMORY_CHILD = """
import json, sys, time, datetime
from benchmarks.bench_topn_load import _TopTen
task = _TopTen(root=sys.argv[1], dsn=sys.argv[2], date=datetime.date.fromisoformat(sys.argv[3]))
start = time.perf_counter()
task.run()
seconds = time.perf_counter() - start
with open("/proc/self/status", encoding="ascii") as fh:
    peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "peak_kib": peak, "rows": task.load_result.rows}))
"""


def _write_big_part(root: Path, rows: int) -> None:
    """Write ``rows`` aggregate rows (k,m) as one dated part, in chunks (bounded memory)."""
    with DatedTarget(str(root), DAY).writer() as writer, writer.open("part-00000.csv") as out:
        out.write("k,m\n")
        rng = random.Random(7)
        for start in range(0, rows, 100_000):
            stop = min(start + 100_000, rows)
            out.write("".join(f"key-{i:08d},{rng.randrange(10**9)}\n" for i in range(start, stop)))


def _peak_memory(dsn: str, tmp: str, rows: int, runs: int) -> Row:
    root = Path(tmp) / "big"
    _write_big_part(root, rows)
    samples, peaks = [], []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, str(root), dsn, DAY.isoformat()],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["rows"] == 10, result
        samples.append(float(result["seconds"]))
        peaks.append(int(result["peak_kib"]) / 1024)
    row = Row(
        "PostgresTopNTask.run() top 10, child process",
        samples,
        {"rows": rows, "peak_rss_mb": max(peaks)},
        baseline=True,
    )
    row.extra["rows_per_s"] = rows / row.median
    return row


def _copy_to_table(dsn: str, rows: list[tuple[Any, ...]], name: str) -> type[CopyToTable]:
    params = psycopg2.extensions.parse_dsn(dsn)

    class LuigiCopy(CopyToTable):
        run_id = luigi.IntParameter()
        host = params["host"]
        port = params["port"]
        database = params["dbname"]
        user = params["user"]
        password = None
        table = name
        columns = [("day", "date"), ("rank", "integer"), ("k", "text"), ("m", "bigint")]  # noqa: RUF012

        def rows(self) -> Iterator[tuple[Any, ...]]:
            return iter(rows)

    return LuigiCopy


def run(quick: bool) -> dict[str, list[Row]]:
    size = 2_000 if quick else 1_000_000
    sample = 500 if quick else 50_000
    # LUIGI_UFO_BENCH_TOPN_RUNS sets the runs per variant (default 5, recorded in the results).
    runs = 1 if quick else int(os.environ.get("LUIGI_UFO_BENCH_TOPN_RUNS", "5"))
    rng = random.Random(42)
    records = [Record((), (f"key-{i:07d}",), rng.randrange(1_000_000)) for i in range(size)]
    ranked = top_n(records, size)
    tuples = [(DAY, r.rank, r.key[0], r.measure) for r in ranked]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(tuples)
    rendered = buffer.getvalue()

    with PostgresServer(settings=SERVER_SETTINGS) as server, tempfile.TemporaryDirectory() as tmp:
        dsn = server.dsn
        settings = ConnectionSettings(dsn=dsn)
        spec = LoadSpec.build(
            table="bench_load",
            rank_by="m",
            key_columns=["k"],
            update_id="bench",
            partition={"day": DAY},
            column_types={"m": "bigint"},
        )
        raw_spec = LoadSpec.build(
            table="bench_raw",
            rank_by="m",
            key_columns=["k"],
            update_id="bench-raw",
            partition={"day": DAY},
            column_types={"m": "bigint"},
        )
        _execute(dsn, q.create_table(raw_spec.table))
        raw_copy = q.copy_from_stdin(raw_spec.table)

        def copy_raw() -> None:
            with connect(settings) as conn, transaction(conn) as cur:
                cur.copy_expert(raw_copy, io.StringIO(rendered), size=1 << 16)

        out: list[Row] = [
            _row(
                "raw COPY FROM STDIN",
                _timed(_truncate(dsn, "bench_raw"), copy_raw, runs),
                size,
                baseline=True,
            ),
            _row(
                "luigi_ufo load()",
                _timed(
                    _truncate(dsn, "bench_load"),
                    lambda: load(spec, ranked, settings=settings),
                    runs,
                ),
                size,
            ),
        ]

        root = Path(tmp) / "agg"
        with DatedTarget(str(root), DAY).writer() as writer:
            text = io.StringIO()
            text.write("k,m\n")
            csv.writer(text, lineterminator="\n").writerows((r.key[0], r.measure) for r in ranked)
            writer.write_text("part-00000.csv", text.getvalue())
        task = _Task(root=str(root), dsn=dsn, size=size, date=DAY)
        out.append(
            _row(
                "PostgresTopNTask.run() (read CSV + rank + load)",
                _timed(_truncate(dsn, "bench_task"), task.run, runs),
                size,
            )
        )
        out.append(
            _row(
                "PostgresTopNTask.run() rerun (replaces the rows)",
                _timed(lambda: None, task.run, runs),
                size,
            )
        )

        # Once into a table CopyToTable creates itself (no primary key), once into the same DDL
        # as the other variants (created beforehand, so CopyToTable uses it).
        _execute(dsn, q.create_table(replace(raw_spec.table, table=q.TableName("bench_ctt_pk"))))
        run_ids = iter(range(10**6))
        for name, label in (
            ("bench_ctt", "luigi CopyToTable.run() (its own table, no primary key)"),
            ("bench_ctt_pk", "luigi CopyToTable.run() (same table DDL, with primary key)"),
        ):
            copy_cls = _copy_to_table(dsn, tuples, name)
            out.append(
                _row(
                    label,
                    _timed(
                        _truncate(dsn, name),
                        lambda cls=copy_cls: cls(run_id=next(run_ids)).run(),
                        runs,
                    ),
                    size,
                )
            )

        _execute(dsn, q.create_table(replace(raw_spec.table, table=q.TableName("bench_many"))))
        insert = sql.SQL("INSERT INTO {} (day, rank, k, m) VALUES (%s, %s, %s, %s)").format(
            sql.Identifier("bench_many")
        )

        def executemany() -> None:
            with connect(settings) as conn, transaction(conn) as cur:
                cur.executemany(insert, tuples[:sample])

        out.append(
            _row(
                f"executemany INSERT ({sample:,}-row sample)",
                _timed(_truncate(dsn, "bench_many"), executemany, runs),
                sample,
            )
        )
        memory = _peak_memory(dsn, tmp, 20_000 if quick else 10_000_000, 1)
        luigi.task_register.Register.clear_instance_cache()
    averages = os.getloadavg()
    machine = "load average at the end " + " / ".join(f"{a:.1f}" for a in averages)
    return {
        f"{size:,} aggregate rows, fsync off, shared_buffers 256MB ({machine})": out,
        f"top 10 of {memory.extra['rows']:,} input rows: peak memory of the task's process": [
            memory
        ],
    }
