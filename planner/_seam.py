"""The run in three steps, so that a sweep shares the first two: prepare -> walk times -> evaluate.

TEMPORARY home: these move into ``planner/pipeline.py`` (and `run` uses them) once the split of
``planner/scenario.py`` lands on main.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from planner.scenario import (
    RunResult,
    Scenario,
    _crowding,
    _curve,
    _load_areas,
    _load_demand,
    _load_network,
    _load_sites,
    _solve_joint,
    _solve_tier,
    _Stages,
    _with_service_areas,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Prepared:
    """What every variant of a base scenario shares: report areas, demand, streets, sites, snapped points."""

    scenario: Scenario
    areas: Any
    demand: Any
    demand_source: str
    net: Any
    tier_sites: dict
    demand_snap: Any
    site_snaps: dict
    stand_ins: tuple[str, ...]
    timings_s: dict = field(default_factory=dict)


def prepare(scenario: Scenario, *, progress: bool = False, stage: _Stages | None = None) -> Prepared:
    """Load the areas, demand, streets and sites of a scenario and snap the points onto the streets."""
    from planner.snap import snap_points

    own = stage is None
    stage = _Stages(progress=progress) if stage is None else stage
    stand_ins: list[str] = []
    with stage("areas"):
        areas = _load_areas(scenario)
    with stage("demand"):
        demand, demand_source = _load_demand(scenario, areas)
        if demand_source == "estimated":
            stand_ins.append("ESTIMATED demand positions (census totals spread over communities)")
    with stage("network"):
        net = _load_network(scenario, demand, areas)
        if net.stand_in:
            stand_ins.append("SYNTHETIC STAND-IN street network (not real streets)")
        log.info("%s", net.summary())
    with stage("sites"):
        tier_sites = {t.name: _load_sites(t, net, demand, scenario) for t in scenario.tiers}
        for t in scenario.tiers:
            sites = tier_sites[t.name]
            if "stand_in" in sites and bool(sites["stand_in"].any()):
                stand_ins.append(f"STAND-IN {t.name} sites (generated, no published list)")
    with stage("snap"):
        max_snap = scenario.network.max_snap_m
        demand_snap = snap_points(net, demand, max_snap_m=max_snap, name="demand")
        site_snaps = {
            name: snap_points(net, sites, max_snap_m=max_snap, name=f"{name} sites")
            for name, sites in tier_sites.items()
        }
    if own:
        stage.close()
    return Prepared(
        scenario=scenario,
        areas=areas,
        demand=demand,
        demand_source=demand_source,
        net=net,
        tier_sites=tier_sites,
        demand_snap=demand_snap,
        site_snaps=site_snaps,
        stand_ins=tuple(stand_ins),
        timings_s=dict(stage.timings),
    )


def walk_times(
    prepared: Prepared,
    *,
    speed_mps: float,
    limits_s: Mapping[str, float],
    progress: bool = False,
    stage: _Stages | None = None,
) -> dict:
    """Walk times of each tier's sites at one speed, to the given limit per tier (seconds).

    A variant with a shorter threshold filters these (see `evaluate`), which gives the very times a search
    bounded at its own threshold finds.
    """
    from planner.costs import travel_times

    own = stage is None
    stage = _Stages(progress=progress) if stage is None else stage
    with stage("travel_times"):
        times = {
            name: travel_times(
                prepared.net,
                prepared.site_snaps[name],
                prepared.demand_snap,
                limit_s=limits_s[name],
                speed_mps=speed_mps,
                progress=progress,
            )
            for name in prepared.tier_sites
        }
        if prepared.stand_ins:
            times = {k: replace(v, stand_in=True) for k, v in times.items()}
    if own:
        stage.close()
    return times


def up_to(times, limit_s: float):
    """The pairs of `times` within `limit_s` (no tolerance: as a search bounded there keeps them)."""
    import numpy as np
    import scipy.sparse as sp

    from planner.costs import TravelTimes

    if limit_s >= times.limit_s:
        return times
    mat = times.matrix
    keep = mat.data <= limit_s
    indptr = np.concatenate([[0], np.cumsum(keep)])[mat.indptr]
    matrix = sp.csr_array((mat.data[keep], mat.indices[keep], indptr), shape=mat.shape)
    matrix.has_sorted_indices = mat.has_sorted_indices
    return TravelTimes(
        times.site_ids, times.demand_ids, matrix, float(limit_s), times.speed_mps, times.stand_in
    )


def _mark_excluded(sites, exclude) -> Any:
    """A copy of `sites` whose ``note`` says which ones this scenario excludes."""
    sites = sites.copy()
    sites["note"] = ""
    sites.loc[sites.index.astype(str).isin(set(exclude)), "note"] = "excluded by the scenario"
    return sites


def evaluate(
    prepared: Prepared,
    times: Mapping,
    scenario: Scenario,
    *,
    curve: bool = True,
    service_areas: bool = True,
    stage: _Stages | None = None,
) -> RunResult:
    """Solve every tier of `scenario` on prepared inputs and walk times, and measure coverage.

    `scenario` may differ from the prepared one in the keys a sweep varies (speed, thresholds, counts,
    exclusions, budget, solver); `times` must be at its speed and reach its longest thresholds.
    """
    import numpy as np

    from planner.coverage import multi_tier_coverage

    own = stage is None
    stage = _Stages(progress=False) if stage is None else stage
    times = {t.name: up_to(times[t.name], t.threshold_min * 60.0) for t in scenario.tiers}
    tier_sites = {t.name: _mark_excluded(prepared.tier_sites[t.name], t.exclude) for t in scenario.tiers}
    demand = prepared.demand
    weights = demand["weight"]
    thresholds = {t.name: t.threshold_min for t in scenario.tiers}
    with stage("today"):
        existing = {
            t.name: list(tier_sites[t.name].index[tier_sites[t.name]["status"] == "existing"])
            for t in scenario.tiers
        }
        today = None
        if any(existing.values()):
            today = multi_tier_coverage(
                times, weights, thresholds_min=thresholds, open_by_tier=dict(existing)
            )
    outcomes = []
    joint = None
    with stage("solve"):
        if scenario.joint is not None:
            outcomes, joint = _solve_joint(scenario, tier_sites, times, demand)
        else:
            for t in scenario.tiers:
                outcomes.append(_solve_tier(t, tier_sites[t.name], times[t.name], demand, scenario))
    with stage("coverage"):
        open_by_tier = {o.spec.name: list(o.result.selected) + list(o.result.fixed) for o in outcomes}
        coverage = multi_tier_coverage(times, weights, thresholds_min=thresholds, open_by_tier=open_by_tier)
    with stage("access"):
        coverage, outcomes = _crowding(coverage, outcomes, weights)
    result_curve = None
    with stage("curve"):
        first_new = next((o for o in outcomes if o.spec.new), None)
        if curve and first_new is not None:
            result_curve = _curve(first_new, weights, scenario)
    with stage("service_areas"):
        if service_areas:
            outcomes = [
                _with_service_areas(o, prepared.net, prepared.site_snaps[o.spec.name], scenario)
                for o in outcomes
            ]
    if own:
        stage.close()
    net = prepared.net
    summary = {
        "source": net.source,
        "stand_in": bool(net.stand_in),
        "nodes": int(net.n_nodes),
        "edges": int(net.n_edges),
        "crs": net.crs.to_string(),
        "dropped_nodes": int(net.dropped_nodes),
        "dropped_parts": int(net.dropped_parts),
        "description": net.description,
        "speed_mps": scenario.network.speed_mps,
        "speed": scenario.network.speed,
        "street_km": round(float(np.sum(net.length_m)) / 1000.0, 1),
        "demand_far_from_street": [str(i) for i in prepared.demand_snap.far[:10]],
        "demand_far_count": len(prepared.demand_snap.far),
    }
    return RunResult(
        scenario=scenario,
        network_summary=summary,
        demand=demand,
        demand_source=prepared.demand_source,
        tiers=tuple(outcomes),
        coverage=coverage,
        today=today,
        areas=prepared.areas,
        curve=result_curve,
        stand_ins=tuple(dict.fromkeys(prepared.stand_ins)),
        timings_s={**prepared.timings_s, **stage.timings},
        joint=joint,
    )
