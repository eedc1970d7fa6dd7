r"""Capacitated p-median: open `p` sites that minimise the total weighted walk, each within its capacity.

Demand point :math:`i` (weight :math:`w_i`, older residents) may split its weight among the open sites it
reaches within ``times.limit_s`` (:math:`N(i)`, the stored pairs); :math:`z_{ij}` is the share of
:math:`w_i` that site :math:`j` (capacity :math:`C_j` places) serves:

.. math::

    \min \sum_i \sum_{j \in N(i)} w_i t_{ij} z_{ij} + \sum_i w_i f \, u_i
    \quad\text{s.t.}\quad
    \sum_{j \in N(i)} z_{ij} + u_i = 1, \quad
    \sum_{i : j \in N(i)} w_i z_{ij} \le C_j y_j, \quad
    z_{ij} \le y_j, \quad
    \sum_{j \in J} y_j = p, \quad y_j \in \{0, 1\}, \; z, u \ge 0

Fixed (existing) sites have :math:`y_j = 1`, serve with their capacity and do not count in :math:`p`.
Without ``far_s`` there is no :math:`u`: every demand point some site reaches must be served in full (the
classic model, as spopt's capacitated ``PMedian``), and too little capacity is an `InfeasibleError` that says
how much is missing. With ``far_s`` the unserved share counts as walking ``far_s`` seconds (the truncated
model of `planner.locate.median.p_median`), so the model is always feasible.
"""

from __future__ import annotations

import logging
import numbers
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import InfeasibleError
from planner._validate import raise_if
from planner.costs import TravelTimes
from planner.locate._common import Instance, build_result, capacity_per_site, prepare, resolve_solver
from planner.locate._highs import MipModel, relative_gap, solve_mip
from planner.locate._result import SitingResult

log = logging.getLogger(__name__)

#: ``method="auto"`` solves the MIP when the model has at most this many site-demand pairs, else rounds the
#: LP relaxation (whose value stays the certified bound).
AUTO_EXACT_MAX_PAIRS = 200_000


def _pairs(inst: Instance, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(demand column, site row, walk seconds) of the stored pairs of site rows `cols` and positive demand."""
    coo = inst.walk.tocoo()
    keep = np.isin(coo.row, cols) & (inst.weight[coo.col] > 0)
    row, col, walk = coo.row[keep], coo.col[keep], coo.data[keep]
    order = np.lexsort((row, col))
    return col[order].astype(np.int64), row[order].astype(np.int64), walk[order]


def _model(
    inst: Instance,
    cap: np.ndarray,
    p: int,
    far_s: float | None,
) -> tuple[MipModel, dict]:
    """The MIP; columns ``[y (candidates) | z (pairs) | u (far, when far_s)]``."""
    cols = np.union1d(inst.candidates, inst.fixed)
    dem_col, site_row, walk = _pairs(inst, cols)
    served = np.unique(dem_col)
    dem = np.searchsorted(served, dem_col)
    d, k = len(served), len(dem_col)
    n = len(inst.candidates)
    y_of_row = np.full(inst.n_sites, -1, dtype=np.int64)
    y_of_row[inst.candidates] = np.arange(n)
    w = inst.weight[served]
    pair_w = inst.weight[dem_col]
    with_u = far_s is not None
    n_col = n + k + (d if with_u else 0)
    pe = np.arange(k)
    # assignment rows: sum_j z_ij (+ u_i) = 1
    a_rows, a_cols = [dem], [n + pe]
    if with_u:
        a_rows.append(np.arange(d))
        a_cols.append(n + k + np.arange(d))
    assign = sp.csr_array(
        (np.ones(k + (d if with_u else 0)), (np.concatenate(a_rows), np.concatenate(a_cols))),
        shape=(d, n_col),
    )
    # capacity rows, one per site row in `cols`: sum_i w_i z_ij - C_j y_j <= 0 (candidates), <= C_j (fixed)
    slot = np.searchsorted(cols, site_row)
    is_cand = y_of_row[cols] >= 0
    cand_slots = np.flatnonzero(is_cand)
    capacity = sp.csr_array(
        (
            np.concatenate([pair_w, -cap[cols[cand_slots]]]),
            (np.concatenate([slot, cand_slots]), np.concatenate([n + pe, y_of_row[cols[cand_slots]]])),
        ),
        shape=(len(cols), n_col),
    )
    # linking rows: z_ij - y_j <= 0 for candidate pairs
    link = np.flatnonzero(y_of_row[site_row] >= 0)
    nl = len(link)
    linking = sp.csr_array(
        (
            np.concatenate([np.ones(nl), -np.ones(nl)]),
            (np.tile(np.arange(nl), 2), np.concatenate([n + link, y_of_row[site_row[link]]])),
        ),
        shape=(nl, n_col),
    )
    count = sp.csr_array((np.ones(n), (np.zeros(n, dtype=np.int64), np.arange(n))), shape=(1, n_col))
    cost = np.concatenate([np.zeros(n), pair_w * walk, w * far_s if with_u else np.zeros(0)])
    cap_hi = np.where(is_cand, 0.0, cap[cols])
    model = MipModel(
        cost=cost,
        a=sp.vstack([assign, capacity, linking, count], format="csc"),
        row_lo=np.concatenate([np.ones(d), np.full(len(cols) + nl, -np.inf), [float(p)]]),
        row_hi=np.concatenate([np.ones(d), cap_hi, np.zeros(nl), [float(p)]]),
        col_lo=np.zeros(n_col),
        col_hi=np.ones(n_col),
        integral=np.concatenate([np.ones(n, dtype=bool), np.zeros(n_col - n, dtype=bool)]),
    )
    parts = {"dem_col": dem_col, "site_row": site_row, "walk": walk, "served": served, "n": n, "k": k}
    return model, parts


def _capacity_shortfall(inst: Instance, cap: np.ndarray, p: int, reach_w: float) -> str | None:
    """Why no plan can serve every reachable demand point, by total capacity alone (None when it can)."""
    fixed_cap = float(cap[inst.fixed].sum())
    top = np.sort(cap[inst.candidates])[::-1][:p]
    most = fixed_cap + float(top.sum())
    if most + 1e-9 * max(1.0, reach_w) >= reach_w:
        return None
    return (
        f"capacity is short: the {len(inst.fixed)} fixed sites ({fixed_cap:,.6g} places) and the {p} largest "
        f"candidates ({float(top.sum()):,.6g} places) hold at most {most:,.6g} places, fewer than the "
        f"{reach_w:,.6g} older residents who can reach a site ({reach_w - most:,.6g} missing); raise `p` or "
        "the capacities, or pass `far_s=` so that unserved demand counts as walking far_s seconds"
    )


def capacitated_p_median(
    times: TravelTimes,
    weights: pd.Series,
    capacity: pd.Series,
    *,
    p: int,
    fixed=None,
    candidates=None,
    far_s: float | None = None,
    method: str = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> SitingResult:
    """Capacitated p-median: `p` new sites minimising the weighted walk, no site serving beyond capacity.

    The formulation is in the module docstring; demand may split between sites.

    Parameters
    ----------
    times
        Sparse walk seconds, sites x demand, within ``times.limit_s``.
    weights
        Older residents per demand point (Series indexed by demand_id).
    capacity
        Places per site (Series site_id -> places, >= 0), for every candidate and fixed site.
    p
        Number of new sites to open (fixed sites are open anyway and not counted).
    fixed, candidates
        As in `planner.locate.p_median`.
    far_s
        None (default): every demand point some site reaches is served in full, and a shortage of capacity
        raises `InfeasibleError`. A number of seconds: the unserved share counts as walking `far_s` (the
        model is then always feasible).
    method
        ``"exact"`` (HiGHS MIP), ``"heuristic"`` (LP relaxation: the `p` largest site values, ties by id,
        then the optimal assignment to them; the LP value is the bound) or ``"auto"`` (exact up to
        `AUTO_EXACT_MAX_PAIRS` pairs).
    time_limit_s, mip_gap
        HiGHS limits (defaults from `planner.settings`).

    Returns
    -------
    SitingResult
        ``objective`` in weighted walk seconds (unserved demand at `far_s`), ``bound`` a certified lower
        bound;
        ``assigned`` the site serving the largest share of each demand point (ties: smaller id);
        ``details``: ``served_share`` per demand point, ``load`` per open site, ``mean_walk_min``,
        ``unserved_weight``, and the demand no site reaches (``unreachable``, ``weight_unreachable``).

    Raises
    ------
    InfeasibleError
        Without `far_s`, when the open sites cannot hold every reachable older resident: the message gives
        the places available and missing.
    """
    start = time.perf_counter()
    extra = []
    if isinstance(p, numbers.Integral) and not isinstance(p, bool) and p == 0:
        extra.append("`p` must be at least 1 for capacitated_p_median, got 0")
    if far_s is not None and (
        isinstance(far_s, bool)
        or not isinstance(far_s, numbers.Real)
        or not (np.isfinite(far_s) and far_s > 0)
    ):
        extra.append(f"`far_s` must be a positive number of seconds, got {far_s!r}")
    limit_min = times.limit_s / 60.0 if isinstance(times, TravelTimes) else 1.0
    inst = prepare(
        times,
        weights,
        threshold_min=limit_min,
        fixed=fixed,
        candidates=candidates,
        p=p,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        extra_problems=extra,
        what="capacitated_p_median",
    )
    cap, problems = capacity_per_site(inst, capacity)
    raise_if(problems, "`capacity`")
    p = int(p)
    time_limit_s, mip_gap = resolve_solver(time_limit_s, mip_gap)
    far = None if far_s is None else float(far_s)
    model, parts = _model(inst, cap, p, far)
    served = parts["served"]
    positive = inst.weight > 0
    reach = np.zeros(inst.n_demand, dtype=bool)
    reach[served] = True
    unreachable = positive & ~reach
    constant = float(inst.weight[unreachable].sum()) * far if far is not None else 0.0
    if far is None:
        short = _capacity_shortfall(inst, cap, p, float(inst.weight[reach].sum()))
        if short:
            raise InfeasibleError(f"capacitated_p_median: {short}")
    n, k = parts["n"], parts["k"]
    use_exact = method == "exact" or (method == "auto" and k <= AUTO_EXACT_MAX_PAIRS)
    infeasible_msg = (
        f"capacitated_p_median: no {p} new sites (with the fixed ones) can serve every reachable demand "
        "point within their capacities: some demand reaches only sites too small for it; raise `p` or the "
        "capacities near it, or pass `far_s=` so that unserved demand counts as walking far_s seconds"
    )
    try:
        if use_exact:
            sol = solve_mip(
                model, time_limit_s=time_limit_s, mip_rel_gap=mip_gap, what="capacitated p-median"
            )
            x, bound, status, method_used = sol.x, sol.bound, sol.status, "exact"
        else:
            lp = solve_mip(
                model.relaxed(), time_limit_s=time_limit_s, what="capacitated p-median LP", ipm=True
            )
            order = np.lexsort((np.arange(n), -lp.x[:n]))
            col_lo, col_hi = np.zeros(model.n_cols), model.col_hi.copy()
            col_hi[:n] = 0.0
            col_lo[order[:p]] = col_hi[order[:p]] = 1.0
            try:
                sol = solve_mip(
                    model.with_(col_lo=col_lo, col_hi=col_hi).relaxed(),
                    time_limit_s=time_limit_s,
                    what="capacitated p-median assignment",
                )
                x, bound, method_used = sol.x, lp.objective, "heuristic"
                status = "optimal" if sol.objective - bound <= 1e-9 * max(1.0, sol.objective) else "heuristic"
            except InfeasibleError:
                # the rounded sites cannot hold everyone (the LP spread capacity thinly): the MIP decides
                log.info("capacitated p-median: rounded LP plan lacks capacity; solving the MIP instead")
                sol = solve_mip(
                    model, time_limit_s=time_limit_s, mip_rel_gap=mip_gap, what="capacitated p-median"
                )
                x, bound, status, method_used = sol.x, sol.bound, sol.status, "exact"
    except InfeasibleError as err:
        raise InfeasibleError(infeasible_msg) from err
    is_open = x[:n] > 0.5
    selected = inst.candidates[is_open]
    z = np.clip(x[n : n + k], 0.0, 1.0)
    dem_col, site_row, walk = parts["dem_col"], parts["site_row"], parts["walk"]
    pair_w = inst.weight[dem_col]
    objective = float(pair_w @ (walk * z)) + constant
    share = np.bincount(dem_col, weights=z, minlength=inst.n_demand)
    unserved = float(inst.weight[reach] @ np.clip(1.0 - share[reach], 0.0, 1.0))
    if far is not None:
        objective += unserved * far
    bound = min(float(bound) + constant, objective)
    if relative_gap(objective, bound) <= 1e-9:
        bound = objective
    # the site serving the largest share of each demand point, ties by smaller id (rows are in id order)
    main = np.full(inst.n_demand, -1, dtype=np.int64)
    pos = z > 1e-9
    order = np.lexsort((site_row[pos], -z[pos], dem_col[pos]))
    dc, sr = dem_col[pos][order], site_row[pos][order]
    first = np.ones(len(dc), dtype=bool)
    first[1:] = dc[1:] != dc[:-1]
    main[dc[first]] = sr[first]
    values = inst.site_ids.to_numpy()[np.maximum(main, 0)].astype(object)
    values[main < 0] = np.nan
    assigned = pd.Series(values, index=inst.demand_ids, name="assigned").reindex(inst.input_demand_ids)
    open_rows = np.union1d(selected, inst.fixed)
    load = np.bincount(site_row, weights=pair_w * z, minlength=inst.n_sites)[open_rows]
    total_w = float(inst.weight.sum())
    details = {
        "far_s": far,
        "served_share": pd.Series(np.clip(share, 0, 1), index=inst.demand_ids, name="served_share").reindex(
            inst.input_demand_ids
        ),
        "load": pd.Series(load, index=pd.Index(inst.site_ids[open_rows], name="site_id"), name="load"),
        "mean_walk_min": objective / total_w / 60.0 if total_w > 0 else float("nan"),
        "unserved_weight": unserved,
        "unreachable": tuple(inst.demand_ids[unreachable].tolist()),
        "weight_unreachable": float(inst.weight[unreachable].sum()),
        "n_pairs": int(k),
    }
    solve_s = time.perf_counter() - start
    log.info(
        "capacitated p-median: p = %d (+%d fixed), %s, objective %.6g weighted s, bound %.6g, %d pairs, "
        "%.2f s",
        p,
        len(inst.fixed),
        status,
        objective,
        bound,
        k,
        solve_s,
    )
    return build_result(
        inst,
        model="capacitated-p-median",
        selected=selected,
        objective=objective,
        bound=bound,
        status=status,
        method=method_used,
        solve_s=solve_s,
        details=details,
        assigned=assigned,
    )


__all__ = ["AUTO_EXACT_MAX_PAIRS", "capacitated_p_median"]
