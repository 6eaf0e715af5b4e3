"""Check a local export before any Spark starts: readable, a known header, decodable bytes."""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import os

from luigi_ufo.errors import InputFormatError
from luigi_ufo.scripts import aggregate_by_state as rules


def check_export(path: str, *, encoding: str, delimiter: str, decode_errors: str = "strict") -> str:
    """Return the layout name of the export at ``path``, or raise InputFormatError.

    The whole file is decoded (about 1 GB/s) so a wrong encoding fails here, with its byte
    offset, instead of inside a Spark job.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputFormatError(
            f"unknown encoding {encoding!r}; use a Python codec name such as utf-8 or cp1252"
        ) from None
    try:
        sep = rules.parse_delimiter(delimiter)
    except argparse.ArgumentTypeError as exc:
        raise InputFormatError(str(exc)) from None
    if not os.path.isfile(path):
        raise InputFormatError(f"input {path!r} is not a file; give the path of a NUFORC export")
    try:
        with open(path, "rb") as raw, rules.maybe_gunzip(raw) as data:
            if decode_errors == "strict":
                found = rules.find_decode_error(data, encoding)
                if found is not None:
                    offset, bad = found
                    hint = "--encoding cp1252" if encoding.lower() != "cp1252" else "--encoding"
                    raise InputFormatError(
                        f"{path}: bytes {bad!r} at byte offset {offset} are not valid "
                        f"{encoding!r}; the export is in another encoding: try {hint} "
                        "(or --decode-errors replace to count such rows as rejected)"
                    )
        with open(path, "rb") as raw, rules.maybe_gunzip(raw) as data:
            text = io.TextIOWrapper(data, encoding=encoding, errors="replace", newline="")
            header = next(csv.reader(text, delimiter=sep), None)
    except (OSError, EOFError) as exc:
        raise InputFormatError(f"cannot read {path!r} ({exc}); is it a complete file?") from None
    if header is None:
        raise InputFormatError(f"{path}: file is empty; expected a NUFORC export with a header")
    try:
        return str(rules.detect_layout(header, source=path).name)
    except rules.InputError as exc:
        raise InputFormatError(str(exc)) from None
