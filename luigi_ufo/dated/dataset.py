"""A dated dataset: completeness of many dates from one listing, and the gaps between two dates."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from luigi_ufo.dated.paths import (
    Root,
    parse_partition_name,
    parse_root,
    partition_name,
    split_rel_key,
)
from luigi_ufo.dated.storage import LocalStorage, Storage
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
        from luigi_ufo.s3.storage import S3Storage  # boto3 stays optional for local roots

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
    """Per-date state of a dataset seen by one listing."""

    flagged: set[datetime.date] = field(default_factory=set)
    present: set[datetime.date] = field(default_factory=set)
    invalid_names: set[str] = field(default_factory=set)
    requests: int = 0


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
        first_name, last_name = partition_name(first), partition_name(last)
        # Keys sort like dates; "<last>0" sorts after every "<last>/..." key, so stop there.
        stop = last_name + "0"
        for key in storage.list_keys("", start_after=first_name):
            if key >= stop:
                break
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
            if rest == self.flag:
                scan.flagged.add(date)
        scan.requests = storage.requests - before
        return scan

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
