"""The reference pipeline, built only from the plugin's base classes.

``ReadUFOs -> AggregateUFOsByState -> TopTenStates -> TopStatesToDatabase``, one run per date::

    <lake>/ufo/raw/<date>/        ReadUFOs (external) or ImportUFOExport (copies a local file)
    <lake>/ufo/by_state/<date>/   AggregateUFOsByState: state,sightings
    <lake>/ufo/rejected/<date>/   AggregateUFOsByState: reason,records (rows it did not count)
    <lake>/ufo/rejected_samples/<date>/ AggregateUFOsByState: reason,sample (first of each)
    <lake>/ufo/top_states/<date>/ TopTenStates: rank,state,sightings
    table ufo_top_states          TopStatesToDatabase: (date, rank, state, sightings)
                                  ([ufo] ties = include: ufo_top_states_with_ties)

Every output records what it was made from (the export's size and sha256, then each upstream
partition's record) and every task is ``rebuild_when = "inputs"``: a date imported from another
export is incomplete all the way down, so a rerun rebuilds and reloads it (see
:mod:`luigi_ufo.lineage`).
"""

from __future__ import annotations

import os
from typing import Any

import luigi

from luigi_ufo.dated import DatedTarget, DatedTaskMixin, LocalFile
from luigi_ufo.errors import InputFormatError
from luigi_ufo.postgres import ConnectionSettings, PostgresTopNTask
from luigi_ufo.postgres.ranking.rules import Ties
from luigi_ufo.spark import ExternalSparkScriptTask
from luigi_ufo.ufo.database import top_n_database
from luigi_ufo.ufo.settings import UfoSettings, ufo_dataset, ufo_lake

GZIP_MAGIC = b"\x1f\x8b"
# The pipeline's Spark jobs are tiny: no UI server to start, few shuffle partitions if any.
SMALL_JOB_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    # C1 only: these JVMs live seconds, so full JIT compilation costs more CPU than it saves.
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


def ufo_target(dataset: str, date: Any, lake: str = "") -> DatedTarget:
    """Return the dated target of ``dataset`` for ``date`` in ``lake`` (default: configured)."""
    return DatedTarget(ufo_dataset(dataset, lake), date)


class ReadUFOs(DatedTaskMixin, luigi.ExternalTask):
    """The raw NUFORC export of a date in ``<lake>/ufo/raw/<date>/``, put there by other means."""

    date = luigi.DateParameter()

    def output(self) -> DatedTarget:
        return ufo_target("raw", self.date)


class ImportUFOExport(DatedTaskMixin, luigi.Task):
    """Copy a local export file (plain or gzip, as is) into the raw partition, flag last.

    The partition records the file's size and sha256: it is complete only for that content, so
    importing another export for the same date runs again.
    """

    date = luigi.DateParameter()
    source = luigi.Parameter(description="local export file (CSV, optionally gzip)")
    rebuild_when = "inputs"

    def output(self) -> DatedTarget:
        return ufo_target("raw", self.date)

    def lineage_inputs(self) -> list[LocalFile]:
        return [LocalFile(os.path.expanduser(str(self.source)))]

    def run(self) -> None:
        path = os.path.expanduser(str(self.source))
        try:
            with open(path, "rb") as fh:
                gz = fh.read(2) == GZIP_MAGIC
        except OSError as exc:
            raise InputFormatError(
                f"cannot read export {path!r} ({exc.strerror}); check --source / --input"
            ) from None
        with self.output().writer(lineage=self.lineage()) as writer:
            writer.put_file("export.csv.gz" if gz else "export.csv", path)


class AggregateUFOsByState(DatedTaskMixin, ExternalSparkScriptTask):
    """Count sightings per US state by rule R1, and uncounted rows by reason (Spark)."""

    date = luigi.DateParameter()
    script = "aggregate_by_state.py"
    script_files = ("nuforc.py", "local_lake.py")
    spark_overrides = {"conf": SMALL_JOB_CONF}  # noqa: RUF012 - read-only spec
    rebuild_when = "inputs"

    def requires(self) -> luigi.Task:
        return ReadUFOs(date=self.date)  # type: ignore[no-untyped-call]

    def output(self) -> dict[str, DatedTarget]:
        lake = ufo_lake()  # read once: Luigi asks for the outputs many times per run
        return {
            "states": ufo_target("by_state", self.date, lake),
            "rejected": ufo_target("rejected", self.date, lake),
            "samples": ufo_target("rejected_samples", self.date, lake),
        }

    def app_options(self) -> list[str]:
        settings = UfoSettings.from_config()
        out = {name: t.spark_uri for name, t in self.output().items()}
        return [
            *("--input", *self.input_uris()),
            *("--output", out["states"]),
            *("--rejected-output", out["rejected"]),
            *("--samples-output", out["samples"]),
            *("--encoding", settings.encoding),
            *("--delimiter", settings.delimiter),
            *("--country-rule", settings.country_rule),
            *("--decode-errors", settings.decode_errors),
            *("--max-rejected-fraction", repr(settings.max_rejected_fraction)),
            *(("--state-column", settings.state_column) if settings.state_column else ()),
            *(("--country-column", settings.country_column) if settings.country_column else ()),
        ]


class TopTenStates(DatedTaskMixin, ExternalSparkScriptTask):
    """Keep the top N states (count descending, then code) of a date's aggregate (Spark)."""

    date = luigi.DateParameter()
    script = "top_10.py"
    script_files = ("local_lake.py",)
    spark_overrides = {"conf": SMALL_JOB_CONF}  # noqa: RUF012 - read-only spec
    rebuild_when = "inputs"

    def requires(self) -> AggregateUFOsByState:
        return AggregateUFOsByState(date=self.date)  # type: ignore[no-untyped-call]

    def output(self) -> DatedTarget:
        return ufo_target("top_states", self.date)

    def app_options(self) -> list[str]:
        states = self.input()["states"]  # type: ignore[no-untyped-call]
        settings = UfoSettings.from_config()
        return [
            *("--input", states.spark_uri),
            *("--output", self.output().spark_uri),
            *("--top", str(settings.top)),
            *(("--ties", settings.ties) if settings.ties != "cut" else ()),
        ]


class TopStatesToDatabase(DatedTaskMixin, PostgresTopNTask):
    """Load a date's top states into ``ufo_top_states`` (date, rank, state, sightings).

    With ``[ufo] ties = include`` the rows tied at the N-th count share a rank (PostgresTopNTask's
    ``with_ties``) in ``ufo_top_states_with_ties``: its primary key holds the state too.
    """

    date = luigi.DateParameter()
    rebuild_when = "inputs"  # the marker row records which top_states partition was loaded
    rank_by = "sightings"
    key_columns = ("state",)
    column_types = {"state": "text", "sightings": "bigint"}  # noqa: RUF012 - read-only spec

    @property
    def n(self) -> int:
        """Return ``[ufo] top``, read when asked, like TopTenStates' ``--top``."""
        return UfoSettings.from_config().top

    @property
    def ties(self) -> Ties:  # type: ignore[override]
        """Return the tie rule of ``[ufo] ties``: ``stable`` (cut) or ``with_ties`` (include)."""
        return "with_ties" if UfoSettings.from_config().ties == "include" else "stable"

    @property
    def table(self) -> str:
        """Return ``ufo_top_states``, or ``ufo_top_states_with_ties`` under ``[ufo] ties``."""
        return "ufo_top_states" if self.ties == "stable" else "ufo_top_states_with_ties"

    def requires(self) -> TopTenStates:
        return TopTenStates(date=self.date)  # type: ignore[no-untyped-call]

    def connection_settings(self) -> ConnectionSettings:
        """Return ``[postgres_topn]``, else the per-user server (exit 3 if it is stopped)."""
        return top_n_database(super().connection_settings())
