"""DatedTarget: one partition of a dated dataset, complete only when its success flag exists;
S3DatedTarget: the class a ``s3://`` root gives."""

from __future__ import annotations

import datetime
import io
import json
import os
import tempfile
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, ClassVar, cast

import luigi

from luigi_ufo.dated.codec import OwningGzipFile, is_gz
from luigi_ufo.dated.dataset import DEFAULT_FLAG, DatedDataset, Gaps
from luigi_ufo.dated.paths import (
    coerce_date,
    is_part_name,
    lineage_name,
    parse_lineage_name,
    parse_root,
    partition_rel,
    partition_uri,
)
from luigi_ufo.dated.storage import Storage
from luigi_ufo.dated.writer import PartitionWriter
from luigi_ufo.errors import DatedTargetError, InvalidRootError
from luigi_ufo.uris import to_s3a

if TYPE_CHECKING:
    from typing_extensions import Self

    from luigi_ufo.lineage import Lineage


class DatedTarget(luigi.Target):
    """The partition ``<root>/<YYYY-MM-DD>/`` of a dated dataset, local or on S3.

    ``exists()`` checks only the success flag, so half-written output never counts as done.
    One class per storage: ``DatedTarget(root, date)`` with an ``s3://`` root is an
    :class:`~luigi_ufo.s3.S3DatedTarget` (boto3 loads on first use), any other root a directory.

    Args:
        root: dataset root, ``s3://bucket/prefix`` or a local directory.
        date: the partition's date (``datetime.date`` or ``YYYY-MM-DD``).
        flag: name of the success flag inside the partition.
        client: a boto3 S3 client for ``s3://`` roots; built from ``[s3_endpoint]`` when None.

    Example:
        >>> t = DatedTarget("/tmp/lake/clicks", datetime.date(2024, 1, 15))
        >>> t.uri
        '/tmp/lake/clicks/2024-01-15/'
    """

    #: True for a class that serves only ``s3://`` roots.
    s3_only: ClassVar[bool] = False

    def __new__(cls, root: object = None, *args: Any, **kwargs: Any) -> Self:
        """Return an S3DatedTarget for an ``s3://`` root (root None: unpickling)."""
        target_cls: type[DatedTarget] = cls
        if isinstance(root, str):
            on_s3 = parse_root(root).scheme == "s3"
            if cls is DatedTarget and on_s3:
                target_cls = S3DatedTarget
            elif cls.s3_only and not on_s3:
                raise InvalidRootError(
                    f"{cls.__name__} root {root!r} is not an s3:// URI; use DatedTarget, which "
                    "serves local directories too"
                )
        return cast("Self", super().__new__(target_cls))

    def __init__(
        self,
        root: str,
        date: datetime.date | str,
        *,
        flag: str = DEFAULT_FLAG,
        client: Any = None,
        storage: Storage | None = None,
    ) -> None:
        self.dataset = DatedDataset(root, flag=flag, client=client, storage=storage)
        self.date = coerce_date(date)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r}, {self.date.isoformat()!r})"

    @property
    def root(self) -> str:
        """Return the dataset root URI (no trailing slash)."""
        return self.dataset.root.uri

    @property
    def flag(self) -> str:
        """Return the success flag's file name."""
        return self.dataset.flag

    @property
    def uri(self) -> str:
        """Return the partition URI with trailing slash."""
        return partition_uri(self.dataset.root, self.date)

    path = uri  # what Luigi's tooling prints for file-like targets

    @property
    def spark_uri(self) -> str:
        """Return the partition URI Spark reads and writes (``s3a://`` on S3)."""
        return to_s3a(self.uri)

    @property
    def flag_uri(self) -> str:
        """Return the URI of the success flag."""
        return self.uri + self.flag

    @property
    def _rel(self) -> str:
        return partition_rel(self.date)

    def exists(self) -> bool:
        """Tell whether the success flag exists (one request on S3)."""
        return self.dataset.storage.exists(self._rel + self.flag)

    def remove_flag(self) -> None:
        """Delete only the success flag, so the date counts as incomplete and is rebuilt.

        Parts stay until the next write replaces them; a missing flag is not an error.
        """
        self.dataset.storage.delete([self._rel + self.flag])

    def iter_parts(self) -> Iterator[str]:
        """Yield the partition's part names, sorted, skipping flags and ``_``/``.`` files."""
        for key in self.dataset.storage.list_keys(self._rel):
            name = key[len(self._rel) :]
            if name != self.flag and is_part_name(name):
                yield name

    def part_uris(self) -> list[str]:
        """Return the URIs of the partition's parts."""
        return [self.uri + name for name in self.iter_parts()]

    def open_part(
        self,
        name: str,
        mode: str = "r",
        *,
        encoding: str = "utf-8",
        errors: str = "strict",
        newline: str | None = None,
    ) -> IO[Any]:
        """Open part ``name`` for reading (``r`` text or ``rb``); ``.gz`` parts are inflated."""
        if mode not in ("r", "rb", "rt"):
            raise DatedTargetError(
                f"open_part mode {mode!r} is not supported; use 'r' (text) or 'rb' (bytes), "
                "and write with writer()"
            )
        if not is_part_name(name):
            raise DatedTargetError(
                f"part name {name!r} is not a part of {self.uri!r}; take names from iter_parts()"
            )
        raw: IO[bytes] = self.dataset.storage.open_read(self._rel + name)
        stream = cast(IO[bytes], OwningGzipFile(raw, "rb")) if is_gz(name) else raw
        if mode == "rb":
            return stream
        return io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline=newline)

    def read_text(self, *, encoding: str = "utf-8") -> Iterator[str]:
        """Yield the lines of every part in order."""
        for name in self.iter_parts():
            with self.open_part(name, encoding=encoding) as fh:
                yield from fh

    def writer(self, *, lineage: Lineage | None = None) -> PartitionWriter:
        """Return a context manager that writes parts, then the flag last (none on failure).

        ``lineage``: what the parts are made from, recorded beside the flag (written before it).
        """
        records = {} if lineage is None else {lineage_name(lineage.stamp): lineage.document()}
        return PartitionWriter(self.dataset.storage, self._rel, self.flag, records)

    def record_lineage(self, lineage: Lineage) -> None:
        """Record ``lineage`` beside the flag, replacing any other record of the partition."""
        name = lineage_name(lineage.stamp)
        storage = self.dataset.storage
        with tempfile.TemporaryDirectory(prefix="luigi-ufo-lineage-") as tmp:
            path = os.path.join(tmp, "record.json")
            with open(path, "wb") as fh:
                fh.write(lineage.document())
            storage.put_file(self._rel + name, path)
        old = [
            key
            for key in storage.list_keys(self._rel)
            if parse_lineage_name(key[len(self._rel) :]) not in (None, lineage.stamp)
        ]
        if old:
            storage.delete(old)

    def read_lineage(self) -> dict[str, Any] | None:
        """Return the partition's lineage record (what it was made from), or None."""
        names = [
            key[len(self._rel) :]
            for key in self.dataset.storage.list_keys(self._rel)
            if parse_lineage_name(key[len(self._rel) :]) is not None
        ]
        if len(names) != 1:
            return None
        with self.dataset.storage.open_read(self._rel + names[0]) as fh:
            found: dict[str, Any] = json.load(fh)
        return found

    def bulk_key(self) -> Hashable:
        """Return the dataset this target is listed with (:class:`luigi_ufo.bulk.BulkTarget`)."""
        return ("dated", self.dataset.root, self.flag, self.dataset.client)

    def bulk_exists(self, targets: Sequence[DatedTarget]) -> list[bool]:
        """Tell for each of ``targets`` (all of this dataset) whether its flag exists, from one
        (paginated) listing."""
        complete = self.dataset.complete_dates(t.date for t in targets)
        return [t.date in complete for t in targets]

    def bulk_identity(self, targets: Sequence[DatedTarget]) -> list[tuple[str, float]]:
        """Return what each of ``targets`` (all of this dataset) is and when it was last written,
        from one listing: its lineage stamp, or a digest of its parts (see
        :meth:`~luigi_ufo.dated.dataset.Scan.identity`)."""
        scan = self.dataset.scan(min(t.date for t in targets), max(t.date for t in targets))
        return [(scan.identity(t.date), scan.written.get(t.date, 0.0)) for t in targets]

    def bulk_lineage(self, targets: Sequence[DatedTarget]) -> list[tuple[str | None, float | None]]:
        """Return the lineage stamp recorded in each of ``targets`` (all of this dataset), or
        None, and when its flag was written, from one listing."""
        scan = self.dataset.scan(min(t.date for t in targets), max(t.date for t in targets))
        return [(scan.stamp(t.date), scan.finished.get(t.date)) for t in targets]

    @classmethod
    def complete_dates(
        cls,
        root: str,
        dates: Iterable[datetime.date],
        *,
        flag: str = DEFAULT_FLAG,
        client: Any = None,
    ) -> set[datetime.date]:
        """Return those of ``dates`` complete under ``root``, from one paginated listing."""
        return DatedDataset(root, flag=flag, client=client).complete_dates(dates)

    @classmethod
    def gaps(
        cls,
        root: str,
        start: datetime.date,
        end: datetime.date,
        *,
        flag: str = DEFAULT_FLAG,
        client: Any = None,
    ) -> Gaps:
        """Return missing and incomplete dates of ``root`` in ``[start, end]`` (inclusive)."""
        return DatedDataset(root, flag=flag, client=client).gaps(start, end)


class S3DatedTarget(DatedTarget):
    """The partition ``s3://bucket/prefix/<YYYY-MM-DD>/``; ``exists()`` is one HEAD of the flag.

    ``DatedTarget(root, date)`` gives this class for an ``s3://`` root; arguments as there.
    ``s3a://`` roots are accepted and normalised; ``client`` is a boto3 S3 client, a shared one
    built from ``[s3_endpoint]`` when None (boto3 loads on first use). A local root is refused.

    Example:
        >>> t = S3DatedTarget("s3://lake/clicks", datetime.date(2024, 1, 15))
        >>> t.spark_uri
        's3a://lake/clicks/2024-01-15/'
    """

    s3_only: ClassVar[bool] = True
