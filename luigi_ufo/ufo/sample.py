"""Generate realistic NUFORC-shaped exports of any size, seedable, streamed to a file.

The rows imitate the NUFORC index export (``Date / Time,City,State,Shape,Duration,Summary,
Posted``) and its real defects: US state frequencies, blank states for reports from abroad,
Canadian provinces and other codes, mixed-case and padded codes, a repeated header per month page,
quoted fields with commas, doubled quotes and line breaks, non-ASCII text, broken dates.
The generator knows what it wrote, so it returns the counts rule R1 must find.

Example: ``python -m luigi_ufo.ufo.sample out.csv.gz --rows 1000000 --seed 7``
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

HEADER = ("Date / Time", "City", "State", "Shape", "Duration", "Summary", "Posted")

# Approximate sightings per 10,000 records of the 2019 index, by state code as written.
_US_WEIGHTS = {
    "CA": 1129, "FL": 543, "WA": 491, "TX": 413, "NY": 391, "AZ": 335, "PA": 323, "IL": 301,
    "OH": 297, "MI": 250, "NC": 246, "OR": 200, "MO": 165, "CO": 160, "NJ": 150, "IN": 150,
    "GA": 150, "VA": 140, "MA": 140, "WI": 125, "TN": 120, "MN": 110, "SC": 110, "KY": 90,
    "MD": 90, "CT": 85, "NV": 80, "NM": 75, "OK": 75, "UT": 70, "AL": 70, "LA": 60, "IA": 60,
    "AR": 55, "KS": 55, "ID": 50, "ME": 50, "NH": 50, "MT": 45, "WV": 45, "MS": 40, "NE": 35,
    "HI": 30, "AK": 30, "VT": 25, "RI": 25, "DE": 20, "WY": 15, "SD": 15, "ND": 12, "DC": 8,
}  # fmt: skip
# (code as written, weight, state it counts for under R1 or None)
_ODD_CODES = (
    ("", 720.0, None),
    ("ON", 170.0, None), ("BC", 110.0, None), ("AB", 50.0, None), ("QC", 25.0, None),
    ("PQ", 5.0, None), ("MB", 15.0, None), ("NS", 12.0, None), ("NB", 8.0, None),
    ("SK", 8.0, None), ("NF", 3.0, None), ("YT", 1.0, None), ("PR", 3.0, None),
    ("SA", 3.0, None), ("VI", 0.2, None),
    ("Ca", 0.1, "CA"), ("Fl", 0.4, "FL"), (" TX", 0.2, "TX"), ("ny ", 0.2, "NY"),
)  # fmt: skip
_CODES: tuple[tuple[str, float, str | None], ...] = (
    *((code, float(w), code) for code, w in _US_WEIGHTS.items()),
    *_ODD_CODES,
)
_CITIES = (
    "Phoenix", "Seattle", "Los Angeles", "Portland", "Las Vegas", "San Diego", "Chicago",
    "Houston", "Tucson", "Miami", "Orlando", "Denver", "Albuquerque", "Sacramento",
    "St. Louis", "Austin", "San Jose", "Tampa", "Columbus", "Spokane", "Toronto", "Vancouver",
)  # fmt: skip
_ABROAD = ("London (UK/England)", "Sydney (Australia)", "Mexico City (Mexico)", "Berlin (Germany)")
_SHAPES = (
    "Light", "Circle", "Triangle", "Fireball", "Unknown", "Sphere", "Other", "Disk", "Oval",
    "Formation", "Changing", "Cigar", "Flash", "Rectangle", "Cylinder", "Diamond", "Chevron", "",
)  # fmt: skip
_DURATIONS = (
    "5 minutes", "2 minutes", "10 minutes", "1 minute", "30 seconds", "1 hour", "15 minutes",
    "3 seconds", "2.5 hrs", "Still happening", "10:00", "8", "", "1 1\\2 hours",
)  # fmt: skip
_SUMMARIES = (
    "Bright light moving slowly across the sky.",
    "Three lights in a triangle, silent, hovering over the trees.",
    "Orange fireball, then it split in two, and both faded away.",
    'Object "hovered" for a while, then shot off to the north.',
    "Large dark hovering object.  ((anonymous report))",
    "Saw a disk-shaped craft, glowing, with lights around the rim, moving west",
    "Flashing red/green lights&#8217; pattern not like a plane",
    "Green\\blue light, very fast.",
    "Strange “curly” lights… no sound at all",
    "MADAR Node 112",
    "",
)
_MULTILINE = (
    "Two lights.\nThen a third one appeared.",
    'He said "look up"\nand we all saw it, clear as day.',
)
_BROKEN_DATES = ("", "unknown", "23:00", "4/ 23:22", "00/00/99 22:30", "04/00/80 23:00")


@dataclass
class SampleSummary:
    """What a generated file holds: records after the first header, and R1's expected counts."""

    path: Path
    rows: int
    records: int = 0
    states: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    bytes: int = 0

    @property
    def counted(self) -> int:
        return sum(self.states.values())


def _date(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.003:
        return rng.choice(_BROKEN_DATES)
    year = rng.choice((rng.randint(0, 19), rng.randint(60, 99)))
    day = f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{year:02d}"
    if roll < 0.016:
        return day
    return f"{day} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"


def iter_rows(rows: int, *, seed: int = 0, header_every: int = 128) -> Iterator[tuple[str, ...]]:
    """Yield the header, then ``rows`` data records with a repeated header every page."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    codes = [c for c, _, _ in _CODES]
    weights = [w for _, w, _ in _CODES]
    yield HEADER
    batch = 4096
    done = 0
    while done < rows:
        n = min(batch, rows - done)
        for code in rng.choices(codes, weights, k=n):
            if header_every and done and done % header_every == 0:
                yield HEADER
            city = rng.choice(_ABROAD) if not code and rng.random() < 0.9 else rng.choice(_CITIES)
            roll = rng.random()
            if roll < 0.0004:
                summary = rng.choice(_MULTILINE)
            elif roll < 0.4:
                summary = f"{rng.choice(_SUMMARIES)}, {rng.choice(_SUMMARIES)}"
            else:
                summary = rng.choice(_SUMMARIES)
            posted = f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/{rng.randint(0, 19):02d}"
            yield (
                _date(rng),
                city,
                code,
                rng.choice(_SHAPES),
                rng.choice(_DURATIONS),
                summary,
                posted,
            )
            done += 1


def _expected(summary: SampleSummary, header_every: int) -> None:
    by_code = {c: s for c, _, s in _CODES}
    headers = (summary.rows - 1) // header_every if header_every and summary.rows else 0
    summary.rejected["repeated_header"] = headers
    summary.records = summary.rows + headers
    counts = summary.states
    for code, n in list(counts.items()):
        del counts[code]
        state = by_code[code]
        if state is not None:
            counts[state] += n
        else:
            summary.rejected["blank_state" if not code else "not_us_state"] += n


def write_sample(
    path: str | Path,
    rows: int,
    *,
    seed: int = 0,
    header_every: int = 128,
    compress: bool | None = None,
    encoding: str = "utf-8",
) -> SampleSummary:
    """Stream ``rows`` records to ``path`` (gzip if ``compress`` or a ``.gz`` name).

    Example:
        >>> summary = write_sample("/tmp/ufo.csv.gz", 10_000, seed=1)
        >>> summary.counted + sum(summary.rejected.values()) == summary.records
        True
    """
    target = Path(path)
    gz = target.suffix == ".gz" if compress is None else compress
    summary = SampleSummary(path=target, rows=rows)
    raw = cast(
        IO[bytes],
        gzip.open(target, "wb", compresslevel=1) if gz else open(target, "wb"),  # noqa: SIM115
    )
    with raw, io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="") as text:
        writer = csv.writer(text, lineterminator="\n")
        chunk: list[tuple[str, ...]] = []
        for row in iter_rows(rows, seed=seed, header_every=header_every):
            if row is not HEADER:
                summary.states[row[2]] += 1
            chunk.append(row)
            if len(chunk) >= 8192:
                writer.writerows(chunk)
                chunk.clear()
        writer.writerows(chunk)
    _expected(summary, header_every)
    summary.bytes = target.stat().st_size
    return summary


def main(argv: list[str] | None = None) -> int:
    """Write a sample file from the command line and print its expected counts."""
    parser = argparse.ArgumentParser(prog="python -m luigi_ufo.ufo.sample", description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    s = write_sample(args.path, args.rows, seed=args.seed)
    print(f"{s.path}: {s.records} records, {s.counted} counted, rejected {dict(s.rejected)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
