"""Generated NUFORC-like exports and their rule R1 count, computed here, not by the script.

Hypothesis draws an export as a list of records (lists of fields, ``None`` for a blank line)
plus how it is written: byte-order mark or not, LF or CRLF, quoting of plain fields. ``render``
writes it as RFC-4180 text by hand and ``expected`` counts it by rule R1 from the records, so
neither side shares code with the script under test.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

HEADER = ["Date / Time", "City", "State", "Shape", "Duration", "Summary", "Posted"]
#: Rule R1's 50 states and DC, written out here on purpose (not the script's list).
R1_STATES = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY",
}  # fmt: skip
STATE_VALUES = ["CA", "ca", " NY ", "Tx", "DC", "ON", "PR", "", "  ", "State", "Fl\t", "wy"]
BIG = "x" * 200_000  # above the csv module's default field limit of 131,072


@dataclass(frozen=True)
class Export:
    """An export before it is written: records (None = a blank line) and how to write them."""

    records: list[list[str] | None]
    bom: bool
    newline: str
    quote_all: bool


@dataclass(frozen=True)
class Expected:
    """Rule R1's answer for an export."""

    states: Counter[str]
    records: int
    blank_lines: int
    malformed: int
    #: Every record not counted, by the reason names of the ``--json`` document.
    rejected: Counter[str]

    @property
    def counted(self) -> int:
        return sum(self.states.values())

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        """The top ``n`` states: count descending, then code ascending (R1's step 6)."""
        return sorted(self.states.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def render(export: Export) -> bytes:
    """Write the export as RFC-4180 CSV in UTF-8: quotes doubled, special fields quoted."""

    def field(text: str) -> str:
        special = any(c in text for c in ',"\r\n') or text == ""
        return f'"{text.replace(chr(34), chr(34) * 2)}"' if special or export.quote_all else text

    lines = [",".join(field(f) for f in HEADER)]
    for record in export.records:
        if record is None:
            lines.append("")
        elif record == [""]:
            lines.append('""')  # one empty field, not a blank line
        else:
            lines.append(",".join(field(f) for f in record))
    text = ("\ufeff" if export.bom else "") + export.newline.join(lines) + export.newline
    return text.encode("utf-8")


def expected(export: Export) -> Expected:
    """Count by rule R1: 7 fields and upper(trim(State)) one of the 50 states or DC."""
    states: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    for record in export.records:
        if record is None:
            rejected["blank_line"] += 1
        elif len(record) != len(HEADER):
            rejected["malformed_record"] += 1
        elif record[2].strip().upper() in R1_STATES:
            states[record[2].strip().upper()] += 1
        elif record == HEADER:  # R1: "drop every record equal to the header"
            rejected["repeated_header"] += 1
        else:
            rejected["not_us_state" if record[2].strip() else "blank_state"] += 1
    blank, malformed = rejected["blank_line"], rejected["malformed_record"]
    return Expected(states, len(export.records), blank, malformed, rejected)


def count_file(path: Path, encoding: str = "utf-8") -> Expected:
    """Count a NUFORC export file (plain or gzip) by rule R1 with the csv module alone.

    The independent reference of end-to-end tests: no code of luigi-ufo or its scripts runs.
    """
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    limit = csv.field_size_limit()
    csv.field_size_limit(1 << 30)  # NUFORC summaries are short; generated ones may not be
    try:
        reader = csv.reader(io.StringIO(raw.decode(encoding).removeprefix("\ufeff"), newline=""))
        header = next(reader)
        assert header == HEADER, f"{path}: not the NUFORC layout: {header!r}"
        records = [record or None for record in reader]  # csv gives [] for a blank line
    finally:
        csv.field_size_limit(limit)
    return expected(Export(records, bom=False, newline="\n", quote_all=False))


TEXT = st.text(alphabet=st.sampled_from('ab ,"\n\r\t;\u00e9\u201c'), max_size=8)


@st.composite
def records(draw: st.DrawFn) -> list[str] | None:
    kind = draw(st.sampled_from(["row", "row", "row", "header", "blank", "width"]))
    if kind == "blank":
        return None
    if kind == "header":
        return list(HEADER)
    fields = [draw(TEXT) for _ in HEADER]
    fields[2] = draw(st.sampled_from(STATE_VALUES))
    if draw(st.integers(0, 9)) == 0:
        fields[5] = BIG + draw(TEXT)
    if kind == "width":
        width = draw(st.integers(1, 12).filter(lambda n: n != len(HEADER)))
        fields = (fields + [draw(TEXT) for _ in range(width)])[:width]
    return fields


exports = st.builds(
    Export,
    records=st.lists(records(), max_size=25),
    bom=st.booleans(),
    newline=st.sampled_from(["\n", "\r\n"]),
    quote_all=st.booleans(),
)
