"""Service areas: by hand on the tiny grid; against sampled streets on a synthetic city with bent streets."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from planner import InputError, PlannerWarning
from planner.isochrones import service_areas
from planner.provenance import provenance_of
from planner.snap import snap_points

X0, Y0 = 500_000.0, 4_600_000.0


def points(xy, ids=None, crs=32651) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float)
    index = pd.Index(range(len(xy)) if ids is None else ids)
    return gpd.GeoDataFrame(geometry=shapely.points(xy), index=index, crs=crs)


def test_partly_reached_edges_on_the_tiny_grid(tiny_net):
    # site on edge 0 at 30 m, 10 m from the street; 150 s at 1 m/s leaves 140 m of street walk:
    # all of edge 0-1 (100), edge 0-3 (node 0 at 30: 100), 10 m up 3-4 and 3-6 (node 3 at 130),
    # 70 m along 1-2 and 1-4 (node 1 at 70)
    areas = service_areas(tiny_net, points([(X0 + 30, Y0 + 10)], ids=["a"]), threshold_s=150, buffer_m=5)
    assert list(areas.index) == ["a"]
    assert areas.index.name == "site_id"
    assert areas.crs == tiny_net.crs
    assert areas.loc["a", "street_m"] == pytest.approx(100 + 100 + 10 + 10 + 70 + 70)
    assert areas.loc["a", "threshold_min"] == pytest.approx(2.5)
    poly = areas.geometry.loc["a"]
    assert poly.contains(shapely.Point(X0 + 174, Y0))  # 4 m past the end of the reached piece of 1-2
    assert not poly.contains(shapely.Point(X0 + 176, Y0))
    assert poly.contains(shapely.Point(X0 + 100, Y0 + 74))
    assert not poly.contains(shapely.Point(X0 + 100, Y0 + 76))
    assert not poly.contains(shapely.Point(X0 + 50, Y0 + 50))  # inside the block: not a hull
    assert not provenance_of(areas).is_stand_in


def test_speed_and_unreachable_sites(tiny_net):
    pts = points([(X0 + 30, Y0 + 10), (X0 + 30, Y0 + 3000)], ids=[1, 2])
    with pytest.warns(PlannerWarning, match=r"`sites` points are farther .* 2 \(1 in all\)"):
        snapped = snap_points(tiny_net, pts, name="sites")
    slow = service_areas(tiny_net, snapped, threshold_s=300, speed_mps=0.5)
    assert slow.loc[1, "street_m"] == pytest.approx(360)
    assert slow.loc[2, "street_m"] == 0
    assert slow.geometry.loc[2].is_empty
    # a site whose access leg alone is longer than the walk reaches no street
    near = service_areas(tiny_net, points([(X0 + 30, Y0 + 10)]), threshold_s=9)
    assert near.loc[0, "street_m"] == 0
    assert near.geometry.loc[0].is_empty


def test_bad_arguments(tiny_net):
    pts = points([(X0 + 30, Y0 + 10)])
    with pytest.raises(InputError, match="`threshold_s` must be a number of seconds > 0"):
        service_areas(tiny_net, pts, threshold_s=0)
    with pytest.raises(InputError, match="`buffer_m` must be a distance in metres > 0"):
        service_areas(tiny_net, pts, threshold_s=60, buffer_m=0)
    with pytest.raises(InputError, match="walking speed"):
        service_areas(tiny_net, pts, threshold_s=60, speed_mps=-1)


def sampled_reach(net, snapped, i, reach_m, step_m=0.5):
    """Oracle: sample every segment every ``step_m``; a sample is reached when its network distance from site
    ``i`` (networkx node distances, plus the direct walk on the site's own segment) is within ``reach_m``."""
    graph = nx.Graph()
    for u, v, length in zip(net.edge_u, net.edge_v, net.length_m, strict=True):
        if not graph.has_edge(u, v) or graph[u][v]["weight"] > length:
            graph.add_edge(int(u), int(v), weight=float(length))
    e0, a0, acc = int(snapped.edge[i]), float(snapped.along_m[i]), float(snapped.access_m[i])
    graph.add_edge("site", int(net.edge_u[e0]), weight=acc + a0)
    graph.add_edge("site", int(net.edge_v[e0]), weight=acc + float(net.length_m[e0]) - a0)
    dist = nx.single_source_dijkstra_path_length(graph, "site")
    d = np.array([dist.get(k, np.inf) for k in range(net.n_nodes)])
    edge = np.repeat(np.arange(net.n_edges), np.ceil(net.length_m / step_m).astype(int))
    lo = (np.arange(len(edge)) - np.searchsorted(edge, edge)) * step_m
    hi = np.minimum(lo + step_m, net.length_m[edge])
    t = (lo + hi) / 2
    via = np.minimum(d[net.edge_u[edge]] + t, d[net.edge_v[edge]] + net.length_m[edge] - t)
    direct = np.where(edge == e0, acc + np.abs(t - a0), np.inf)
    reached = np.minimum(via, direct) <= reach_m
    where = shapely.line_interpolate_point(
        net.edge_geometries()[edge], t / net.length_m[edge], normalized=True
    )
    return reached, where, hi - lo


def test_matches_sampled_streets_on_a_bent_grid():
    from planner.synthetic import grid_city, random_points

    net = grid_city(n_nodes=900, missing_share=0.15, curved_share=0.5, seed=3)
    snapped = snap_points(net, random_points(net, 4, seed=4, index_name="site_id"))
    buffer_m, threshold_s = 10.0, 400.0
    areas = service_areas(net, snapped, threshold_s=threshold_s, buffer_m=buffer_m)
    assert provenance_of(areas).is_stand_in
    for i in range(len(snapped)):
        reached, where, piece_m = sampled_reach(net, snapped, i, threshold_s, step_m=0.5)
        assert reached.sum() > 100
        # reached street length agrees with the samples (each reached piece's end is off by < 0.25 m)
        assert areas["street_m"].iloc[i] == pytest.approx(piece_m[reached].sum(), abs=5.0)
        poly = areas.geometry.iloc[i]
        assert shapely.contains(poly, where[reached]).all()
        # streets clearly beyond the reached pieces (beyond the buffer from any reached sample) are outside
        tree = shapely.STRtree(where[reached])
        _, gap = tree.query_nearest(where[~reached], return_distance=True)
        clearly_out = where[~reached][gap > buffer_m + 0.5]
        assert len(clearly_out) > 100
        assert not shapely.contains(poly, clearly_out).any()
