r"""p-median and p-center on sparse walk times, at city scale, with a certified gap.

Both models read a `TravelTimes` table (walk seconds for the site -> demand pairs within ``times.limit_s``;
a pair that is absent is farther than the limit) and never build a dense matrix.

p-median (truncated at the cut-off)
-----------------------------------
Each demand point :math:`i` (weight :math:`w_i`, older residents) walks to its nearest open site; a point with
no open site within the cut-off counts as walking ``far_s`` seconds (default ``times.limit_s``: people beyond
the cut-off count as walking the cut-off). The objective is the one of this *truncated* model:

.. math::

    \min \sum_i w_i \Big( \sum_{j \in N(i)} t_{ij} z_{ij} + f_i \, u_i \Big)
    \quad\text{s.t.}\quad \sum_{j \in N(i)} z_{ij} + u_i = 1,\;\; z_{ij} \le y_j,\;\;
    \sum_{j \in C} y_j = p,\;\; y_j \in \{0, 1\},\; z, u \ge 0

where :math:`N(i)` are the candidate sites stored for :math:`i` with :math:`t_{ij} < f_i`, and :math:`f_i =
\min(\text{far\_s}, \min_{k \in F} t_{ik})`: existing (``fixed``) sites are always open and not counted in
:math:`p`, so they enter as a cheaper "far" option. Only stored pairs get a variable, so the model has one
column per pair rather than per site x demand.

*heuristic*: greedy add, then best-improvement vertex substitution (Teitz-Bart interchange evaluated as in
Whitaker's fast interchange / Resende-Werneck, vectorised over the sparse pairs), and a Lagrangian lower bound
that relaxes the assignment rows with multipliers :math:`\lambda_i`:

.. math::

    L(\lambda) = \sum_i \lambda_i + \sum_i \min(0, w_i f_i - \lambda_i)
                 + \min_{|S| = p} \sum_{j \in S} \rho_j, \qquad
    \rho_j = \sum_{i : j \in N(i)} \min(0, w_i t_{ij} - \lambda_i)

(the :math:`p` most negative :math:`\rho_j`), maximised by subgradient steps of Polyak's size. Every
:math:`L(\lambda)` is a lower bound on the optimum, so the reported gap is certified. *exact*: the same, then
the candidates the best :math:`L(\lambda)` proves closed (or open) in any cheaper plan are fixed, and HiGHS
solves the MIP above over the rest; it proves optimality on moderate sizes (tens of thousands of pairs).

p-center
--------
Minimise the worst walk time of the positive-weight demand that some site (candidate or fixed) reaches
within ``times.limit_s``; the others are listed in ``details["unreachable"]`` and do not make the model
infeasible. The optimum is one of the distinct stored walk times; a binary search asks at each radius
:math:`r` whether at most :math:`p` new sites (with the fixed ones) cover every such demand point within
:math:`r` (greedy first, then a set-cover MIP through HiGHS). The bound is the value following the largest
radius proven infeasible.
"""

from __future__ import annotations

import logging
import numbers
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import InfeasibleError, InputError, PlannerWarning, SolverError
from planner.costs import TravelTimes, nearest_open
from planner.locate._common import Instance, build_result, prepare, resolve_solver
from planner.locate._highs import MipModel, relative_gap, solve_mip
from planner.locate._reduce import merge_rows
from planner.locate._result import SitingResult
from planner.locate.heuristics import greedy_cover

log = logging.getLogger(__name__)

#: Default certified relative gap at which the heuristic stops (0.1 %). The gap is relative to the whole
#: truncated objective, much of which can be demand beyond the cut-off that no plan serves: at 50,000 x 2,000,
#: p = 100, 1 % of the objective was 4.6 % of the saving the new sites make, 0.1 % was 0.45 % (4 s instead of
#: 0.6 s). The exact method uses `DEFAULT_MIP_GAP` and every model the time limit `DEFAULT_TIME_LIMIT_S`.
DEFAULT_HEURISTIC_GAP = 0.001
#: ``method="auto"`` solves exactly when the reduced model has at most this many site-demand pairs (HiGHS
#: closes such p-median MIPs in seconds; at 70,000 pairs it did not find a useful bound in a minute).
AUTO_EXACT_MAX_PAIRS = 20_000


# ----------------------------------------------------------------------------------------------------
# inputs and outputs
# ----------------------------------------------------------------------------------------------------


def _prepare(times, weights, p, *, options: dict, far_s=None, what: str) -> Instance:
    """Validate everything at once (shared checks, p >= 1, far_s); return the canonical instance.

    `options` holds fixed, candidates, method, time_limit_s and mip_gap as the caller got them.
    """
    extra = []
    if isinstance(p, numbers.Integral) and not isinstance(p, bool) and p == 0:
        extra.append(f"`p` must be at least 1 for {what}, got 0")
    if far_s is not None and (
        isinstance(far_s, bool)
        or not isinstance(far_s, numbers.Real)
        or not (np.isfinite(far_s) and far_s > 0)
    ):
        extra.append(f"`far_s` must be a positive number of seconds, got {far_s!r}")
    limit_min = times.limit_s / 60.0 if isinstance(times, TravelTimes) else 1.0
    return prepare(
        times,
        weights,
        threshold_min=limit_min,
        p=p,
        extra_problems=extra,
        **options,
        what=what,
    )


def _nearest_walk_s(inst: Instance, open_rows: np.ndarray) -> np.ndarray:
    """Per demand column (canonical order): walk seconds to the nearest open site, inf if none."""
    is_open = np.zeros(inst.n_sites, dtype=bool)
    is_open[np.asarray(open_rows, dtype=np.int64)] = True
    return np.nan_to_num(nearest_open(inst.walk, is_open)[1], nan=np.inf)


# ----------------------------------------------------------------------------------------------------
# p-median: the reduced model
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _MedianModel:
    """The truncated p-median after reduction, in weighted seconds.

    Pairs are sorted by (demand, cost, candidate), candidates by id; only pairs cheaper than the demand's far
    cost are kept; demand points with no such pair are a constant.
    """

    dem: np.ndarray  # pair -> model demand index
    site: np.ndarray  # pair -> candidate index
    cost: np.ndarray  # pair -> w_i * t_ij
    far: np.ndarray  # model demand -> w_i * f_i
    n_cand: int
    p: int
    constant: float  # sum of w_i * f_i over demand with no useful candidate pair

    @property
    def n_dem(self) -> int:
        return len(self.far)


def _median_model(inst: Instance, p: int, far_s: float) -> _MedianModel:
    """Reduce to the model: fixed sites fold into each demand point's far cost."""
    n_sites, n_dem = inst.walk.shape
    coo = inst.walk.tocoo()
    f_s = np.full(n_dem, float(far_s))
    is_fixed = np.zeros(n_sites, dtype=bool)
    is_fixed[inst.fixed] = True
    on_fixed = is_fixed[coo.row]
    np.minimum.at(f_s, coo.col[on_fixed], coo.data[on_fixed])
    cand_of_row = np.full(n_sites, -1, dtype=np.int64)
    cand_of_row[inst.candidates] = np.arange(len(inst.candidates))
    site = cand_of_row[coo.row]
    w = inst.weight
    keep = (site >= 0) & (w[coo.col] > 0) & (coo.data < f_s[coo.col])
    col, site, t = coo.col[keep], site[keep], coo.data[keep]
    used = np.zeros(n_dem, dtype=bool)
    used[col] = True
    constant = float(np.dot(w[~used], f_s[~used]))
    compact = np.cumsum(used) - 1
    dem = compact[col]
    cost = w[col] * t
    order = np.lexsort((site, cost, dem))
    return _MedianModel(
        dem=dem[order].astype(np.int64),
        site=site[order].astype(np.int64),
        cost=cost[order],
        far=w[used] * f_s[used],
        n_cand=len(inst.candidates),
        p=int(p),
        constant=constant,
    )


def _evaluate(m: _MedianModel, is_open: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest and second-nearest open costs (far cost if none) and the nearest open candidate (-1: far)."""
    idx = np.flatnonzero(is_open[m.site])
    dem = m.dem[idx]
    first = np.ones(len(idx), dtype=bool)
    first[1:] = dem[1:] != dem[:-1]
    second = np.zeros(len(idx), dtype=bool)
    second[1:] = first[:-1] & ~first[1:]
    d1 = m.far.copy()
    d2 = m.far.copy()
    phi1 = np.full(m.n_dem, -1, dtype=np.int64)
    d1[dem[first]] = m.cost[idx[first]]
    phi1[dem[first]] = m.site[idx[first]]
    d2[dem[second]] = m.cost[idx[second]]
    return d1, d2, phi1


def _greedy(m: _MedianModel) -> np.ndarray:
    """Open p candidates one at a time, each the largest saving (ties: smaller id)."""
    is_open = np.zeros(m.n_cand, dtype=bool)
    d = m.far.copy()
    for _ in range(m.p):
        saving = np.bincount(m.site, np.maximum(d[m.dem] - m.cost, 0.0), minlength=m.n_cand)
        saving[is_open] = -1.0
        j = int(np.argmax(saving))
        is_open[j] = True
        mine = m.site == j
        np.minimum.at(d, m.dem[mine], m.cost[mine])
    return is_open


def _interchange(m: _MedianModel, is_open: np.ndarray, deadline: float) -> tuple[np.ndarray, int]:
    """Best-improvement vertex substitution until no swap saves anything (or the deadline); returns moves.

    For a swap (insert j, remove r) the saving is ``gain_j - loss_r + extra_jr`` with
    ``gain_j = sum_i max(0, d1_i - c_ij)``, ``loss_r = sum_{phi1(i)=r} (d2_i - d1_i)`` and
    ``extra_jr = sum_{phi1(i)=r, c_ij<d2_i} (d2_i - max(c_ij, d1_i))`` (Resende & Werneck 2007).
    """
    is_open = is_open.copy()
    moves = 0
    while time.perf_counter() < deadline:
        d1, d2, phi1 = _evaluate(m, is_open)
        total = float(d1.sum())
        open_idx = np.flatnonzero(is_open)
        rank = np.cumsum(is_open) - 1
        d1p, d2p, phi1p = d1[m.dem], d2[m.dem], phi1[m.dem]
        gain = np.bincount(m.site, np.maximum(d1p - m.cost, 0.0), minlength=m.n_cand)
        has = phi1 >= 0
        loss = np.bincount(phi1[has], (d2 - d1)[has], minlength=m.n_cand)[open_idx]
        sel = (phi1p >= 0) & (m.cost < d2p) & ~is_open[m.site]
        # profit(j in, r out) = gain_j - loss_r + extra_jr; extra is sparse (pairs whose nearest open is r),
        # so the best pair is the best sparse entry or the best gain with the smallest loss: no dense array
        key = m.site[sel] * m.p + rank[phi1p[sel]]
        ukey, inv = np.unique(key, return_inverse=True)
        extra = np.bincount(inv, d2p[sel] - np.maximum(m.cost[sel], d1p[sel]), minlength=len(ukey))
        closed_gain = np.where(is_open, -np.inf, gain)
        j0, r0 = int(np.argmax(closed_gain)), int(np.argmin(loss))
        best_profit, best = closed_gain[j0] - loss[r0], j0 * m.p + r0
        if len(ukey):
            kj, kr = np.divmod(ukey, m.p)
            profit = gain[kj] - loss[kr] + extra
            k = int(np.argmax(profit))
            if profit[k] > best_profit or (profit[k] == best_profit and ukey[k] < best):
                best_profit, best = float(profit[k]), int(ukey[k])
        if best_profit <= 1e-9 * max(total, 1.0):
            break
        j, r = divmod(best, m.p)
        is_open[j] = True
        is_open[open_idx[r]] = False
        moves += 1
    return is_open, moves


def _cost(m: _MedianModel, is_open: np.ndarray) -> float:
    """Objective (weighted seconds) of a set of open candidates, constant included."""
    return float(_evaluate(m, is_open)[0].sum()) + m.constant


def _lagrangian(
    m: _MedianModel,
    upper: float,
    best_open: np.ndarray,
    target_gap: float,
    deadline: float,
    *,
    progress: bool = False,
) -> tuple[float, np.ndarray, np.ndarray, float, int]:
    """Subgradient ascent on L(lambda) with Polyak steps; improves the plan from the relaxed solutions.

    Returns the best lower bound (constant included), its multipliers, the best plan, its cost, and the
    iterations run.
    """
    lo = np.full(m.n_dem, np.inf)
    np.minimum.at(lo, m.dem, m.cost)
    _, d2, _ = _evaluate(m, best_open)
    lam = d2.copy()  # a demand point's second choice: a good start for its price
    best_lb = -np.inf
    best_lam = lam
    theta = 1.0
    stall = 0
    it = 0
    tried: set[bytes] = set()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(desc=f"p-median bound p={m.p}", unit="step", leave=False)
    while time.perf_counter() < deadline:
        it += 1
        if bar is not None:
            bar.update(1)
            bar.set_postfix(bound=f"{best_lb:.4g}", plan=f"{upper:.4g}", refresh=False)
        red = m.cost - lam[m.dem]
        neg = red < 0
        rho = np.bincount(m.site[neg], red[neg], minlength=m.n_cand)
        chosen = np.argpartition(rho, m.p - 1)[: m.p] if m.p < m.n_cand else np.arange(m.n_cand)
        y = np.zeros(m.n_cand, dtype=bool)
        y[chosen] = True
        far_neg = m.far < lam
        lb = float(lam.sum() + (m.far - lam)[far_neg].sum() + rho[chosen].sum()) + m.constant
        if lb > best_lb + 1e-12 * abs(lb):
            best_lb, best_lam = lb, lam
            stall = 0
        else:
            stall += 1
        if it % 25 == 0:
            key = np.packbits(y).tobytes()
            if key not in tried:  # the relaxed sites as a start for local search
                tried.add(key)
                now = time.perf_counter()
                plan, _ = _interchange(m, y, now + 0.1 * max(deadline - now, 0.0))
                value = _cost(m, plan)
                if value < upper - 1e-9 * upper:
                    upper, best_open = value, plan
        if relative_gap(upper, best_lb) <= target_gap:
            break
        if stall >= 20:
            theta /= 2.0
            stall = 0
            if theta < 1e-4:
                break
        g = 1.0 - far_neg - np.bincount(m.dem[neg & y[m.site]], minlength=m.n_dem)
        norm = float(np.dot(g, g))
        if norm == 0.0:  # the relaxed solution is feasible, hence optimal
            break
        lam = np.clip(lam + theta * (upper - lb) / norm * g, lo, m.far)
    if bar is not None:
        bar.close()
    return best_lb, best_lam, best_open, upper, it


def _lagrangian_fixing(m: _MedianModel, lam: np.ndarray, upper: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidates that any plan cheaper than `upper` must close (first array) or open (second), from L(lam).

    Forcing candidate j into the p chosen by the relaxation (or out of it) changes the bound by the
    difference of its rho and the p-th (or (p+1)-th) smallest rho; a forced bound above `upper` proves the
    opposite choice.
    """
    red = m.cost - lam[m.dem]
    neg = red < 0
    rho = np.bincount(m.site[neg], red[neg], minlength=m.n_cand)
    far_neg = m.far < lam
    base = float(lam.sum() + (m.far - lam)[far_neg].sum()) + m.constant
    order = np.argsort(rho, kind="stable")
    lb = base + float(rho[order[: m.p]].sum())
    in_lr = np.zeros(m.n_cand, dtype=bool)
    in_lr[order[: m.p]] = True
    tol = 1e-9 * max(abs(upper), 1.0)
    p_th = rho[order[m.p - 1]]
    closed = ~in_lr & (lb - p_th + rho > upper + tol)
    opened = np.zeros(m.n_cand, dtype=bool)
    if m.p < m.n_cand:
        next_rho = rho[order[m.p]]
        opened = in_lr & (lb - rho + next_rho > upper + tol)
    return closed, opened


def _median_mip(
    m: _MedianModel,
    closed: np.ndarray,
    opened: np.ndarray,
    plan: np.ndarray,
    *,
    time_limit_s: float,
    mip_gap: float,
) -> tuple[np.ndarray, float]:
    """The sparse MIP through HiGHS over the candidates not proven closed; returns the plan and its bound.

    Columns y (candidates), z (one per stored pair), u (far, one per demand point); rows: assignment
    ``sum_j z_ij + u_i = 1``, linking ``z_ij - y_j <= 0``, cardinality ``sum_j y_j = p``. `plan` (open
    candidates) is handed to HiGHS as the first incumbent when it respects the fixings.
    """
    keep_site = np.flatnonzero(~closed)
    new_of = np.full(m.n_cand, -1, dtype=np.int64)
    new_of[keep_site] = np.arange(len(keep_site))
    on = ~closed[m.site]
    site, pair_dem, pair_cost = new_of[m.site[on]], m.dem[on], m.cost[on]
    n, k, d = len(keep_site), len(pair_cost), m.n_dem
    pair = np.arange(k)
    rows = np.concatenate([pair_dem, d + pair, d + pair, np.arange(d), np.full(n, d + k)])
    cols = np.concatenate([n + pair, n + pair, site, n + k + np.arange(d), np.arange(n)])
    vals = np.concatenate([np.ones(k), np.ones(k), -np.ones(k), np.ones(d), np.ones(n)])
    a = sp.csc_array((vals, (rows, cols)), shape=(d + k + 1, n + k + d))
    cost = np.concatenate([np.zeros(n), pair_cost, m.far])
    row_lo = np.concatenate([np.ones(d), np.full(k, -np.inf), [m.p]])
    row_hi = np.concatenate([np.ones(d), np.zeros(k), [m.p]])
    col_lo = np.zeros(n + k + d)
    col_lo[:n] = opened[keep_site]
    integral = np.zeros(n + k + d, dtype=bool)
    integral[:n] = True
    start = None
    if not (plan & closed).any() and not (opened & ~plan).any():
        phi1 = _evaluate(m, plan)[2]
        start = np.concatenate([plan[keep_site], (phi1[pair_dem] == m.site[on]), phi1 < 0]).astype(float)
    model = MipModel(cost, a, row_lo, row_hi, col_lo, np.ones(n + k + d), integral)
    sol = solve_mip(
        model,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_gap,
        what="p-median",
        start=start,
    )
    is_open = np.zeros(m.n_cand, dtype=bool)
    is_open[keep_site[sol.x[:n] > 0.5]] = True
    return is_open, sol.bound + m.constant


#: Relative differences below this are floating-point noise: a gap this small is reported as 0.
_FLOAT_GAP = 1e-9


def _solve_median(
    m: _MedianModel, method: str, gap_target: float, deadline: float, progress: bool = False
) -> tuple[np.ndarray, float, float, str, dict]:
    """Plan, objective, certified bound, status and statistics of the reduced p-median.

    Both methods start from greedy + interchange and the Lagrangian bound; the exact method then hands the
    candidates the bound cannot decide to HiGHS.
    """
    if len(m.cost) == 0:  # no candidate improves on the far / fixed walk of anyone: any plan is optimal
        is_open = np.zeros(m.n_cand, dtype=bool)
        is_open[: m.p] = True
        return is_open, m.constant, m.constant, "optimal" if method == "exact" else "heuristic", {}
    is_open = _greedy(m)
    greedy_cost = _cost(m, is_open)
    # interchange gets at most 40 % of what is left: the Lagrangian bound (and its own plans) needs the rest
    now = time.perf_counter()
    is_open, moves = _interchange(m, is_open, now + 0.4 * max(deadline - now, 0.0))
    objective = _cost(m, is_open)
    log.info("p-median heuristic: greedy %.6g, after %d swaps %.6g", greedy_cost, moves, objective)
    # the exact method leaves HiGHS at least half of what remains of the budget
    lr_deadline = deadline if method == "heuristic" else (time.perf_counter() + deadline) / 2
    lr_target = max(gap_target, _FLOAT_GAP)
    bound, lam, is_open, objective, iters = _lagrangian(
        m, objective, is_open, lr_target, lr_deadline, progress=progress
    )
    stats: dict = {"greedy_objective": greedy_cost, "swaps": moves, "lagrangian_iterations": iters}
    if method == "exact" and relative_gap(objective, bound) > lr_target:
        closed, opened = _lagrangian_fixing(m, lam, objective)
        stats |= {"closed_by_bound": int(closed.sum()), "opened_by_bound": int(opened.sum())}
        log.info(
            "p-median: Lagrangian bound closes %d and opens %d of %d candidates before the MIP",
            closed.sum(),
            opened.sum(),
            m.n_cand,
        )
        try:
            remaining = max(deadline - time.perf_counter(), 1.0)
            plan, mip_bound = _median_mip(
                m, closed, opened, is_open, time_limit_s=remaining, mip_gap=gap_target
            )
        except InfeasibleError:  # no plan beats the heuristic one: it is optimal
            mip_bound = objective
        else:
            value = _cost(m, plan)
            if value < objective:
                is_open, objective = plan, value
        # plans outside the reduced model cost at least the heuristic plan
        bound = max(bound, min(mip_bound, objective))
    bound = min(bound, objective)
    if relative_gap(objective, bound) <= _FLOAT_GAP:
        bound = objective
    if method == "heuristic":
        status = "heuristic"
    else:
        status = "optimal" if relative_gap(objective, bound) <= gap_target else "time_limit"
    return is_open, objective, bound, status, stats


def p_median(
    times: TravelTimes,
    weights: pd.Series,
    *,
    p: int,
    fixed=None,
    candidates=None,
    far_s: float | None = None,
    method: str | None = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    progress: bool = False,
) -> SitingResult:
    """Open `p` new sites that minimise the total weighted walk time (p-median, truncated at the cut-off).

    Parameters
    ----------
    times
        Sparse walk seconds, sites x demand, within ``times.limit_s``.
    weights
        Older residents per demand point, indexed by ``demand_id`` (aligned by label with
        ``times.demand_ids``).
    p
        Number of new sites to open (fixed sites are not counted).
    fixed
        Ids of existing sites that are always open; each demand point may walk to them.
    candidates
        Ids of sites that may be opened; default every site of `times` that is not fixed.
    far_s
        Walk seconds counted for a demand point with no open site within the cut-off; default
        ``times.limit_s`` (people beyond the cut-off count as walking the cut-off). The objective is the one
        of this truncated model.
    method
        ``"heuristic"``: greedy + interchange with a Lagrangian bound, stopping at `mip_gap`; ``"exact"``:
        the same, then the MIP over the candidates the bound leaves open, through HiGHS (warm-started);
        ``"auto"``: exact when the reduced model has at most ``AUTO_EXACT_MAX_PAIRS`` site-demand pairs,
        else heuristic.
    time_limit_s
        Wall-time budget of the whole solve; default 60 s.
    mip_gap
        Relative gap at which to stop; default 1e-6 for the exact method, 0.001 (0.1 %) for the heuristic.
        The gap is relative to the whole truncated objective, far demand included.
    progress
        Show a tqdm bar with the Lagrangian bound and the plan's cost while the bound is computed.

    Returns
    -------
    SitingResult
        ``objective`` in weighted walk seconds (far demand at `far_s`); ``bound`` a certified lower bound on
        the optimum of the truncated model; ``status`` ``"optimal"`` (exact, gap within `mip_gap`),
        ``"time_limit"`` or ``"heuristic"``; ``covered`` counts open sites within ``times.limit_s``;
        ``details`` with ``mean_walk_min`` (per older resident, far demand at `far_s`), ``far_s``,
        ``n_far`` / ``weight_far`` (demand whose nearest open site is beyond `far_s`),
        ``cost_without_new_sites`` and ``saving_gap`` (the gap as a share of the saving the new sites can
        make, ``(objective - bound) / (cost_without_new_sites - bound)``: larger than `gap` when much demand
        stays beyond the cut-off), model sizes and the heuristic's statistics.

    Warns
    -----
    PlannerWarning
        When the certified gap is above `mip_gap` at the time limit (the plan and its gap are returned).
    """
    start = time.perf_counter()
    method = "auto" if method is None else method
    options = {
        "fixed": fixed,
        "candidates": candidates,
        "method": method,
        "time_limit_s": time_limit_s,
        "mip_gap": mip_gap,
    }
    inst = _prepare(times, weights, p, options=options, far_s=far_s, what="p_median")
    far_s = float(times.limit_s if far_s is None else far_s)
    time_limit_s, exact_gap = resolve_solver(time_limit_s, mip_gap)
    deadline = start + time_limit_s
    m = _median_model(inst, p, far_s)
    if method == "auto":
        method = "exact" if len(m.cost) <= AUTO_EXACT_MAX_PAIRS else "heuristic"
    log.info(
        "p-median model: %d candidates, %d fixed, %d of %d demand points with a useful pair, %d pairs, "
        "p=%d, %s",
        m.n_cand,
        len(inst.fixed),
        m.n_dem,
        inst.n_demand,
        len(m.cost),
        p,
        method,
    )
    gap_target = exact_gap if method == "exact" or mip_gap is not None else DEFAULT_HEURISTIC_GAP
    is_open, objective, bound, status, stats = _solve_median(m, method, gap_target, deadline, progress)
    gap = relative_gap(objective, bound)
    if gap > gap_target:
        warnings.warn(
            f"p_median: certified gap {100 * gap:.3g} % exceeds the requested mip_gap "
            f"{100 * gap_target:.3g} % after {time.perf_counter() - start:.3g} s; raise time_limit_s, "
            "or accept the gap stated",
            PlannerWarning,
            stacklevel=2,
        )
    selected = inst.candidates[is_open]
    best_s = _nearest_walk_s(inst, np.union1d(selected, inst.fixed))
    is_far = (best_s >= far_s) & (inst.weight > 0)
    total_w = float(inst.weight.sum())
    no_new = float(m.far.sum()) + m.constant
    solve_s = time.perf_counter() - start
    log.info(
        "p-median %s: objective %.6g weighted s, bound %.6g, gap %.3g%%, mean walk %.2f min, %.2f s",
        status,
        objective,
        bound,
        100 * gap,
        objective / max(total_w, 1e-12) / 60.0,
        solve_s,
    )
    details = {
        "mean_walk_min": objective / total_w / 60.0 if total_w > 0 else float("nan"),
        "far_s": far_s,
        "weight_far": float(inst.weight[is_far].sum()),
        "n_far": int(is_far.sum()),
        "objective_of": "truncated model: demand beyond the cut-off (or beyond far_s) counts at far_s",
        "cost_without_new_sites": no_new,
        "saving_gap": (objective - bound) / (no_new - bound) if no_new > bound else 0.0,
        "n_pairs": len(m.cost),
        "n_demand_in_model": m.n_dem,
        "requested_gap": gap_target,
        **stats,
    }
    return build_result(
        inst,
        model="p-median",
        selected=selected,
        objective=objective,
        bound=bound,
        status=status,
        method=method,
        solve_s=solve_s,
        details=details,
    )


# ----------------------------------------------------------------------------------------------------
# p-center
# ----------------------------------------------------------------------------------------------------


def _cover_within(
    walk_s: np.ndarray, dem: np.ndarray, site: np.ndarray, r_s: float, *, shape: tuple[int, int]
) -> sp.csc_array:
    """Boolean (demand x candidates) CSC array of the pairs within `r_s`."""
    keep = walk_s <= r_s
    return sp.csc_array((np.ones(int(keep.sum()), dtype=bool), (dem[keep], site[keep])), shape=shape)


def _center_feasible(
    a: sp.csc_array, p: int, r_s: float, *, exact: bool, time_limit_s: float
) -> tuple[str, np.ndarray | None]:
    """Can at most p columns of boolean `a` cover all its rows? "yes" (and a plan), "no" or "unknown".

    Greedy first; then, on the distinct rows, the LP relaxation of the set cover (an LP optimum above p proves
    "no" however little time is left for the MIP), then a feasibility MIP (no objective: HiGHS stops at the
    first cover).
    """
    n_cand = a.shape[1]
    if (np.diff(sp.csr_array(a).indptr) == 0).any():
        return "no", None
    plan = greedy_cover(a, max_cols=p)
    if plan is not None:
        return "yes", np.sort(plan)
    if not exact or time_limit_s <= 0:
        return "unknown", None
    label, n_distinct = merge_rows(sp.csr_array(a))
    first = np.full(n_distinct, -1, dtype=np.int64)
    first[label[::-1]] = np.arange(len(label))[::-1]
    rows = sp.csr_array(a)[first]
    n_rows = rows.shape[0]
    a_rows = sp.vstack([sp.csr_array(rows, dtype=float), sp.csr_array(np.ones((1, n_cand)))])
    row_lo = np.concatenate([np.ones(n_rows), [-np.inf]])
    row_hi = np.concatenate([np.full(n_rows, np.inf), [p]])
    started = time.perf_counter()
    cover_lp = MipModel(
        np.ones(n_cand),
        sp.csr_array(rows, dtype=float),
        np.ones(n_rows),
        np.full(n_rows, np.inf),
        np.zeros(n_cand),
        np.ones(n_cand),
        np.zeros(n_cand, bool),
    )
    try:
        lp = solve_mip(cover_lp, time_limit_s=time_limit_s, what=f"p-center cover LP within {r_s:g} s")
        if lp.status == "optimal" and lp.objective > p + 1e-6:
            return "no", None
    except SolverError:
        pass
    time_limit_s -= time.perf_counter() - started
    if time_limit_s <= 0:
        return "unknown", None
    try:
        model = MipModel(
            np.zeros(n_cand), a_rows, row_lo, row_hi, np.zeros(n_cand), np.ones(n_cand), np.ones(n_cand, bool)
        )
        sol = solve_mip(
            model,
            time_limit_s=time_limit_s,
            what=f"p-center cover within {r_s:g} s",
        )
    except InfeasibleError:
        return "no", None
    except SolverError:
        return "unknown", None
    return "yes", np.flatnonzero(sol.x > 0.5)


def p_center(
    times: TravelTimes,
    weights: pd.Series,
    *,
    p: int,
    fixed=None,
    candidates=None,
    method: str | None = "auto",
    time_limit_s: float | None = None,
) -> SitingResult:
    """Open at most `p` new sites that minimise the worst walk time of reachable demand (p-center).

    Parameters
    ----------
    times
        Sparse walk seconds, sites x demand, within ``times.limit_s``.
    weights
        Older residents per demand point, indexed by ``demand_id``; only points with a positive weight count.
    p
        Number of new sites to open at most (fixed sites are not counted; adding sites never worsens the worst
        walk, so the plan may use fewer when they suffice).
    fixed
        Ids of existing sites that are always open.
    candidates
        Ids of sites that may be opened; default every site of `times` that is not fixed.
    method
        ``"exact"`` / ``"auto"``: each radius is decided by greedy cover, else a set-cover MIP through HiGHS;
        ``"heuristic"``: greedy cover only (a radius it cannot cover counts as not proven).
    time_limit_s
        Wall-time budget for the whole search; default 60 s.

    Returns
    -------
    SitingResult
        ``objective``: the worst walk seconds of positive-weight demand that some candidate or fixed site
        reaches within ``times.limit_s``; ``bound``: the smallest distinct walk time above every radius proven
        infeasible
        (so the optimum lies in ``[bound, objective]``). Demand no site reaches within the limit is listed in
        ``details["unreachable"]``.

    Raises
    ------
    InfeasibleError
        When no `p` new sites reach every reachable demand point within ``times.limit_s``.
    """
    start = time.perf_counter()
    method = "auto" if method is None else method
    options = {"fixed": fixed, "candidates": candidates, "method": method, "time_limit_s": time_limit_s}
    inst = _prepare(times, weights, p, options=options, what="p_center")
    time_limit_s, _ = resolve_solver(time_limit_s, None)
    deadline = start + time_limit_s
    coo = inst.walk.tocoo()
    positive = inst.weight > 0
    role = np.zeros(inst.n_sites, dtype=np.int8)  # 1 candidate, 2 fixed
    role[inst.candidates] = 1
    role[inst.fixed] = 2
    on = (role[coo.row] > 0) & positive[coo.col]
    row, col, walk = coo.row[on], coo.col[on], coo.data[on]
    nearest = np.full(inst.n_demand, np.inf)
    np.minimum.at(nearest, col, walk)
    reachable = np.isfinite(nearest)
    unreachable = inst.demand_ids[positive & ~reachable]
    if not reachable.any():
        raise InputError(
            "p_center: no positive-weight demand point has a candidate or fixed site within "
            f"{times.limit_s:g} s; recompute the travel times with a larger limit, or add candidates"
        )
    r_lb = float(nearest[reachable].max())
    # demand served by a fixed site within r needs nothing more: keep its fixed walk to test per radius
    fixed_s = np.full(inst.n_demand, np.inf)
    on_fixed = role[row] == 2
    np.minimum.at(fixed_s, col[on_fixed], walk[on_fixed])
    n_cand = len(inst.candidates)
    cand_of_row = np.full(inst.n_sites, -1, dtype=np.int64)
    cand_of_row[inst.candidates] = np.arange(n_cand)
    on_cand = role[row] == 1
    values = np.unique(walk[walk >= r_lb])

    def decide(r_s: float, *, all_time: bool = False) -> tuple[str, np.ndarray | None]:
        need = reachable & (fixed_s > r_s)
        compact = np.cumsum(need) - 1
        keep = on_cand & need[col]
        shape = (int(need.sum()), n_cand)
        a = _cover_within(walk[keep], compact[col[keep]], cand_of_row[row[keep]], r_s, shape=shape)
        steps_left = max(1, int(np.ceil(np.log2(max(hi - lo, 1)))) + 1)
        share = (deadline - time.perf_counter()) / (1 if all_time else steps_left)
        return _center_feasible(a, p, r_s, exact=method != "heuristic", time_limit_s=share)

    tested: list[tuple[float, str]] = []
    lo, hi = 0, len(values) - 1
    verdict, plan = decide(float(values[-1]))
    tested.append((float(values[-1]), verdict))
    if verdict == "no":
        raise InfeasibleError(
            f"p_center: {p} new sites cannot reach every reachable demand point within the limit "
            f"{times.limit_s:g} s (the fixed sites included); raise p, add candidates, or recompute the "
            "travel times with a larger limit"
        )
    if verdict == "unknown":
        raise SolverError(
            f"p_center: could not decide within {time_limit_s:g} s whether {p} sites cover all reachable "
            "demand within the limit; raise time_limit_s"
        )
    while lo < hi:  # values[hi] is feasible; an "unknown" radius is searched above, never counted as proven
        mid = (lo + hi) // 2
        verdict, mid_plan = decide(float(values[mid]))
        tested.append((float(values[mid]), verdict))
        if verdict == "yes":
            hi, plan = mid, mid_plan
        else:
            lo = mid + 1
    # radii left undecided get the time that is left, each in turn (the smallest first): the interval between
    # the largest radius proven infeasible and the best feasible one is searched again
    revisit = True
    while revisit and method != "heuristic" and time.perf_counter() < deadline - 0.05:
        proven_no = [r for r, v in tested if v == "no"]
        lo2 = int(np.searchsorted(values, max(proven_no), side="right")) if proven_no else 0
        undecided = [r for r, v in tested if v == "unknown" and values[lo2] <= r < values[hi]]
        if lo2 >= hi or not undecided:
            break
        mid = (lo2 + hi) // 2
        verdict, mid_plan = decide(float(values[mid]), all_time=True)
        tested.append((float(values[mid]), verdict))
        if verdict == "yes":
            hi, plan = mid, mid_plan
        revisit = verdict != "unknown"
    selected = inst.candidates[plan]
    best_s = _nearest_walk_s(inst, np.union1d(selected, inst.fixed))
    objective = float(best_s[reachable].max())
    proven = [r for r, v in tested if v == "no"]
    bound = min(float(values[values > max(proven)][0]) if proven else r_lb, objective)
    gap = relative_gap(objective, bound)
    status = "optimal" if gap == 0 else ("heuristic" if method == "heuristic" else "time_limit")
    solve_s = time.perf_counter() - start
    log.info(
        "p-center %s: worst walk %.1f s (bound %.1f s), %d of %d new sites used, %d radii tested, "
        "%d demand points unreachable, %.2f s",
        status,
        objective,
        bound,
        len(selected),
        p,
        len(tested),
        len(unreachable),
        solve_s,
    )
    details = {
        "worst_walk_min": objective / 60.0,
        "unreachable": tuple(unreachable),
        "n_unreachable": len(unreachable),
        "weight_unreachable": float(inst.weight[positive & ~reachable].sum()),
        "n_sites_used": len(selected),
        "radii_tested": tuple(tested),
        "bound_of": "smallest distinct walk time above every radius proven infeasible",
    }
    return build_result(
        inst,
        model="p-center",
        selected=selected,
        objective=objective,
        bound=bound,
        status=status,
        method="heuristic" if method == "heuristic" else "exact",
        solve_s=solve_s,
        details=details,
    )
