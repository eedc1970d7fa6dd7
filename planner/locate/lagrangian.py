r"""Certified bounds and strong plans for maximal covering at city scale (Lagrangian relaxation).

On a reduced instance (`planner.locate._reduce`: demand rows :math:`i` of weight :math:`w_i`, none covered by
a fixed site; candidate columns :math:`j`; :math:`a_{ij} = 1` when :math:`j` covers :math:`i`), relaxing the
coverage constraints :math:`y_i \le \sum_j a_{ij} x_j` of the MCLP with multipliers
:math:`0 \le \lambda_i \le w_i` gives, for every :math:`p` at once,

.. math::

    L_p(\lambda) = \sum_i (w_i - \lambda_i) + \max_{|S| = p} \sum_{j \in S} c_j(\lambda),
    \qquad c_j(\lambda) = \sum_i a_{ij} \lambda_i,

an upper bound on the covered weight of every plan of :math:`p` sites (the sum of the :math:`p` largest
prices). Its minimum over :math:`\lambda` equals the LP relaxation's value, found here by deflected
subgradient steps of Polyak's size, which scale to millions of pairs where an LP solver does not finish.
One :math:`\lambda` bounds the whole coverage curve; the best over several is kept at every :math:`p`.

Plans come from greedy + interchange (`planner.locate.heuristics`), from the relaxation's own site sets, from
an exact MIP (HiGHS) over a *core*: the candidates with the highest prices :math:`c_j(\lambda)` and the
incumbent's, with every other candidate closed, polished by interchange over all candidates, and then from
a region search (`improve_by_regions`) that re-solves the plan exactly around one site at a time.

On the 200k x 10k, p = 300 city instance (issue 9) the bound ends within 0.05 % of the LP value (8.027M, which
HiGHS's interior point takes over two minutes to find), and the LP itself is well above every plan: 60 s give
7.90M, 10 more minutes of `improve_by_regions` 7.929M, and the best plan found at all 7.936M, still 1.15 %
below the LP (`benchmarks/probe_lp_gap.py`). The LP's own gap is not local: exact MIPs over blocks of 100-400
candidates at the LP multipliers (cut rows kept relaxed) lower the bound by 0.06 % only, and HiGHS's branch
and cut over a 2,019-candidate core moves its bound 0.05 % in 300 s. What is left of the gap there needs a
relaxation stronger than the LP at a cost that fits the limit. Every plan is feasible for the full model, and
the bound is the full model's, so the gap stated is certified.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from planner._errors import InfeasibleError, SolverError
from planner.locate import heuristics
from planner.locate._highs import MipModel, relative_gap, solve_mip
from planner.locate._reduce import merge_rows

log = logging.getLogger(__name__)

#: Subgradient iterations without a better bound before the step factor shrinks (default of `subgradient`).
_STALL = 10
#: Weight of the previous direction in the deflected subgradient (default of `subgradient`).
_DEFLECT = 0.3
#: `solve_mclp`'s slower, deeper settings: on 200k x 10k, p = 300 (issue 9) the defaults stop (step factor
#: below 1e-6) 0.49 % above the LP value after 1,500 steps; these reach 0.05 % above it in 5,400 steps.
DEEP_STALL, DEEP_DEFLECT, DEEP_MAX_ITER = 50, 0.6, 20_000
#: Core sizes, in multiples of p, for the MIPs over the most promising candidates (grown while each one
#: closes in time; rows alike on the core merge, so a core of 2p candidates is a MIP of seconds).
CORE_FACTORS = (2.0, 3.0, 4.0)
#: Share of the time left that a core MIP may take, and its most seconds; the rest goes to the interchange
#: polishing its plan over all candidates (200k x 10k, p = 300: 23 swaps in 1.4 s add 0.19 % to the core
#: MIP's plan) and then to the region search (`improve_by_regions`). Within a 60 s limit the core MIP is
#: the better use of the time (a 70 % share took 0.1 % off the 50k and 200k x 10k plans); beyond it, regions
#: are (a core MIP over 2,019 candidates adds nothing in 300 s).
_CORE_SHARE, _CORE_MAX_S = 0.85, 45.0
#: Candidates freed at once by the region search, and the time limit of each region's MIP: on 200k x 10k,
#: p = 300, 114 regions of 300 candidates at up to 5 s each add 0.25 % to a polished core MIP's plan in
#: 90 s (a core MIP over 2,019 candidates adds nothing in 300 s).
REGION_SIZE, REGION_MIP_S = 300, 5.0


@dataclass(frozen=True, eq=False)
class Dual:
    r"""The best multipliers found and what they prove.

    Attributes
    ----------
    bound
        :math:`L_p(\lambda)` at the best multipliers: an upper bound on the covered weight with p sites.
    lam
        The multipliers.
    prices
        :math:`c_j(\lambda)` per column.
    iterations
        Subgradient steps taken.
    """

    bound: float
    lam: np.ndarray
    prices: np.ndarray
    iterations: int


def curve_bound(weight: np.ndarray, lam: np.ndarray, prices: np.ndarray, max_p: int) -> np.ndarray:
    """:math:`L_p(\\lambda)` for p = 0..max_p from one set of multipliers (non-decreasing in p)."""
    top = np.sort(prices)[::-1][:max_p]
    top = np.concatenate([[0.0], np.cumsum(top)])
    top = np.concatenate([top, np.full(max(0, max_p + 1 - len(top)), top[-1])])
    return float(weight.sum() - lam.sum()) + top


def column_counts(a: sp.csc_array, cols: np.ndarray) -> np.ndarray:
    """Per row: how many of the columns `cols` of the CSC array `a` cover it (touches only those columns)."""
    starts, ends = a.indptr[cols], a.indptr[np.asarray(cols) + 1]
    length = ends - starts
    pos = np.repeat(starts - np.cumsum(length) + length, length) + np.arange(int(length.sum()))
    return np.bincount(a.indices[pos], minlength=a.shape[0]).astype(np.float64)


def plan_weight(a: sp.csc_array, weight: np.ndarray, cols: np.ndarray) -> float:
    """Covered weight of the columns `cols` of the 0/1 CSC array `a` (rows of weight `weight`)."""
    return heuristics.plan_value(column_counts(a, cols), weight)


def subgradient(
    a: sp.csc_array,
    weight: np.ndarray,
    p: int,
    *,
    incumbent: float,
    lam: np.ndarray | None = None,
    deadline: float,
    target_gap: float = 0.0,
    max_iter: int = 3000,
    on_sets=None,
    progress=None,
    stall: int = _STALL,
    deflect: float = _DEFLECT,
) -> Dual:
    """Minimise :math:`L_p(\\lambda)` over :math:`0 \\le \\lambda \\le w` by deflected subgradient steps.

    Parameters
    ----------
    a, weight, p
        Reduced coverage matrix (rows x columns, 0/1), row weights, and the number of sites.
    incumbent
        Value of the best known plan (the Polyak target; raised when `on_sets` finds better).
    lam
        Starting multipliers (default :math:`w_i / 2`).
    deadline
        ``time.perf_counter()`` value at which to stop.
    target_gap
        Stop once ``(bound - incumbent) / incumbent`` is at most this.
    on_sets
        Optional callback ``f(columns) -> value or None`` given the relaxation's site set every 25 steps; a
        value above the incumbent becomes the new target.
    progress
        Optional tqdm bar (its postfix shows the bound and the incumbent).
    stall, deflect
        Steps without a better bound before the step factor shrinks by 1.5, and the weight of the previous
        direction (larger: slower, closer to the LP value).
    """
    at = sp.csr_array(a.T)
    total = float(weight.sum())
    lam = (0.5 * weight if lam is None else np.clip(lam, 0.0, weight)).astype(np.float64)
    n = a.shape[1]
    best = np.inf
    best_lam = lam
    best_prices = at @ lam
    stall_limit, theta, stall, direction = stall, 1.0, 0, None
    it = 0
    p = min(p, n)
    for it in range(1, max_iter + 1):
        prices = at @ lam
        top = np.argpartition(-prices, p - 1)[:p] if 0 < p < n else np.arange(n if p else 0)
        value = total - float(lam.sum()) + float(prices[top].sum())
        if value < best - 1e-12 * max(total, 1.0):
            best, best_lam, best_prices, stall = value, lam, prices, 0
        else:
            stall += 1
            if stall >= stall_limit:
                theta, stall = theta / 1.5, 0
        if on_sets is not None and it % 25 == 0:
            found = on_sets(np.sort(top))
            if found is not None and found > incumbent:
                incumbent = found
        if progress is not None and it % 10 == 0:
            progress.update(10)
            progress.set_postfix(bound=f"{best:,.0f}", plan=f"{incumbent:,.0f}", refresh=False)
        if relative_gap(incumbent, best) <= target_gap or time.perf_counter() > deadline or theta < 1e-6:
            break
        grad = column_counts(a, top) - 1.0  # d L / d lambda_i
        grad[(lam <= 0.0) & (grad > 0)] = 0.0
        grad[(lam >= weight) & (grad < 0)] = 0.0
        direction = grad if direction is None else (1 - deflect) * grad + deflect * direction
        norm = float(direction @ direction)
        if norm == 0.0:  # the relaxed plan covers each row at most once: the bound is attained
            break
        step = theta * max(value - incumbent, 1e-9 * max(total, 1.0)) / norm
        if not np.isfinite(step):
            break
        lam = np.clip(lam - step * direction, 0.0, weight)
    return Dual(float(best), best_lam, best_prices, it)


def core_mip(
    a: sp.csc_array,
    weight: np.ndarray,
    p: int,
    core: np.ndarray,
    start_cols: np.ndarray,
    *,
    time_limit_s: float,
    mip_gap: float,
) -> tuple[np.ndarray | None, bool]:
    """The MCLP restricted to the columns `core` (all others closed), solved by HiGHS from `start_cols`.

    Returns the best plan's columns (of `a`, None when HiGHS found nothing), and whether HiGHS proved it
    optimal on the core.
    """
    sub = sp.csr_array(a[:, core])
    rows = np.flatnonzero((np.diff(sub.indptr) > 0) & (weight > 0))
    label, n_merged = merge_rows(sub[rows])  # rows alike on the core are one row of summed weight
    first = np.full(n_merged, -1, dtype=np.int64)
    first[label[::-1]] = np.arange(len(label))[::-1]
    merged_w = np.bincount(label, weights=weight[rows], minlength=n_merged)
    sub = sp.csc_array(sub[rows[first]])
    m, n = sub.shape
    if n <= p:
        return core, True
    ones = sp.csr_array(np.ones((1, n)))
    model = MipModel(
        cost=np.concatenate([np.zeros(n), merged_w]),
        a=sp.vstack(
            [sp.hstack([-sub, sp.identity(m, format="csr")]), sp.hstack([ones, sp.csr_array((1, m))])],
            format="csc",
        ),
        row_lo=np.concatenate([np.full(m, -np.inf), [float(p)]]),
        row_hi=np.concatenate([np.zeros(m), [float(p)]]),
        col_lo=np.zeros(n + m),
        col_hi=np.ones(n + m),
        integral=np.concatenate([np.ones(n, dtype=bool), np.zeros(m, dtype=bool)]),
    )
    x0 = np.isin(core, start_cols).astype(float)
    y0 = (sub @ x0 >= 1).astype(float)
    try:
        sol = solve_mip(
            model,
            maximize=True,
            time_limit_s=max(time_limit_s, 0.5),
            mip_rel_gap=mip_gap,
            what=f"mclp core ({n} candidates)",
            start=np.concatenate([x0, y0]),
        )
    except (InfeasibleError, SolverError):
        return None, False
    return core[sol.x[:n] > 0.5], sol.status == "optimal"


def solve_mclp(
    a: sp.csc_array,
    weight: np.ndarray,
    p: int,
    *,
    time_limit_s: float,
    target_gap: float,
    progress: bool = False,
) -> tuple[np.ndarray, float, dict]:
    """Plan and certified upper bound of the MCLP on a reduced instance whose rows no fixed site covers.

    Greedy + interchange, then the Lagrangian bound (its site sets tried as plans), then, while the gap is
    above `target_gap` and time remains, the exact MIP over a core of the best-priced candidates, each MIP's
    plan polished by interchange over all candidates. ``info["stopped_at_time_limit"]`` says the time limit
    (not the gap asked for) ended the search.

    Returns
    -------
    chosen, bound, info
        Columns of the plan, an upper bound on the optimum, and statistics.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    a = sp.csc_array(a)
    p = min(p, a.shape[1])
    chosen, _ = heuristics.greedy(a, weight, p)
    greedy_value = plan_weight(a, weight, chosen)
    chosen, swaps = heuristics.interchange(a, weight, chosen, time_limit_s=0.2 * time_limit_s)
    value = plan_weight(a, weight, chosen)
    best = {"cols": np.sort(chosen), "value": value}

    def try_sets(cols: np.ndarray) -> float | None:
        v = plan_weight(a, weight, cols)
        if v > best["value"]:
            best["cols"], best["value"] = cols, v
        return best["value"]

    counts = column_counts(a, chosen)
    lam0 = np.where(counts <= 1, weight, 0.0)  # complementary slackness with the plan
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc=f"mclp bound p={p}", unit="step", leave=False)
    dual = subgradient(
        a,
        weight,
        p,
        incumbent=value,
        lam=lam0,
        deadline=t0 + 0.5 * time_limit_s,
        target_gap=target_gap,
        on_sets=try_sets,
        progress=bar,
        max_iter=DEEP_MAX_ITER,
        stall=DEEP_STALL,
        deflect=DEEP_DEFLECT,
    )

    def polish() -> None:
        """Interchange over every candidate from the best plan (a core MIP's plan is only core-optimal)."""
        nonlocal swaps
        left = deadline - time.perf_counter()
        if left > 0.1 and relative_gap(best["value"], bound) > target_gap:
            cols, moved = heuristics.interchange(a, weight, best["cols"], time_limit_s=left)
            swaps += moved
            try_sets(np.sort(cols))

    bound = min(dual.bound, heuristics.submodular_bound(best["value"], _gains(a, weight, best["cols"]), p))
    core_n, core_stopped = 0, False
    for factor in CORE_FACTORS:
        left = deadline - time.perf_counter()
        if relative_gap(best["value"], bound) <= target_gap or left < 1.0:
            break
        size = int(factor * p)
        core = np.union1d(np.argsort(-dual.prices, kind="stable")[:size], best["cols"])
        if len(core) <= core_n:
            break
        core_n = len(core)
        plan, closed = core_mip(
            a,
            weight,
            p,
            core,
            best["cols"],
            time_limit_s=min(_CORE_SHARE * left, _CORE_MAX_S),
            mip_gap=max(target_gap / 2, 1e-6),
        )
        if plan is not None:
            try_sets(np.sort(plan))
        polish()
        if not closed:  # a larger core would not close either
            core_stopped = True
            break
    regions = 0
    if relative_gap(best["value"], bound) > target_gap and deadline - time.perf_counter() > 1.0:

        def gained(value: float) -> bool:
            if bar is not None:
                bar.set_postfix(bound=f"{bound:,.0f}", plan=f"{value:,.0f}")
            return relative_gap(value, bound) <= target_gap

        cols, regions = improve_by_regions(a, weight, best["cols"], deadline=deadline, on_gain=gained)
        try_sets(cols)
    if bar is not None:
        bar.set_postfix(bound=f"{bound:,.0f}", plan=f"{best['value']:,.0f}")
        bar.close()
    info = {
        "greedy_value": greedy_value,
        "swaps": swaps,
        "bound_kind": "lagrangian",
        "lagrangian_iterations": dual.iterations,
        "core_candidates": core_n,
        "regions_searched": regions,
        "heuristic_s": time.perf_counter() - t0,
        # the gap asked for was not reached: the time limit ended the search
        "stopped_at_time_limit": relative_gap(best["value"], bound) > target_gap
        and (core_stopped or time.perf_counter() > deadline - 1.0),
    }
    log.info(
        "mclp (Lagrangian): plan %.6g, bound %.6g (gap %.3g%%), %d subgradient steps, core %d, %.2f s",
        best["value"],
        bound,
        100 * relative_gap(best["value"], bound),
        dual.iterations,
        core_n,
        info["heuristic_s"],
    )
    return best["cols"], bound, info


def region(overlap: sp.csr_array, site: int, size: int) -> np.ndarray:
    """Up to `size` columns around the column `site`: itself, the columns sharing a row with it (most shared
    weight first), then the columns sharing a row with those (most shared weight with them first).

    `overlap` is the column x column array of shared row weight (zero diagonal). Sorted column indices.
    """
    ptr, idx, val = overlap.indptr, overlap.indices, overlap.data
    near = idx[ptr[site] : ptr[site + 1]]
    near = near[np.argsort(-val[ptr[site] : ptr[site + 1]], kind="stable")]
    cols = np.concatenate([[site], near])[:size]
    if len(cols) < size and len(near):
        ring = np.asarray(overlap[near].sum(axis=0)).ravel()
        ring[cols] = 0.0
        further = np.flatnonzero(ring > 0)
        further = further[np.argsort(-ring[further], kind="stable")]
        cols = np.concatenate([cols, further[: size - len(cols)]])
    return np.sort(cols)


def improve_by_regions(
    a: sp.csc_array,
    weight: np.ndarray,
    cols: np.ndarray,
    *,
    deadline: float,
    size: int = REGION_SIZE,
    mip_s: float = REGION_MIP_S,
    on_gain=None,
) -> tuple[np.ndarray, int]:
    """Large-neighbourhood search: re-solve the plan exactly inside one region at a time.

    For each open column in turn, the `size` columns of its `region` are freed: the plan's sites there are
    closed, and the MIP (HiGHS, at most `mip_s` seconds) chooses as many again among the region's columns
    to cover the most weight not covered by the plan's other sites. A better plan is kept, and given to the
    optional callback ``on_gain(value) -> bool`` (True: good enough, stop). Stops then, at `deadline`, or
    once every open column's region has been searched without a gain.

    Returns
    -------
    cols, regions
        The best plan's columns (sorted; never worse than `cols`) and the number of regions searched.
    """
    a = sp.csc_array(a)
    overlap = sp.csr_array(a.T @ (sp.diags_array(weight) @ a))
    overlap.setdiag(0.0)
    overlap.eliminate_zeros()
    plan = np.sort(np.asarray(cols))
    value = plan_weight(a, weight, plan)
    k = searched = since_gain = 0
    while since_gain < len(plan) and deadline - time.perf_counter() > 0.5:
        free = region(overlap, int(plan[k % len(plan)]), size)
        k += 1
        inside = np.intersect1d(plan, free)
        outside = np.setdiff1d(plan, free)
        left = weight * (column_counts(a, outside) == 0)
        limit = min(mip_s, deadline - time.perf_counter())
        new, _ = core_mip(a, left, len(inside), free, inside, time_limit_s=limit, mip_gap=1e-6)
        searched += 1
        since_gain += 1
        if new is not None:
            candidate = np.union1d(outside, new)
            found = plan_weight(a, weight, candidate)
            if len(candidate) == len(plan) and found > value * (1 + 1e-12):
                plan, value, since_gain = candidate, found, 0
                if on_gain is not None and on_gain(value):
                    break
    return plan, searched


def _gains(a: sp.csc_array, weight: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Per column: the weight it would add to the plan `cols`."""
    counts = column_counts(a, cols)
    return sp.csr_array(a.T) @ (weight * (counts == 0))
