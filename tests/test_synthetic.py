"""Synthetic networks and points: sizes, connectivity, labels, geometry, determinism."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.sparse.csgraph import connected_components

from planner import InputError
from planner.provenance import Provenance, Source, provenance_of
from planner.synthetic import grid_city, random_points, streets_in_areas

STAND_IN = Provenance((Source("test", real=False, what="TEST STAND-IN data"),))


def n_parts(net) -> int:
    return connected_components(net.adjacency, directed=False)[0]


def test_grid_city_shape_and_labels():
    net = grid_city(n_nodes=2500, seed=1)
    assert 2300 < net.n_nodes <= 2500
    assert net.n_nodes + net.dropped_nodes == 2500
    assert n_parts(net) == 1
    assert net.stand_in
    assert net.source == "synthetic"
    assert "synthetic stand-in" in net.description
    assert net.crs.to_epsg() == 32651
    # near Shenyang (UTM 51N around 535,700 E, 4,627,700 N), blocks of 80-90 m give a ~4 km square
    assert abs(np.mean(net.x) - 535_723) < 500
    assert abs(np.mean(net.y) - 4_627_660) < 500
    # full grid has 2 * 50 * 49 = 4,900 links, 5 % are left out
    assert 4500 < net.n_edges < 4800
    lines = net.geometry
    np.testing.assert_allclose(shapely.length(lines), net.length_m, rtol=1e-12)
    bent = shapely.get_num_coordinates(lines) == 3
    assert 0.07 < bent.mean() < 0.13
    straight = np.hypot(net.x[net.edge_u] - net.x[net.edge_v], net.y[net.edge_u] - net.y[net.edge_v])
    assert (net.length_m[bent] > straight[bent] + 1e-6).all()
    np.testing.assert_allclose(net.length_m[~bent], straight[~bent])
    assert 70 < np.median(straight) < 100
    # geometry runs from edge_u to edge_v
    first = shapely.get_coordinates(shapely.get_point(lines, 0))
    np.testing.assert_allclose(first, np.column_stack([net.x[net.edge_u], net.y[net.edge_u]]))


def test_grid_city_is_deterministic():
    a, b, c = grid_city(n_nodes=400, seed=7), grid_city(n_nodes=400, seed=7), grid_city(n_nodes=400, seed=8)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.edge_u, b.edge_u)
    np.testing.assert_array_equal(a.length_m, b.length_m)
    assert a.n_edges != c.n_edges or not np.array_equal(a.x, c.x)


def test_grid_city_bad_arguments():
    with pytest.raises(InputError, match="`missing_share` must be a share in"):
        grid_city(n_nodes=100, missing_share=1.5)
    with pytest.raises(InputError, match="`n_nodes` must be at least 4"):
        grid_city(n_nodes=1)


def two_areas() -> gpd.GeoDataFrame:
    # a dense residential square (100 m local streets) next to a sparse one (no column value: default 150 m)
    return gpd.GeoDataFrame(
        {"local_spacing_m": [100.0, np.nan]},
        geometry=[shapely.box(0, 0, 3600, 3600), shapely.box(3600, 0, 7200, 3600)],
        crs=32651,
    )


def test_streets_in_areas_is_connected_denser_where_asked_and_clipped():
    areas = two_areas()
    net = streets_in_areas(areas, jitter_m=12, seed=2)
    assert n_parts(net) == 1
    assert net.stand_in
    assert net.source == "synthetic"
    assert "synthetic stand-in" in net.description
    assert "112.5" in net.description  # 450 / 4
    # nodes lie in the areas, up to the jitter
    union = shapely.union_all(areas.geometry.to_numpy())
    dist = shapely.distance(union, shapely.points(net.x, net.y))
    assert dist.max() <= 12 * np.sqrt(2) + 1e-9
    # both local spacings round to 450 / 4 = 112.5 m; a coarser area gets 225 m
    left = net.x < 3600
    assert 0.4 < left.mean() < 0.6
    sparse = areas.assign(local_spacing_m=[100.0, 250.0])
    net2 = streets_in_areas(sparse, seed=2)
    assert (net2.x < 3600).sum() > 2.5 * (net2.x >= 3600).sum()
    assert n_parts(net2) == 1
    # segment lengths: local blocks 112.5 m or 225 m, moved by up to 2 * 12 m in each direction
    assert net2.length_m.min() > 112.5 - 2 * 12 * np.sqrt(2)
    assert net2.length_m.max() < 225 + 2 * 12 * np.sqrt(2)


def test_streets_in_areas_missing_links_only_local():
    areas = two_areas()
    full = streets_in_areas(areas, missing_share=0.0, jitter_m=0.0)
    thin = streets_in_areas(areas, missing_share=0.3, jitter_m=0.0)

    # without jitter, arterials (on multiples of 450 m) are all present in both
    def arterial(net):
        xu, xv, yu, yv = net.x[net.edge_u], net.x[net.edge_v], net.y[net.edge_u], net.y[net.edge_v]
        on = ((yu == yv) & (np.abs(yu / 450 - np.round(yu / 450)) < 1e-9)) | (
            (xu == xv) & (np.abs(xu / 450 - np.round(xu / 450)) < 1e-9)
        )
        return int(on.sum())

    assert arterial(full) == arterial(thin)
    assert 0.6 < thin.n_edges / full.n_edges < 0.8
    # exactly a full lattice of 112.5 m over the 7.2 x 3.6 km of the two boxes, edges included
    assert full.n_nodes == 65 * 33
    assert full.n_edges == 64 * 33 + 65 * 32


def test_streets_in_areas_is_deterministic():
    areas = gpd.GeoSeries([shapely.Point(535_000, 4_627_000).buffer(12_000)], crs=32651)
    a = streets_in_areas(areas, local_spacing_m=75, seed=4)
    b = streets_in_areas(areas, local_spacing_m=75, seed=4)
    assert a.n_nodes > 80_000
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.edge_v, b.edge_v)


def test_streets_in_areas_bad_input():
    with pytest.raises(InputError, match="projected, metric CRS"):
        streets_in_areas(gpd.GeoSeries([shapely.box(0, 0, 1, 1)], crs=4326))
    with pytest.raises(InputError, match="projected, metric CRS"):
        streets_in_areas(gpd.GeoSeries([shapely.box(0, 0, 1000, 1000)]))
    with pytest.raises(InputError, match="must be a GeoSeries or GeoDataFrame"):
        streets_in_areas([shapely.box(0, 0, 1000, 1000)])
    bad = two_areas().assign(local_spacing_m=[-5.0, 100.0])
    with pytest.raises(InputError, match=r"`local_spacing_m` must be > 0 metres; areas 0 \(1 in all\)"):
        streets_in_areas(bad)


def test_random_points_near_streets_and_in_polygons():
    net = grid_city(n_nodes=900, seed=0)
    pts = random_points(net, 500, max_offset_m=30, seed=3, index_name="demand_id")
    assert len(pts) == 500
    assert pts.index.name == "demand_id"
    assert provenance_of(pts).is_stand_in
    assert pts.crs == net.crs
    tree = shapely.STRtree(net.edge_geometries())
    _, dist = tree.query_nearest(pts.geometry.to_numpy(), return_distance=True, all_matches=False)
    assert dist.max() <= 30 + 1e-6
    assert dist.mean() > 5  # spread away from the street, not on it
    again = random_points(net, 500, max_offset_m=30, seed=3, index_name="demand_id")
    assert pts.geometry.equals(again.geometry)
    poly = shapely.Point(0, 0).buffer(1000)
    inside = random_points(poly, 200, crs=32651, seed=1)
    assert shapely.contains(poly, inside.geometry.to_numpy()).all()
    with pytest.raises(InputError, match="`crs` is needed"):
        random_points(poly, 5)


def _settlements(seed: int = 3):
    """Two towns 6 km apart and a village, as residential points in UTM 51N."""
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    centres = [(530_000, 4_620_000, 800, 60), (536_000, 4_620_500, 500, 40), (533_000, 4_626_000, 150, 8)]
    xs, ys, pops = [], [], []
    for cx, cy, spread, n in centres:
        xs.append(cx + rng.normal(0, spread, n))
        ys.append(cy + rng.normal(0, spread, n))
        pops.append(rng.integers(200, 900, n) if n > 10 else rng.integers(20, 80, n))
    return gpd.GeoDataFrame(
        {"population": np.concatenate(pops)},
        geometry=gpd.points_from_xy(np.concatenate(xs), np.concatenate(ys)),
        crs=32651,
    )


def test_settlement_streets_are_connected_and_reach_every_settlement():
    import shapely
    from scipy.sparse.csgraph import connected_components

    from planner.snap import snap_points
    from planner.synthetic import settlement_streets

    points = _settlements()
    net = settlement_streets(points, seed=1)
    assert net.stand_in
    assert net.source == "synthetic"
    assert "STAND-IN" in net.description
    assert connected_components(net.adjacency, directed=False)[0] == 1
    snapped = snap_points(net, points.set_index(pd.Index(range(len(points)), name="demand_id")))
    assert len(snapped.far) == 0
    assert snapped.access_m.max() < 450.0
    # the village 5.5 km away is joined by a country road: some street passes near it
    lines = net.edge_geometries()
    village = shapely.Point(533_000, 4_626_000)
    assert shapely.distance(lines, village).min() < 500.0


def test_settlement_streets_stay_inside_the_boundary_and_repeat():
    import shapely

    from planner.synthetic import settlement_streets

    points = _settlements()
    west = shapely.box(520_000, 4_610_000, 533_500, 4_630_000)
    net = settlement_streets(points[points.geometry.x < 533_000], boundary=west, seed=2)
    again = settlement_streets(points[points.geometry.x < 533_000], boundary=west, seed=2)
    np.testing.assert_array_equal(net.x, again.x)
    np.testing.assert_array_equal(net.edge_u, again.edge_u)
    # streets belong to built-up cells whose centre is inside: at most one 450 m cell past the edge
    assert net.x.max() <= 533_500 + 450.0 + 20.0


def test_settlement_streets_need_metric_points():
    from planner.synthetic import settlement_streets

    with pytest.raises(InputError, match="projected"):
        settlement_streets(_settlements().to_crs(4326))


def test_grid_city_centre_is_a_parameter():
    import pyproj

    helsinki = grid_city(n_nodes=400, seed=1, centre=(24.94, 60.17))
    assert helsinki.crs.to_epsg() == 32635  # its own UTM zone, not Shenyang's
    lon, lat = pyproj.Transformer.from_crs(helsinki.crs, 4326, always_xy=True).transform(
        np.mean(helsinki.x), np.mean(helsinki.y)
    )
    assert lon == pytest.approx(24.94, abs=0.01) and lat == pytest.approx(60.17, abs=0.01)
    shenyang = grid_city(n_nodes=400, seed=1)
    # the same grid, moved: the layout does not depend on the centre
    np.testing.assert_array_equal(helsinki.edge_u, shenyang.edge_u)
    np.testing.assert_allclose(helsinki.length_m, shenyang.length_m)
    with pytest.raises(InputError, match=r"`centre` must be \(lon, lat\)"):
        grid_city(n_nodes=100, centre="Helsinki")
    with pytest.raises(InputError, match="give longitude first"):
        grid_city(n_nodes=100, centre=(535_723.0, 4_627_660.0))


# ------------------------------------------------------------ stand-in on real major roads

X0, Y0 = 530_000.0, 4_620_000.0  # UTM 51N, a 2 km square of homes from here
ART_Y = Y0 + 1_010.0  # the real primary road runs east-west along this line
MOTORWAY_X = X0 + 1_030.0  # the real motorway runs north-south along this line


def _homes() -> gpd.GeoDataFrame:
    gx, gy = np.meshgrid(np.arange(50.0, 2_000.0, 100.0), np.arange(50.0, 2_000.0, 100.0))
    points = gpd.points_from_xy(X0 + gx.ravel(), Y0 + gy.ravel())
    return gpd.GeoDataFrame({"population": np.full(len(points), 100.0)}, geometry=points, crs=32651)


def _roads(*, with_arterial: bool = True) -> gpd.GeoDataFrame:
    from planner.provenance import Source, with_provenance

    rows = [("motorway", [(MOTORWAY_X, Y0 - 2_000), (MOTORWAY_X, Y0 + 4_000)])]  # past every street
    if with_arterial:  # three vertices: the middle one lies on the motorway's line (a bridge: no junction)
        rows.append(("primary", [(X0 - 500, ART_Y), (MOTORWAY_X, ART_Y), (X0 + 2_500, ART_Y)]))
    rows.append(("secondary", [(X0, Y0), (X0 + 2_000, Y0 + 2_000)]))  # ignored
    roads = gpd.GeoDataFrame(
        {"highway": [h for h, _ in rows]}, geometry=[shapely.LineString(c) for _, c in rows], crs=32651
    ).to_crs(4326)
    source = Source("roads", real=True, what="test roads", origin="test.geojson", licence="ODbL 1.0")
    return with_provenance(roads, source)


def _crosses_motorway(net) -> np.ndarray:
    xu, xv = net.x[net.edge_u], net.x[net.edge_v]
    return (xu - MOTORWAY_X) * (xv - MOTORWAY_X) < 0


def _on_arterial(net) -> np.ndarray:
    return (np.abs(net.y[net.edge_u] - ART_Y) < 0.01) & (np.abs(net.y[net.edge_v] - ART_Y) < 0.01)


def test_streets_on_roads_real_arterials_and_motorway_barrier():
    from planner.provenance import provenance_of
    from planner.synthetic import ROADS_STAND_IN_LABEL, streets_on_roads

    net = streets_on_roads(_homes(), _roads(), seed=3)
    assert n_parts(net) == 1 and net.dropped_nodes == 0
    # only the real road crosses the motorway: every synthetic street across it was removed
    crossing = _crosses_motorway(net)
    assert crossing.any()
    assert _on_arterial(net)[crossing].all()
    assert net.meta["barrier_cuts"] > 0 and net.meta["barrier_crossings_kept"] == 0
    # the whole primary road is walkable, cut into pieces at its junctions with synthetic streets
    on_road = _on_arterial(net)
    assert net.length_m[on_road].sum() == pytest.approx(3_000.0, abs=0.05)
    assert on_road.sum() == 2 + net.meta["junctions"]  # two real segments, each junction splits one
    degree = np.bincount(np.concatenate([net.edge_u, net.edge_v]), minlength=net.n_nodes)
    road_nodes = np.unique(np.concatenate([net.edge_u[on_road], net.edge_v[on_road]]))
    junctions = road_nodes[degree[road_nodes] >= 3]
    assert len(junctions) == net.meta["junctions"] > 10  # streets every ~112 m over the 2 km of homes
    assert net.meta["real_road_segments"] == 2 and net.meta["real_road_km"] == 3.0
    # labelled exactly, as a stand-in, with the roads' origin and licence
    assert net.stand_in and net.source == "synthetic"
    assert (
        net.description
        == ROADS_STAND_IN_LABEL
        == ("real major roads from OpenStreetMap, ODbL; SYNTHETIC local streets")
    )
    (source,) = provenance_of(net).sources
    assert (source.input, source.real, source.what) == ("streets", False, ROADS_STAND_IN_LABEL)
    assert (source.origin, source.licence) == ("test.geojson", "ODbL 1.0")
    assert ROADS_STAND_IN_LABEL in net.summary()
    again = streets_on_roads(_homes(), _roads(), seed=3)
    np.testing.assert_array_equal(again.node_id, net.node_id)
    np.testing.assert_array_equal(again.length_m, net.length_m)


def test_streets_on_roads_keeps_one_crossing_where_no_real_road_crosses():
    from planner.synthetic import streets_on_roads

    arterial_elsewhere = _roads(with_arterial=False)
    west_road = gpd.GeoDataFrame(
        {"highway": ["trunk"]},
        geometry=[shapely.LineString([(X0 + 200, Y0 - 300), (X0 + 200, Y0 + 2_300)])],
        crs=32651,
    ).to_crs(4326)
    roads = pd.concat([arterial_elsewhere, west_road], ignore_index=True)
    net = streets_on_roads(_homes(), roads, seed=3)
    # the east half would be cut off by the motorway: one synthetic crossing is kept, nothing is dropped
    assert net.meta["barrier_crossings_kept"] == 1
    assert _crosses_motorway(net).sum() == 1
    assert n_parts(net) == 1 and net.dropped_nodes == 0


def test_streets_on_roads_bad_roads():
    from planner.synthetic import streets_on_roads

    with pytest.raises(InputError, match="`roads` must be a GeoDataFrame of road lines with a CRS and a"):
        streets_on_roads(_homes(), _roads().drop(columns="highway"))
    with pytest.raises(InputError, match=r"`roads` holds no arterial .* its highway values are"):
        streets_on_roads(_homes(), _roads(with_arterial=False))
