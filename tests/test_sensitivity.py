"""Tests of planner.sensitivity: the plan evaluated at other walking speeds on the hand-checked tiny grid."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.sensitivity import TierPlan, speed_sensitivity
from planner.snap import snap_points


def _at_nodes(net, nodes, ids, index_name):
    xy = np.column_stack([net.x[nodes], net.y[nodes]])
    return gpd.GeoDataFrame(geometry=shapely.points(xy), index=pd.Index(ids, name=index_name), crs=net.crs)


@pytest.fixture
def setting(tiny_net):
    """Demand at nodes 1, 2, 8 (10, 20, 30 older residents; districts A, A, B); a centre candidate C at
    node 0 (1 -> 100 m, 2 -> 200 m, 8 -> 400 m) and stations E1 at node 2 and E2 at node 8."""
    demand = _at_nodes(tiny_net, [1, 2, 8], ["d1", "d2", "d8"], "demand_id")
    demand["weight"] = [10.0, 20.0, 30.0]
    demand["district_name"] = ["A", "A", "B"]
    centres = _at_nodes(tiny_net, [0], ["C"], "site_id")
    stations = _at_nodes(tiny_net, [2, 8], ["E1", "E2"], "site_id")
    snaps = {"centre": snap_points(tiny_net, centres), "station": snap_points(tiny_net, stations)}
    plans = [
        TierPlan("centre", 3.0, upgrade=False, existing=(), chosen=("C",)),
        TierPlan("station", 2.0, upgrade=True, existing=("E1", "E2"), chosen=("E2",)),
    ]
    return tiny_net, snaps, snap_points(tiny_net, demand), demand, plans


def _share(table, speed, tier, kind, area, *, resolved=False):
    row = table[
        (table["speed"] == speed)
        & (table["tier"] == tier)
        & (table["kind"] == kind)
        & (table["district_name"] == area)
        & (table["resolved"] == resolved)
    ]
    assert len(row) == 1
    return float(row["covered_share"].iloc[0])


def test_only_the_walk_times_change_with_the_speed(setting):
    net, snaps, demand_snap, demand, plans = setting
    got = speed_sensitivity(net, snaps, demand_snap, demand, plans, speeds=["planning", 2.0, 0.5])
    # centre, 3 minutes: 180 m at 1.0 m/s (d1), 360 m at 2.0 m/s (d1, d2), 90 m at 0.5 m/s (nobody)
    assert _share(got, "planning", "centre", "new", "A") == pytest.approx(10 / 30)
    assert _share(got, "planning", "centre", "new", "total") == pytest.approx(10 / 60)
    assert _share(got, "2.0", "centre", "new", "A") == pytest.approx(1.0)
    assert _share(got, "2.0", "centre", "new", "B") == 0.0
    assert _share(got, "0.5", "centre", "new", "total") == 0.0
    # stations, 2 minutes: 120 m at 1.0 m/s; E1 reaches d1 (100 m) and d2, E2 reaches d8
    assert _share(got, "planning", "station", "basic", "total") == pytest.approx(1.0)
    assert _share(got, "planning", "station", "upgraded", "total") == pytest.approx(30 / 60)
    assert _share(got, "planning", "station", "upgraded", "A") == 0.0
    # at 0.5 m/s (60 m) d1 falls out of E1's basic service
    assert _share(got, "0.5", "station", "basic", "A") == pytest.approx(20 / 30)
    assert set(got["speed_mps"]) == {1.0, 2.0, 0.5}
    assert not got["resolved"].any()


def test_resolve_chooses_again_at_each_speed(setting):
    net, snaps, demand_snap, demand, plans = setting
    seen = []

    def resolve(plan, times):
        seen.append((plan.name, round(float(times.limit_s))))
        return ("E1",) if plan.upgrade else plan.chosen  # upgrading E1 instead of E2

    got = speed_sensitivity(net, snaps, demand_snap, demand, plans, speeds=["planning"], resolve=resolve)
    assert sorted(seen) == [("centre", 180), ("station", 120)]
    assert _share(got, "planning", "station", "upgraded", "total", resolved=True) == pytest.approx(30 / 60)
    assert _share(got, "planning", "station", "upgraded", "A", resolved=True) == pytest.approx(1.0)
    assert _share(got, "planning", "station", "upgraded", "A", resolved=False) == 0.0


def test_scenario_section_is_validated():
    from planner._errors import InputError
    from planner.scenario import parse_scenario

    base = {
        "name": "s",
        "network": {"source": "synthetic"},
        "demand": {"source": "estimated"},
        "tiers": [{"name": "centre", "threshold_min": 15, "new": 3, "generate_candidates": 20}],
    }
    spec = parse_scenario(
        {**base, "sensitivity": {"speeds": ["planning", 0.9, "frail"], "resolve": True}}, check_files=False
    ).sensitivity
    assert spec.speeds == ("planning", 0.9, "frail")
    assert spec.resolve is True
    assert parse_scenario(base, check_files=False).sensitivity is None
    with pytest.raises(InputError, match=r"\[sensitivity\] speeds: unknown walking speed preset 'slow'"):
        parse_scenario({**base, "sensitivity": {"speeds": ["slow"]}}, check_files=False)
    with pytest.raises(InputError, match=r"\[sensitivity\] speeds = \[\] must be a non-empty list"):
        parse_scenario({**base, "sensitivity": {"speeds": []}}, check_files=False)
    with pytest.raises(InputError, match="did you mean 'resolve'"):
        parse_scenario({**base, "sensitivity": {"speeds": ["frail"], "resolved": True}}, check_files=False)


def test_known_walk_times_are_reused_at_their_speed(setting):
    from planner.costs import travel_times

    net, snaps, demand_snap, demand, plans = setting
    # walk times at 2.0 m/s handed in as if they were the run's times at 1.0 m/s: they are used as given
    fast = {
        p.name: travel_times(net, snaps[p.name], demand_snap, limit_s=p.threshold_min * 60, speed_mps=2.0)
        for p in plans
    }
    got = speed_sensitivity(
        net, snaps, demand_snap, demand, plans, speeds=["planning", 0.5], known=(1.0, fast)
    )
    assert _share(got, "planning", "centre", "new", "A") == pytest.approx(1.0)  # 2.0 m/s reach, not 1.0
    assert _share(got, "0.5", "centre", "new", "total") == 0.0  # other speeds are computed
