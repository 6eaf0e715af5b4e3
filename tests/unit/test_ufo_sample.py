"""The NUFORC-shaped sample generator: seedable, realistic, and it knows what R1 must count."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from luigi_ufo.ufo import sample
from tests import ufo_exports


@pytest.mark.parametrize("name", ["s.csv", "s.csv.gz"])
def test_summary_matches_an_independent_count(tmp_path: Path, name: str) -> None:
    summary = sample.write_sample(tmp_path / name, 5_000, seed=4)
    counts = ufo_exports.count_file(tmp_path / name)  # the tests' own R1 counter
    assert counts.records == summary.records
    assert counts.states == summary.states
    assert counts.rejected == +summary.rejected
    assert summary.counted + sum(summary.rejected.values()) == summary.records


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a = sample.write_sample(tmp_path / "a.csv", 2_000, seed=1)
    b = sample.write_sample(tmp_path / "b.csv", 2_000, seed=1)
    c = sample.write_sample(tmp_path / "c.csv", 2_000, seed=2)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.path.read_bytes() != c.path.read_bytes()


def test_rows_carry_the_real_defects(tmp_path: Path) -> None:
    summary = sample.write_sample(tmp_path / "s.csv", 20_000, seed=3)
    with summary.path.open(encoding="utf-8", newline="") as fh:
        records = list(csv.reader(fh))
    data = [r for r in records[1:] if tuple(r) != sample.HEADER]
    assert len(data) == 20_000
    assert len(records) - 1 - len(data) == 20_000 // 128 == summary.rejected["repeated_header"]
    assert any("\n" in r[5] for r in data)
    assert any('"' in r[5] for r in data)
    assert any("," in r[5] for r in data)
    assert any(not r[0] or ":" not in r[0] for r in data)
    assert any(not r[2] for r in data)
    assert any(r[2] in {"ON", "BC"} for r in data)
    assert any(r[2] != r[2].strip() or (r[2].isalpha() and not r[2].isupper()) for r in data)
    assert any(not c.isascii() for r in data for c in r[5])
    top = summary.states.most_common(1)[0][0]
    assert top == "CA"
    assert len(summary.states) == 51


def test_zero_rows_is_a_header_only_file(tmp_path: Path) -> None:
    summary = sample.write_sample(tmp_path / "e.csv", 0)
    assert summary.path.read_text(encoding="utf-8") == ",".join(sample.HEADER) + "\n"
    assert (summary.records, summary.counted) == (0, 0)
