"""The territory's geometry: grids as a lattice over a box, or polygons from GeoJSON, found
through an STRtree — inside a cell, on a shared edge (the first grid), outside (None)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.engine.types import Place
from twin.service.geometry import DEFAULT_BBOX, from_geojson, lattice, parse_bbox, territory_map


def _places(n: int) -> list[Place]:
    return [Place(f"G{i}", f"C{i // 3}", "S1", "D") for i in range(n)]


def test_lattice_covers_the_box_row_by_row_from_the_north_west() -> None:
    m = lattice(_places(6), (0.0, 0.0, 2.0, 3.0))  # 3 columns × 2 rows of 1° cells at the equator
    assert m.locate(1.5, 0.5) == _places(6)[0]  # north-west cell
    assert m.locate(1.5, 2.5).grid == "G2" and m.locate(0.5, 0.5).grid == "G3" and m.locate(0.5, 2.5).grid == "G5"
    assert m.locate(1.5, 1.0).grid == "G0"  # on the edge G0|G1: the first grid
    assert m.locate(2.5, 0.5) is None and m.locate(1.0, -0.1) is None
    assert m.bounds == (0.0, 0.0, 2.0, 3.0)


def test_street_scenario_lattice_places_every_grid_once() -> None:
    m = territory_map("street", ",".join(str(x) for x in DEFAULT_BBOX))
    assert len(m.places) == 60 and len({p.grid for p in m.places}) == 60
    centres = [m.locate(c.y, c.x) for c in (p.centroid for p in m.polygons)]
    assert centres == m.places  # each cell's centre finds its own grid
    assert m.places[0] == Place("S01-C01-G01", "S01-C01", "S01", "Jiangbei")


def test_geojson_polygons_name_their_units(tmp_path: Path) -> None:
    def square(x: float, y: float) -> dict:
        return {"type": "Polygon", "coordinates": [[[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]]}

    feats = [
        {"type": "Feature", "geometry": square(0, 0), "properties": {"grid": "A", "community": "CA", "street": "S", "district": "D"}},
        {"type": "Feature", "geometry": square(1, 0), "properties": {"grid": "B", "community": "CA", "street": "S", "district": "D"}},
    ]
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    m = from_geojson(path)
    assert m.locate(0.5, 1.5) == Place("B", "CA", "S", "D") and m.locate(0.5, 0.5).grid == "A" and m.locate(5, 5) is None
    feats[1]["properties"].pop("street")
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    with pytest.raises(ValueError, match=r"features\[1\]\.properties\.street"):
        from_geojson(path)


@pytest.mark.parametrize("text", ["1,2,3", "29.6,106.5,29.5,106.6", "a,b,c,d", "0,181,1,182"])
def test_bad_boxes_say_what_was_expected(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_bbox(text)
