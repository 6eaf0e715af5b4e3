"""The US tile map: 50 states and DC, each once, in the usual tile-grid arrangement."""

from __future__ import annotations

from luigi_ufo.ufo.tile_map import TILES, log_ticks, tile_map
from tests.svg_elements import ids_and_texts

# Written out here, not taken from the product: the 50 states and the District of Columbia.
STATES_AND_DC = {
    *("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA"),
    *("KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ"),
    *("NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT"),
    *("VA", "WA", "WV", "WI", "WY", "DC"),
}


def test_every_state_and_dc_has_one_square_of_its_own() -> None:
    assert len(STATES_AND_DC) == 51
    assert set(TILES) == STATES_AND_DC
    assert len(set(TILES.values())) == 51


def test_the_squares_keep_the_map_s_shape() -> None:
    row = {code: r for code, (r, _) in TILES.items()}
    col = {code: c for code, (_, c) in TILES.items()}
    assert col["WA"] == col["OR"] == col["CA"]
    assert row["WA"] < row["OR"] < row["CA"]
    assert col["ME"] == max(col.values())
    assert row["ME"] == 0
    assert row["FL"] == row["TX"] == max(row.values())
    assert col["TX"] < col["FL"]
    assert col["NV"] < col["CO"] < col["KS"] < col["MO"] < col["KY"] < col["VA"]  # west to east
    assert row["MN"] < row["IA"] < row["MO"] < row["AR"] < row["LA"]  # north to south


def test_each_square_is_labelled_with_its_code_and_count() -> None:
    counts = {"CA": 13_513, "FL": 6_498, "DC": 136}
    texts = ids_and_texts(tile_map(counts, title="Sightings"))
    tiles = [name for name in texts if name.startswith("tile-map-tile-")]
    assert len(tiles) == 51
    assert texts["tile-map-code-CA"] == "CA"
    assert texts["tile-map-count-CA"] == "13,513"
    assert texts["tile-map-count-DC"] == "136"
    assert texts["tile-map-count-WY"] == "0"  # absent states are drawn, with 0


def test_the_colour_bar_is_ticked_at_powers_of_ten() -> None:
    assert log_ticks(136, 13_513) == [1_000, 10_000]
    assert log_ticks(1, 9) == [1]
    assert log_ticks(0, 9) == []
