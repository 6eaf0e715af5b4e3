"""The small storage protocol a dated dataset needs, and the local-directory backend."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple, Protocol, runtime_checkable

from luigi_ufo.dated.paths import Root
from luigi_ufo.errors import StorageError


class ObjectInfo(NamedTuple):
    """One object of a listing: its key, its size, a version that changes when it is rewritten
    (the ETag on S3, the modification time in nanoseconds on a local disk) and when it was last
    written (seconds since the epoch, by the storage's clock)."""

    key: str
    size: int
    version: str
    modified: float


@runtime_checkable
class Storage(Protocol):
    """Objects addressed by keys relative to a dataset root (``2024-01-15/_SUCCESS``).

    ``requests`` counts the storage calls made (one per S3 request or listing page), so
    completeness answers can say what they cost.
    """

    root: Root
    requests: int

    def uri(self, rel: str) -> str:
        """Return the full URI of ``rel``."""
        ...

    def exists(self, rel: str) -> bool:
        """Tell whether the object ``rel`` exists, in one request."""
        ...

    def list_keys(self, rel_prefix: str = "", start_after: str = "") -> Iterator[str]:
        """Yield every object key under ``rel_prefix`` (recursively) in sorted order."""
        ...

    def list_objects(self, rel_prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        """Yield every object under ``rel_prefix`` as :func:`list_keys` does, with its metadata."""
        ...

    def open_read(self, rel: str) -> BinaryIO:
        """Open the object ``rel`` for binary reading."""
        ...

    def put_file(self, rel: str, local_path: str) -> None:
        """Store the local file ``local_path`` as ``rel``, replacing it whole."""
        ...

    def delete(self, rels: list[str]) -> None:
        """Delete the objects ``rels`` (missing ones are ignored)."""
        ...


class LocalStorage:
    """Objects as files below a local directory; a put is a temp file then a rename."""

    def __init__(self, root: Root) -> None:
        self.root = root
        self.requests = 0

    def _path(self, rel: str) -> str:
        return os.path.join(self.root.prefix, *rel.split("/"))

    def uri(self, rel: str) -> str:
        return self._path(rel.rstrip("/")) + ("/" if rel.endswith("/") else "")

    def exists(self, rel: str) -> bool:
        self.requests += 1
        return os.path.isfile(self._path(rel))

    def list_keys(self, rel_prefix: str = "", start_after: str = "") -> Iterator[str]:
        return (info.key for info in self.list_objects(rel_prefix, start_after))

    def list_objects(self, rel_prefix: str = "", start_after: str = "") -> Iterator[ObjectInfo]:
        self.requests += 1
        base = self.root.prefix
        if not os.path.isdir(base):
            return iter(())
        if not os.access(base, os.R_OK | os.X_OK):
            raise StorageError(
                f"cannot list dataset directory {base!r}: permission denied; "
                "grant read access or choose another root"
            )
        found: list[ObjectInfo] = []
        start = os.path.join(base, *rel_prefix.split("/")) if rel_prefix else base
        for dirpath, _dirnames, filenames in os.walk(start):
            rel_dir = os.path.relpath(dirpath, base).replace(os.sep, "/")
            for name in filenames:
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if not (key.startswith(rel_prefix) and key > start_after):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:  # removed since the walk saw it
                    continue
                found.append(ObjectInfo(key, st.st_size, str(st.st_mtime_ns), st.st_mtime))
        return iter(sorted(found))

    def open_read(self, rel: str) -> BinaryIO:
        self.requests += 1
        try:
            return open(self._path(rel), "rb")
        except FileNotFoundError as exc:
            raise StorageError(
                f"part {self.uri(rel)!r} does not exist; list parts with iter_parts()"
            ) from exc

    def put_file(self, rel: str, local_path: str) -> None:
        self.requests += 1
        dest = self._path(rel)
        tmp = None
        try:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            # Copy beside the destination, then rename: a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(dest))
            os.close(fd)
            shutil.copyfile(local_path, tmp)
            os.replace(tmp, dest)
        except BaseException as exc:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            if isinstance(exc, OSError) and not reading(exc, local_path):
                raise write_error(exc, dest, DATASET_FIX) from exc
            raise

    def delete(self, rels: list[str]) -> None:
        for rel in rels:
            self.requests += 1
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(rel))


#: What to do when a dataset's own file system refuses a write (ENOSPC, EDQUOT, ...).
DATASET_FIX = "free space there or move the dataset root to a larger file system"
_CAUSE_FIXES = {
    errno.EROFS: "the file system is read-only; choose a writable location",
    errno.EACCES: "grant write access to that directory",
    errno.EPERM: "grant write access to that directory",
}


def reading(exc: OSError, source: str | os.PathLike[str]) -> bool:
    """Tell whether a failed copy from ``source`` failed reading it (not writing the copy).

    shutil names the source in every error it raises, and also the destination for a write.
    """
    return exc.filename == os.fspath(source) and not exc.filename2


def write_error(exc: OSError, path: str, fix: str) -> StorageError:
    """Return the StorageError for a failed local write: the path, the cause and the fix.

    ``fix`` is for a full file system (ENOSPC, EDQUOT); permission and read-only file systems
    get their own.
    """
    code = errno.errorcode.get(exc.errno or 0, "")
    cause = f"{exc.strerror or exc}" + (f" ({code})" if code else "")
    hint = _CAUSE_FIXES.get(exc.errno or 0, fix)
    return StorageError(f"could not write {path!r}: {cause}; {hint}, then rerun")
