"""``DatedTaskMixin``: bulk completeness and lineage for tasks with a ``date`` parameter."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, ClassVar

from luigi_ufo.bulk import BulkCompleteMixin, instantiate
from luigi_ufo.lineage import LineageMixin, complete_tasks


class DatedTaskMixin(LineageMixin, BulkCompleteMixin):
    """Mix into a ``luigi.Task`` with a date parameter whose outputs are dated (or markers).

    ``RangeDaily`` then asks one listing per dataset (and one query per PostgreSQL marker
    table) which dates are complete, instead of Luigi's filesystem-glob fallback, which cannot
    list S3 and misses gaps. Put the mixin before ``luigi.Task`` in the bases. A date is complete
    when every output is; outputs of other kinds are checked one by one with ``exists()``.
    With a ``rebuild_when``, the same listings also find dates made from other inputs (see
    :mod:`luigi_ufo.lineage`). See :mod:`luigi_ufo.bulk`.

    Example:
        >>> class Daily(DatedTaskMixin, luigi.Task):
        ...     date = luigi.DateParameter()
        ...     def output(self):
        ...         return DatedTarget("/tmp/lake/daily", self.date)
    """

    date_param_name: ClassVar[str | None] = "date"

    @classmethod
    def bulk_complete(cls, parameter_tuples: Iterable[Any]) -> list[Any]:
        """Return those parameter values whose task is complete (outputs, and lineage)."""
        # Range tools pass functools.partial(task_cls, **of_params) as ``cls``.
        factory: Any = cls
        task_cls: Any = factory.func if isinstance(factory, functools.partial) else factory
        values = list(parameter_tuples)
        tasks = [instantiate(factory, task_cls.date_param_name, v) for v in values]
        return [v for v, ok in zip(values, complete_tasks(tasks), strict=True) if ok]
