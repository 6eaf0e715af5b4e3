"""A dated dataset: completeness of many dates from one listing, and the gaps between two dates."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from luigi_ufo.bulk import shared_cache
from luigi_ufo.dated.paths import (
    Root,
    is_part_name,
    parse_lineage_name,
    parse_partition_name,
    parse_root,
    partition_name,
    split_rel_key,
)
from luigi_ufo.dated.storage import LocalStorage, ObjectInfo, Storage
from luigi_ufo.errors import DatedTargetError

DEFAULT_FLAG = "_SUCCESS"


def check_flag(flag: str) -> str:
    """Return ``flag`` if it is a plain file name, else raise DatedTargetError."""
    if not isinstance(flag, str) or not flag or "/" in flag or flag in (".", ".."):
        raise DatedTargetError(
            f"success flag {flag!r} is not a plain file name; use e.g. '_SUCCESS'"
        )
    return flag


def make_storage(root: Root, client: Any = None) -> Storage:
    """Return the storage backend for ``root`` (S3 is imported only when needed)."""
    if root.scheme == "s3":
        from luigi_ufo.dated.s3_storage import S3Storage  # boto3 stays optional for local roots

        return S3Storage(root, client=client)
    if client is not None:
        raise DatedTargetError(
            f"a client was passed for the local root {root.uri!r}; clients are for s3:// roots"
        )
    return LocalStorage(root)


@dataclass(frozen=True)
class Gaps:
    """What a dataset lacks between ``start`` and ``end`` (both inclusive).

    ``missing``: no object at all; ``incomplete``: objects but no success flag (half-written);
    ``invalid_names``: partition-like names that are not dates (``2024-02-30``), never counted.
    """

    start: datetime.date
    end: datetime.date
    complete: tuple[datetime.date, ...]
    missing: tuple[datetime.date, ...]
    incomplete: tuple[datetime.date, ...]
    requests: int
    invalid_names: tuple[str, ...] = field(default=())

    @property
    def to_run(self) -> tuple[datetime.date, ...]:
        """Return the dates that must be (re)built: missing and incomplete, sorted."""
        return tuple(sorted(self.missing + self.incomplete))

    @property
    def ok(self) -> bool:
        """Tell whether every date in the range is complete."""
        return not self.to_run


@dataclass
class Scan:
    """Per-date state of a dataset seen by one listing.

    ``stamps``: the lineage records of each date (normally one); ``parts``: each date's data
    parts as (name, size, version), what the date is when it has no record; ``finished``: when
    each flag was written; ``written``: when each date's newest object was.
    """

    flagged: set[datetime.date] = field(default_factory=set)
    present: set[datetime.date] = field(default_factory=set)
    invalid_names: set[str] = field(default_factory=set)
    requests: int = 0
    stamps: dict[datetime.date, set[str]] = field(default_factory=dict)
    parts: dict[datetime.date, list[tuple[str, int, str]]] = field(default_factory=dict)
    finished: dict[datetime.date, float] = field(default_factory=dict)
    written: dict[datetime.date, float] = field(default_factory=dict)

    def stamp(self, date: datetime.date) -> str | None:
        """Return the one lineage stamp recorded for ``date``, or None (none, or several)."""
        found = self.stamps.get(date, set())
        return next(iter(found)) if len(found) == 1 else None

    def identity(self, date: datetime.date) -> str:
        """Return what the partition of ``date`` is: ``made:<stamp>`` as its lineage record says,
        else ``parts:<digest>`` of its parts' names, sizes and versions."""
        stamp = self.stamp(date)
        if stamp is not None:
            return f"made:{stamp}"
        listed = "\n".join(
            f"{n}\x1f{size}\x1f{v}" for n, size, v in sorted(self.parts.get(date, []))
        )
        return "parts:" + hashlib.sha256(listed.encode()).hexdigest()[:16]


#: A listing shared inside :func:`luigi_ufo.bulk.shared_reads`: (first date, last date, objects).
_Listed = tuple[datetime.date, datetime.date, list[ObjectInfo]]


class DatedDataset:
    """A date-partitioned dataset ``<root>/<YYYY-MM-DD>/`` with a success flag per partition."""

    def __init__(
        self,
        root: str | Root,
        *,
        flag: str = DEFAULT_FLAG,
        client: Any = None,
        storage: Storage | None = None,
    ) -> None:
        self.root = root if isinstance(root, Root) else parse_root(root)
        self.flag = check_flag(flag)
        self._client = client
        self._storage = storage
        # What tells two datasets' listings apart besides the root (see _listing).
        self._listed_by = (
            id(client) if client is not None else None,
            id(storage) if storage is not None else None,
        )

    @property
    def client(self) -> Any:
        """Return the boto3 client given for an ``s3://`` root, or None (the default one)."""
        return self._client

    @property
    def storage(self) -> Storage:
        """Return the storage backend, created on first use."""
        if self._storage is None:
            self._storage = make_storage(self.root, self._client)
        return self._storage

    def scan(self, first: datetime.date, last: datetime.date) -> Scan:
        """List the dataset once and report each date in ``[first, last]`` that has objects."""
        storage = self.storage
        before = storage.requests
        scan = Scan()
        for key, size, version, modified in self._listing(first, last):
            split = split_rel_key(key)
            if split is None:
                name = key.partition("/")[0]
                if "/" in key and _looks_like_date(name):
                    scan.invalid_names.add(name)
                continue
            date, rest = split
            if date < first or date > last:
                continue
            scan.present.add(date)
            scan.written[date] = max(scan.written.get(date, modified), modified)
            stamp = parse_lineage_name(rest)
            if rest == self.flag:
                scan.flagged.add(date)
                scan.finished[date] = modified
            elif stamp is not None:
                scan.stamps.setdefault(date, set()).add(stamp)
            elif is_part_name(rest):
                scan.parts.setdefault(date, []).append((rest, size, version))
        scan.requests = storage.requests - before
        return scan

    def _listing(self, first: datetime.date, last: datetime.date) -> list[ObjectInfo]:
        """Return the objects of the dates ``[first, last]`` (and of invalid names among them)."""
        # Keys sort like dates; "<last>0" sorts after every "<last>/..." key, so stop there.
        start, stop = partition_name(first), partition_name(last) + "0"
        shared = shared_cache()
        key = ("dated", self.root, self._listed_by)
        listed: list[_Listed] | None = None if shared is None else shared.setdefault(key, [])
        for have_first, have_last, objects in listed or ():
            if have_first <= first and last <= have_last:  # a listing of a wider range serves
                return [info for info in objects if start < info.key < stop]
        found: list[ObjectInfo] = []
        for info in self.storage.list_objects("", start_after=start):
            if info.key >= stop:
                break
            found.append(info)
        if listed is not None:
            listed.append((first, last, found))
        return found

    def complete_dates(self, dates: Iterable[datetime.date]) -> set[datetime.date]:
        """Return those of ``dates`` whose flag exists, from one (paginated) listing."""
        wanted = set(dates)
        if not wanted:
            return set()
        scan = self.scan(min(wanted), max(wanted))
        return wanted & scan.flagged

    def present_dates(self, start: datetime.date, end: datetime.date) -> list[datetime.date]:
        """Return the dates in ``[start, end]`` that hold any object, flagged or not."""
        return sorted(self.scan(start, end).present)

    def gaps(self, start: datetime.date, end: datetime.date) -> Gaps:
        """Return what is missing or incomplete in ``[start, end]`` (both inclusive)."""
        if end < start:
            raise DatedTargetError(f"gap range end {end!r} is before start {start!r}; swap them")
        scan = self.scan(start, end)
        days = [start + datetime.timedelta(days=i) for i in range((end - start).days + 1)]
        return Gaps(
            start=start,
            end=end,
            complete=tuple(d for d in days if d in scan.flagged),
            missing=tuple(d for d in days if d not in scan.present),
            incomplete=tuple(d for d in days if d in scan.present and d not in scan.flagged),
            requests=scan.requests,
            invalid_names=tuple(sorted(scan.invalid_names)),
        )


def _looks_like_date(name: str) -> bool:
    return (
        len(name) == 10
        and name[4] == "-"
        and name[7] == "-"
        and name.replace("-", "").isdigit()
        and parse_partition_name(name) is None
    )
