"""Input checks and helpers shared by every siting model in `planner.locate`.

Every model starts with `prepare`, which validates all inputs at once (one `InputError` listing
every problem) and returns an `Instance`: the travel times re-ordered canonically (sites and demand sorted by
id, so a shuffled input gives the same model and the same plan), the weights as an array, and the positions of
fixed and candidate sites.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import InputError
from planner._validate import first_ids, raise_if
from planner.costs import TravelTimes, id_order, nearest_open, threshold_problems, within
from planner.locate._result import SitingResult
from planner.settings import DEFAULT_MIP_GAP, DEFAULT_TIME_LIMIT_S

log = logging.getLogger(__name__)

#: Methods every model accepts.
METHODS = ("auto", "exact", "heuristic")


@dataclass(frozen=True, eq=False)
class Instance:
    """A validated siting problem in canonical order (sites and demand sorted by id).

    Attributes
    ----------
    site_ids, demand_ids
        Sorted ids; rows and columns of `walk` and `cover`.
    input_demand_ids
        The demand ids in the caller's order (`times.demand_ids`); per-demand results come in that order.
    weight
        Demand weight (older residents) per column of `cover`, float.
    walk
        ``(n_sites, n_demand)`` CSR array of walk seconds (absent = beyond `limit_s`).
    cover
        ``(n_sites, n_demand)`` boolean CSR array: walk within the threshold.
    threshold_s
        Coverage threshold in seconds.
    fixed, candidates
        Row positions (sorted, i.e. by id) of fixed sites and of candidate sites.
    stand_in
        True when the travel times rest on stand-in data.
    """

    site_ids: pd.Index
    demand_ids: pd.Index
    input_demand_ids: pd.Index
    weight: np.ndarray
    walk: sp.csr_array
    cover: sp.csr_array
    threshold_s: float
    fixed: np.ndarray
    candidates: np.ndarray
    stand_in: bool = False

    @property
    def n_sites(self) -> int:
        """Number of sites (rows)."""
        return len(self.site_ids)

    @property
    def n_demand(self) -> int:
        """Number of demand points (columns)."""
        return len(self.demand_ids)

    def fixed_count(self) -> np.ndarray:
        """Per demand column: how many fixed sites cover it."""
        return open_count(self.cover, self.fixed)

    def with_threshold(self, threshold_s: float) -> Instance:
        """The same instance with another coverage threshold (checked against the travel-time limit)."""
        return Instance(
            self.site_ids,
            self.demand_ids,
            self.input_demand_ids,
            self.weight,
            self.walk,
            within(self.walk, threshold_s),
            float(threshold_s),
            self.fixed,
            self.candidates,
            self.stand_in,
        )


def open_count(cover: sp.csr_array, rows: Iterable[int]) -> np.ndarray:
    """Per demand column: how many of the site rows `rows` cover it."""
    rows = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype=np.int64)
    counts = np.zeros(cover.shape[1], dtype=np.int64)
    if len(rows):
        sub = cover[rows]
        np.add.at(counts, sub.indices, 1)
    return counts


def site_positions(site_ids: pd.Index, ids, name: str) -> tuple[np.ndarray, list[str]]:
    """Row positions of the site ids `ids` in `site_ids` (sorted by id) and the problems found."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        ids = [ids]
    ids = pd.Index(list(ids))
    problems = []
    if ids.has_duplicates:
        problems.append(f"`{name}` lists ids twice: {first_ids(ids[ids.duplicated()].unique())}")
        ids = ids.unique()
    pos = site_ids.get_indexer(ids)
    unknown = ids[pos < 0]
    if len(unknown):
        problems.append(
            f"`{name}` has site ids the travel times do not hold: {first_ids(unknown)}; "
            f"known site ids are e.g. {first_ids(site_ids[:3], limit=3)}"
        )
    return np.sort(pos[pos >= 0]).astype(np.int64), problems


def count_problems(p, name: str, n_candidates: int, *, allow_none: bool = False) -> list[str]:
    """Problems of a site count `p` (an int between 0 and the number of candidates)."""
    if p is None:
        return [] if allow_none else [f"`{name}` is required: the number of new sites to open"]
    if isinstance(p, bool) or not isinstance(p, numbers.Integral):
        if isinstance(p, numbers.Real) and float(p).is_integer():
            p = int(p)
        else:
            return [f"`{name}` must be a whole number of sites, got {p!r}"]
    if p < 0:
        return [f"`{name}` must be >= 0, got {p}"]
    if p > n_candidates:
        return [
            f"`{name}` = {p:,} exceeds the {n_candidates:,} candidate sites; "
            f"lower `{name}` or pass more `candidates`"
        ]
    return []


def method_problems(method, time_limit_s, mip_gap) -> list[str]:
    """Problems of the solver options."""
    problems = []
    if method not in METHODS:
        problems.append(f"`method` must be one of {', '.join(METHODS)}, got {method!r}")
    if time_limit_s is not None and (
        not isinstance(time_limit_s, numbers.Real) or not np.isfinite(time_limit_s) or time_limit_s <= 0
    ):
        problems.append(f"`time_limit_s` must be a positive number of seconds, got {time_limit_s!r}")
    if mip_gap is not None and (not isinstance(mip_gap, numbers.Real) or not (0 <= mip_gap < 1)):
        problems.append(f"`mip_gap` must be a relative gap in [0, 1), got {mip_gap!r}")
    return problems


def prepare(
    times: TravelTimes,
    weights: pd.Series,
    *,
    threshold_min: float,
    fixed=None,
    candidates=None,
    p=None,
    p_name: str = "p",
    p_required: bool = True,
    method: str = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    extra_problems: Iterable[str] = (),
    what: str = "siting model",
) -> Instance:
    """Validate the common inputs of a siting model and return the canonical `Instance`.

    Collects every problem (weights, ids, p, threshold, method) and raises one `InputError` listing them all.

    Parameters
    ----------
    times
        Sparse site x demand walk seconds.
    weights
        Older residents per demand point, a Series aligned by label with ``times.demand_ids``.
    threshold_min
        Coverage threshold in minutes (a pair covers when ``walk_s <= threshold_min * 60``).
    fixed
        Ids of sites open anyway (existing or required); they cover and do not count against `p`.
    candidates
        Ids eligible to open; default every site that is not fixed.
    p
        Number of new sites (checked when `p_required` or given).
    p_name
        Name of `p` in messages.
    p_required
        Whether `p` must be given.
    method, time_limit_s, mip_gap
        Solver options, checked here.
    extra_problems
        Problems a model found in its own arguments, reported together with these.
    what
        The model's name for the message.
    """
    if not isinstance(times, TravelTimes):
        raise InputError(
            f"`times` must be a planner.costs.TravelTimes, got {type(times).__name__}; "
            "build it with planner.costs.travel_times(...) or TravelTimes.from_table(...)"
        )
    problems = list(extra_problems)
    problems += times.weight_problems(weights)
    problems += threshold_problems(threshold_min, times.limit_s)
    problems += method_problems(method, time_limit_s, mip_gap)
    site_order = id_order(times.site_ids)
    site_ids = times.site_ids[site_order]
    fixed_pos, fixed_problems = site_positions(site_ids, [] if fixed is None else fixed, "fixed")
    problems += fixed_problems
    if candidates is None:
        cand_pos = np.setdiff1d(np.arange(len(site_ids)), fixed_pos)
    else:
        cand_pos, cand_problems = site_positions(site_ids, candidates, "candidates")
        problems += cand_problems
        both = np.intersect1d(cand_pos, fixed_pos)
        if len(both):
            problems.append(
                f"sites {first_ids(site_ids[both])} are both `fixed` and `candidates`; a fixed site is open "
                "anyway, so remove it from `candidates`"
            )
    if len(cand_pos) == 0:
        problems.append(
            "the candidate set is empty: no site is eligible to open; pass `candidates=` with site ids "
            "that are not fixed"
        )
    if p_required or p is not None:
        problems += count_problems(p, p_name, len(cand_pos), allow_none=not p_required)
    raise_if(problems, f"`{what}` inputs")

    demand_order = id_order(times.demand_ids)
    demand_ids = times.demand_ids[demand_order]
    walk = sp.csr_array(times.matrix)[site_order][:, demand_order]
    walk.sort_indices()
    walk = sp.csr_array(walk)
    weight = times.aligned_weights(weights).reindex(demand_ids).to_numpy()
    threshold_s = float(threshold_min) * 60.0
    inst = Instance(
        site_ids=site_ids,
        demand_ids=demand_ids,
        input_demand_ids=times.demand_ids,
        weight=weight,
        walk=walk,
        cover=within(walk, threshold_s),
        threshold_s=threshold_s,
        fixed=fixed_pos,
        candidates=np.asarray(cand_pos, dtype=np.int64),
        stand_in=bool(times.stand_in),
    )
    log.debug(
        "%s: %d sites (%d fixed, %d candidates), %d demand points, threshold %.0f s",
        what,
        inst.n_sites,
        len(fixed_pos),
        len(cand_pos),
        inst.n_demand,
        threshold_s,
    )
    return inst


def capacity_per_site(inst: Instance, capacity) -> tuple[np.ndarray, list[str]]:
    """Capacity per site row (NaN where not given) and the problems found."""
    if not isinstance(capacity, pd.Series):
        return np.zeros(0), [f"`capacity` must be a Series site_id -> places, got {type(capacity).__name__}"]
    problems = []
    try:
        values = pd.to_numeric(capacity, errors="raise").astype(float)
    except (ValueError, TypeError):
        return np.zeros(0), ["`capacity` must be numbers of places"]
    if values.index.has_duplicates:
        problems.append(
            f"`capacity` has duplicate site ids: {first_ids(values.index[values.index.duplicated()])}"
        )
        return np.zeros(0), problems
    aligned = values.reindex(inst.site_ids).to_numpy()
    need = np.union1d(inst.candidates, inst.fixed)
    missing = need[np.isnan(aligned[need])]
    if len(missing):
        problems.append(
            f"`capacity` lacks candidate or fixed sites {first_ids(inst.site_ids[missing])}; "
            "give each a capacity"
        )
    bad = ~np.isfinite(values) & values.notna()
    neg = values < 0
    if bad.any():
        problems.append(f"`capacity` is infinite at sites {first_ids(values.index[bad])}")
    if neg.any():
        problems.append(
            f"`capacity` is negative at sites {first_ids(values.index[neg])} "
            f"(smallest {values[neg].min():g}); "
            "capacities are places and must be >= 0"
        )
    if not problems and not (aligned[need] > 0).any():
        problems.append("`capacity` is 0 at every candidate and fixed site, so nobody can be served")
    return aligned, problems


def resolve_solver(time_limit_s: float | None, mip_gap: float | None) -> tuple[float, float]:
    """Defaults for the time limit (`DEFAULT_TIME_LIMIT_S`) and the relative MIP gap (`DEFAULT_MIP_GAP`)."""
    return (
        DEFAULT_TIME_LIMIT_S if time_limit_s is None else float(time_limit_s),
        DEFAULT_MIP_GAP if mip_gap is None else float(mip_gap),
    )


def covered_series(inst: Instance, open_rows: Iterable[int], cover: sp.csr_array | None = None) -> pd.Series:
    """Per demand point (caller's order): number of open sites within the threshold."""
    cover = inst.cover if cover is None else cover
    counts = open_count(cover, np.asarray(list(open_rows), dtype=np.int64))
    series = pd.Series(counts, index=inst.demand_ids, name="covered")
    return series.reindex(inst.input_demand_ids)


def nearest_site(inst: Instance, open_rows: Iterable[int], threshold_s: float | None = None) -> pd.Series:
    """Per demand point (caller's order): the nearest open site within the threshold, NaN if none.

    Ties (equal walk seconds) go to the smallest site id (`planner.costs.nearest_open`).
    """
    threshold_s = inst.threshold_s if threshold_s is None else threshold_s
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[np.asarray(list(open_rows), dtype=np.int64)] = True
    best = nearest_open(inst.walk, is_open, threshold_s=threshold_s)[0]  # rows are in id order
    values = best.astype(object)
    if inst.n_sites:
        values = inst.site_ids.to_numpy()[np.clip(best, 0, None)].astype(object)
    values[best < 0] = np.nan
    return pd.Series(values, index=inst.demand_ids, name="assigned").reindex(inst.input_demand_ids)


def ids_of(inst: Instance, rows: Iterable[int]) -> tuple:
    """Site ids of the given rows, as a tuple sorted by id."""
    rows = np.sort(np.asarray(list(rows), dtype=np.int64))
    return tuple(inst.site_ids[rows].tolist())


def build_result(
    inst: Instance,
    *,
    model: str,
    selected: Iterable[int],
    objective: float,
    bound: float,
    status: str,
    method: str,
    solve_s: float,
    details: dict | None = None,
    assigned: pd.Series | None = None,
) -> SitingResult:
    """A `SitingResult` from row positions, with `covered` and `assigned` (default nearest open) per
    demand.
    """
    from planner.locate._highs import relative_gap

    selected = np.sort(np.asarray(list(selected), dtype=np.int64))
    open_rows = np.union1d(selected, inst.fixed)
    if assigned is None:
        assigned = nearest_site(inst, open_rows)
    info = {"threshold_s": inst.threshold_s, "stand_in": inst.stand_in}
    info.update(details or {})
    return SitingResult(
        model=model,
        selected=ids_of(inst, selected),
        fixed=ids_of(inst, inst.fixed),
        objective=float(objective),
        bound=float(bound),
        gap=relative_gap(objective, bound),
        status=status,
        method=method,
        solve_s=float(solve_s),
        covered=covered_series(inst, open_rows),
        assigned=assigned,
        details=info,
    )
