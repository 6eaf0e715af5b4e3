"""``luigi-ufo gaps ROOT --start D --stop D``: which dates of a dated dataset are complete.

ROOT is any dated dataset (``<root>/<YYYY-MM-DD>/`` partitions with a success flag), a local
directory or ``s3://bucket/prefix`` (``[s3_endpoint]`` says where S3 is). ``--start`` is the
first date and ``--stop`` the day after the last, as ``RangeDaily``'s and ``SparkBackfill``'s.
It prints a year-per-row calendar of complete, missing and unflagged (data without a success
flag) dates and the number of storage requests the check made (one listing, paginated);
``--json`` prints one JSON object instead; ``--html F`` also writes the calendar as a
self-contained HTML page. Exit status 0 when every date is complete, 1 when a date is missing
or unflagged (for cron and CI), 2 on bad usage or an unreadable root.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable
from typing import Any

from luigi_ufo.cli.progress import say
from luigi_ufo.exit_status import EXIT_FAILED, EXIT_OK, EXIT_USAGE


def add_parser(sub: argparse._SubParsersAction[Any], date: Callable[[str], Any]) -> None:
    """Register ``gaps`` on the ``luigi-ufo`` parser (``date`` parses YYYY-MM-DD)."""
    gaps = sub.add_parser(
        "gaps",
        help="calendar of a dated dataset's complete, missing and unflagged dates "
        "(exit 1 when any is not complete)",
    )
    gaps.add_argument(
        "root", metavar="ROOT", help="dataset root: a directory or s3://bucket/prefix"
    )
    gaps.add_argument("--start", type=date, required=True, help="first date, YYYY-MM-DD")
    gaps.add_argument(
        "--stop", type=date, required=True, help="the day after the last date (exclusive)"
    )
    gaps.add_argument("--flag", default="_SUCCESS", help="success flag name (default _SUCCESS)")
    gaps.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    gaps.add_argument("--html", metavar="FILE", default=None, help="also write an HTML calendar")


def main(args: argparse.Namespace) -> int:
    """Check the dataset's range and show it; return 0 when complete, 1 when not."""
    from luigi_ufo.dated import DatedDataset

    if args.stop <= args.start:
        say(f"error: --stop {args.stop} must be after --start {args.start} (--stop is exclusive)")
        return EXIT_USAGE
    end = args.stop - datetime.timedelta(days=1)
    gaps = DatedDataset(args.root, flag=args.flag).gaps(args.start, end)
    if args.html:
        from luigi_ufo.pictures.calendar_svg import gaps_calendar
        from luigi_ufo.pictures.page import Figure, Section, html_page, write_page

        page = html_page(
            f"Gaps of {args.root}",
            [Section("Calendar", [Figure("", gaps_calendar(gaps))], id="gaps")],
            subtitle=f"{args.start} to {end}, success flag {args.flag!r}",
        )
        say(f"calendar written to {write_page(args.html, page)}")
    if args.json:
        print(json.dumps(as_json(gaps, args.root, args.stop)))
    else:
        from rich.console import Console

        from luigi_ufo.pictures.calendar_terminal import calendar_text

        Console(file=sys.stdout, highlight=False).print(calendar_text(gaps, title=args.root))
    return EXIT_OK if gaps.ok else EXIT_FAILED


def as_json(gaps: Any, root: str, stop: datetime.date) -> dict[str, Any]:
    """Return the ``--json`` document of a check."""

    def iso(dates: tuple[datetime.date, ...]) -> list[str]:
        return [d.isoformat() for d in dates]

    return {
        "root": root,
        "start": gaps.start.isoformat(),
        "stop": stop.isoformat(),
        "complete": iso(gaps.complete),
        "missing": iso(gaps.missing),
        "unflagged": iso(gaps.incomplete),
        "invalid_names": list(gaps.invalid_names),
        "requests": gaps.requests,
        "ok": gaps.ok,
    }
