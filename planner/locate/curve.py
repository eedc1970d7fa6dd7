"""How coverage grows with each added site, and how many sites reach a target share ("is 100 enough?").

The curve is the greedy sequence (each step adds the candidate covering the most uncovered weight, ties by
id),
which is within :math:`1 - 1/e` of the optimum at every `p`. Each point carries a proven upper bound from
submodularity (Nemhauser, Wolsey and Fisher 1978): for any greedy prefix :math:`S_q`,

.. math::

    \\mathrm{OPT}(p) \\le f(S_q) + \\sum_{\\text{p largest}} \\Delta_j(S_q),

and the table keeps the smallest over all :math:`q`, capped at the coverable weight. Fixed sites are open at
``p = 0``. The number of sites needed for each target share of the *coverable* weight (reachable from some
candidate or fixed site) is solved exactly:

.. math::

    \\min \\sum_j x_j \\quad \\text{s.t.} \\quad \\sum_i w_i y_i \\ge \\tau W^c - W^F, \\quad
    y_i \\le \\sum_{j \\in N_i} x_j, \\quad x_j \\in \\{0, 1\\}, \\; 0 \\le y_i \\le 1

where :math:`W^F` is the weight fixed sites cover already.
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import SolverError
from planner.costs import TravelTimes
from planner.locate._common import open_count, prepare, resolve_solver
from planner.locate._highs import solve_mip
from planner.locate._reduce import Reduced, reduce_coverage
from planner.locate.covering import AUTO_EXACT_NNZ, mclp_model

log = logging.getLogger(__name__)

#: With an exact method, the curve's bounds are tightened by LP relaxations at up to this many values of p.
LP_BOUND_POINTS = 8


@dataclass(frozen=True, eq=False)
class CoverageCurve:
    """Coverage against the number of new sites.

    Attributes
    ----------
    table
        One row per ``p = 0..max_sites``: ``p``, ``site`` (the id added at that step; missing at 0),
        ``covered_weight`` (greedy, fixed sites included), ``share`` (of all weight), ``share_coverable``
        (of the coverable weight), ``bound`` (proven upper bound on the covered weight with p sites).
    needed
        One row per target share of the coverable weight: ``target``, ``sites`` (fewest new sites, exact
        unless
        ``status`` says otherwise; with the greedy method None when the curve up to `max_sites` does not
        reach it), ``lower_bound`` (proven), ``greedy_sites`` (along the greedy sequence, which continues
        past `max_sites`), ``status``.
    total_weight, coverable_weight, fixed_weight
        All weight; weight some candidate or fixed site reaches; weight fixed sites cover.
    threshold_s
        Coverage threshold in seconds.
    stand_in
        True when the travel times rest on stand-in data.
    """

    table: pd.DataFrame
    needed: pd.DataFrame
    total_weight: float
    coverable_weight: float
    fixed_weight: float
    threshold_s: float
    stand_in: bool = False


def _greedy_path(red: Reduced, max_sites: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy order, value after each step (from 0), and the submodular bound for p = 0..max_sites."""
    a = red.a
    at = sp.csr_array(a.T)
    counts = red.level.astype(np.int64).copy()
    order, values = [], [0.0]
    best_bound = np.full(max_sites + 1, np.inf)
    value = 0.0
    open_mask = np.zeros(a.shape[1], dtype=bool)
    for step in range(max_sites + 1):
        gains = at @ (red.weight * (counts == 0))
        gains[open_mask] = 0.0
        top = np.concatenate([[0.0], np.cumsum(np.sort(gains)[::-1])])
        top = np.concatenate([top, np.full(max(0, max_sites + 1 - len(top)), top[-1])])[: max_sites + 1]
        best_bound = np.minimum(best_bound, value + top)
        if step == max_sites:
            break
        j = int(np.argmax(gains))  # ties: smallest column = smallest id
        if gains[j] <= 0:
            j = int(np.flatnonzero(~open_mask)[0])
        open_mask[j] = True
        order.append(j)
        counts[a.indices[a.indptr[j] : a.indptr[j + 1]]] += 1
        value += float(gains[j])
        values.append(value)
    return np.asarray(order, dtype=np.int64), np.asarray(values), best_bound


def _fewest_sites(red: Reduced, need: float, start_cols: np.ndarray, time_limit_s: float, mip_gap: float):
    """Exact minimum number of columns covering at least `need` weight (MIP), warm-started from `start_cols`.

    Reuses the MCLP arrays (with rows reached by one candidate folded onto it): their objective vector is the
    covered weight, which becomes the one ``>= need`` row; the ``sum x = p`` row is dropped.
    """
    model, y_rows = mclp_model(red, 0, backup_weight=0.0)
    n = red.n_cols
    m = len(y_rows)
    cover_rows = sp.csr_array(model.a)[:m]
    weight_row = sp.csr_array(model.cost[None, :])
    total = model.n_cols
    start = np.zeros(total)
    start[start_cols] = 1.0
    counts = np.asarray(red.a @ start[:n]).ravel()[y_rows]
    start[n:] = (counts >= 1).astype(float)
    fewest = model.with_(
        cost=np.concatenate([np.ones(n), np.zeros(total - n)]),
        a=sp.vstack([cover_rows, weight_row], format="csc"),
        row_lo=np.concatenate([model.row_lo[:m], [need]]),
        row_hi=np.concatenate([model.row_hi[:m], [np.inf]]),
    )
    return solve_mip(
        fewest,
        maximize=False,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_gap,
        what="fewest sites for a target",
        start=start,
    )


def _lp_bounds(red: Reduced, ps: np.ndarray, time_limit_s: float) -> dict[int, float]:
    """LP-relaxation bounds of the reduced MCLP (without fixed weight) at the given p values."""
    out = {}
    for p in ps:
        model, _ = mclp_model(red, int(p), backup_weight=0.0)
        try:
            lp = solve_mip(
                model.relaxed(),
                maximize=True,
                ipm=True,
                time_limit_s=time_limit_s,
                mip_rel_gap=0.0,
                what=f"curve LP bound p={p}",
            )
        except SolverError:
            continue
        if lp.status == "optimal":
            out[int(p)] = lp.objective
    return out


def _curve_table(
    inst,
    red: Reduced,
    order: np.ndarray,
    covered: np.ndarray,
    bound: np.ndarray,
    *,
    max_sites: int,
    total: float,
    coverable: float,
) -> pd.DataFrame:
    """The curve from p = 0 to `max_sites`: the sites added in `order` (k of them; `covered` and `bound` hold
    k + 1 values), then unused candidates that add nothing, with the last value and bound carried on."""
    k = len(order)
    covered = np.concatenate([covered, np.full(max_sites - k, covered[-1])])
    bound = np.concatenate([bound, np.full(max_sites - k, bound[-1])])
    pad_ids = [None] + [inst.site_ids[red.cols[j]] for j in order]
    unused = np.setdiff1d(inst.candidates, red.cols[order])
    pad_ids += [inst.site_ids[r] for r in unused[: max_sites - k]]
    return pd.DataFrame(
        {
            "p": np.arange(max_sites + 1),
            "site": pd.array(pad_ids, dtype=object),
            "covered_weight": covered,
            "share": covered / total if total > 0 else np.nan,
            "share_coverable": covered / coverable if coverable > 0 else np.nan,
            "bound": bound,
        }
    )


def coverage_curve(
    times: TravelTimes,
    weights: pd.Series,
    *,
    threshold_min: float,
    fixed=None,
    candidates=None,
    max_sites: int | None = None,
    targets: Sequence[float] = (0.8, 0.9, 0.95, 1.0),
    method: str = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    exact: bool = False,
    progress: bool = False,
) -> CoverageCurve:
    """Covered weight for p = 0..max_sites new sites, and the fewest sites reaching each target share.

    Parameters
    ----------
    times, weights, threshold_min, fixed, candidates
        As in `planner.locate.covering.mclp`.
    max_sites
        Largest p on the curve (default: until every coverable point is covered, at most all candidates).
    targets
        Shares of the coverable weight (in (0, 1]) for which to find the fewest sites.
    method
        With `exact`: ``"exact"`` / ``"auto"`` (HiGHS MIP, auto falls back to greedy when the model is
        larger than `planner.locate.covering.AUTO_EXACT_NNZ`) or ``"heuristic"``.
    time_limit_s, mip_gap
        Limits of each exact solve (and of the whole one-pass curve).
    exact
        False (default): one pass. The curve is the greedy sequence; the bound at every p is the smallest of
        submodular bounds along the sequence and Lagrangian bounds (`planner.locate.lagrangian.curve_bound`)
        at multipliers fitted for a few p, made monotone; `needed` gives the greedy count and the first p
        whose bound reaches the target (a proven lower bound), ``status`` ``"optimal"`` when they meet.
        True: as before, a MIP per target for the fewest sites and LP bounds at up to `LP_BOUND_POINTS` p.
    progress
        Show a tqdm bar over the bound computations (one-pass curve).
    """
    start_s = time.perf_counter()
    problems = []
    try:
        targets = [float(t) for t in targets]
    except (TypeError, ValueError):
        problems.append(f"`targets` must be shares in (0, 1], got {targets!r}")
        targets = []
    bad = [t for t in targets if not (0 < t <= 1)]
    if bad:
        problems.append(f"`targets` must be shares in (0, 1], got {bad}")
    if max_sites is not None and (
        isinstance(max_sites, bool) or not isinstance(max_sites, numbers.Integral) or max_sites < 0
    ):
        problems.append(f"`max_sites` must be a whole number >= 0, got {max_sites!r}")
    inst = prepare(
        times,
        weights,
        threshold_min=threshold_min,
        fixed=fixed,
        candidates=candidates,
        p=max_sites,
        p_name="max_sites",
        p_required=False,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        extra_problems=problems,
        what="coverage_curve",
    )
    time_limit_s, mip_gap = resolve_solver(time_limit_s, mip_gap)
    level = inst.fixed_count()
    red = reduce_coverage(inst.cover, inst.weight, inst.candidates, level=level)
    fixed_w = float(inst.weight @ (level >= 1))
    reach = open_count(inst.cover, np.union1d(inst.fixed, inst.candidates)) >= 1
    coverable = float(inst.weight @ reach)
    total = float(inst.weight.sum())
    if not exact:
        return _one_pass(
            inst,
            red,
            targets,
            max_sites=max_sites,
            fixed_w=fixed_w,
            coverable=coverable,
            total=total,
            time_limit_s=time_limit_s,
            progress=progress,
            start_s=start_s,
        )
    # the whole greedy sequence (until nothing is left to cover): the curve is its prefix, `needed` uses all
    order, values, bound = _greedy_path(red, red.n_cols)
    done = np.flatnonzero(values >= red.weight.sum() - 1e-9 * max(1.0, coverable))
    full_k = int(done[0]) if len(done) else red.n_cols
    greedy_full = fixed_w + values[: full_k + 1]
    k = full_k if max_sites is None else min(int(max_sites), red.n_cols)
    max_sites = k if max_sites is None else int(max_sites)
    order_all = order
    order, values, bound = order[:k], values[: k + 1], bound[: k + 1]
    covered = fixed_w + values
    bound = np.minimum(fixed_w + bound, coverable)
    exact = method == "exact" or (method == "auto" and red.a.nnz <= AUTO_EXACT_NNZ)
    if exact and k > 1:
        # OPT(p) grows with p, so an LP bound at p' also bounds every p <= p'
        grid = np.unique(np.linspace(1, k, min(k, LP_BOUND_POINTS)).round().astype(int))
        lp = _lp_bounds(red, grid, time_limit_s)
        for p_lp, value in sorted(lp.items()):
            bound[: p_lp + 1] = np.minimum(bound[: p_lp + 1], fixed_w + value)
    bound = np.maximum(bound, covered)
    table = _curve_table(
        inst, red, order, covered, bound, max_sites=max_sites, total=total, coverable=coverable
    )
    needed = _needed(
        red,
        targets,
        greedy_full,
        bound,
        order_all,
        fixed_w=fixed_w,
        coverable=coverable,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
    )
    log.info(
        "coverage curve: p = 0..%d, %.1f%% of coverable weight at p = %d; targets %s need %s sites; %.2f s",
        max_sites,
        100 * table["share_coverable"].iloc[-1] if coverable else 0.0,
        max_sites,
        targets,
        needed["sites"].tolist(),
        time.perf_counter() - start_s,
    )
    return CoverageCurve(table, needed, total, coverable, fixed_w, inst.threshold_s, inst.stand_in)


def _needed(
    red, targets, covered, bound, order, *, fixed_w, coverable, method, time_limit_s, mip_gap
) -> pd.DataFrame:
    """Fewest sites per target share (exact when asked and small enough; greedy otherwise)."""
    rows = []
    tol = 1e-9 * max(1.0, coverable)
    for t in targets:
        goal = t * coverable - tol
        reach = np.flatnonzero(covered >= goal)
        greedy_sites = int(reach[0]) if len(reach) else None
        # p with bound below the goal cannot reach it: a proven lower bound on the sites
        below = np.flatnonzero(bound < goal)
        lower = int(below[-1] + 1) if len(below) else 0
        need = goal - fixed_w
        if need <= 0:
            rows.append((t, 0, 0, 0, "optimal"))
            continue
        exact = method == "exact" or (method == "auto" and red.a.nnz <= AUTO_EXACT_NNZ)
        if exact:
            start_cols = order[:greedy_sites] if greedy_sites is not None else order  # the greedy plan
            sol = _fewest_sites(red, need, start_cols, time_limit_s, mip_gap)
            sites = round(sol.objective)
            if np.isfinite(sol.bound):
                lower = max(lower, int(np.ceil(sol.bound - 1e-6)))
            rows.append((t, sites, lower, greedy_sites, sol.status))
        else:
            status = "optimal" if greedy_sites is not None and greedy_sites <= lower else "heuristic"
            rows.append((t, greedy_sites, lower, greedy_sites, status))
    return pd.DataFrame(rows, columns=["target", "sites", "lower_bound", "greedy_sites", "status"])


#: One-pass curve: submodular bounds at this many greedy prefixes (spread geometrically) ...
SUBMODULAR_POINTS = 24
#: ... and Lagrangian multipliers fitted at up to this many values of p, each within this share of the time.
LAGRANGIAN_POINTS = 8
_LAGRANGIAN_SHARE = 0.05


def _one_pass(
    inst, red: Reduced, targets, *, max_sites, fixed_w, coverable, total, time_limit_s, progress, start_s
) -> CoverageCurve:
    """The greedy curve with a monotone upper bound at every p, and bounded site counts per target."""
    from planner.locate import heuristics, lagrangian

    n = red.n_cols
    a = red.a
    at = sp.csr_array(a.T)
    w = red.weight
    order, gains = heuristics.greedy(a, w, n)
    values = np.concatenate([[0.0], np.cumsum(gains)])  # reduced covered weight after q sites
    full = np.flatnonzero(values >= w.sum() - 1e-9 * max(1.0, coverable))
    full_k = int(full[0]) if len(full) else n
    bound = np.full(n + 1, np.inf)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=SUBMODULAR_POINTS + LAGRANGIAN_POINTS, desc="coverage curve bounds", leave=False)
    grid = np.unique(np.geomspace(1, max(full_k, 1), SUBMODULAR_POINTS).round().astype(int))
    grid = np.unique(np.concatenate([[0], grid[grid <= full_k]]))
    counts = np.zeros(red.n_rows)
    done = 0
    for q in grid:
        counts += lagrangian.column_counts(a, order[done:q])
        done = q
        marg = w * (counts == 0)
        top = np.concatenate([[0.0], np.cumsum(np.sort(at @ marg)[::-1])])
        bound = np.minimum(bound, values[q] + top)
        lam = np.where(counts <= 1, w, 0.0)  # a feasible point of the dual: its curve bounds every p
        bound = np.minimum(bound, lagrangian.curve_bound(w, lam, at @ lam, n))
        if bar is not None:
            bar.update(1)
    # Lagrangian multipliers fitted at a few p: along the table, then where greedy meets the targets
    goals = [t * coverable - fixed_w for t in targets]
    shown = min(n, full_k if max_sites is None else int(max_sites))
    fit_p = [shown, shown // 3, shown // 10, shown // 30]
    fit_p += [int(np.searchsorted(values, g - 1e-9)) for g in goals if g > 0]
    fit_p = list(dict.fromkeys(p for p in fit_p if 0 < p <= n))[:LAGRANGIAN_POINTS]
    for p in fit_p:
        chosen = order[:p]
        inc = float(values[p])
        c = lagrangian.column_counts(a, chosen)
        dual = lagrangian.subgradient(
            a,
            w,
            p,
            incumbent=inc,
            lam=np.where(c <= 1, w, 0.0),
            deadline=time.perf_counter() + _LAGRANGIAN_SHARE * time_limit_s,
            max_iter=1000,
        )
        bound = np.minimum(bound, lagrangian.curve_bound(w, dual.lam, dual.prices, n))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    bound = np.minimum.accumulate(bound[::-1])[::-1]  # OPT grows with p: a bound at p' >= p holds at p
    bound = np.minimum(fixed_w + bound, coverable)
    covered_all = fixed_w + values
    bound = np.maximum(bound, covered_all)
    k = full_k if max_sites is None else min(int(max_sites), n)
    max_sites = k if max_sites is None else int(max_sites)
    table = _curve_table(
        inst,
        red,
        order[:k],
        covered_all[: k + 1],
        bound[: k + 1],
        max_sites=max_sites,
        total=total,
        coverable=coverable,
    )
    rows = []
    tol = 1e-9 * max(1.0, coverable)
    for t in targets:
        goal = t * coverable - tol
        if goal - fixed_w <= 0:
            rows.append((t, 0, 0, 0, "optimal"))
            continue
        reach = np.flatnonzero(covered_all >= goal)
        greedy_sites = int(reach[0]) if len(reach) else None
        lower = int(np.flatnonzero(bound >= goal)[0]) if (bound >= goal).any() else n + 1
        status = "optimal" if greedy_sites is not None and greedy_sites <= lower else "heuristic"
        rows.append((t, greedy_sites, lower, greedy_sites, status))
    needed = pd.DataFrame(rows, columns=["target", "sites", "lower_bound", "greedy_sites", "status"])
    log.info(
        "coverage curve (one pass): p = 0..%d, %.1f%% of coverable weight at p = %d; targets %s need %s "
        "sites (lower bounds %s); %.2f s",
        max_sites,
        100 * table["share_coverable"].iloc[-1] if coverable else 0.0,
        max_sites,
        targets,
        needed["sites"].tolist(),
        needed["lower_bound"].tolist(),
        time.perf_counter() - start_s,
    )
    return CoverageCurve(table, needed, total, coverable, fixed_w, inst.threshold_s, inst.stand_in)
