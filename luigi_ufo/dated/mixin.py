"""A ``bulk_complete`` for Luigi tasks whose outputs are dated, so RangeDaily sees every gap."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from typing import Any, ClassVar

import luigi
from luigi.task import flatten

from luigi_ufo.dated.dataset import DatedDataset
from luigi_ufo.dated.paths import Root
from luigi_ufo.dated.target import DatedTarget


class DatedTaskMixin:
    """Mix into a ``luigi.Task`` with a date parameter whose ``output()`` is dated.

    ``RangeDaily`` then asks one listing per dataset which dates are complete (flag present)
    instead of Luigi's filesystem-glob fallback, which cannot list S3 and misses gaps.
    Put the mixin before ``luigi.Task`` in the bases. Outputs that are not dated targets are
    checked one by one with ``exists()``.

    Example:
        >>> class Daily(DatedTaskMixin, luigi.Task):
        ...     date = luigi.DateParameter()
        ...     def output(self):
        ...         return DatedTarget("/tmp/lake/daily", self.date)
    """

    date_param_name: ClassVar[str] = "date"

    @classmethod
    def bulk_complete(cls, parameter_tuples: Iterable[Any]) -> list[Any]:
        """Return those parameter values whose task outputs are all complete."""
        # Range tools pass functools.partial(task_cls, **of_params) as ``cls``.
        factory: Any = cls
        task_cls: Any = factory.func if isinstance(factory, functools.partial) else factory
        name = task_cls.date_param_name
        values = list(parameter_tuples)
        tasks = [_instantiate(factory, name, v) for v in values]
        outputs: list[list[luigi.Target]] = [
            flatten(t.output())  # type: ignore[no-untyped-call]
            for t in tasks
        ]

        wanted: dict[tuple[Root, str], tuple[DatedDataset, set[datetime.date]]] = {}
        for targets in outputs:
            for target in targets:
                if isinstance(target, DatedTarget):
                    key = (target.dataset.root, target.flag)
                    entry = wanted.setdefault(key, (target.dataset, set()))
                    entry[1].add(target.date)
        complete = {key: ds.complete_dates(dates) for key, (ds, dates) in wanted.items()}

        def done(target: luigi.Target) -> bool:
            if isinstance(target, DatedTarget):
                return target.date in complete[(target.dataset.root, target.flag)]
            return bool(target.exists())  # type: ignore[no-untyped-call]

        return [
            v
            for v, targets in zip(values, outputs, strict=True)
            if targets and all(map(done, targets))
        ]


def _instantiate(factory: Any, name: str, value: Any) -> luigi.Task:
    if isinstance(value, dict):
        return factory(**value)  # type: ignore[no-any-return]
    if isinstance(value, (list, tuple)):
        return factory(*value)  # type: ignore[no-any-return]
    return factory(**{name: value})  # type: ignore[no-any-return]
