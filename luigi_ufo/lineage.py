"""Lineage: what an output was made from, recorded with it, checked on request.

A task's *lineage* is the identity of each of its inputs, in order, and of its code (a Spark
script's sha256). Any target kind may keep it, behind two small protocols: an
:class:`IdentifiedTarget` tells what it is, a :class:`RecordingTarget` what it was made from, both
in bulk per storage (:mod:`luigi_ufo.bulk`). A dated output records it as the object
``_lineage.<inputs>.<code>.json`` beside its flag (:mod:`luigi_ufo.dated`): the name holds a
digest of each half, so the listing that finds the flags finds the records too (bulk
completeness stays one listing per dataset), and the object holds the details a report shows. A
top-N load records it in its marker row, in the load's own transaction.

Identities (:func:`identities`):

- a dated partition is what its record says it was made from (``made:<stamp>``), or, put there
  by other means, a digest of its parts' names, sizes and ETags (S3) or modification times;
- a :class:`LocalFile` (an input outside Luigi's graph, such as an export to import) is its size
  and sha256;
- a ``luigi.LocalTarget`` file is its size and modification time; anything else is unknown.

Who records: :class:`~luigi_ufo.spark.ExternalSparkScriptTask` after each successful run (and
:class:`~luigi_ufo.spark.SparkBackfill` for each date it completes), a
:class:`~luigi_ufo.postgres.PostgresTopNTask` with :class:`~luigi_ufo.dated.DatedTaskMixin` in its
marker, and a task writing ``target.writer(lineage=self.lineage())``.

Whether a difference makes a date incomplete is the user's choice, ``rebuild_when``: ``never``
(the default: a report shows outdated dates, nothing reruns), ``inputs`` (a date made from other
inputs is incomplete) or ``inputs-or-script`` (also one made by another script). A task class
declares it (a recording task follows ``[lineage] rebuild_when`` with ``rebuild_when = None``;
a value is a minimum the configuration may raise); a class that records nothing declares none and
is never checked. When checked, a date is complete only when every output exists, every recorded
output's record matches what it would be made from now and every requirement is complete, so a
change upstream reaches every task below it. An output without a record (made before records
existed, by other means, or by a run killed between its flag and its record) is judged as make
would: current when its flag is newer than every input it was made from. A top-N marker and an
output made from a :class:`LocalFile` record with their data, so without a record they are due.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import math
import os
import stat
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

import luigi
from luigi.task import flatten

from luigi_ufo.bulk import outputs_exist, shared_reads
from luigi_ufo.errors import ConfigError
from luigi_ufo.settings.fields import setting
from luigi_ufo.settings.sections import config_section, read_section

SECTION = "lineage"
NEVER, INPUTS, INPUTS_OR_SCRIPT = MODES = ("never", "inputs", "inputs-or-script")
#: The identity of an input nothing can be said about (a directory, another system's target):
#: it stays the same, so it makes no date outdated by itself.
UNKNOWN = "?"
#: The code half of a stamp when a task has no code (an import, a load).
NO_CODE = "none"
_DIGEST = 16  # hex digits of each half of a stamp


@dataclass(frozen=True)
class LineageSettings:
    """The ``[lineage]`` section."""

    rebuild_when: str = setting(
        NEVER,
        "when an output made from other inputs (or another script) is incomplete: never, "
        "inputs, inputs-or-script",
        choices=MODES,
    )

    @classmethod
    def from_config(cls) -> LineageSettings:
        """Read ``[lineage]`` now (command line, luigi.cfg / LUIGI_CONFIG_PATH)."""
        return cls(**read_section(SECTION))


#: ``[lineage]``: the luigi.Config section of LineageSettings.
lineage = config_section(SECTION, LineageSettings)


@dataclass(frozen=True)
class LocalFile:
    """A local file as an input, identified by its content (size and sha256).

    For inputs outside Luigi's graph, such as the file an import copies::

        def lineage_inputs(self):
            return [LocalFile(self.source)]
    """

    path: str


@dataclass(frozen=True)
class Lineage:
    """What an output is made from: ``inputs`` as (label, identity) in order, and ``code``.

    ``inputs_written``: when the newest input was written (for outputs without a record);
    infinite when an input is known only by content (a :class:`LocalFile`).
    """

    inputs: tuple[tuple[str, str], ...]
    code: str = ""
    task: str = ""
    inputs_written: float = field(default=-math.inf, compare=False)

    @property
    def inputs_digest(self) -> str:
        """Return the digest of the inputs' identities (the first half of the stamp)."""
        text = "\n".join(identity for _, identity in self.inputs)
        return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]

    @property
    def code_digest(self) -> str:
        """Return the code's digest (the second half of the stamp), ``none`` without code."""
        return self.code[:_DIGEST] or NO_CODE

    @property
    def stamp(self) -> str:
        """Return ``<inputs digest>.<code digest>``, the name of the record."""
        return f"{self.inputs_digest}.{self.code_digest}"

    def document(self) -> bytes:
        """Return the record's JSON: the stamp, each input and the code, for reports."""
        return json.dumps(
            {
                "stamp": self.stamp,
                "task": self.task,
                "inputs": [{"input": label, "identity": ident} for label, ident in self.inputs],
                "code_sha256": self.code or None,
                "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            },
            indent=1,
        ).encode()


#: What an output keeps: its recorded stamp (None: no record) and when its flag was written
#: (None: no time, as for a marker row).
Recorded = tuple[str | None, float | None]


def matches(recorded: Recorded, expected: Lineage, mode: str) -> bool:
    """Tell whether an output's record is current for ``mode``; without a record, whether it
    was finished after every input was written."""
    stamp, finished = recorded
    if stamp is None:
        return finished is not None and finished >= expected.inputs_written
    inputs, _, code = stamp.partition(".")
    if inputs != expected.inputs_digest:
        return False
    return mode != INPUTS_OR_SCRIPT or code == expected.code_digest


# --- identities ---------------------------------------------------------------------------------


@runtime_checkable
class IdentifiedTarget(Protocol):
    """A target whose identity is found for many targets of its storage at once (dated ones)."""

    def bulk_key(self) -> Hashable: ...

    def bulk_identity(self, targets: Sequence[Any]) -> list[tuple[str, float]]: ...


@runtime_checkable
class RecordingTarget(Protocol):
    """An output that keeps a lineage record (a dated partition, a top-N marker row)."""

    def bulk_key(self) -> Hashable: ...

    def bulk_lineage(self, targets: Sequence[Any]) -> list[Recorded]: ...


def identities(items: Sequence[Any]) -> list[tuple[str, float]]:
    """Return the identity of each of ``items`` (targets or :class:`LocalFile`) and when it was
    last written, in bulk (an unknown one: never; a LocalFile: always, see :class:`Lineage`)."""
    found = [(UNKNOWN, -math.inf)] * len(items)
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        if isinstance(item, IdentifiedTarget):
            groups.setdefault(item.bulk_key(), []).append(index)
        elif isinstance(item, LocalFile):
            found[index] = (file_content(item.path), math.inf)
        elif isinstance(item, luigi.LocalTarget):
            found[index] = file_stat(item.path)
    for indexes in groups.values():
        members = [items[i] for i in indexes]
        for index, identity in zip(indexes, members[0].bulk_identity(members), strict=True):
            found[index] = identity
    return found


def file_stat(path: str) -> tuple[str, float]:
    """Return a local file's identity by size and modification time (a directory: unknown)."""
    try:
        st = os.stat(path)
    except OSError:
        return UNKNOWN, -math.inf
    if not stat.S_ISREG(st.st_mode):
        return UNKNOWN, -math.inf
    return f"file:{st.st_size}:{st.st_mtime_ns}", st.st_mtime


def file_content(path: str) -> str:
    """Return a local file's identity by content: ``content:<size>:<sha256>``.

    Hashed once per process for a given file version (device, inode, size, mtime); a missing
    file is unknown-as-missing, so an import of it is never complete.
    """
    try:
        st = os.stat(path)
    except OSError:
        return f"missing:{path}"
    return _hash_file(path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _hash_file(path: str, dev: int, ino: int, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"content:{size}:{digest.hexdigest()}"


def _label(item: Any) -> str:
    for name in ("uri", "path"):
        value = getattr(item, name, None)
        if isinstance(value, str):
            return value
    return repr(item)


# --- what tasks are made from, recorded, and checked ------------------------------------------


_UNDECLARED = object()


def rebuild_mode(task_cls: type[Any]) -> str:
    """Return when outputs of ``task_cls`` made from other inputs count as incomplete."""
    declared = getattr(task_cls, "rebuild_when", _UNDECLARED)
    if declared is _UNDECLARED:
        return NEVER  # a class that records nothing: nothing to check
    if declared is not None and declared not in MODES:
        raise ConfigError(
            f"{task_cls.__name__}.rebuild_when = {declared!r} is invalid; use None (follow "
            f"[{SECTION}] rebuild_when) or one of {', '.join(MODES)}"
        )
    configured = LineageSettings.from_config().rebuild_when
    return configured if declared is None else max(declared, configured, key=MODES.index)


def expect(tasks: Sequence[luigi.Task], *, code: bool = True) -> list[Lineage]:
    """Return what each task would be made from now (its inputs' identities, in bulk).

    ``code``: also read each task's code identity (a Spark script's sha256).
    """
    sources = [list(_call(task, "lineage_inputs", _inputs)) for task in tasks]
    flat = [item for items in sources for item in items]
    found = iter(zip(map(_label, flat), identities(flat), strict=True))
    made = []
    for task, items in zip(tasks, sources, strict=True):
        inputs = [next(found) for _ in items]
        sha = str(_call(task, "lineage_code", lambda _: "")) if code else ""
        labelled = tuple((label, identity) for label, (identity, _) in inputs)
        written = max((when for _, (_, when) in inputs), default=-math.inf)
        made.append(Lineage(labelled, sha, str(task.task_id), written))
    return made


def record_lineage(tasks: Sequence[luigi.Task], made: Sequence[Lineage]) -> None:
    """Record each task's lineage in those of its outputs that keep records and exist.

    Call it after the run, with what :func:`expect` said before it. A top-N marker records its
    own, in the load's transaction; outputs of other kinds keep none.
    """
    pairs = [
        (target, lineage)
        for task, lineage in zip(tasks, made, strict=True)
        for target in flatten(task.output())  # type: ignore[no-untyped-call]
        if callable(getattr(target, "record_lineage", None))
    ]
    flagged = outputs_exist([[target] for target, _ in pairs])
    for (target, lineage), exists in zip(pairs, flagged, strict=True):
        if exists:
            target.record_lineage(lineage)


def complete_tasks(tasks: Sequence[luigi.Task]) -> list[bool]:
    """Tell for each task whether it is complete, by its class's ``rebuild_when``.

    Outputs are checked in bulk per storage (one listing per dataset, shared by the inputs'
    identities and the requirements' checks). See the module docstring for the rule.
    """
    with shared_reads():
        done = outputs_exist([flatten(t.output()) for t in tasks])  # type: ignore[no-untyped-call]
        modes = {cls: rebuild_mode(cls) for cls in {type(t) for t in tasks}}
        check = [i for i, t in enumerate(tasks) if done[i] and modes[type(t)] != NEVER]
        if not check:
            return done
        checked = [tasks[i] for i in check]
        needs_code = {modes[type(t)] == INPUTS_OR_SCRIPT for t in checked}
        expected = expect(checked, code=True in needs_code)
        current = _records_current(checked, expected, [modes[type(t)] for t in checked])
        upstream = _requirements_complete(checked)
        for index, ok, up in zip(check, current, upstream, strict=True):
            done[index] = ok and up
        return done


def lineage_status(tasks: Sequence[luigi.Task]) -> list[str]:
    """Return for each task: ``incomplete``, ``not recorded``, ``inputs changed``,
    ``script changed`` or ``current`` (whatever its ``rebuild_when``), for reports.

    ``not recorded``: an output that keeps records has none (made before lineage was recorded,
    or by other means); a task with no recording output is ``current`` once complete.
    """
    with shared_reads():
        done = outputs_exist([flatten(t.output()) for t in tasks])  # type: ignore[no-untyped-call]
        expected = expect(tasks)
        records = _recorded(tasks)
    status = []
    for exists, lineage, stamps in zip(done, expected, records, strict=True):
        if not exists:
            status.append("incomplete")
        elif any(stamp is None for stamp, _ in stamps):
            status.append("not recorded")
        elif not all(matches(s, lineage, INPUTS) for s in stamps):
            status.append("inputs changed")
        elif not all(matches(s, lineage, INPUTS_OR_SCRIPT) for s in stamps):
            status.append("script changed")
        else:
            status.append("current")
    return status


def _records_current(
    tasks: Sequence[luigi.Task], expected: Sequence[Lineage], modes: Sequence[str]
) -> list[bool]:
    records = _recorded(tasks)
    return [
        all(matches(stamp, lineage, mode) for stamp in stamps)
        for stamps, lineage, mode in zip(records, expected, modes, strict=True)
    ]


def _recorded(tasks: Sequence[luigi.Task]) -> list[list[Recorded]]:
    """Return what each task's recording outputs keep, in bulk per storage."""
    outputs = [
        [t for t in flatten(task.output()) if isinstance(t, RecordingTarget)]  # type: ignore[no-untyped-call]
        for task in tasks
    ]
    flat = [target for targets in outputs for target in targets]
    groups: dict[Hashable, list[int]] = {}
    for index, target in enumerate(flat):
        groups.setdefault(target.bulk_key(), []).append(index)
    stamps: list[Recorded] = [(None, None)] * len(flat)
    for indexes in groups.values():
        members = [flat[i] for i in indexes]
        for index, stamp in zip(indexes, members[0].bulk_lineage(members), strict=True):
            stamps[index] = stamp
    found = iter(stamps)
    return [[next(found) for _ in targets] for targets in outputs]


def _requirements_complete(tasks: Sequence[luigi.Task]) -> list[bool]:
    requirements = [flatten(t.requires()) for t in tasks]  # type: ignore[no-untyped-call]
    unique = list({id(r): r for rs in requirements for r in rs}.values())
    complete = dict(zip(map(id, unique), complete_many(unique), strict=True))
    return [all(complete[id(r)] for r in rs) for rs in requirements]


def complete_many(tasks: Sequence[luigi.Task]) -> list[bool]:
    """Tell for each task whether it is complete: in bulk where its ``complete()`` is ours or
    Luigi's own, else by calling it."""
    found = [False] * len(tasks)
    mixin: Any = LineageMixin.complete
    ours = [i for i, t in enumerate(tasks) if type(t).complete is mixin]
    plain = [i for i, t in enumerate(tasks) if type(t).complete is luigi.Task.complete]
    for indexes, check in (
        (ours, complete_tasks),
        (plain, lambda ts: outputs_exist([flatten(t.output()) for t in ts])),  # type: ignore[no-untyped-call]
    ):
        for index, ok in zip(indexes, check([tasks[i] for i in indexes]), strict=True):
            found[index] = ok
    for index in set(range(len(tasks))) - set(ours) - set(plain):
        found[index] = bool(tasks[index].complete())  # type: ignore[no-untyped-call]
    return found


def _inputs(task: Any) -> Iterable[Any]:
    return flatten(task.input())  # type: ignore[no-untyped-call,no-any-return]


def _call(task: Any, name: str, default: Any) -> Any:
    method = getattr(task, name, None)
    return method() if callable(method) else default(task)


class LineageMixin:
    """Give a ``luigi.Task`` lineage: ``complete()`` by its ``rebuild_when``; what it is made of.

    Put it before ``luigi.Task`` in the bases (:class:`~luigi_ufo.dated.DatedTaskMixin` includes
    it). Override :meth:`lineage_inputs` for inputs outside Luigi's graph and
    :meth:`lineage_code` for code worth recording.
    """

    def complete(self) -> bool:
        """Tell whether every output exists and, if ``rebuild_when`` asks, is current."""
        task = cast(luigi.Task, self)
        if rebuild_mode(type(self)) == NEVER:
            return bool(super().complete())  # type: ignore[misc]
        return complete_tasks([task])[0]

    def lineage_inputs(self) -> Iterable[Any]:
        """Return what this task is made from: its inputs (targets, :class:`LocalFile`)."""
        return _inputs(self)

    def lineage_code(self) -> str:
        """Return the sha256 of this task's code, or "" (none worth recording)."""
        return ""

    def lineage(self) -> Lineage:
        """Return what this task would be made from now (record it after a successful run)."""
        return expect([cast(luigi.Task, self)])[0]

    def made_from(self) -> str:
        """Return :meth:`lineage`'s stamp (what a top-N load records in its marker row)."""
        return self.lineage().stamp
