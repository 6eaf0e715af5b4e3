"""Issue 24 end to end: each public layout through ``luigi-ufo run --json``, ties in the DB."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg2
import pytest

from tests.integration.test_cli_run import luigi_ufo, run_status
from tests.ufo_layouts import EXCERPTS, tied_beyond_cut, top

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_each_layout_gives_the_hand_count_and_shows_the_tie(
    home: dict[str, str], tmp_path: Path
) -> None:
    for day, excerpt in enumerate(EXCERPTS, start=1):
        path = excerpt.write(tmp_path / f"{excerpt.name}.csv")
        date = f"2024-05-{day:02d}"
        run = luigi_ufo(
            home, tmp_path, "run", "--input", str(path), "--date", date, "--json", *excerpt.options
        )
        doc = json.loads(run.stdout)
        want = excerpt.expected()
        assert [(r["state"], r["sightings"]) for r in doc["top"]] == top(want), excerpt.name
        assert [r["rank"] for r in doc["top"]] == list(range(1, 11))
        assert doc["counted"] == sum(want.values())
        # The hand count: several states share the 10th count, 2; the cut leaves four out.
        cut = [(r["state"], r["sightings"]) for r in doc["tied_beyond_cut"]]
        assert cut == tied_beyond_cut(want), excerpt.name
        assert len(cut) == 4, excerpt.name
        assert ("no country column found" in doc["layout"]) == (excerpt.country is None)
    args = ("run", "--input", str(path), "--date", date, *excerpt.options)
    table = luigi_ufo(home, tmp_path, *args).stdout
    assert "tied at the cut, left out (by state code): OH 2, OR 2, PA 2, VA 2" in table


def test_ties_include_loads_every_tied_state_with_one_rank(
    home: dict[str, str], tmp_path: Path
) -> None:
    excerpt = EXCERPTS[3]  # TidyTuesday 2023: country_code
    path = excerpt.write(tmp_path / "tt2023.csv")
    run = luigi_ufo(
        home, tmp_path, "run", "--input", str(path), "--date", "2024-06-01", "--json",
        "--ties", "include",
    )  # fmt: skip
    doc = json.loads(run.stdout)
    want = sorted(excerpt.expected().items(), key=lambda kv: (-kv[1], kv[0]))
    # CA 7 (one blank country), WA 5, NY and TX 4 (rank 3), then ten states of 2 (rank 5).
    hand = [(1, "CA", 7), (2, "WA", 5), (3, "NY", 4), (3, "TX", 4)]
    hand += [(5, s, 2) for s, n in want if n == 2]
    assert [(r["rank"], r["state"], r["sightings"]) for r in doc["top"]] == hand
    assert doc["tied_beyond_cut"] == []
    url = luigi_ufo(home, tmp_path, "db", "start").stdout.strip()
    try:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT rank, state, sightings FROM ufo_top_states_with_ties "
                "WHERE date = '2024-06-01' ORDER BY rank, state"
            )
            assert cur.fetchall() == hand
        conn.close()
    finally:
        luigi_ufo(home, tmp_path, "db", "stop")


def test_an_unknown_header_of_real_size_is_refused_with_its_columns(
    home: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "renamed.csv"
    path.write_text("when,where,region,form\n" + "1/1/19,Town,CA,disk\n" * 25_000)
    result = run_status(home, tmp_path, "run", "--input", str(path), "--date", "2024-06-02")
    assert result.returncode == 2, result.stderr[-4000:]
    assert "columns found: 'when', 'where', 'region', 'form'" in result.stderr
    assert "--state-column NAME" in result.stderr
    assert "--country-column NAME" in result.stderr
    assert "field limit" not in result.stderr
