"""Atomic partition writes: stage parts locally, upload them, then write the flag last."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Mapping
from types import TracebackType
from typing import IO, Any, cast

from luigi_ufo.dated.codec import OwningGzipFile, is_gz
from luigi_ufo.dated.paths import is_part_name
from luigi_ufo.dated.storage import Storage, reading, write_error
from luigi_ufo.errors import DatedTargetError

#: Parts are staged in the temporary directory before their upload.
_STAGING_FIX = "free space there or point TMPDIR at a larger directory"


class PartitionWriter:
    """Context manager that replaces one partition; the flag appears only after every part.

    Parts are staged in a local temp directory while the block runs. On success the old flag is
    removed, stale objects deleted, parts uploaded, then ``records`` (``_`` files about the
    partition, such as its lineage record) and the flag last. An exception in the block uploads
    nothing; a failure during upload leaves the partition without a flag.
    """

    def __init__(
        self, storage: Storage, rel: str, flag: str, records: Mapping[str, bytes] | None = None
    ) -> None:
        self._storage = storage
        self._rel = rel
        self._flag = flag
        self._records = dict(records or {})
        self._staged: dict[str, str] = {}
        self._handles: list[IO[Any]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> PartitionWriter:
        self._tmp = tempfile.TemporaryDirectory(prefix="luigi-ufo-part-")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            for handle in self._handles:
                try:
                    handle.close()  # flushes: a full disk may show only now
                except OSError as error:
                    if exc_type is None:
                        raise write_error(error, str(self._tmp_dir()), _STAGING_FIX) from error
            if exc_type is None:
                self._commit()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def _check(self, name: str) -> None:
        if self._tmp is None:
            raise DatedTargetError("PartitionWriter used outside its 'with' block; use 'with'")
        if not is_part_name(name) or name == self._flag or ".." in name.split("/"):
            raise DatedTargetError(
                f"part name {name!r} is not allowed; use a relative name that does not start "
                "with '_' or '.', e.g. 'part-00000.csv'"
            )
        if name in self._staged:
            raise DatedTargetError(f"part {name!r} was already written in this partition write")

    def _tmp_dir(self) -> str:
        assert self._tmp is not None
        return self._tmp.name

    def _stage_path(self, name: str) -> str:
        path = os.path.join(self._tmp_dir(), *name.split("/"))
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as exc:
            raise write_error(exc, path, _STAGING_FIX) from exc
        return path

    def open(
        self, name: str, mode: str = "w", *, encoding: str = "utf-8", newline: str | None = None
    ) -> IO[Any]:
        """Open part ``name`` for writing (``w`` text or ``wb``); ``.gz`` names are gzipped."""
        if mode not in ("w", "wt", "wb"):
            raise DatedTargetError(f"writer mode {mode!r} is not supported; use 'w' or 'wb'")
        self._check(name)
        path = self._stage_path(name)
        self._staged[name] = path
        raw: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in __exit__
        stream = cast(IO[bytes], OwningGzipFile(raw, "wb")) if is_gz(name) else raw
        handle: IO[Any] = stream
        if mode != "wb":
            handle = io.TextIOWrapper(stream, encoding=encoding, newline=newline)
        # Closing the outermost handle flushes text buffers and the gzip trailer, then the file.
        self._handles.append(handle)
        return handle

    def write_text(self, name: str, text: str, *, encoding: str = "utf-8") -> None:
        """Write ``text`` as part ``name``."""
        with self.open(name, "w", encoding=encoding) as fh:
            fh.write(text)

    def put_file(self, name: str, local_path: str | os.PathLike[str]) -> None:
        """Stage an existing local file as part ``name`` (copied as is, no compression)."""
        self._check(name)
        if not os.path.isfile(local_path):
            raise DatedTargetError(
                f"local file {os.fspath(local_path)!r} does not exist; check the path"
            )
        path = self._stage_path(name)
        try:
            shutil.copyfile(local_path, path)
        except OSError as exc:
            if reading(exc, local_path):
                raise
            raise write_error(exc, path, _STAGING_FIX) from exc
        self._staged[name] = path

    def _commit(self) -> None:
        storage, rel = self._storage, self._rel
        flag_key = rel + self._flag
        # Flag first: from here until the end, readers see the partition as incomplete.
        storage.delete([flag_key])
        kept = {**self._staged, **self._records}
        stale = [key for key in storage.list_keys(rel) if key[len(rel) :] not in kept]
        stale = [key for key in stale if key != flag_key]
        if stale:
            storage.delete(stale)
        for name, path in sorted(self._staged.items()):
            storage.put_file(rel + name, path)
        for index, (name, data) in enumerate(sorted(self._records.items())):
            path = os.path.join(self._tmp_dir(), f".record-{index}")
            with open(path, "wb") as fh:
                fh.write(data)
            storage.put_file(rel + name, path)
        empty = os.path.join(self._tmp_dir(), ".flag")
        open(empty, "wb").close()
        storage.put_file(flag_key, empty)
