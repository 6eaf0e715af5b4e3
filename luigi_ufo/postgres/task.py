"""``PostgresTopNTask``: a thin Luigi task mapping declarative attributes onto a top-N load."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import luigi

from luigi_ufo.bulk import BulkCompleteMixin
from luigi_ufo.errors import InvalidSpecError
from luigi_ufo.postgres.load import LoadResult, LoadSpec
from luigi_ufo.postgres.ranking.engines import rank
from luigi_ufo.postgres.ranking.reader import ReadResult, RecordReader
from luigi_ufo.postgres.ranking.rules import Ties, check_n, check_ties
from luigi_ufo.postgres.settings import ConnectionSettings
from luigi_ufo.postgres.target import PostgresMarkerTarget

__all__ = ["PostgresTopNTask"]

logger = logging.getLogger(__name__)

# Attributes that describe the load, never the run: not partition columns by default.
_SPEC_ATTRIBUTES = frozenset(
    {
        "table",
        "n",
        "rank_by",
        "key_columns",
        "group_by",
        "ties",
        "partition_columns",
        "column_types",
        "rank_column",
        "skip_bad_rows",
        "lock_partition",
        "marker_table",
        "partitioned",
    }
)


class PostgresTopNTask(BulkCompleteMixin, luigi.Task):
    """Keep the top ``n`` input rows by ``rank_by`` and load them into ``table``, atomically.

    Each run owns one *partition* of the table, identified by its partition column values; a
    rerun replaces exactly that partition's rows in one transaction, and ``output()`` is complete
    only when the run's marker row and the table exist.

    Args:
        table: ``"table"``, ``"schema.table"`` (quote a part holding a dot: ``'"a.b"'``) or a
            ``(schema, table)`` tuple. Names are used exactly as written, case included.
        n: how many rows to keep (per group); a positive int.
        rank_by: the measure column; rows are ranked by it, greatest first.
        key_columns: columns identifying a row; default: every input column except
            ``rank_by``, ``group_by``, the rank column and partition columns.
        group_by: rank separately within each combination of these columns.
        ties: ``"stable"`` (measure desc, then key asc; ranks 1..n), ``"with_ties"`` (all rows
            tied at the n-th; competition ranks 1,2,2,4) or ``"dense"`` (dense ranks 1,2,2,3).
        partition_columns: ``{column: parameter name}``; default: every significant parameter
            of the task, as a column of the same name (``date`` -> column ``date``).
        column_types: SQL types by column name; defaults: text keys and groups, numeric
            measure, partition types from the parameter values (``date`` for a date).
        rank_column: name of the rank column (``integer``).
        skip_bad_rows: count and skip bad input rows instead of failing.
        lock_partition: serialize concurrent loads of the same partition.
        partitioned: create a missing table with one partition column ``PARTITION BY LIST``
            on it, so a rerun swaps the partition's child table instead of deleting rows
            (an existing table keeps its layout).
        marker_table: marker table name; default ``[postgres_topn] marker_table``.

    Input: ``rows()`` if overridden, else ``self.input()`` (a dated target's CSV parts, any
    target with ``open("r")``, or a list of them).

    Example:
        class TopStates(PostgresTopNTask):
            date = luigi.DateParameter()
            table = "ufo.top_states"
            n = 10
            rank_by = "sightings"
            key_columns = ("state",)
            column_types = {"state": "varchar(2)", "sightings": "bigint"}

            def requires(self):
                return AggregateByState(self.date)
    """

    # ClassVar: declarations of the class, not constructor fields (luigi's mypy plugin would
    # otherwise turn them into __init__ arguments and reject a subclass's own parameters).
    table: ClassVar[Any] = None
    n: ClassVar[Any] = 10
    rank_by: ClassVar[Any] = None
    key_columns: ClassVar[Sequence[str] | None] = None
    group_by: ClassVar[Sequence[str]] = ()
    ties: ClassVar[Ties] = "stable"
    partition_columns: ClassVar[Mapping[str, str] | None] = None
    column_types: ClassVar[Mapping[str, str]] = {}  # read-only declarative default
    rank_column: ClassVar[str] = "rank"
    skip_bad_rows: ClassVar[bool] = False
    lock_partition: ClassVar[bool] = True
    partitioned: ClassVar[bool] = True
    marker_table: ClassVar[str | None] = None
    #: With :class:`~luigi_ufo.dated.DatedTaskMixin`: whether a load made from other input is
    #: incomplete; None follows ``[lineage] rebuild_when`` (see :mod:`luigi_ufo.lineage`).
    rebuild_when: ClassVar[str | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        # Set by run(): what the last load read and wrote. Instance attributes assigned here,
        # not annotated in the class body, so luigi's mypy plugin does not take them for fields.
        self.read_result: ReadResult | None = None
        self.load_result: LoadResult | None = None

    def rows(self) -> Iterable[Mapping[str, Any]] | None:
        """Return in-memory dict rows to rank, or None to read ``self.input()``."""
        return None

    def connection_settings(self) -> ConnectionSettings:
        """Return where to load; default ``[postgres_topn]``, read now."""
        return ConnectionSettings.from_config()

    def marker_table_name(self) -> str:
        """Return the marker table (attribute, else ``[postgres_topn] marker_table``)."""
        if self.marker_table is not None:
            return self.marker_table
        from luigi_ufo.postgres.settings import PostgresTopNSettings

        return PostgresTopNSettings.from_config().marker_table

    def update_id(self) -> str:
        """Return the marker id of this run (the task id)."""
        return str(self.task_id)

    def made_from(self) -> str | None:
        """Return what this load is made from, recorded in its marker row; None: nothing.

        :class:`~luigi_ufo.dated.DatedTaskMixin` gives its input's lineage, so a load of older
        input is told from a load of today's.
        """
        return None

    def partition(self) -> dict[str, Any]:
        """Return ``{column: value}`` identifying this run's rows in the table."""
        if self.partition_columns is None:
            return {
                name: getattr(self, name)
                for name, param in self.get_params()  # type: ignore[no-untyped-call]
                if param.significant and name not in _SPEC_ATTRIBUTES
            }
        missing = [p for p in self.partition_columns.values() if not hasattr(self, p)]
        if missing:
            raise InvalidSpecError(
                f"partition_columns of {type(self).__name__} names missing attribute(s) "
                f"{missing!r}; map each column to a parameter name"
            )
        return {column: getattr(self, param) for column, param in self.partition_columns.items()}

    def _require(self) -> None:
        if self.table is None or self.rank_by is None:
            raise InvalidSpecError(
                f"{type(self).__name__} must set table and rank_by, got table={self.table!r}, "
                f"rank_by={self.rank_by!r}"
            )

    def load_spec(self, key_columns: Sequence[str], *, made_from: str | None = None) -> LoadSpec:
        """Map the attributes and this run's partition onto a validated load spec."""
        self._require()
        return LoadSpec.build(
            table=self.table,
            rank_by=self.rank_by,
            key_columns=key_columns,
            update_id=self.update_id(),
            group_by=tuple(self.group_by),
            partition=self.partition(),
            column_types=self.column_types,
            rank_column=self.rank_column,
            ties=check_ties(self.ties),
            marker_table=self.marker_table_name(),
            lock=self.lock_partition,
            partitioned=self.partitioned,
            made_from=made_from,
        )

    def output(self) -> PostgresMarkerTarget:
        """Return the marker target of this run and table."""
        return PostgresMarkerTarget(
            table=self.table,
            update_id=self.update_id(),
            marker_table=self.marker_table_name(),
            settings=self.connection_settings(),
        )

    def run(self) -> None:
        """Rank the input and load the top rows in one transaction.

        Small, clean CSV input is ranked with pyarrow when the ``columnar`` extra is installed,
        other CSV files are streamed into PostgreSQL and checked and ranked there; ``rows()``,
        other targets and CSV that only Python reads exactly (quoted fields, float measures, ...)
        are read and ranked in Python. All give the same rows, ranks, errors and counts (see
        :mod:`luigi_ufo.postgres.ranking.engines`).
        """
        self._require()
        n, ties = check_n(self.n), check_ties(self.ties)
        spec_for = functools.partial(self.load_spec, made_from=self.made_from())
        source = self.rows()
        read, loaded = rank(
            self.input() if source is None else source,  # type: ignore[no-untyped-call]
            new_reader=self._reader,
            n=n,
            ties=ties,
            spec_for=spec_for,
            settings=self.connection_settings(),
            label=str(self.task_id),
        )
        if read.skipped:
            logger.warning(
                "%s skipped %d bad input row(s) (%s), e.g. %s",
                self.task_id,
                read.skipped,
                ", ".join(f"{reason}: {count}" for reason, count in read.reasons.items()),
                read.examples,
            )
            # Luigi sets this callback only inside a worker; None when run() is called directly.
            notify = getattr(self, "set_status_message", None)
            if callable(notify):
                notify(f"skipped {read.skipped} bad input row(s)")
        self.read_result = read
        self.load_result = loaded

    def _reader(self) -> RecordReader:
        return RecordReader(
            self.rank_by,
            tuple(self.key_columns) if self.key_columns is not None else None,
            tuple(self.group_by),
            (self.rank_column, *self.partition()),
            self.skip_bad_rows,
        )
