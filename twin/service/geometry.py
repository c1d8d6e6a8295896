"""Where a point lies in the territory: each grid (网格) as a polygon, found through an STRtree.

Open311 clients often send only a point (``lat``/``long``); the engine files a case under a
grid, community, street and district. :class:`TerritoryMap` answers "which grid holds this
point" with Shapely (an R-tree over the grid polygons, then the exact point-in-polygon test).

Two ways to give the grids a shape (``twin serve --territory``):

- a scenario (``street``, the default, or a ``.toml`` file): its grids, named as the simulation
  names them, laid out as a regular lattice of squares over a bounding box
  (``--territory-bbox south,west,north,east``; the default box is an [A] stand-in for a
  Jiangbei (Chongqing) street of ~5 km², ~11,000 residents per km² for the street scenario's
  60,000 people);
- a GeoJSON FeatureCollection (``.geojson``) of polygons whose properties name ``grid``,
  ``community``, ``street`` and ``district`` — a city's real grid map.

A point on the edge shared by two grids belongs to the first of them (the lattice's order, or
the file's), so the answer never depends on the tree's internal order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from shapely import STRtree
from shapely.geometry import Point, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from twin.engine.types import Place
from twin.service.catalogue import bundled_scenario

#: The default bounding box (south, west, north, east, decimal degrees) [A]: ~2.2 km × 2.4 km
#: around Guanyinqiao, Jiangbei District, Chongqing — the district the street scenario is named after.
DEFAULT_BBOX: tuple[float, float, float, float] = (29.570, 106.520, 29.590, 106.545)


class TerritoryMap:
    """Grid polygons and their places, with an STRtree to find the grid holding a point."""

    def __init__(self, polygons: Sequence[BaseGeometry], places: Sequence[Place]) -> None:
        if len(polygons) != len(places) or not places:
            raise ValueError(f"expected one polygon per grid and at least one grid, got {len(polygons)} polygons for {len(places)} grids")
        self.polygons = list(polygons)
        self.places = list(places)
        self._tree = STRtree(self.polygons)
        w, s, e, n = _bounds(self.polygons)
        self.bounds = (float(s), float(w), float(n), float(e))  # south, west, north, east

    def locate(self, lat: float, lon: float) -> Place | None:
        """The place of the grid holding the point (on a shared edge: the first grid), or None
        when the point lies outside every grid."""
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        return self.places[int(np.min(hits))] if len(hits) else None

    def describe(self) -> str:
        s, w, n, e = self.bounds
        return f"{len(self.places)} grids within lat {s:g}..{n:g}, long {w:g}..{e:g}"


def _bounds(polygons: Sequence[BaseGeometry]) -> tuple[float, float, float, float]:
    b = np.array([p.bounds for p in polygons])
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"south,west,north,east"`` in decimal degrees; ValueError saying what was expected."""
    try:
        s, w, n, e = (float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"expected south,west,north,east in decimal degrees, got {text!r}") from None
    if not (-90 <= s < n <= 90 and -180 <= w < e <= 180):
        raise ValueError(f"expected south < north within ±90 and west < east within ±180, got {text!r}")
    return s, w, n, e


def lattice(places: Sequence[Place], bbox: tuple[float, float, float, float]) -> TerritoryMap:
    """The grids as a regular lattice of equal cells over ``bbox``, in their order, row by row
    from the north-west corner (so a community's grids sit side by side). Cells are as square on
    the ground as the box allows (east-west degrees shrink with the cosine of the latitude)."""
    s, w, n, e = bbox
    count = len(places)
    wide = (e - w) * math.cos(math.radians((s + n) / 2.0))
    cols = max(1, min(count, round(math.sqrt(count * wide / (n - s)))))
    rows = math.ceil(count / cols)
    dx, dy = (e - w) / cols, (n - s) / rows
    cells = [box(w + (i % cols) * dx, n - (i // cols + 1) * dy, w + (i % cols + 1) * dx, n - (i // cols) * dy) for i in range(count)]
    return TerritoryMap(cells, places)


def from_geojson(path: Path) -> TerritoryMap:
    """Grid polygons from a GeoJSON FeatureCollection whose properties name the four units."""
    label = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{label}: expected a readable GeoJSON file, got {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{label}: expected GeoJSON, got {exc}") from None
    feats = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(feats, list) or not feats:
        raise ValueError(f"{label}: expected a FeatureCollection with features, got none")
    polygons: list[BaseGeometry] = []
    places: list[Place] = []
    for i, f in enumerate(feats):
        props = f.get("properties") or {}
        missing = [k for k in ("grid", "community", "street", "district") if not props.get(k)]
        if missing:
            raise ValueError(f"{label}: features[{i}].properties.{missing[0]}: expected the unit's name, got none")
        try:
            geom = shape(f["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{label}: features[{i}].geometry: expected a GeoJSON polygon, got {exc}") from None
        if not isinstance(geom, Polygon) and geom.geom_type != "MultiPolygon":
            raise ValueError(f"{label}: features[{i}].geometry: expected a Polygon or MultiPolygon, got {geom.geom_type}")
        polygons.append(geom)
        places.append(Place(str(props["grid"]), str(props["community"]), str(props["street"]), str(props["district"])))
    return TerritoryMap(polygons, places)


def scenario_places(path: Path) -> list[Place]:
    """The grids of a scenario's territory, named as the simulation names them (the names do not
    depend on the household draw, so any seed gives them)."""
    from twin.scenario import load_scenario
    from twin.sim.territory import build_territory

    return build_territory(load_scenario(path), np.random.default_rng(0)).places


def territory_map(spec: str, bbox: str) -> TerritoryMap:
    """The map ``twin serve --territory SPEC --territory-bbox BBOX`` names (see module doc);
    ValueError saying what was expected."""
    s = spec.strip()
    if s.endswith((".geojson", ".json")):
        return from_geojson(Path(s))
    path = bundled_scenario(s) or (Path(s) if s.endswith(".toml") else None)
    if path is None:
        raise ValueError(f"expected a bundled scenario (street, district …), a scenario .toml or a .geojson file, got {s!r}")
    try:
        places = scenario_places(path)
    except Exception as exc:  # the scenario's own error names its file and field
        raise ValueError(str(exc)) from None
    return lattice(places, parse_bbox(bbox))
