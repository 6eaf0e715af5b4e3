"""Transparent gzip for part files whose name ends in ``.gz``."""

from __future__ import annotations

import gzip
from typing import IO


class OwningGzipFile(gzip.GzipFile):
    """A GzipFile that also closes the stream it wraps (GzipFile alone leaves it open)."""

    def __init__(self, raw: IO[bytes], mode: str) -> None:
        super().__init__(fileobj=raw, mode=mode)
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def is_gz(name: str) -> bool:
    """Tell whether a part name denotes a gzip file."""
    return name.endswith(".gz")
