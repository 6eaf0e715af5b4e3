"""What the fast ranking engines share: the input as CSV parts, their headers, declining.

An engine (:mod:`~luigi_ufo.postgres.ranking.arrow`, :mod:`~luigi_ufo.postgres.ranking.database`)
takes CSV files as :class:`CsvPart` bytes (:func:`csv_parts`), reads each header with
:func:`read_header`, learns the key columns from the first one with :func:`check_header` and
builds the load spec from them with the caller's :data:`SpecFor`. Where it cannot give exactly
what the Python read gives, it raises :class:`Declined` before anything is committed, and
:func:`~luigi_ufo.postgres.ranking.engines.rank` tries the next one.
"""

from __future__ import annotations

import csv
import functools
import locale
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import luigi
import luigi.format

from luigi_ufo.errors import BadInputError
from luigi_ufo.postgres.load import LoadSpec
from luigi_ufo.postgres.ranking.reader import RecordReader

__all__ = ["CHUNK", "CsvPart", "Declined", "SpecFor", "check_header", "csv_parts", "read_header"]

CHUNK = 1 << 16  # bytes per read of a part

SpecFor = Callable[[Sequence[str]], LoadSpec]
"""Returns the load spec for the key columns, once the first header told them."""


class Declined(Exception):
    """This engine does not take this input; the message says why. Nothing was committed."""


@dataclass(frozen=True)
class CsvPart:
    """One CSV file with a header: its name in messages, and how to open it as bytes."""

    where: str
    open: Callable[[], IO[bytes]]


def csv_parts(source: Any) -> list[CsvPart] | None:
    """Return ``source``'s CSV files in the Python reader's order, or None if not all are files.

    Dated targets (their parts) and ``luigi.LocalTarget`` with text format qualify, also in a
    list, tuple or dict; anything else (dict rows, other targets) is read in Python.
    """
    if hasattr(source, "iter_parts") and hasattr(source, "open_part"):
        base = getattr(source, "uri", repr(source))
        return [
            CsvPart(f"{base}{name}", functools.partial(source.open_part, name, "rb"))
            for name in source.iter_parts()
        ]
    if isinstance(source, luigi.LocalTarget):
        if source.format is luigi.format.UTF8 or (
            source.format is luigi.format.Text and _locale_is_utf8()
        ):
            path = str(source.path)
            return [CsvPart(path, functools.partial(_open_bytes, path))]
        return None
    items: Sequence[Any]
    if isinstance(source, dict):
        items = list(source.values())
    elif isinstance(source, list | tuple):
        items = source
    else:
        return None
    if not items:
        return None  # the Python reader decides what an empty input means
    parts: list[CsvPart] = []
    for item in items:
        found = csv_parts(item) if not isinstance(item, list | tuple | dict) else None
        if found is None:
            return None
        parts.extend(found)
    return parts


def _open_bytes(path: str) -> IO[bytes]:
    return open(path, "rb")


def _locale_is_utf8() -> bool:
    return locale.getpreferredencoding(False).lower().replace("-", "") == "utf8"


def read_header(stream: IO[bytes], where: str) -> tuple[list[str] | None, bytes]:
    """Return the header fields (None for an empty part) and the bytes read past it."""
    buffer = b""
    while True:
        chunk = stream.read(CHUNK)
        buffer += chunk
        cut = _line_end(buffer, at_eof=not chunk)
        if cut is not None or not chunk:
            break
    if not buffer:
        return None, b""
    cut = len(buffer) if cut is None else cut
    line, rest = buffer[:cut], buffer[cut:]
    if b'"' in line:
        raise Declined(f"{where} has a quoted header")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Declined(f"{where}: header is not UTF-8 ({exc})") from None
    return next(csv.reader([text]), []), rest


def _line_end(buffer: bytes, *, at_eof: bool) -> int | None:
    """Return the offset just past the first line break (\\n, \\r\\n or \\r), if known yet."""
    newline, carriage = buffer.find(b"\n"), buffer.find(b"\r")
    if carriage < 0 or 0 <= newline < carriage:
        return newline + 1 if newline >= 0 else None
    if carriage + 1 < len(buffer):
        return carriage + 2 if buffer[carriage + 1] == 0x0A else carriage + 1
    return carriage + 1 if at_eof else None


def check_header(reader: RecordReader, header: list[str], where: str) -> tuple[str, ...]:
    """Return the key columns ``header`` gives ``reader``; decline if it lacks a column."""
    try:
        return reader.check_header(header, where)
    except BadInputError as exc:
        raise Declined(str(exc)) from None  # the Python read raises it in its place
