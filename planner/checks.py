"""Checks a run makes between its stages, so that it never answers with a plan that only looks valid.

- `check_weights`: some older residents to cover (not every weight zero);
- `check_reach`: most demand reaches the streets (else the likely cause and both bounding boxes);
- `check_size`: the travel-time table fits in memory (an estimate before it is computed).
"""

from __future__ import annotations

import logging
import math

import numpy as np

from planner import settings
from planner._errors import InputError
from planner._validate import first_ids

log = logging.getLogger(__name__)


def _box(bounds) -> str:
    west, south, east, north = (float(v) for v in bounds)
    return f"[{west:.4f}, {south:.4f}, {east:.4f}, {north:.4f}]"


def _overlap(a, b) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def network_bounds_wgs84(net) -> tuple[float, float, float, float]:
    """West, south, east, north of the street network in degrees (WGS84)."""
    import pyproj

    to_wgs = pyproj.Transformer.from_crs(net.crs, 4326, always_xy=True)
    xs = [float(np.min(net.x)), float(np.max(net.x))]
    ys = [float(np.min(net.y)), float(np.max(net.y))]
    lon, lat = to_wgs.transform([xs[0], xs[1], xs[0], xs[1]], [ys[0], ys[0], ys[1], ys[1]])
    return (min(lon), min(lat), max(lon), max(lat))


def check_weights(demand) -> None:
    """Stop when there is nobody to cover (every weight zero)."""
    total = float(demand["weight"].sum())
    if not total > 0:
        raise InputError(
            f"every demand point weighs 0 ({len(demand):,} points): there are no older residents to cover; "
            "check [demand] weight names the column of older residents"
        )


def check_reach(net, demand, snapped, scenario) -> float:
    """Stop when most demand weight is farther than ``max_snap_m`` from every street; return the far weight.

    Raises
    ------
    InputError
        Naming the share, the likely cause (swapped columns, a wrong datum or EPSG, a network of another area)
        and the two bounding boxes.
    """
    weights = demand["weight"]
    total = float(weights.sum())
    far_weight = float(weights.reindex(snapped.far).sum()) if len(snapped.far) else 0.0
    if not far_weight:
        return 0.0
    share = far_weight / total if total else 1.0
    limit = scenario.network.max_snap_m or settings.DEFAULT_MAX_SNAP_M
    if share <= settings.FAR_DEMAND_STOP_SHARE:
        log.warning(
            "%s demand points (%s older residents, %.1f %%) are farther than %g m from every street and "
            "count as not covered: %s",
            f"{len(snapped.far):,}",
            f"{far_weight:,.0f}",
            100 * share,
            limit,
            first_ids(snapped.far),
        )
        return far_weight
    demand_box = tuple(float(v) for v in demand.total_bounds)
    net_box = network_bounds_wgs84(net)
    swapped = (demand_box[1], demand_box[0], demand_box[3], demand_box[2])
    if not _overlap(demand_box, net_box) and _overlap(swapped, net_box):
        cause = "longitude and latitude look swapped in the demand file (swap the lon/lat columns)"
    elif not _overlap(demand_box, net_box):
        cause = (
            "the demand and the streets are in different places: a street network of another area, points "
            "of another city, or coordinates in another EPSG than the one given"
        )
    else:
        cause = (
            "the demand's datum or EPSG may be wrong (Chinese data are often GCJ-02 or BD-09: set [demand] "
            "crs), the network may cover only part of the area, or max_snap_m is too small"
        )
    raise InputError(
        f"{100 * share:.0f} % of the older residents ({far_weight:,.0f} of {total:,.0f}; "
        f"{len(snapped.far):,} of {len(demand):,} demand points) are farther than {limit:g} m from every "
        f"street, so a plan would cover almost nobody. Likely cause: {cause}. Demand bounding box "
        f"{_box(demand_box)}, street network bounding box {_box(net_box)} (west, south, east, north, WGS84)"
    )


def estimate_pairs(net, n_sites: int, n_demand: int, *, reach_m: float) -> int:
    """Site-demand pairs within `reach_m` of walk, if the demand were spread evenly over the network's box."""
    width = float(np.ptp(net.x)) + 2 * reach_m
    height = float(np.ptp(net.y)) + 2 * reach_m
    share = min(1.0, math.pi * reach_m**2 / max(width * height, 1.0))
    return math.ceil(n_sites * n_demand * share)


def check_size(net, demand, tier_sites, scenario) -> None:
    """Stop before travel times when the table would not fit (`planner.settings.MAX_TRAVEL_PAIRS`)."""
    speed = scenario.network.speed_mps
    estimates = {
        t.name: estimate_pairs(
            net, len(tier_sites[t.name]), len(demand), reach_m=t.threshold_min * 60.0 * speed
        )
        for t in scenario.tiers
    }
    pairs = sum(estimates.values())
    gib = pairs * settings.BYTES_PER_PAIR / 2**30
    log.info("travel times: about %s site-demand pairs expected (%.1f GiB)", f"{pairs:,}", gib)
    if pairs > settings.MAX_TRAVEL_PAIRS:
        parts = ", ".join(f"{name} {n:,}" for name, n in estimates.items())
        raise InputError(
            f"the travel-time table would hold about {pairs:,} site-demand pairs ({parts}), about "
            f"{gib:,.1f} GiB of memory, more than the limit of {settings.MAX_TRAVEL_PAIRS:,} pairs "
            "(planner.settings.MAX_TRAVEL_PAIRS); lower threshold_min, use fewer candidates "
            "(generate_candidates) or fewer demand points, or cut the study area ([network] bbox)"
        )
