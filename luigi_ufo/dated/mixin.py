"""``DatedTaskMixin``: the bulk ``bulk_complete`` for tasks with a ``date`` parameter."""

from __future__ import annotations

from typing import ClassVar

from luigi_ufo.bulk import BulkCompleteMixin


class DatedTaskMixin(BulkCompleteMixin):
    """Mix into a ``luigi.Task`` with a date parameter whose outputs are dated (or markers).

    ``RangeDaily`` then asks one listing per dataset (and one query per PostgreSQL marker
    table) which dates are complete, instead of Luigi's filesystem-glob fallback, which cannot
    list S3 and misses gaps. Put the mixin before ``luigi.Task`` in the bases. A date is complete
    when every output is; outputs of other kinds are checked one by one with ``exists()``.
    See :mod:`luigi_ufo.bulk`.

    Example:
        >>> class Daily(DatedTaskMixin, luigi.Task):
        ...     date = luigi.DateParameter()
        ...     def output(self):
        ...         return DatedTarget("/tmp/lake/daily", self.date)
    """

    date_param_name: ClassVar[str | None] = "date"
