"""Check a local export before any Spark starts (readable, a known header, decodable bytes), and
tell after a failed run whether the aggregation refused it (no records, too many rejected)."""

from __future__ import annotations

import argparse
import csv
import io
import os

from luigi_ufo.errors import InputFormatError
from luigi_ufo.scripts import nuforc as rules
from luigi_ufo.ufo.settings import UfoSettings


def check_export(
    path: str,
    *,
    encoding: str,
    delimiter: str,
    decode_errors: str = "strict",
    state_column: str = "",
    country_column: str = "",
) -> rules.Layout:
    """Return the layout of the export at ``path``, or raise InputFormatError.

    The whole file is decoded (about 1 GB/s) so a wrong encoding fails here, with its byte
    offset, instead of inside a Spark job. Fields of any size are read: only the header is parsed.
    """
    try:
        codec = rules.check_encoding(encoding)
        sep = rules.parse_delimiter(delimiter)
    except (rules.InputError, argparse.ArgumentTypeError) as exc:
        raise InputFormatError(str(exc)) from None
    options = rules.Options(
        encoding=encoding, delimiter=sep, state_column=state_column, country_column=country_column
    )
    if not os.path.isfile(path):
        raise InputFormatError(f"input {path!r} is not a file; give the path of a NUFORC export")
    try:
        with open(path, "rb") as raw, rules.maybe_gunzip(raw) as data:
            head = data.read(1 << 20)
        if decode_errors == "strict":
            with open(path, "rb") as raw, rules.maybe_gunzip(raw) as data:
                found = rules.find_decode_error(data, encoding)
            if found is not None:
                hint = rules.suggest_encoding(head, encoding, sep, options)
                raise InputFormatError(rules.decode_error_message(path, *found, encoding, hint))
        with open(path, "rb") as raw, rules.maybe_gunzip(raw) as data, rules.unlimited_fields():
            text = io.TextIOWrapper(data, encoding=codec, errors="replace", newline="")
            header = next(csv.reader(text, delimiter=sep), None)
    except (OSError, EOFError) as exc:
        raise InputFormatError(f"cannot read {path!r} ({exc}); is it a complete file?") from None
    if header is None:
        raise InputFormatError(f"{path}: file is empty; expected a NUFORC export with a header")
    try:
        return rules.detect_layout(
            header, source=path, state_column=state_column, country_column=country_column
        )
    except rules.InputError as exc:
        raise InputFormatError(f"{exc}{rules.encoding_hint(head, options)}") from None


def refusal(path: str, settings: UfoSettings) -> str | None:
    """Return why the aggregation refuses the export at ``path``, or None.

    The script's own rule (no records, or all or more than ``[ufo] max_rejected_fraction``
    rejected) on the script's own counts: a whole read of the file, so it is asked only after a
    run failed, to tell bad input (exit 2) from a failed pipeline. Other unreadable input is
    :func:`check_export`'s to report, before the run.
    """
    try:
        options = rules.Options(
            encoding=settings.encoding,
            delimiter=rules.parse_delimiter(settings.delimiter),
            country_rule=settings.country_rule,
            decode_errors=settings.decode_errors,
            max_rejected_fraction=settings.max_rejected_fraction,
            state_column=settings.state_column,
            country_column=settings.country_column,
        )
        opener = lambda: open(path, "rb")  # noqa: E731, SIM115 - count_stream closes it
        counts = rules.count_stream(opener, options, source=path)
    except (rules.InputError, argparse.ArgumentTypeError, OSError, EOFError):
        return None
    refused = rules.rejected_fraction_error(counts, options.max_rejected_fraction, source=path)
    return str(refused) if refused else None
