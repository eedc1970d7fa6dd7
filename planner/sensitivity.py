"""Walking-speed sensitivity: the chosen plan evaluated again at other walking speeds.

Older people walk slower than the 1.0 m/s of planning practice, and slower still on winter ice (see
`planner.settings`). A plan chosen at one speed is evaluated at each speed of ``[sensitivity] speeds``:
the snapped points are reused and only the walk times change (the same street paths, divided by another
speed). With ``resolve = true`` the sites are also chosen again at each speed, so that a planner sees how
much of the loss a plan made for slower walkers would win back.

The result is a long table, one row per speed, service and district (and a ``total`` row), that
``sensitivity.csv`` holds and the report shows side by side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from planner.coverage import coverage_by_area, multi_tier_coverage
from planner.settings import resolve_speed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TierPlan:
    """What the sensitivity needs of one tier: its walk, its existing sites and the plan's open sites.

    Attributes
    ----------
    name, threshold_min
        The tier's name and covering walk in minutes.
    upgrade
        True for a tier that upgrades existing sites: it offers the basic service of every existing site
        and the upgraded service of the chosen ones.
    existing
        Ids of the existing sites of the tier (open today).
    chosen
        Ids the plan chose (new sites, or the sites to upgrade).
    """

    name: str
    threshold_min: float
    upgrade: bool
    existing: tuple
    chosen: tuple


#: ``resolve(tier, times) -> chosen ids``: the tier's model solved again on other walk times.
Resolver = Callable[[TierPlan, object], Sequence]


def speed_sensitivity(
    net,
    site_snaps: Mapping[str, object],
    demand_snap,
    demand: pd.DataFrame,
    plans: Sequence[TierPlan],
    *,
    speeds: Sequence[str | float],
    resolve: Resolver | None = None,
    area: str = "district_name",
    known: tuple[float, Mapping[str, object]] | None = None,
) -> pd.DataFrame:
    """Covered share of each service by area at each walking speed, for the plan (and re-solved plans).

    Parameters
    ----------
    net
        The run's `StreetNetwork`.
    site_snaps, demand_snap
        The run's snapped sites (per tier name) and demand points (`planner.snap.Snapped`), reused as they
        are: only the speed changes.
    demand
        Demand points indexed like the snapped demand, with ``weight`` and the `area` column (without it,
        one area ``"all"``).
    plans
        One `TierPlan` per tier.
    speeds
        Walking speeds: preset names (``"older_winter"``) or metres per second.
    resolve
        When given, also choose the sites again at each speed with ``resolve(plan, times)``.
    area
        The area column to report by.
    known
        ``(speed_mps, times by tier)`` already computed (the run's own): reused at that speed.

    Returns
    -------
    pd.DataFrame
        Columns ``speed`` (the name as given, or the m/s figure as text), ``speed_mps``, ``resolved``,
        ``tier``, ``kind`` (``new``, ``basic``, ``upgraded``), `area`, ``older_residents``,
        ``covered_share``; per speed and service, one row per area and a last ``total`` row.
    """
    from planner.costs import travel_times

    weights = demand["weight"].astype(float)
    areas = demand if area in demand.columns else demand.assign(**{area: "all"})
    thresholds = {p.name: p.threshold_min for p in plans}
    frames = []
    for speed in speeds:
        mps = resolve_speed(speed)
        if known is not None and abs(known[0] - mps) < 1e-12:
            times = dict(known[1])
        else:
            times = {
                p.name: travel_times(
                    net, site_snaps[p.name], demand_snap, limit_s=p.threshold_min * 60.0, speed_mps=mps
                )
                for p in plans
            }
        rounds = [(False, {p.name: tuple(p.chosen) for p in plans})]
        if resolve is not None:
            rounds.append((True, {p.name: tuple(resolve(p, times[p.name])) for p in plans}))
        for resolved, chosen in rounds:
            open_by_tier = {}
            for p in plans:
                if p.upgrade:
                    open_by_tier[f"{p.name}:basic"] = list(p.existing)
                    open_by_tier[f"{p.name}:upgraded"] = list(chosen[p.name])
                else:
                    open_by_tier[f"{p.name}:new"] = [*p.existing, *chosen[p.name]]
            services = {key: times[key.partition(":")[0]] for key in open_by_tier}
            cover = multi_tier_coverage(
                services,
                weights,
                thresholds_min={key: thresholds[key.partition(":")[0]] for key in services},
                open_by_tier=open_by_tier,
            )
            for key in services:
                table = coverage_by_area(areas, cover[f"covered_{key}"], weights, by=area, total=True)
                tier, _, kind = key.partition(":")
                frames.append(
                    pd.DataFrame(
                        {
                            "speed": str(speed),
                            "speed_mps": mps,
                            "resolved": resolved,
                            "tier": tier,
                            "kind": kind,
                            area: table.index.astype(str),
                            "older_residents": table["older_residents"].to_numpy(),
                            "covered_share": table["covered_share"].to_numpy(),
                        }
                    )
                )
        log.info("sensitivity at %s (%g m/s): %d services evaluated", speed, mps, len(plans))
    return pd.concat(frames, ignore_index=True)
