"""The run: a scenario's stages in order (`run`), and everything they produced (`RunResult`).

A run is a pure function of its scenario: inputs in, results out, no hidden global state, so that many
runs can be spread over a cluster. The stages, in order, are `STAGES`; each is timed and logged.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from planner._errors import InfeasibleError, InputError, PlannerWarning
from planner.checks import check_reach, check_size, check_weights
from planner.inputs import (
    FIXED_NOTE,
    fixed_ids,
    load_areas,
    load_demand,
    load_network,
    load_sites,
    usable_ids,
)
from planner.provenance import Provenance, provenance_of
from planner.scenario import Scenario, TierSpec

if TYPE_CHECKING:
    import pandas as pd
    from geopandas import GeoDataFrame

    from planner.costs import TravelTimes
    from planner.locate import CoverageCurve, SitingResult, TwoTierResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TierOutcome:
    """One tier's sites, walk times and plan.

    Attributes
    ----------
    spec
        The tier as the scenario gives it.
    sites
        Every site of the tier (WGS84, index ``site_id``): ``status`` ("new", "candidate", "upgraded",
        "existing"), ``tier``, ``note`` (why a site was excluded), and ``cost`` / ``capacity`` when given.
    times
        Walk times from every site of the tier to every demand point, within the threshold.
    result
        The tier's plan and how good it is.
    service_areas
        The chosen sites' street-following service areas (WGS84), or None.
    """

    spec: TierSpec
    sites: GeoDataFrame
    times: TravelTimes
    result: SitingResult
    service_areas: GeoDataFrame | None = None


@dataclass(frozen=True, eq=False)
class RunResult:
    """Everything a run produced; `planner.results.write_outputs` writes it to a folder.

    Attributes
    ----------
    scenario
        The scenario that was run.
    network_summary
        Nodes, edges, CRS, dropped parts, street length, speed, demand far from any street.
    demand
        Demand points (WGS84) indexed by ``demand_id``, with ``weight`` and area columns.
    demand_source
        ``"file"``, ``"osm-buildings"`` or ``"estimated"``.
    tiers
        One `TierOutcome` per tier, in the scenario's order.
    coverage
        Per demand point after the plan: ``walk_min_<tier>``, ``covered_<tier>``, ``covered_any`` (and
        ``access_<tier>`` for tiers with capacities).
    today
        The same before the plan (existing sites only), or None when no tier has existing sites.
    areas
        Report areas (WGS84) or None.
    curve
        Coverage curve of the first tier with new sites, or None.
    provenance
        What every input is, real or a stand-in, and where it came from (`planner.provenance`).
    timings_s
        Seconds per stage, in `STAGES` order.
    joint
        The joint plan when the tiers were solved together (``[joint]``), else None.
    sensitivity
        Covered share by service and district at each ``[sensitivity]`` speed (`planner.sensitivity`), or
        None.
    stages
        Optional stages (``access``, ``curve``, ``service_areas``, ``sensitivity``): ``"ok"``,
        ``"skipped: ..."`` or ``"failed: ..."`` (a failed optional stage is a warning; the plan stands).
    """

    scenario: Scenario
    network_summary: dict[str, Any]
    demand: GeoDataFrame
    demand_source: str
    tiers: tuple[TierOutcome, ...]
    coverage: pd.DataFrame
    today: pd.DataFrame | None
    areas: GeoDataFrame | None
    curve: CoverageCurve | None
    provenance: Provenance
    timings_s: dict[str, float]
    joint: TwoTierResult | None = None
    sensitivity: pd.DataFrame | None = None
    stages: dict[str, str] = field(default_factory=dict)

    @property
    def stand_ins(self) -> tuple[str, ...]:
        """What stands in for missing data, one line each (empty when every input is real)."""
        return tuple(self.provenance.banner_lines())

    def headline(self) -> str:
        """One line per tier: how many older residents the plan puts within the walk."""
        from planner.results import headline

        return headline(self)


#: The stages of a run, in order (a progress bar counts them).
STAGES = (
    "areas",
    "demand",
    "network",
    "sites",
    "snap",
    "travel_times",
    "today",
    "solve",
    "coverage",
    "access",
    "curve",
    "service_areas",
    "sensitivity",
)


class _Stages:
    """Times each stage, logs one INFO line, and moves a progress bar over the stages when asked."""

    def __init__(self, *, progress: bool) -> None:
        from tqdm.auto import tqdm

        self.timings: dict[str, float] = {}
        self.progress = progress  # the long solves show their own bars too
        self.bar = tqdm(total=len(STAGES), unit="stage", disable=not progress, leave=False)

    def __call__(self, name: str):
        import contextlib
        import time

        @contextlib.contextmanager
        def stage():
            self.bar.set_description(name.replace("_", " "))
            start = time.perf_counter()
            yield
            self.timings[name] = round(time.perf_counter() - start, 3)
            self.bar.update(1)
            log.info("stage %s: %.1f s", name, self.timings[name])

        return stage()

    def close(self) -> None:
        self.bar.close()


def run(scenario: Scenario, *, progress: bool = False) -> RunResult:
    """Run a scenario: load streets, demand and sites, compute walk times, solve every tier, measure coverage.

    The same scenario gives the same result: every random choice takes the scenario's seeds. The run is
    `prepare`, then `walk_times`, then `evaluate` (a sweep shares the first two among its variants).
    """
    stage = _Stages(progress=progress)
    prepared = prepare(scenario, stage=stage)
    times = walk_times(prepared, scenario, progress=progress, stage=stage)
    result = evaluate(prepared, times, scenario, stage=stage)
    stage.close()
    return result


@dataclass(frozen=True, eq=False)
class Prepared:
    """What every variant of a scenario shares: report areas, demand, streets, sites and snapped points."""

    scenario: Scenario
    areas: Any  # GeoDataFrame of report areas (WGS84) or None
    demand: Any  # GeoDataFrame (WGS84) indexed by demand_id, with `weight`
    demand_source: str
    net: Any  # StreetNetwork
    tier_sites: dict  # tier name -> GeoDataFrame of its sites (status "candidate" / "existing", note)
    demand_snap: Any  # Snapped
    site_snaps: dict  # tier name -> Snapped
    far_weight: float  # older residents too far from any street (see `planner.checks.check_reach`)
    timings_s: dict


def prepare(scenario: Scenario, *, stage: _Stages | None = None) -> Prepared:
    """The stages before walk times: report areas, demand, streets, sites, the points snapped onto them."""
    from planner.snap import snap_points

    stage = _Stages(progress=False) if stage is None else stage
    with stage("areas"):
        areas = load_areas(scenario)
    with stage("demand"):
        demand, demand_source = load_demand(scenario, areas)
        check_weights(demand)
    with stage("network"):
        net = load_network(scenario, demand, areas)
        log.info("%s", net.summary())
    with stage("sites"):
        tier_sites = {t.name: load_sites(t, net, demand, scenario) for t in scenario.tiers}
    with stage("snap"):
        max_snap = scenario.network.max_snap_m
        with warnings.catch_warnings():  # demand far from the streets: `check_reach` says it, with weights
            warnings.simplefilter("ignore", PlannerWarning)
            demand_snap = snap_points(net, demand, max_snap_m=max_snap, name="demand")
        site_snaps = {
            name: snap_points(net, sites, max_snap_m=max_snap, name=f"{name} sites")
            for name, sites in tier_sites.items()
        }
        far_weight = check_reach(net, demand, demand_snap, scenario)
    return Prepared(
        scenario,
        areas,
        demand,
        demand_source,
        net,
        tier_sites,
        demand_snap,
        site_snaps,
        far_weight,
        dict(stage.timings),
    )


def walk_times(
    prepared: Prepared, scenario: Scenario, *, progress: bool = False, stage: _Stages | None = None
) -> dict[str, TravelTimes]:
    """Walk times of each tier's sites at the scenario's speed, to each tier's threshold (tier name -> times).

    Times to a longer threshold serve a shorter one too: `evaluate` keeps the pairs within it, the very
    pairs a search bounded there finds (a sweep computes them once for the longest threshold).
    """
    from planner.costs import travel_times

    stage = _Stages(progress=False) if stage is None else stage
    with stage("travel_times"):
        check_size(prepared.net, prepared.demand, prepared.tier_sites, scenario)
        return {
            t.name: travel_times(
                prepared.net,
                prepared.site_snaps[t.name],
                prepared.demand_snap,
                limit_s=t.threshold_min * 60.0,
                speed_mps=scenario.network.speed_mps,
                progress=progress,
            )
            for t in scenario.tiers
        }


def evaluate(
    prepared: Prepared,
    times: dict[str, TravelTimes],
    scenario: Scenario,
    *,
    curve: bool = True,
    service_areas: bool = True,
    sensitivity: bool = True,
    stage: _Stages | None = None,
) -> RunResult:
    """The stages after walk times: solve every tier of `scenario`, measure coverage, curve, service areas.

    `scenario` may differ from the prepared one in what a sweep varies (speed, thresholds, counts,
    exclusions, budget, solver); `times` must be at its speed and reach each tier's threshold. `curve`,
    `service_areas` and `sensitivity` False skip those stages (a sweep needs none of them unless it keeps the
    run folders).
    """
    import numpy as np

    from planner.coverage import multi_tier_coverage

    stage = _Stages(progress=False) if stage is None else stage
    times = {t.name: _within_limit(times[t.name], t.threshold_min * 60.0) for t in scenario.tiers}
    tier_sites = {t.name: _with_notes(prepared.tier_sites[t.name], t) for t in scenario.tiers}
    demand, net, demand_snap = prepared.demand, prepared.net, prepared.demand_snap
    weights = demand["weight"]
    with stage("today"):
        existing = {
            t.name: list(tier_sites[t.name].index[tier_sites[t.name]["status"] == "existing"])
            for t in scenario.tiers
        }
        today = None
        if any(existing.values()):
            today = multi_tier_coverage(
                times,
                weights,
                thresholds_min={t.name: t.threshold_min for t in scenario.tiers},
                open_by_tier=dict(existing),
            )
    outcomes = []
    joint = None
    with stage("solve"):
        if scenario.joint is not None:
            outcomes, joint = _solve_joint(scenario, tier_sites, times, demand)
        else:
            for t in scenario.tiers:
                outcomes.append(
                    _solve_tier(
                        t, tier_sites[t.name], times[t.name], demand, scenario, progress=stage.progress
                    )
                )
    with stage("coverage"):
        open_by_tier = {o.spec.name: list(o.result.selected) + list(o.result.fixed) for o in outcomes}
        coverage = multi_tier_coverage(
            times,
            weights,
            thresholds_min={t.name: t.threshold_min for t in scenario.tiers},
            open_by_tier=open_by_tier,
        )
    stages: dict[str, str] = {}
    with stage("access"):
        coverage, outcomes = _optional(
            stages, "access", lambda: _crowding(coverage, outcomes, weights), (coverage, outcomes)
        )
    result_curve = None
    with stage("curve"):
        first_new = next((o for o in outcomes if o.spec.new), None)
        if first_new is None:
            stages["curve"] = "skipped: no tier opens new sites"
        elif not curve:
            stages["curve"] = "skipped: not asked for"
        else:
            result_curve = _optional(
                stages, "curve", lambda: _curve(first_new, weights, scenario, progress=stage.progress), None
            )
    with stage("service_areas"):
        if not service_areas:
            stages["service_areas"] = "skipped: not asked for"
        else:
            snaps = prepared.site_snaps
            outcomes = _optional(
                stages,
                "service_areas",
                lambda: [_with_service_areas(o, net, snaps[o.spec.name], scenario) for o in outcomes],
                outcomes,
            )
    speeds = None
    with stage("sensitivity"):
        if scenario.sensitivity is None:
            pass
        elif not sensitivity:
            stages["sensitivity"] = "skipped: not asked for"
        else:
            speeds = _optional(
                stages,
                "sensitivity",
                lambda: _sensitivity(
                    scenario,
                    net=net,
                    site_snaps=prepared.site_snaps,
                    demand_snap=demand_snap,
                    demand=demand,
                    tier_sites=tier_sites,
                    outcomes=outcomes,
                    times=times,
                ),
                None,
            )
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
        "demand_far_from_street": [str(i) for i in demand_snap.far[:10]],
        "demand_far_count": len(demand_snap.far),
        "demand_far_weight": round(prepared.far_weight, 3),
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
        provenance=provenance_of(prepared.areas, demand, net, *prepared.tier_sites.values()),
        timings_s={**prepared.timings_s, **stage.timings},
        joint=joint,
        sensitivity=speeds,
        stages=stages,
    )


def _within_limit(times: TravelTimes, limit_s: float) -> TravelTimes:
    """The pairs of `times` within `limit_s`, exactly as `travel_times` keeps them (no tolerance)."""
    import numpy as np
    import scipy.sparse as sp

    if limit_s >= times.limit_s:
        return times
    mat = times.matrix
    keep = mat.data <= limit_s
    indptr = np.concatenate([[0], np.cumsum(keep)])[mat.indptr]
    matrix = sp.csr_array((mat.data[keep], mat.indices[keep], indptr), shape=mat.shape)
    matrix.has_sorted_indices = mat.has_sorted_indices
    return replace(times, matrix=matrix, limit_s=float(limit_s))


def _with_notes(sites, tier: TierSpec) -> Any:
    """A copy of `sites` whose ``note`` marks what `tier` excludes and fixes (a variant may differ)."""
    sites = sites.copy()
    sites["note"] = ""
    sites.loc[sites.index.astype(str).isin(set(tier.exclude)), "note"] = "excluded by the scenario"
    sites.loc[sites.index.astype(str).isin(set(tier.fixed)), "note"] = FIXED_NOTE
    return sites


def _sensitivity(scenario: Scenario, *, net, site_snaps, demand_snap, demand, tier_sites, outcomes, times):
    """The plan at each ``[sensitivity]`` speed (snapped points reused), re-solved when ``resolve``."""
    from planner.sensitivity import TierPlan, speed_sensitivity

    plans = [
        TierPlan(
            name=o.spec.name,
            threshold_min=o.spec.threshold_min,
            upgrade=o.spec.kind == "upgrade",
            existing=tuple(o.sites.index[o.sites["status"].isin(["existing", "upgraded"])]),
            chosen=tuple(o.result.selected),
        )
        for o in outcomes
    ]
    specs = {t.name: t for t in scenario.tiers}

    def resolve(plan: TierPlan, walk) -> list:
        tier = specs[plan.name]
        return list(_solve_tier(tier, tier_sites[plan.name], walk, demand, scenario).result.selected)

    spec = scenario.sensitivity
    if spec.resolve and scenario.joint is not None:
        log.warning("[sensitivity] resolve: each tier is re-solved on its own, not jointly as [joint] asks")
    return speed_sensitivity(
        net,
        site_snaps,
        demand_snap,
        demand,
        plans,
        speeds=spec.speeds,
        resolve=resolve if spec.resolve else None,
        known=(scenario.network.speed_mps, times),  # the run's own walk times, at its own speed
    )


def _optional(stages: dict[str, str], name: str, compute, fallback):
    """Run an optional stage: on failure, a warning and its status in `stages`, and `fallback` instead."""
    try:
        value = compute()
    except Exception as exc:  # an optional stage never loses the run
        log.warning(
            "optional stage %s failed (%s: %s); the plan and tables stand", name, type(exc).__name__, exc
        )
        stages[name] = f"failed: {type(exc).__name__}: {exc}"
        return fallback
    stages[name] = "ok"
    return value


def _equity(tier: TierSpec, demand: GeoDataFrame):
    """The tier's equity floor (`planner.locate.Equity`), or None."""
    from planner.locate import Equity

    if tier.equity_min_share is None and not tier.equity_maximin:
        return None
    if tier.equity_by not in demand.columns:
        raise InputError(
            f"tier {tier.name!r}: equity_by = {tier.equity_by!r} is not a column of the demand; "
            f"columns are {[c for c in demand.columns if c != 'geometry']}"
        )
    return Equity(
        groups=demand[tier.equity_by].astype(str),
        min_share=tier.equity_min_share,
        maximin=tier.equity_maximin,
    )


def _capacity(tier: TierSpec, sites: GeoDataFrame, ids: list) -> pd.Series:
    """Places of the sites a capacitated model may open, each one given."""
    from planner._validate import first_ids

    if "capacity" not in sites.columns or sites.loc[ids, "capacity"].isna().any():
        missing = (
            ids
            if "capacity" not in sites.columns
            else [i for i in ids if sites.loc[i, "capacity"] != sites.loc[i, "capacity"]]
        )
        raise InputError(
            f'tier {tier.name!r}: model = "{tier.model}" needs the places of every site, but these have '
            "none: "
            f"{first_ids(missing)}; give capacity_column = <column of the site files>, or another model"
        )
    return sites.loc[ids, "capacity"].astype(float)


def _solve_model(
    tier: TierSpec,
    sites,
    times: TravelTimes,
    demand,
    solver,
    *,
    pool: list,
    fixed: list | None,
    progress: bool = False,
):
    """Solve the tier's model (`TierSpec.model`) over the sites in `pool`, `fixed` sites open (`progress`:
    bars inside the long solves)."""
    from planner import locate

    weights = demand["weight"]
    common = {
        "fixed": fixed,
        "candidates": pool,
        "method": solver.method,
        "time_limit_s": solver.time_limit_s,
    }
    gap = {"mip_gap": solver.mip_gap}
    p = tier.count
    model = tier.model
    if model in ("mclp", "backup"):
        return locate.mclp(
            times,
            weights,
            p=p,
            threshold_min=tier.threshold_min,
            equity=_equity(tier, demand),
            backup_weight=tier.backup_weight,
            progress=progress,
            **common,
            **gap,
        )
    if model == "capacitated":
        capacity = _capacity(tier, sites, pool + (fixed or []))
        return locate.capacitated_mclp(
            times, weights, capacity, p=p, threshold_min=tier.threshold_min, **common, **gap
        )
    far = {} if tier.far_min is None else {"far_s": tier.far_min * 60.0}
    if model == "p_median":
        return locate.p_median(times, weights, p=p, progress=progress, **common, **gap, **far)
    if model == "p_center":
        return locate.p_center(times, weights, p=p, **common)
    if model == "capacitated_p_median":
        capacity = _capacity(tier, sites, pool + (fixed or []))
        try:
            return locate.capacitated_p_median(times, weights, capacity, p=p, **common, **gap, **far)
        except InfeasibleError as exc:
            raise InfeasibleError(
                f"tier {tier.name!r}: {exc}. In a scenario file, far_s is the tier's far_min = <minutes>"
            ) from None
    if model == "lscp_backup":
        result = locate.lscp_backup(times, weights, threshold_min=tier.threshold_min, **common, **gap)
    elif tier.target_share is not None:
        result = _fewest_for_share(tier, times, weights, common, gap, progress=progress)
    else:
        result = locate.lscp(times, weights, threshold_min=tier.threshold_min, **common, **gap)
    if p and len(result.selected) > p:
        log.warning(
            "tier %s: model %s needs %d sites to cover what it must, more than the %d allowed; "
            "the plan keeps all %d",
            tier.name,
            model,
            len(result.selected),
            p,
            len(result.selected),
        )
    return result


def _fewest_for_share(
    tier: TierSpec, times: TravelTimes, weights, common: dict, gap: dict, *, progress: bool = False
):
    """The fewest sites covering `target_share` of the coverable weight, and among plans of that size the one
    covering most: the fewest-sites solve of `coverage_curve`, then MCLP with that many sites.

    Exact when both solves are proven optimal: some plan of k sites reaches the share, so the MCLP optimum
    with k sites does too.
    """
    from dataclasses import replace as _replace

    from planner.locate import coverage_curve, mclp

    curve = coverage_curve(
        times,
        weights,
        threshold_min=tier.threshold_min,
        max_sites=0,
        targets=(tier.target_share,),
        exact=True,  # the fewest sites by MIP, with its proven bound
        progress=progress,
        **common,
        **gap,
    )
    row = curve.needed.iloc[0]
    if row["sites"] is None or row["sites"] != row["sites"]:
        raise InputError(
            f"tier {tier.name!r}: no plan found that covers target_share = {tier.target_share:g} of the "
            f"coverable older residents ({row['status']}); lower target_share or raise [solver] time_limit_s"
        )
    plan = mclp(
        times,
        weights,
        p=int(row["sites"]),
        threshold_min=tier.threshold_min,
        progress=progress,
        **common,
        **gap,
    )
    optimal = row["status"] == "optimal" and plan.status == "optimal"
    return _replace(
        plan,
        model="lscp",
        objective=float(len(plan.selected)),
        bound=float(row["lower_bound"]),
        gap=(len(plan.selected) - float(row["lower_bound"])) / max(len(plan.selected), 1e-9),
        status="optimal" if optimal else plan.status if plan.status != "optimal" else row["status"],
        details={**plan.details, "target_share": tier.target_share, "covered_weight": plan.objective},
    )


def _solve_tier(
    tier: TierSpec, sites, times, demand, scenario: Scenario, *, progress: bool = False
) -> TierOutcome:
    fixed = fixed_ids(sites)  # the scenario's `fixed` list: open (or upgraded) whatever is chosen
    if tier.kind == "upgrade":
        # choose which existing sites to upgrade; the others do not offer the upgraded service
        pool = usable_ids(sites, "existing")
        result = _solve_model(
            tier, sites, times, demand, scenario.solver, pool=pool, fixed=fixed or None, progress=progress
        )
        status = dict.fromkeys([*result.selected, *fixed], "upgraded")
    else:
        existing = usable_ids(sites, "existing") + [i for i in fixed if sites.loc[i, "status"] == "existing"]
        pool = usable_ids(sites, "candidate")
        new_fixed = [i for i in fixed if sites.loc[i, "status"] == "candidate"]
        result = _solve_model(
            tier,
            sites,
            times,
            demand,
            scenario.solver,
            pool=pool,
            fixed=(existing + new_fixed) or None,
            progress=progress,
        )
        status = dict.fromkeys([*result.selected, *new_fixed], "new")
    return TierOutcome(spec=tier, sites=_with_status(sites, status), times=times, result=result)


def _with_status(sites, status: dict):
    """A copy of `sites` with the chosen ones marked ("new" / "upgraded")."""
    sites = sites.copy()
    sites["status"] = [status.get(i, s) for i, s in zip(sites.index, sites["status"], strict=True)]
    return sites


def _solve_joint(scenario: Scenario, tier_sites, times, demand) -> tuple[list[TierOutcome], TwoTierResult]:
    """The tier of new sites and the tier of upgrades in one model (shared budget, or "either" coverage)."""
    from planner.locate import two_tier

    joint, solver = scenario.joint, scenario.solver
    new_t = next(t for t in scenario.tiers if t.new)
    up_t = next(t for t in scenario.tiers if t.upgrade)
    new_sites, up_sites = tier_sites[new_t.name], tier_sites[up_t.name]
    budget = joint.budget
    result = two_tier(
        times[new_t.name],
        times[up_t.name],
        demand["weight"],
        threshold_new_min=new_t.threshold_min,
        threshold_upgrade_min=up_t.threshold_min,
        new=new_t.new,
        upgrade=up_t.upgrade,
        candidates_new=usable_ids(new_sites, "candidate"),
        fixed_new=usable_ids(new_sites, "existing") or None,
        candidates_upgrade=usable_ids(up_sites, "existing"),
        cost_new=new_sites["cost"] if budget is not None else None,
        cost_upgrade=up_sites["cost"] if budget is not None else None,
        budget=budget,
        objective=joint.objective,
        method=solver.method,
        time_limit_s=solver.time_limit_s,
        mip_gap=solver.mip_gap,
    )
    by_name = {
        new_t.name: TierOutcome(
            spec=new_t,
            sites=_with_status(new_sites, dict.fromkeys(result.new.selected, "new")),
            times=times[new_t.name],
            result=result.new,
        ),
        up_t.name: TierOutcome(
            spec=up_t,
            sites=_with_status(up_sites, dict.fromkeys(result.upgrade.selected, "upgraded")),
            times=times[up_t.name],
            result=result.upgrade,
        ),
    }
    return [by_name[t.name] for t in scenario.tiers], result


def _crowding(coverage, outcomes: list[TierOutcome], weights):
    """Crowding per tier (`planner.access.crowding`): ``access_<tier>``, open sites' ``supply_ratio``."""
    from planner.access import crowding

    coverage = coverage.copy()
    done = []
    for outcome in outcomes:
        open_ids = list(outcome.result.selected) + list(outcome.result.fixed)
        scores = crowding(
            outcome.times,
            weights,
            outcome.sites,
            open_ids,
            threshold_min=outcome.spec.threshold_min,
            label=outcome.spec.name,
        )
        if scores is None:
            done.append(outcome)
            continue
        coverage[f"access_{outcome.spec.name}"] = scores.access.reindex(coverage.index)
        sites = outcome.sites.assign(supply_ratio=scores.ratio.reindex(outcome.sites.index))
        done.append(replace(outcome, sites=sites))
    return coverage, done


def _curve(outcome: TierOutcome, weights, scenario: Scenario, *, progress: bool = False) -> CoverageCurve:
    from planner.locate import coverage_curve

    tier, spec = outcome.spec, scenario.curve
    sites = outcome.sites
    existing = usable_ids(sites, "existing") + usable_ids(sites, "upgraded") + fixed_ids(sites)
    candidates = usable_ids(sites, "candidate") + usable_ids(sites, "new")
    wanted = 3 * tier.new if spec.max_sites is None else spec.max_sites
    return coverage_curve(
        outcome.times,
        weights,
        threshold_min=tier.threshold_min,
        fixed=existing or None,
        candidates=candidates,
        max_sites=min(wanted, len(candidates)),
        targets=spec.targets,
        method=scenario.solver.method,
        time_limit_s=scenario.solver.time_limit_s,
        mip_gap=scenario.solver.mip_gap,
        exact=spec.exact,
        progress=progress,
    )


def _with_service_areas(outcome: TierOutcome, net, snapped_sites, scenario: Scenario) -> TierOutcome:
    from planner.isochrones import service_areas

    chosen = list(outcome.result.selected)
    if not chosen:
        return outcome
    areas = service_areas(
        net,
        snapped_sites.subset(chosen),
        threshold_s=outcome.spec.threshold_min * 60.0,
        speed_mps=scenario.network.speed_mps,
    )
    areas = areas.to_crs(4326)
    areas["tier"] = outcome.spec.name
    areas["site_id"] = areas.index
    return replace(outcome, service_areas=areas)
