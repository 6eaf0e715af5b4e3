"""The HTML report's cost on the primary NUFORC file, and what the ``report`` extra installs.

The lake holds what ``luigi-ufo run`` leaves for a date (raw import with its lineage record, the
aggregation's three datasets, counted by the script's own functions without Spark); the top-N
rows come with the run, as in ``luigi-ufo run``, so no PostgreSQL is needed. Variants:

- ``read the lake only`` (baseline): what the report reads (counts, rejected counts and samples,
  the raw lineage record, three flag listings, the run record), nothing drawn;
- ``report in a fresh process``: ``luigi-ufo run``'s report step as the CLI does it (run record
  written, data read, three pictures drawn, page written), in a child process that has imported
  what a run has by then (the CLI, the tasks, pyarrow and numpy with ``[all]``) but not
  matplotlib: the cost a run pays, matplotlib's import included. Its
  ``cpu_median_s`` is the step's CPU time (one thread): what it costs on an idle machine, where
  the shared machines' wall times are not;
- ``report again, warm``: the same step in a process that has drawn it once;
- one row per picture (warm): ``topn_chart``, ``tile_map``, ``rejected_chart``.

The ``install`` numbers are the on-disk size of the packages the ``report`` extra adds to
``[all]`` (matplotlib and its dependencies other than numpy, which ``[all]`` has already), from
the installed distributions' file lists. ``LUIGI_UFO_NUFORC_DIR`` says where the file is.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import Row, repeat

NAME = "report"
TITLE = "The HTML report on the primary NUFORC file: cost per run, and the report extra's size"
QUICK_TITLE = "The HTML report on a 2,000-row sample (quick: numbers mean nothing)"
DAY = datetime.date(2024, 1, 15)
REPORT_STEP = "report in a fresh process (luigi-ufo run's step)"
#: What the report extra adds to [all]: matplotlib and its own dependencies, numpy excepted.
EXTRA = (
    "matplotlib",
    "contourpy",
    "cycler",
    "fonttools",
    "kiwisolver",
    "pillow",
    "pyparsing",
    "python-dateutil",
    "six",
)

_CHILD = """
import datetime, json, sys, time
# What `luigi-ufo run` has imported when its report step starts: the CLI, the pipeline's tasks
# and results, and (with [all]) pyarrow and numpy, which TopStatesToDatabase ranked with.
import luigi_ufo.cli.main, luigi_ufo.ufo.tasks, luigi_ufo.ufo.results
from luigi_ufo.postgres.ranking import arrow
if arrow.available():
    arrow._modules()
from luigi_ufo.cli.report import _write
from luigi_ufo.ufo.results import RunSummary
from luigi_ufo.ufo.run_record import RunRecord, write_record
from luigi_ufo.ufo.settings import UfoSettings
day, top, counted, rejected, out = json.loads(sys.argv[1])
day = datetime.date.fromisoformat(day)
summary = RunSummary(date=day, top=[tuple(r) for r in top], counted=counted, rejected=rejected)
started, cpu = time.perf_counter(), time.process_time()
write_record(day, RunRecord.of_run("export", UfoSettings.from_config(), {"total": 1.0}, "run"))
_write(day, out, summary)
print(time.perf_counter() - started, time.process_time() - cpu)
"""


def installed_mb(names: tuple[str, ...]) -> dict[str, float]:
    """Return the on-disk MB of each installed distribution of ``names``."""
    sizes = {}
    for name in names:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        total = 0
        for file in dist.files or ():
            path = Path(str(dist.locate_file(file)))
            if path.is_file():
                total += path.stat().st_size
        sizes[name] = round(total / 1e6, 1)
    return sizes


def make_lake(lake: Path, source: Path) -> Any:
    """Put the date's raw import and aggregation outputs in ``lake``; return the counts."""
    from luigi_ufo.ufo.tasks import AggregateUFOsByState, ImportUFOExport
    from tests.reference_scripts import aggregate_by_state as agg
    from tests.reference_scripts import local_lake

    ImportUFOExport(date=DAY, source=str(source)).run()
    out = {k: t.uri for k, t in AggregateUFOsByState(date=DAY).output().items()}
    argv = ["--input", str(source), "--output", out["states"], "--samples-output", out["samples"]]
    args = agg.parse([*argv, "--rejected-output", out["rejected"]])
    counted = agg.count_locally(args, local_lake.in_process)
    agg.aggregate(args, counted, local_lake.replace_dataset)
    return counted[1]


def run(quick: bool = False) -> dict[str, list[Row]]:
    from luigi_ufo.settings.sections import config_overrides

    runs = 1 if quick else 5
    with tempfile.TemporaryDirectory(prefix="luigi-ufo-bench-report-") as tmp:
        work = Path(tmp)
        source = primary_or_sample(work, quick)
        config = work / "luigi.cfg"
        config.write_text(f"[lake]\nroot = {work / 'lake'}\n", encoding="utf-8")
        env = {**os.environ, "LUIGI_CONFIG_PATH": str(config)}
        with config_overrides() as set_option:
            set_option("lake", "root", str(work / "lake"))
            counts = make_lake(work / "lake", source)
            top = sorted(counts.states.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
            ranked = [(rank, state, n) for rank, (state, n) in enumerate(top, 1)]
            rejected = {reason: n for reason, n in counts.rejected.items()}
            arg = json.dumps([DAY.isoformat(), ranked, counts.counted, rejected, ""])
            cold, cold_cpu = [], []
            for i in range(runs):
                out = str(work / f"cold-{i}.html")
                argv = [sys.executable, "-c", _CHILD, arg.replace('""]', json.dumps(out) + "]")]
                child = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
                wall, cpu = child.stdout.strip().splitlines()[-1].split()
                cold.append(float(wall))
                cold_cpu.append(float(cpu))
            rows = warm_rows(work, ranked, counts, rejected, runs)
        page = (work / "cold-0.html").stat().st_size
    sizes = installed_mb(EXTRA)
    cold_row = Row(
        REPORT_STEP,
        cold,
        extra={
            "cpu_median_s": round(sorted(cold_cpu)[len(cold_cpu) // 2], 3),
            "page_kb": round(page / 1e3, 1),
            "install_mb": round(sum(sizes.values()), 1),
            "install_by_package": ", ".join(f"{name} {mb} MB" for name, mb in sizes.items()),
        },
    )
    return {"report step": [rows[0], cold_row, *rows[1:]]}


def warm_rows(
    work: Path, ranked: list[tuple[int, str, int]], counts: Any, rejected: dict[str, int], runs: int
) -> list[Row]:
    from luigi_ufo.cli.report import _write
    from luigi_ufo.pictures import TopNRow, topn_chart
    from luigi_ufo.ufo.report import read_report_data, rejected_chart
    from luigi_ufo.ufo.results import RunSummary
    from luigi_ufo.ufo.tile_map import tile_map

    summary = RunSummary(date=DAY, top=ranked, counted=counts.counted, rejected=rejected)
    read, _ = repeat(lambda: read_report_data(DAY, summary), runs, warmup=1)
    whole, _ = repeat(lambda: _write(DAY, str(work / "warm.html"), summary), runs, warmup=1)
    bars = [TopNRow(state, n, rank) for rank, state, n in ranked]
    states = dict(counts.states)
    chart, _ = repeat(lambda: topn_chart(bars, 10, others=states.items()), runs, warmup=1)
    tiles, _ = repeat(lambda: tile_map(states), runs, warmup=1)
    reasons, _ = repeat(lambda: rejected_chart(rejected), runs, warmup=1)
    return [
        Row("read the lake only (no pictures)", read, baseline=True),
        Row("report again, warm", whole),
        Row("topn_chart (warm)", chart),
        Row("tile_map (warm)", tiles),
        Row("rejected_chart (warm)", reasons),
    ]


def primary_or_sample(work: Path, quick: bool) -> Path:
    if quick:
        from luigi_ufo.ufo.sample import write_sample

        return write_sample(work / "sample.csv.gz", 2_000, seed=1, compress=True).path
    from tests.real_nuforc import PRIMARY, real_file

    return real_file(PRIMARY)


if __name__ == "__main__":  # pragma: no cover - `python -m benchmarks --only report`
    started = time.perf_counter()
    print(run(quick="--quick" in sys.argv))
    print(f"{time.perf_counter() - started:.1f} s")
