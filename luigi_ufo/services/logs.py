"""Read the end of a service log for error messages and test failure reports."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["tail"]


def tail(path: Path, lines: int = 40) -> str:
    """Return the last ``lines`` lines of ``path``, or a note when it does not exist."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"(no log file at {str(path)!r})"
    return "\n".join(text.splitlines()[-lines:])
