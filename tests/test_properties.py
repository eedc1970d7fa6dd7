"""Properties of the chain snap -> travel times -> coverage -> siting, on random instances (hypothesis).

Covered weight never exceeds the total; opening a site never lowers coverage; a faster walk or a longer
threshold never lowers it; adding a street never lengthens a walk; datum round trips stay sub-metre.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.costs import travel_times
from planner.coverage import coverage_table
from planner.locate import mclp
from planner.synthetic import grid_city, random_points

NET = grid_city(n_nodes=225, block_m=90.0, seed=3)
LIMIT_S = 20 * 60.0


def _instance(seed: int, n_sites: int = 8, n_demand: int = 30):
    sites = random_points(NET, n_sites, seed=seed, index_name="site_id")
    demand = random_points(NET, n_demand, seed=seed + 1, index_name="demand_id")
    rng = np.random.default_rng(seed)
    weights = pd.Series(rng.integers(0, 40, n_demand).astype(float), index=demand.index)
    return sites, demand, weights


def _covered(times, weights, threshold_min: float, open_sites) -> float:
    table = coverage_table(times, weights, threshold_min=threshold_min, open_sites=list(open_sites))
    return float((table["covered"].astype(float) * weights).sum())


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(0, 7), threshold=st.floats(1.0, 20.0))
def test_coverage_is_bounded_and_opening_a_site_never_lowers_it(seed, k, threshold):
    sites, demand, weights = _instance(seed)
    times = travel_times(NET, sites, demand, limit_s=LIMIT_S)
    order = list(np.random.default_rng(seed).permutation(sites.index))
    fewer = _covered(times, weights, threshold, order[:k])
    more = _covered(times, weights, threshold, order[: k + 1])
    assert 0.0 <= fewer <= more + 1e-9
    assert more <= float(weights.sum()) + 1e-9
    # the best plan with one more site covers at least as much
    best_k = mclp(times, weights, p=k, threshold_min=threshold, method="exact").objective
    best_more = mclp(times, weights, p=k + 1, threshold_min=threshold, method="exact").objective
    assert best_k <= best_more + 1e-6 <= float(weights.sum()) + 2e-6


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    speed=st.floats(0.5, 1.5),
    faster=st.floats(0.0, 0.5),
    threshold=st.floats(1.0, 15.0),
    longer=st.floats(0.0, 5.0),
)
def test_a_faster_walk_or_a_longer_threshold_never_lowers_coverage(seed, speed, faster, threshold, longer):
    sites, demand, weights = _instance(seed)
    everyone = list(sites.index)
    slow = travel_times(NET, sites, demand, limit_s=LIMIT_S, speed_mps=speed)
    fast = travel_times(NET, sites, demand, limit_s=LIMIT_S, speed_mps=speed + faster)
    assert _covered(slow, weights, threshold, everyone) <= _covered(fast, weights, threshold, everyone) + 1e-9
    assert _covered(slow, weights, threshold, everyone) <= _covered(
        slow, weights, threshold + longer, everyone
    )


def _at_nodes(nodes: np.ndarray, name: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(NET.x[nodes], NET.y[nodes]),
        index=pd.Index([f"{name}{n}" for n in nodes], name=f"{name}_id"),
        crs=NET.crs,
    )


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_adding_a_street_never_lengthens_a_walk(seed):
    rng = np.random.default_rng(seed)
    degree = np.bincount(np.concatenate([NET.edge_u, NET.edge_v]), minlength=NET.n_nodes)
    inner = np.flatnonzero((degree[NET.edge_u] >= 3) & (degree[NET.edge_v] >= 3))
    gone = int(rng.choice(inner))
    keep = np.arange(NET.n_edges) != gone
    without = dataclasses.replace(
        NET,
        edge_u=NET.edge_u[keep],
        edge_v=NET.edge_v[keep],
        length_m=NET.length_m[keep],
        geometry=None if NET.geometry is None else NET.geometry[keep],
    )
    sites = _at_nodes(rng.choice(NET.n_nodes, 6, replace=False), "s")
    demand = _at_nodes(rng.choice(NET.n_nodes, 25, replace=False), "d")
    full = travel_times(NET, sites, demand, limit_s=LIMIT_S).table.set_index(["site_id", "demand_id"])
    less = travel_times(without, sites, demand, limit_s=LIMIT_S).table.set_index(["site_id", "demand_id"])
    assert less.index.isin(full.index).all()  # what was reachable stays reachable
    both = less.merge(full, left_index=True, right_index=True, suffixes=("_without", "_with"))
    assert (both["walk_s_with"] <= both["walk_s_without"] + 1e-6).all()


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    dx = (np.asarray(lon2) - lon1) * 111_320.0 * np.cos(np.radians(lat1))
    dy = (np.asarray(lat2) - lat1) * 110_540.0
    return np.hypot(dx, dy)


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(73.7, 134.7), lat=st.floats(18.2, 53.5))
def test_datum_round_trips_stay_sub_metre(lon, lat):
    from planner import coords

    for there, back in (
        (coords.wgs84_to_gcj02, coords.gcj02_to_wgs84),
        (coords.gcj02_to_bd09, coords.bd09_to_gcj02),
        (coords.wgs84_to_bd09, coords.bd09_to_wgs84),
    ):
        x, y = there(lon, lat)
        rx, ry = back(x, y)
        assert float(_metres(lon, lat, rx, ry)) < 1.0, there.__name__


@pytest.mark.parametrize("seed", [0, 1])
def test_the_chain_is_deterministic(seed):
    sites, demand, weights = _instance(seed)
    a = mclp(travel_times(NET, sites, demand, limit_s=LIMIT_S), weights, p=3, threshold_min=10)
    b = mclp(travel_times(NET, sites, demand, limit_s=LIMIT_S), weights, p=3, threshold_min=10)
    assert a.selected == b.selected and a.objective == b.objective
