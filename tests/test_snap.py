"""Snapping points onto street edges: hand-checked on the tiny grid, brute force on real OSM streets."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner import InputError, PlannerWarning
from planner.provenance import Provenance, Source
from planner.snap import snap_points

STAND_IN = Provenance((Source("test", real=False, what="TEST STAND-IN data"),))


def points(xy, ids=None, crs=32651) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float)
    index = pd.Index(range(len(xy)) if ids is None else ids, name="point_id")
    return gpd.GeoDataFrame(geometry=shapely.points(xy), index=index, crs=crs)


X0, Y0 = 500_000.0, 4_600_000.0


def test_point_beside_an_edge_snaps_onto_it(tiny_net):
    # beside edge 0 (nodes 0-1, along y = Y0), and beside edge 8 (nodes 4-7, x = X0 + 100, from Y0 + 100 up)
    snapped = snap_points(tiny_net, points([(X0 + 30, Y0 + 10), (X0 + 93, Y0 + 150)], ids=["a", "b"]))
    assert list(snapped.ids) == ["a", "b"]
    assert snapped.edge.tolist() == [0, 8]
    np.testing.assert_allclose(snapped.along_m, [30.0, 50.0])
    np.testing.assert_allclose(snapped.access_m, [10.0, 7.0])
    np.testing.assert_allclose(snapped.x, [X0 + 30, X0 + 100])
    np.testing.assert_allclose(snapped.y, [Y0, Y0 + 150])
    assert len(snapped.far) == 0
    assert not snapped.stand_in


def test_along_is_measured_from_edge_u(tiny_net):
    # edge 9 runs from node 2 (X0 + 200, Y0) up to node 5 (X0 + 200, Y0 + 100)
    snapped = snap_points(tiny_net, points([(X0 + 204, Y0 + 80)]))
    assert snapped.edge.tolist() == [9]
    np.testing.assert_allclose(snapped.along_m, [80.0])
    np.testing.assert_allclose(snapped.access_m, [4.0])


def test_ties_go_to_the_smallest_edge_position(tiny_net):
    # halfway between edge 8 (x = X0 + 100) and edge 10 (x = X0 + 200); exactly on node 4 (edges 2, 7, 8 meet)
    snapped = snap_points(tiny_net, points([(X0 + 150, Y0 + 120), (X0 + 100, Y0 + 100)]))
    assert snapped.edge.tolist() == [8, 2]
    np.testing.assert_allclose(snapped.access_m, [50.0, 0.0])
    np.testing.assert_allclose(snapped.along_m, [20.0, 100.0])


def test_far_points_stay_with_edge_minus_one_and_a_warning(tiny_net):
    pts = points([(X0 + 30, Y0 + 10), (X0, Y0 + 1000), (X0 + 5000, Y0)], ids=[1, 2, 3])
    with pytest.warns(
        PlannerWarning, match=r"2 of 3 `points` points are farther than max_snap_m=500 m.*2, 3 \(2 in all\)"
    ):
        snapped = snap_points(tiny_net, pts)
    assert snapped.edge.tolist() == [0, -1, -1]
    assert list(snapped.far) == [2, 3]
    np.testing.assert_allclose(snapped.access_m, [10.0, 800.0, 4800.0])
    assert np.isnan(snapped.along_m[1:]).all()
    assert snapped.snapped.tolist() == [True, False, False]
    # a wider limit snaps the first far point
    with pytest.warns(PlannerWarning, match=r"1 of 3 .* 3 \(1 in all\)"):
        wider = snap_points(tiny_net, pts, max_snap_m=1000)
    assert wider.edge.tolist() == [0, 3, -1]


def test_points_in_another_crs_are_reprojected(tiny_net):
    utm = points([(X0 + 30, Y0 + 10), (X0 + 93, Y0 + 150)])
    wgs = utm.to_crs(4326)
    a, b = snap_points(tiny_net, utm), snap_points(tiny_net, wgs)
    assert a.edge.tolist() == b.edge.tolist()
    np.testing.assert_allclose(a.along_m, b.along_m, atol=1e-6)
    np.testing.assert_allclose(a.access_m, b.access_m, atol=1e-6)
    assert wgs.crs.to_epsg() == 4326  # input not changed


def test_stand_in_passes_through(tiny_net):
    pts = points([(X0 + 30, Y0 + 10)])
    pts.attrs["provenance"] = STAND_IN
    assert snap_points(tiny_net, pts).stand_in


def test_bad_input_names_the_problem(tiny_net):
    no_crs = gpd.GeoDataFrame(geometry=shapely.points([(X0, Y0)]))
    with pytest.raises(InputError, match="`points` has no CRS"):
        snap_points(tiny_net, no_crs)
    nan = points([(X0, Y0), (np.nan, Y0)], ids=["ok", "bad"])
    with pytest.raises(InputError, match="NaN or infinite coordinates in rows bad"):
        snap_points(tiny_net, nan)
    dup = points([(X0, Y0), (X0, Y0), (X0, Y0)], ids=[7, 7, 8])
    with pytest.raises(InputError, match=r"`sites` has duplicate ids: 7 \(1 in all\)"):
        snap_points(tiny_net, dup, name="sites")
    with pytest.raises(InputError, match="`max_snap_m` must be a distance"):
        snap_points(tiny_net, points([(X0, Y0)]), max_snap_m=-1)
    with pytest.raises(InputError, match="must be a GeoDataFrame"):
        snap_points(tiny_net, pd.DataFrame({"x": [X0]}))


def test_nearest_edge_matches_brute_force_on_real_streets(helsinki_pbf):
    from planner.network import read_network

    net = read_network(helsinki_pbf, cache=False)
    lines = net.edge_geometries()
    minx, miny, maxx, maxy = shapely.total_bounds(lines)
    rng = np.random.default_rng(5)
    xy = np.column_stack([rng.uniform(minx, maxx, 300), rng.uniform(miny, maxy, 300)])
    pts = points(xy, crs=net.crs)
    snapped = snap_points(net, pts, max_snap_m=10_000)
    dist = shapely.distance(shapely.points(xy)[:, None], lines[None, :])
    best = dist.min(axis=1)
    np.testing.assert_allclose(snapped.access_m, best, atol=1e-9)
    # the chosen edge is the first of the nearest (ties by edge position)
    first_nearest = np.argmax(dist <= best[:, None], axis=1)
    assert (snapped.edge == first_nearest).all()
    # the snapped position is on that edge, at along_m from its start, access_m away from the point
    on = shapely.points(snapped.x, snapped.y)
    np.testing.assert_allclose(shapely.distance(on, lines[snapped.edge]), 0, atol=1e-6)
    np.testing.assert_allclose(shapely.distance(on, shapely.points(xy)), snapped.access_m, atol=1e-6)
    np.testing.assert_allclose(shapely.line_locate_point(lines[snapped.edge], on), snapped.along_m, atol=1e-6)


def test_subset_keeps_the_snapped_positions_in_the_given_order(tiny_net):
    import geopandas as gpd

    pts = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(
            [500_050.0, 500_130.0, 509_000.0], [4_600_010.0, 4_600_100.0, 4_600_000.0]
        ),
        index=pd.Index(["a", "b", "far"], name="site_id"),
        crs=32651,
    )
    with pytest.warns(PlannerWarning, match="far"):
        snapped = snap_points(tiny_net, pts)
    part = snapped.subset(["far", "a"])
    assert part.ids.tolist() == ["far", "a"]
    assert part.edge.tolist() == [-1, snapped.edge[0]]
    assert part.along_m[1] == snapped.along_m[0]
    assert part.far.tolist() == ["far"]
    assert snapped.subset(["b"]).far.empty
    with pytest.raises(InputError, match="not snapped: zz"):
        snapped.subset(["zz"])
