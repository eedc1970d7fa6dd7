"""Accessibility scores that see crowding, not only distance: 2SFCA, E2SFCA and gravity on network walk times.

They are the measures PySAL ``access`` computes, here on our sparse `planner.costs.TravelTimes`, written
afresh and vectorised (two sparse matrix-vector products, no loop over pairs). All three share one form.
With a decay weight ``f(t_ij)`` of the walk from site j to demand point i (0 beyond the catchment):

.. math::

    R_j = \\frac{S_j}{\\sum_i w_i f(t_{ij})}, \\qquad A_i = \\sum_j f(t_{ij}) R_j

where ``S_j`` is the supply of site j (places, beds, staff) and ``w_i`` the older residents at demand point i.
``R_j`` is the site's supply per older resident in its catchment, ``A_i`` the supply per older resident
available to i. Sum rule: ``sum_i w_i A_i = sum_j S_j`` over the sites that reach anybody.

* **2SFCA** (Luo & Wang 2003, *Environment and Planning B* 30(6):865-884): ``f = 1`` within the threshold.
* **E2SFCA** (Luo & Qi 2009, *Health & Place* 15(4):1100-1107): the catchment is cut into travel-time zones
  with Gaussian-derived weights 1.00, 0.68, 0.22 (their zones were 0-10, 10-20, 20-30 min by car; here, by
  default, 0-5, 5-10, 10-15 min of walk, the GB 50180-2018 life-circle levels).
* **gravity** (Joseph & Bantock 1982; Shen 1998; as in Luo & Wang 2003): ``f = exp(-beta * t_min)`` for every
  pair within the catchment (``times.limit_s`` unless a threshold is given); exponential rather than power
  decay so that a demand point on the site (0 s) has weight 1, not infinity.

A demand point with no supply in reach scores 0. A site whose catchment holds no older residents has an
undefined ratio: it is NaN, its supply counts for nobody, and a `PlannerWarning` lists those sites.
Multiply scores by 1,000 for places per 1,000 older residents (the unit of GB 50437's 40 beds per 1,000).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import InputError, PlannerWarning
from planner._validate import first_ids
from planner.costs import THRESHOLD_TOL_S, TravelTimes
from planner.coverage import label_stand_in
from planner.provenance import Provenance

log = logging.getLogger(__name__)

#: Default E2SFCA zones (upper bounds in minutes of walk): the 5-, 10- and 15-minute life circles.
E2SFCA_ZONES_MIN = (5.0, 10.0, 15.0)

#: Default E2SFCA zone weights: Luo & Qi (2009), Gaussian weights for their three zones ("slow decay").
E2SFCA_ZONE_WEIGHTS = (1.0, 0.68, 0.22)


@dataclass(frozen=True, eq=False)
class AccessScores:
    """Accessibility per demand point and supply ratio per site.

    Attributes
    ----------
    access
        Supply per older resident within reach of each demand point, indexed by ``demand_id`` (in the order of
        the demand weights given); 0 where no supply is in reach.
    ratio
        Supply per older resident in each site's catchment, indexed by ``site_id`` (in the order of the supply
        given); NaN where the catchment holds no older residents.
    method
        ``"2sfca"``, ``"e2sfca"`` or ``"gravity"``.
    params
        The parameters used (thresholds, zones, weights, beta).
    provenance
        What the walk times rest on (`planner.provenance`).
    """

    access: pd.Series
    ratio: pd.Series
    method: str
    params: Mapping = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def stand_in(self) -> bool:
        """True when the walk times rest on stand-in data (read from `provenance`)."""
        return self.provenance.is_stand_in


def two_step_fca(
    times: TravelTimes,
    demand_weights: pd.Series,
    supply: pd.Series,
    *,
    threshold_min: float,
) -> AccessScores:
    """Two-step floating catchment area (2SFCA) accessibility within a walking threshold.

    Parameters
    ----------
    times
        Sparse walk seconds from sites to demand points within ``times.limit_s``.
    demand_weights
        Older residents per demand point, indexed by exactly the ids of ``times.demand_ids``.
    supply
        Supply per site (places, beds, staff; >= 0), indexed by site ids of `times`; sites of `times` that are
        not in `supply` take no part.
    threshold_min
        Catchment in minutes of walk (e.g. 15); at most ``times.limit_s / 60``.

    Returns
    -------
    AccessScores
        ``access`` per demand point, ``ratio`` per site (see the module docstring for the formulas).
    """
    threshold_s = times.threshold_s(threshold_min)

    def decay(walk_s: np.ndarray) -> np.ndarray:
        return (walk_s <= threshold_s + THRESHOLD_TOL_S).astype(float)

    params = {"threshold_min": float(threshold_min)}
    return _scores(times, demand_weights, supply, decay=decay, method="2sfca", params=params)


def crowding(
    times: TravelTimes,
    demand_weights: pd.Series,
    sites: pd.DataFrame,
    open_ids: Sequence[str],
    *,
    threshold_min: float,
    label: str = "",
) -> AccessScores | None:
    """2SFCA places per older resident over the open sites of one tier, when they all have capacities.

    Crowding, not only distance: the places of the open sites within ``threshold_min`` are shared by all
    who reach them (`two_step_fca` with ``sites["capacity"]`` as supply).

    Parameters
    ----------
    times
        Sparse walk seconds from the tier's sites to demand points.
    demand_weights
        Older residents per demand point, indexed by exactly the ids of ``times.demand_ids``.
    sites
        The tier's sites, indexed by site id; a ``capacity`` column gives the places.
    open_ids
        Ids of the open sites (chosen and fixed).
    threshold_min
        The tier's walking threshold in minutes.
    label
        A name for the log lines (e.g. the tier name).

    Returns
    -------
    AccessScores or None
        The scores, or None when there is no open site, no ``capacity`` column or an open site without one
        (a score would then undercount the places). Warnings of `two_step_fca` (e.g. open sites whose
        catchment holds nobody) are logged, not raised.
    """
    open_ids = list(open_ids)
    if "capacity" not in sites or not open_ids or sites.loc[open_ids, "capacity"].isna().any():
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = two_step_fca(
            times,
            demand_weights,
            sites.loc[open_ids, "capacity"].astype(float),
            threshold_min=threshold_min,
        )
    for warning in caught:
        log.warning("%s: %s", label, warning.message)
    return scores


def enhanced_two_step_fca(
    times: TravelTimes,
    demand_weights: pd.Series,
    supply: pd.Series,
    *,
    zones_min: Sequence[float] | None = None,
    zone_weights: Sequence[float] | None = None,
) -> AccessScores:
    """Enhanced 2SFCA (E2SFCA, Luo & Qi 2009): the catchment in travel-time zones with decreasing weights.

    A pair whose walk ``t`` falls in zone k (``zones_min[k-1] < t <= zones_min[k]``; the first zone starts at
    0 and includes it) has weight ``zone_weights[k]``; beyond the last zone it has weight 0.

    Parameters
    ----------
    times
        Sparse walk seconds from sites to demand points within ``times.limit_s``.
    demand_weights
        Older residents per demand point, indexed by exactly the ids of ``times.demand_ids``.
    supply
        Supply per site (>= 0), indexed by site ids of `times`; sites not in `supply` take no part.
    zones_min
        Upper bounds of the zones in minutes, increasing; default ``(5, 10, 15)``. The last is the catchment
        and must be at most ``times.limit_s / 60``.
    zone_weights
        Weight of each zone (>= 0); default ``(1.0, 0.68, 0.22)``, the Gaussian weights of Luo & Qi (2009).

    Returns
    -------
    AccessScores
    """
    zones = E2SFCA_ZONES_MIN if zones_min is None else zones_min
    weights = E2SFCA_ZONE_WEIGHTS if zone_weights is None else zone_weights
    zones_s, weights_arr = _check_zones(zones, weights, times)

    def decay(walk_s: np.ndarray) -> np.ndarray:
        zone = np.searchsorted(zones_s + THRESHOLD_TOL_S, walk_s, side="left")
        return np.append(weights_arr, 0.0)[zone]

    params = {"zones_min": tuple(float(z) for z in zones), "zone_weights": tuple(float(x) for x in weights)}
    return _scores(times, demand_weights, supply, decay=decay, method="e2sfca", params=params)


def gravity_access(
    times: TravelTimes,
    demand_weights: pd.Series,
    supply: pd.Series,
    *,
    beta: float,
    threshold_min: float | None = None,
) -> AccessScores:
    """Gravity accessibility with competition and exponential decay ``f(t) = exp(-beta * t_min)``.

    Parameters
    ----------
    times
        Sparse walk seconds from sites to demand points within ``times.limit_s``.
    demand_weights
        Older residents per demand point, indexed by exactly the ids of ``times.demand_ids``.
    supply
        Supply per site (>= 0), indexed by site ids of `times`; sites not in `supply` take no part.
    beta
        Decay per minute of walk (>= 0): a pair ``t`` minutes apart weighs ``exp(-beta * t)``; e.g. 0.1 halves
        the weight every 6.9 min; 0 makes the measure 2SFCA within the catchment.
    threshold_min
        Catchment in minutes (pairs farther weigh 0); default ``times.limit_s / 60``, as the times are
        truncated there anyway.

    Returns
    -------
    AccessScores
    """
    try:
        beta_value = float(beta)
    except (TypeError, ValueError):
        raise InputError(f"`beta` must be a number (decay per minute, e.g. 0.1), got {beta!r}") from None
    if not math.isfinite(beta_value) or beta_value < 0:
        raise InputError(f"`beta` must be a finite number >= 0 (decay per minute, e.g. 0.1), got {beta!r}")
    threshold_s = times.limit_s if threshold_min is None else times.threshold_s(threshold_min)

    def decay(walk_s: np.ndarray) -> np.ndarray:
        return np.exp(-beta_value * walk_s / 60.0) * (walk_s <= threshold_s + THRESHOLD_TOL_S)

    params = {"beta": beta_value, "threshold_min": threshold_s / 60.0}
    return _scores(times, demand_weights, supply, decay=decay, method="gravity", params=params)


def _scores(
    times: TravelTimes,
    demand_weights: pd.Series,
    supply: pd.Series,
    *,
    decay: Callable[[np.ndarray], np.ndarray],
    method: str,
    params: Mapping,
) -> AccessScores:
    """The shared two-step computation, on the sparse matrix of decay weights."""
    w = times.aligned_weights(demand_weights, "demand_weights").to_numpy()
    s, rows = _check_supply(supply, times)
    coo = times.matrix.tocoo()
    slot = np.full(len(times.site_ids), -1, dtype=np.int64)
    slot[rows] = np.arange(len(rows))
    keep = slot[coo.row] >= 0
    f = decay(np.asarray(coo.data[keep], dtype=float))
    g = sp.csr_array((f, (slot[coo.row[keep]], coo.col[keep])), shape=(len(rows), len(times.demand_ids)))
    in_reach = g @ w  # older residents in each site's catchment, decay-weighted
    has = in_reach > 0
    ratio = np.full(len(rows), np.nan)
    ratio[has] = s[has] / in_reach[has]
    access = g.T @ np.where(has, ratio, 0.0)
    if not has.all():
        lonely = supply.index[~has]
        warnings.warn(
            f"{method}: {len(lonely):,} sites reach no older residents in their catchment: "
            f"{first_ids(lonely)}; "
            "their supply ratio is NaN and their supply counts for nobody",
            PlannerWarning,
            stacklevel=3,
        )
    access_s = pd.Series(access, index=times.demand_ids, name="access").reindex(demand_weights.index)
    access_s.index = demand_weights.index.rename("demand_id")
    ratio_s = pd.Series(ratio, index=supply.index.rename("site_id"), name="supply_ratio")
    for series in (access_s, ratio_s):
        label_stand_in(series, times.provenance)
        series.attrs["method"] = method
    log.info(
        "%s access: %s sites, %s supply; %s of %s demand points have supply in reach; %s sites reach nobody",
        method,
        f"{len(rows):,}",
        f"{float(s.sum()):,.0f}",
        f"{int((access > 0).sum()):,}",
        f"{len(access):,}",
        f"{int((~has).sum()):,}",
    )
    return AccessScores(access_s, ratio_s, method, dict(params), times.provenance)


def _check_supply(supply, times: TravelTimes) -> tuple[np.ndarray, np.ndarray]:
    """Supply values (float) in the order given, and the rows of their sites in `times`."""
    if not isinstance(supply, pd.Series):
        raise InputError(f"`supply` must be a pandas Series indexed by site id, got {type(supply).__name__}")
    problems: list[str] = []
    if supply.index.has_duplicates:
        problems.append(f"duplicate site ids {first_ids(supply.index[supply.index.duplicated()].unique())}")
    rows = times.site_ids.get_indexer_for(supply.index)
    if (rows < 0).any():
        problems.append(
            f"site ids {first_ids(supply.index[rows < 0])} are not in the travel times; "
            "index `supply` by ids of `times.site_ids`"
        )
    values = pd.to_numeric(supply, errors="coerce").astype(float)
    bad = values.isna() | ~np.isfinite(values)
    if bad.any():
        problems.append(
            f"not a finite number at sites {first_ids(supply.index[bad])}; give every site its supply"
        )
    neg = values < 0
    if neg.any():
        problems.append(
            f"negative at sites {first_ids(supply.index[neg])} (smallest {values[neg].min():g}); "
            "supply counts places, beds or staff and must be >= 0"
        )
    if problems:
        raise InputError(f"`supply` has {len(problems)} problem(s): " + "; ".join(problems))
    return values.to_numpy(), rows


def _check_zones(zones, weights, times: TravelTimes) -> tuple[np.ndarray, np.ndarray]:
    """E2SFCA zones in seconds and their weights, checked."""
    try:
        zones_arr = np.asarray(zones, dtype=float).ravel()
        weights_arr = np.asarray(weights, dtype=float).ravel()
    except (TypeError, ValueError):
        raise InputError(
            f"`zones_min` and `zone_weights` must be sequences of numbers, got {zones!r} and {weights!r}"
        ) from None
    problems: list[str] = []
    if len(zones_arr) == 0 or len(zones_arr) != len(weights_arr):
        problems.append(
            f"`zones_min` ({len(zones_arr)} values) and `zone_weights` ({len(weights_arr)} values) must be "
            "non-empty and of the same length"
        )
    if not np.isfinite(zones_arr).all() or (zones_arr <= 0).any() or (np.diff(zones_arr) <= 0).any():
        problems.append(f"`zones_min` must be positive, finite and increasing, got {tuple(zones)}")
    if not np.isfinite(weights_arr).all() or (weights_arr < 0).any():
        problems.append(f"`zone_weights` must be finite and >= 0, got {tuple(weights)}")
    if problems:
        raise InputError("E2SFCA zones: " + "; ".join(problems))
    times.threshold_s(zones_arr[-1], "zones_min[-1]")
    return zones_arr * 60.0, weights_arr
