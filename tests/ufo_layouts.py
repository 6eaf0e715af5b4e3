"""Small synthetic excerpts in each public NUFORC layout (issue 24), and their answer by hand.

Column lists are the public ones of each source; every value is made up here (no NUFORC text).
Each excerpt is built from one list of (state, country) pairs, so the expected answer is counted
from that list (``expected``), never by parsing the file with the code under test.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

#: Rule R1's 50 states and DC, written out here on purpose (not the script's list).
R1 = set(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
    ]
)
US = {"us", "usa", "u.s.", "u.s.a.", "united states", "united states of america"}

#: (state, country) pairs shared by every layout: CA 6, WA 5, TX 4, NY 3, then ten states of 2,
#: so the 10th place (count 2) is a tie of ten states; foreign, blank and odd rows around them.
PAIRS: list[tuple[str, str]] = (
    [("CA", "US")] * 6
    + [("WA", "US")] * 5
    + [("TX", "US")] * 4
    + [("NY", "US")] * 3
    + [
        (s, "US")
        for s in ["AZ", "FL", "GA", "IL", "MI", "NC", "OH", "OR", "PA", "VA"]
        for _ in range(2)
    ]
    + [("ON", "CA"), ("BC", "CA"), ("", "GB"), ("PR", "US"), ("wy", ""), (" ny ", "usa")]
    + [("CA", "GB"), ("Ca", "")]
)


@dataclass(frozen=True)
class Excerpt:
    """One layout: its header, how a (state, country) pair fills a row, and extra rows."""

    name: str
    header: list[str]
    state: str
    country: str | None
    country_case: str = "upper"  # how the source writes country values
    options: list[str] = field(default_factory=list)  # the luigi-ufo run options it needs
    filler: str = "x"

    def row(self, i: int, state: str, country: str) -> list[str]:
        out = {name: f"{self.filler}{i}" for name in self.header}
        out[self.state] = state
        if self.country is not None:
            out[self.country] = country.lower() if self.country_case == "lower" else country
        return [out[name] for name in self.header]

    def records(self, pairs: list[tuple[str, str]] = PAIRS) -> list[list[str]]:
        rows = [self.row(i, s, c) for i, (s, c) in enumerate(pairs)]
        if self.name == "nuforc-index":  # a repeated header per month page
            rows.insert(len(rows) // 2, list(self.header))
        if self.name == "kaggle-complete":  # complete.csv's ragged rows: not counted
            rows.append([*self.row(99, "CA", "US"), "spilled", "comment"])
        if self.name == "data.world":  # long free text, above the csv module's field limit
            long = self.row(98, "OH", "")
            long[self.header.index("text")] = "t" * 200_000
            rows.append(long)
        return rows

    def text(self, pairs: list[tuple[str, str]] = PAIRS) -> str:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.records(pairs))
        return out.getvalue()

    def write(self, path: Path, pairs: list[tuple[str, str]] = PAIRS) -> Path:
        path.write_text(self.text(pairs), encoding="utf-8")
        return path

    def expected(self, pairs: list[tuple[str, str]] = PAIRS) -> Counter[str]:
        """Count ``pairs`` by rule R1 by hand: US state codes whose country is US or blank."""
        counts: Counter[str] = Counter()
        for state, country in pairs:
            code = state.strip().upper()
            ok = self.country is None or country.strip().lower() in US | {""}
            if code in R1 and ok:
                counts[code] += 1
        if self.name == "data.world":
            counts["OH"] += 1
        return counts


EXCERPTS = [
    Excerpt(
        "nuforc-index",
        ["Date / Time", "City", "State", "Shape", "Duration", "Summary", "Posted"],
        "State",
        None,
    ),
    Excerpt(
        "kaggle-complete",
        [
            "datetime",
            "city",
            "state",
            "country",
            "shape",
            "duration (seconds)",
            "duration (hours/min)",
            "comments",
            "date posted",
            "latitude",
            "longitude ",
        ],
        "state",
        "country",
        country_case="lower",
    ),
    Excerpt(
        "tidytuesday-2019",
        [
            "date_time",
            "city_area",
            "state",
            "country",
            "ufo_shape",
            "encounter_length",
            "described_encounter_length",
            "description",
            "date_documented",
            "latitude",
            "longitude",
        ],
        "state",
        "country",
        country_case="lower",
    ),
    Excerpt(
        "tidytuesday-2023",
        [
            "reported_date_time",
            "reported_date_time_utc",
            "posted_date",
            "city",
            "state",
            "country_code",
            "shape",
            "reported_duration",
            "duration_seconds",
            "comments",
            "has_images",
            "day_part",
        ],
        "state",
        "country_code",
    ),
    Excerpt(
        "data.world",
        [
            "summary",
            "city",
            "state",
            "date_time",
            "shape",
            "duration",
            "stats",
            "report_link",
            "text",
            "posted",
            "city_latitude",
            "city_longitude",
        ],
        "state",
        None,
    ),
    Excerpt(
        "own-columns",
        ["Sighted On", "Region", "Nation", "Notes"],
        "Region",
        "Nation",
        options=["--state-column", "region", "--country-column", "NATION"],
    ),
]


def top(counts: Counter[str], n: int = 10) -> list[tuple[str, int]]:
    """Rule R1's step 6: count descending, then code ascending."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def tied_beyond_cut(counts: Counter[str], n: int = 10) -> list[tuple[str, int]]:
    """States with the n-th count that the cut leaves out, by code."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ordered) <= n:
        return []
    last = ordered[n - 1][1]
    return [(s, c) for s, c in ordered[n:] if c == last]
