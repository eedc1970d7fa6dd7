"""Walk times: by hand on the tiny grid, and against networkx on streets split at the snapped points."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import InputError, PlannerWarning
from planner.costs import TravelTimes, travel_times
from planner.network import StreetNetwork
from planner.provenance import Provenance, Source
from planner.snap import Snapped, snap_points

X0, Y0 = 500_000.0, 4_600_000.0


STAND_IN = Provenance((Source("test", real=False, what="TEST STAND-IN data"),))


def points(xy, ids=None, crs=32651) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=float)
    index = pd.Index(range(len(xy)) if ids is None else ids)
    return gpd.GeoDataFrame(geometry=shapely.points(xy), index=index, crs=crs)


def split_graph_times(net: StreetNetwork, sites: Snapped, demand: Snapped, limit_m: float) -> dict:
    """Oracle: metres of every site -> demand pair within ``limit_m``, by networkx on the streets split at
    every snapped position, with each point joined to its position by its access leg."""
    graph = nx.MultiGraph()
    graph.add_nodes_from(range(net.n_nodes))
    on_edge: dict[int, list] = {}
    for kind, pts in (("s", sites), ("d", demand)):
        for i in np.flatnonzero(pts.edge >= 0):
            on_edge.setdefault(int(pts.edge[i]), []).append((float(pts.along_m[i]), kind, int(i)))
            graph.add_edge((kind, int(i)), (kind, "street", int(i)), weight=float(pts.access_m[i]))
    for e in range(net.n_edges):
        u, v, length = int(net.edge_u[e]), int(net.edge_v[e]), float(net.length_m[e])
        chain = sorted(on_edge.get(e, []))
        prev, prev_at = u, 0.0
        for at, kind, i in chain:
            graph.add_edge(prev, (kind, "street", i), weight=at - prev_at)
            prev, prev_at = (kind, "street", i), at
        graph.add_edge(prev, v, weight=length - prev_at)
    out = {}
    for i in np.flatnonzero(sites.edge >= 0):
        reached = nx.single_source_dijkstra_path_length(graph, ("s", int(i)), cutoff=limit_m)
        for node, metres in reached.items():
            if isinstance(node, tuple) and node[0] == "d" and len(node) == 2:
                out[(int(i), node[1])] = metres
    return out


def as_dict(tt: TravelTimes) -> dict:
    coo = tt.matrix.tocoo()
    return {(int(r), int(c)): float(w) for r, c, w in zip(coo.row, coo.col, coo.data, strict=True)}


def assert_same(tt: TravelTimes, oracle_m: dict, speed_mps: float) -> None:
    mine = as_dict(tt)
    assert mine.keys() == oracle_m.keys()
    for key, metres in oracle_m.items():
        assert mine[key] == pytest.approx(metres / speed_mps, abs=1e-6)


def test_hand_checked_times_on_the_tiny_grid(tiny_net):
    # a: edge 0 at 30 m, 10 m off the street; b: same edge at 50 m, 5 m off; c: edge 8 (4-7) at 20 m, 50 m off
    pts = points([(X0 + 30, Y0 + 10), (X0 + 50, Y0 + 5), (X0 + 150, Y0 + 120)], ids=["a", "b", "c"])
    tt = travel_times(tiny_net, pts, pts, limit_s=1000)
    table = tt.table.set_index(["site_id", "demand_id"])["walk_s"]
    assert table["a", "b"] == pytest.approx(10 + 20 + 5)  # same edge: directly along it
    assert table["a", "a"] == pytest.approx(20)  # out to the street and back
    assert table["a", "c"] == pytest.approx(10 + 70 + 100 + 20 + 50)  # via nodes 1 and 4
    assert table["c", "b"] == pytest.approx(50 + 20 + 100 + 50 + 5)
    assert len(table) == 9
    assert list(tt.site_ids) == ["a", "b", "c"]
    assert tt.site_ids.name == "site_id"
    assert tt.demand_ids.name == "demand_id"


def test_the_missing_edge_is_walked_around(tiny_net):
    # site on edge 2 (3-4) 10 m before node 4; demand on edge 9 (2-5) 10 m below node 5; edge 4-5 is missing
    site = points([(X0 + 90, Y0 + 100)], ids=["s"])
    dem = points([(X0 + 200, Y0 + 90)], ids=["d"])
    # around by nodes 4, 1, 2: 10 + 100 + 100 + 90 = 300 m (the straight line is 110 m)
    tt = travel_times(tiny_net, site, dem, limit_s=300)
    assert tt.table["walk_s"].tolist() == [pytest.approx(300.0)]
    assert travel_times(tiny_net, site, dem, limit_s=299.9).matrix.nnz == 0
    slow = travel_times(tiny_net, site, dem, limit_s=900, speed_mps=0.5)
    assert slow.table["walk_s"].tolist() == [pytest.approx(600.0)]
    assert slow.speed_mps == 0.5
    winter = travel_times(tiny_net, site, dem, limit_s=900, speed_mps="older_winter")
    assert winter.table["walk_s"].tolist() == [pytest.approx(300 / 1.08)]


def test_zero_walk_is_an_explicit_entry(tiny_net):
    pts = points([(X0 + 40, Y0)], ids=[1])
    tt = travel_times(tiny_net, pts, pts, limit_s=60)
    assert tt.matrix.nnz == 1
    assert tt.matrix.toarray().tolist() == [[0.0]]


def test_unsnapped_points_reach_nothing(tiny_net):
    sites = points([(X0 + 30, Y0 + 10), (X0, Y0 + 2000)], ids=[1, 2])
    dem = points([(X0 + 30, Y0 + 20), (X0 + 5000, Y0)], ids=[10, 20])
    with pytest.warns(PlannerWarning, match=r"`sites` points are farther .* 2 \(1 in all\)"):
        s = snap_points(tiny_net, sites, name="sites")
    with pytest.warns(PlannerWarning, match=r"`demand` points are farther .* 20 \(1 in all\)"):
        d = snap_points(tiny_net, dem, name="demand")
    tt = travel_times(tiny_net, s, d, limit_s=10_000)
    assert tt.table.to_dict("list") == {"site_id": [1], "demand_id": [10], "walk_s": [pytest.approx(30.0)]}
    assert tt.matrix.shape == (2, 2)


def test_stand_in_is_carried(tiny_net):
    pts = points([(X0 + 30, Y0 + 10)])
    assert not travel_times(tiny_net, pts, pts, limit_s=60).stand_in
    pts.attrs["provenance"] = STAND_IN
    assert travel_times(tiny_net, pts, pts, limit_s=60).stand_in


def test_bad_arguments(tiny_net):
    pts = points([(X0 + 30, Y0 + 10)])
    for bad in (0, -5, float("nan"), "soon"):
        with pytest.raises(InputError, match="`limit_s` must be a number of seconds > 0"):
            travel_times(tiny_net, pts, pts, limit_s=bad)
    with pytest.raises(InputError, match=r"walking speed 12\.0 m/s is outside"):
        travel_times(tiny_net, pts, pts, limit_s=60, speed_mps=12)
    with pytest.raises(InputError, match="unknown walking speed preset 'fast'"):
        travel_times(tiny_net, pts, pts, limit_s=60, speed_mps="fast")
    other = Snapped(
        ids=pd.Index([5]),
        edge=np.array([99]),
        along_m=np.array([1.0]),
        access_m=np.array([0.0]),
        x=np.array([0.0]),
        y=np.array([0.0]),
        far=pd.Index([]),
    )
    with pytest.raises(InputError, match=r"`demand` was snapped onto another network: points 5 \(1 in all\)"):
        travel_times(tiny_net, pts, other, limit_s=60)
    with pytest.raises(InputError, match="`sites` has no CRS"):
        travel_times(tiny_net, gpd.GeoDataFrame(geometry=shapely.points([(X0, Y0)])), pts, limit_s=60)


def test_exact_against_networkx_on_real_osm(helsinki_pbf):
    from planner.network import read_network
    from planner.synthetic import random_points

    net = read_network(helsinki_pbf, cache=False)
    sites = snap_points(net, random_points(net, 30, seed=11, index_name="site_id"))
    demand = snap_points(net, random_points(net, 300, seed=12, index_name="demand_id"))
    limit_s, speed = 600.0, 1.08
    tt = travel_times(net, sites, demand, limit_s=limit_s, speed_mps=speed)
    oracle = split_graph_times(net, sites, demand, limit_s * speed)
    assert len(oracle) > 500  # the test is not vacuous
    assert_same(tt, oracle, speed)


@st.composite
def small_cases(draw):
    n = draw(st.integers(2, 7))
    n_edges = draw(st.integers(1, 12))
    u = draw(st.lists(st.integers(0, n - 1), min_size=n_edges, max_size=n_edges))
    v = draw(st.lists(st.integers(0, n - 1), min_size=n_edges, max_size=n_edges))
    length = draw(
        st.lists(st.sampled_from([0.0, 1.0, 2.5, 4.0, 7.0, 10.0]), min_size=n_edges, max_size=n_edges)
    )

    def pts(k):
        e = draw(st.lists(st.integers(-1, n_edges - 1), min_size=k, max_size=k))
        frac = draw(st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0]), min_size=k, max_size=k))
        acc = draw(st.lists(st.sampled_from([0.0, 0.5, 3.0]), min_size=k, max_size=k))
        e = np.array(e, dtype=np.int64)
        along = np.where(e >= 0, np.array(frac) * np.array(length)[np.maximum(e, 0)], np.nan)
        return Snapped(
            ids=pd.RangeIndex(k),
            edge=e,
            along_m=along,
            access_m=np.array(acc),
            x=np.zeros(k),
            y=np.zeros(k),
            far=pd.RangeIndex(k)[e < 0],
        )

    net = StreetNetwork(
        node_id=np.arange(n, dtype=np.int64),
        x=np.zeros(n),
        y=np.zeros(n),
        edge_u=np.array(u, dtype=np.int64),
        edge_v=np.array(v, dtype=np.int64),
        length_m=np.array(length),
        crs=pyproj.CRS.from_epsg(32651),
    )
    limit_s = draw(st.sampled_from([0.5, 3.0, 8.0, 20.0]))
    return net, pts(draw(st.integers(0, 5))), pts(draw(st.integers(0, 6))), limit_s


@settings(max_examples=150, deadline=None)
@given(small_cases())
def test_matches_split_graph_oracle_on_random_graphs(case):
    # parallel segments, self-loops, zero lengths, points at segment ends and unsnapped points included
    net, sites, demand, limit_s = case
    tt = travel_times(net, sites, demand, limit_s=limit_s, speed_mps=1.0)
    assert_same(tt, split_graph_times(net, sites, demand, limit_s), 1.0)


def test_progress_bar_and_empty_inputs(tiny_net, capsys):
    pts = points([(X0 + 30, Y0 + 10), (X0 + 150, Y0 + 120)], ids=["a", "c"])
    quiet = travel_times(tiny_net, pts, pts, limit_s=400)
    shown = travel_times(tiny_net, pts, pts, limit_s=400, progress=True)
    assert as_dict(quiet) == as_dict(shown)
    assert "walk times" in capsys.readouterr().err
    none = pts.iloc[:0]
    assert travel_times(tiny_net, none, pts, limit_s=400).matrix.shape == (0, 2)
    empty = travel_times(tiny_net, pts, none, limit_s=400)
    assert empty.matrix.shape == (2, 0)
    assert empty.matrix.nnz == 0


def test_many_sites_across_blocks_match_the_oracle():
    # more sites than one block of the thread pool (256), so block offsets and ordering are exercised
    from planner.synthetic import grid_city, random_points

    net = grid_city(n_nodes=225, curved_share=0.3, seed=5)
    sites = snap_points(net, random_points(net, 700, seed=6, index_name="site_id"))
    demand = snap_points(net, random_points(net, 60, seed=7, index_name="demand_id"))
    tt = travel_times(net, sites, demand, limit_s=250)
    assert tt.stand_in
    oracle = split_graph_times(net, sites, demand, 250.0)
    assert len({i for i, _ in oracle}) > 600
    assert_same(tt, oracle, 1.0)


def test_whole_city_reach_grows_the_kernel_buffers():
    # an unbounded-looking limit: every search settles all ~3,000 nodes (heap > 1,024 entries) and emits
    # 20 x 100 pairs (> 1,024), so the kernel's growing buffers are used
    from planner.synthetic import grid_city, random_points

    net = grid_city(n_nodes=3000, seed=9)
    sites = snap_points(net, random_points(net, 20, seed=1, index_name="site_id"))
    demand = snap_points(net, random_points(net, 100, seed=2, index_name="demand_id"))
    tt = travel_times(net, sites, demand, limit_s=100_000)
    assert tt.matrix.nnz == 2000
    assert_same(tt, split_graph_times(net, sites, demand, 100_000.0), 1.0)
