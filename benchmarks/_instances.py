"""Synthetic siting instances for the benchmarks (labelled ``stand_in=True``: not real streets or people).

Demand is clustered like a city (a few dense centres, many smaller neighbourhoods, a thin background) over a
square of `side_m`; candidate and existing sites are drawn near demand. Walk distance is the straight line
times
a detour factor (1.3 by default, a common ratio of network to straight-line distance in grid-like cities),
kept
only within the cut-off, so the travel times are sparse as network times would be.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from planner.costs import TravelTimes
from planner.synthetic import STAND_IN_POINTS


@dataclass(frozen=True, eq=False)
class Instance:
    """A synthetic instance: travel times, weights, and which sites are candidates or existing."""

    times: TravelTimes
    weights: pd.Series
    candidates: pd.Index
    existing: pd.Index
    demand_xy: np.ndarray
    site_xy: np.ndarray
    cutoff_m: float
    detour: float


def _clustered_points(
    rng: np.random.Generator, n: int, side_m: float, n_clusters: int, spread_m: float
) -> np.ndarray:
    """`n` points: 85 % in Gaussian clusters of varied size (median sd `spread_m`), 15 % uniform, in the
    square.
    """
    centres = rng.uniform(0.05 * side_m, 0.95 * side_m, size=(n_clusters, 2))
    spread = rng.lognormal(np.log(spread_m), 0.6, size=n_clusters)
    share = rng.dirichlet(np.full(n_clusters, 2.0))
    n_cl = int(0.85 * n)
    which = rng.choice(n_clusters, size=n_cl, p=share)
    pts = centres[which] + rng.normal(size=(n_cl, 2)) * spread[which, None]
    pts = np.vstack([pts, rng.uniform(0, side_m, size=(n - n_cl, 2))])
    return np.clip(pts, 0, side_m)


def city_instance(
    n_demand: int = 50_000,
    n_candidates: int = 2_000,
    n_existing: int = 300,
    *,
    side_m: float = 43_800.0,
    cutoff_m: float = 900.0,
    detour: float = 1.3,
    speed_mps: float = 1.0,
    n_clusters: int = 400,
    spread_m: float = 2_190.0,
    seed: int = 0,
) -> Instance:
    """A synthetic city: clustered demand, sites near demand, walk seconds = detour x straight line / speed.

    Site ids are ``"c0000"...`` (candidates) and ``"e000"...`` (existing); demand ids ``0..n_demand-1``;
    weights
    are older residents per point (lognormal, mean about 100). The travel-time limit is the cut-off.
    The defaults are calibrated on the instance of ``shared/docs/BASELINE.md`` (43.8 km square, 50,000 demand
    points, about 5.1 M people): 2,000 candidates reach about 100,000 demand pairs within 900 m (104,163
    there).
    Smaller `spread_m` or fewer clusters give denser, harder instances (more overlap between sites).
    """
    rng = np.random.default_rng(seed)
    demand_xy = _clustered_points(rng, n_demand, side_m, n_clusters, spread_m)
    weights = np.maximum(1, np.round(rng.lognormal(np.log(80), 0.7, size=n_demand)))
    n_sites = n_candidates + n_existing
    pick = rng.choice(n_demand, size=n_sites, replace=False)
    site_xy = np.clip(demand_xy[pick] + rng.normal(scale=150.0, size=(n_sites, 2)), 0, side_m)
    tree_d = cKDTree(demand_xy)
    tree_s = cKDTree(site_xy)
    dist = tree_s.sparse_distance_matrix(tree_d, cutoff_m / detour, output_type="coo_matrix")
    walk_s = dist.data * detour / speed_mps
    matrix = sp.csr_array((walk_s, (dist.row, dist.col)), shape=(n_sites, n_demand))
    matrix.sum_duplicates()
    site_ids = pd.Index(
        [f"c{i:04d}" for i in range(n_candidates)] + [f"e{i:03d}" for i in range(n_existing)], name="site_id"
    )
    demand_ids = pd.RangeIndex(n_demand, name="demand_id")
    times = TravelTimes(site_ids, demand_ids, matrix, cutoff_m / speed_mps, speed_mps, STAND_IN_POINTS)
    return Instance(
        times=times,
        weights=pd.Series(weights, index=demand_ids, name="older"),
        candidates=site_ids[:n_candidates],
        existing=site_ids[n_candidates:],
        demand_xy=demand_xy,
        site_xy=site_xy,
        cutoff_m=cutoff_m,
        detour=detour,
    )


def dense_cost(inst: Instance, sites: pd.Index, *, missing_s: float | None = None) -> np.ndarray:
    """Dense ``(n_demand, n_sites)`` walk seconds for `sites`, absent pairs set to `missing_s` (spopt's
    format).

    `missing_s` defaults to 10 x the cut-off, which no radius check accepts.
    """
    rows = inst.times.site_ids.get_indexer(sites)
    sub = inst.times.matrix[rows]
    fill = 10 * inst.times.limit_s if missing_s is None else missing_s
    out = np.full(sub.shape, fill, dtype=np.float64)
    coo = sub.tocoo()
    out[coo.row, coo.col] = coo.data
    return out.T.copy()


def straight_line_cost(inst: Instance, sites: pd.Index, demand: np.ndarray) -> np.ndarray:
    """Dense ``(len(demand), n_sites)`` walk seconds with no cut-off (detour x straight line / speed)."""
    rows = inst.times.site_ids.get_indexer(sites)
    diff = inst.demand_xy[demand][:, None, :] - inst.site_xy[rows][None, :, :]
    return np.hypot(diff[..., 0], diff[..., 1]) * inst.detour / inst.times.speed_mps
