"""One bulk-completeness mechanism for every target kind: Luigi's range tools ask once per storage.

A target that can be checked together with others of its storage implements :class:`BulkTarget`
(:class:`~luigi_ufo.dated.DatedTarget`: one listing per dataset;
:class:`~luigi_ufo.postgres.PostgresMarkerTarget`: one query per marker and data table).
:class:`BulkCompleteMixin` gives a task class the ``bulk_complete`` that ``RangeDaily`` calls:
a date is complete only when every output of its task is, whatever mix of kinds they are.
Inside :func:`shared_reads`, the checks share what they read (one listing per dataset range).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import luigi
from luigi.task import flatten

_SHARED: contextvars.ContextVar[dict[Hashable, Any] | None] = contextvars.ContextVar(
    "luigi_ufo_shared_reads", default=None
)


@contextlib.contextmanager
def shared_reads() -> Iterator[None]:
    """Let bulk checks inside the block reuse what they read (nested blocks share the outer).

    Completeness of a task, of its inputs' identities and of its requirements looks at the same
    storage; inside the block a storage is read once. Use it only where nothing is written.
    """
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared_cache() -> dict[Hashable, Any] | None:
    """Return the cache of the enclosing :func:`shared_reads` block (by storage), or None."""
    return _SHARED.get()


@runtime_checkable
class BulkTarget(Protocol):
    """A target whose existence is decided for many targets of its storage at once."""

    def bulk_key(self) -> Hashable:
        """Return the storage this target is checked with; equal keys share one check.

        Keys of different target kinds must differ (start them with a tag of the kind).
        """
        ...

    def bulk_exists(self, targets: Sequence[Any]) -> list[bool]:
        """Tell for each of ``targets`` (all of this target's key) whether it exists, at once."""
        ...


def bulk_exists(targets: Sequence[BulkTarget]) -> list[bool]:
    """Tell for each of ``targets`` whether it exists: one ``bulk_exists`` call per key."""
    groups: dict[Hashable, list[int]] = {}
    for index, target in enumerate(targets):
        groups.setdefault(target.bulk_key(), []).append(index)
    found = [False] * len(targets)
    for indexes in groups.values():
        members = [targets[i] for i in indexes]
        for index, exists in zip(indexes, members[0].bulk_exists(members), strict=True):
            found[index] = exists
    return found


def outputs_exist(outputs: Sequence[Sequence[luigi.Target]]) -> list[bool]:
    """Tell for each list of targets (a task's outputs) whether every one exists.

    Bulk targets are checked together per storage; other targets one by one with ``exists()``,
    and only in lists whose bulk targets all exist. An empty list (a task without outputs) is
    never complete.
    """
    batched = [t for targets in outputs for t in targets if isinstance(t, BulkTarget)]
    present = dict(zip(map(id, batched), bulk_exists(batched), strict=True))

    def done(target: luigi.Target) -> bool:
        found = present.get(id(target))
        return bool(target.exists()) if found is None else found  # type: ignore[no-untyped-call]

    return [bool(targets) and all(map(done, targets)) for targets in outputs]


def complete_values(factory: Any, values: Iterable[Any], date_param_name: str | None) -> list[Any]:
    """Return those ``values`` whose task (``factory`` of the value) has every output complete
    (see :func:`outputs_exist`)."""
    values = list(values)
    outputs: list[list[luigi.Target]] = [
        flatten(instantiate(factory, date_param_name, v).output())  # type: ignore[no-untyped-call]
        for v in values
    ]
    return [v for v, done in zip(values, outputs_exist(outputs), strict=True) if done]


class BulkCompleteMixin:
    """Mix into a ``luigi.Task`` (before it in the bases) for a ``bulk_complete`` over its outputs.

    ``date_param_name`` names the parameter range tools vary; None: the value is passed
    positionally, as Luigi does.
    """

    date_param_name: ClassVar[str | None] = None

    @classmethod
    def bulk_complete(cls, parameter_tuples: Iterable[Any]) -> list[Any]:
        """Return those parameter values whose task outputs are all complete."""
        # Range tools pass functools.partial(task_cls, **of_params) as ``cls``.
        factory: Any = cls
        task_cls: Any = factory.func if isinstance(factory, functools.partial) else factory
        return complete_values(factory, parameter_tuples, task_cls.date_param_name)


def instantiate(factory: Any, name: str | None, value: Any) -> luigi.Task:
    """Return ``factory``'s task for one value of ``bulk_complete``'s ``parameter_tuples``."""
    # Luigi's convention: a dict is keywords, a tuple positional, a plain value the range one.
    if isinstance(value, dict):
        return factory(**value)  # type: ignore[no-any-return]
    if isinstance(value, (list, tuple)):
        return factory(*value)  # type: ignore[no-any-return]
    if name is None:
        return factory(value)  # type: ignore[no-any-return]
    return factory(**{name: value})  # type: ignore[no-any-return]
