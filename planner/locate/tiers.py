"""Two tiers solved together: new regional centres and upgraded community stations (the Shenyang case).

Tier *new* opens sites among its candidates (free plots) with threshold :math:`T_N`; tier *upgrade* upgrades
some existing stations with threshold :math:`T_U`. With :math:`x_j` (new), :math:`u_k` (upgrades),
:math:`N^N_i, N^U_i` the sites of each tier within its threshold, and :math:`\\ell^N_i, \\ell^U_i` the fixed
(already open / already upgraded) sites of each tier covering :math:`i`:

*objective "sum"* (tier weights :math:`\\alpha_N, \\alpha_U`):

.. math::

    \\max \\; \\alpha_N \\sum_i w_i y^N_i + \\alpha_U \\sum_i w_i y^U_i \\quad \\text{s.t.} \\quad
    y^N_i \\le \\ell^N_i + \\sum_{j \\in N^N_i} x_j, \\quad y^U_i \\le \\ell^U_i + \\sum_{k \\in N^U_i} u_k

*objective "either"* (a demand point counts once if either tier covers it):

.. math::

    \\max \\sum_i w_i y_i \\quad \\text{s.t.} \\quad
    y_i \\le \\ell^N_i + \\ell^U_i + \\sum_{j \\in N^N_i} x_j + \\sum_{k \\in N^U_i} u_k

with either fixed counts :math:`\\sum x_j = n_N, \\sum u_k = n_U`, or a shared budget
:math:`\\sum c_j x_j + \\sum c_k u_k \\le B` (counts, if also given, are then maxima), :math:`x, u \\in
\\{0,1\\}`,
:math:`0 \\le y \\le 1`.

With fixed counts and the additive "sum" objective the problem is *separable*: each tier is its own MCLP,
solved
exactly by `planner.locate.covering.mclp`, and the joint optimum is the weighted sum of the two. Otherwise
(a budget, or "either") the tiers interact and one joint MIP is solved.
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import InputError
from planner._validate import first_ids, raise_if
from planner.costs import TravelTimes
from planner.locate._common import Instance, build_result, open_count, prepare, resolve_solver
from planner.locate._highs import MipModel, relative_gap, solve_mip
from planner.locate._reduce import reduce_coverage
from planner.locate._result import SitingResult
from planner.locate.covering import mclp

log = logging.getLogger(__name__)

OBJECTIVES = ("sum", "either")


@dataclass(frozen=True, eq=False)
class TwoTierResult:
    """The plan of both tiers.

    Attributes
    ----------
    new, upgrade
        Per-tier `SitingResult` (objective: that tier's covered weight; in a joint solve only the joint bound
        is proven, so the per-tier ``bound`` and ``gap`` are NaN).
    objective
        Joint objective: weighted sum of tier coverages ("sum"), or weight covered by either tier ("either").
    bound, gap, status, method, solve_s
        As in `SitingResult`, for the joint objective.
    details
        ``separable`` (bool), ``cost`` spent, ``budget``, ``tier_weights``, ``objective_kind``.
    """

    new: SitingResult
    upgrade: SitingResult
    objective: float
    bound: float
    gap: float
    status: str
    method: str
    solve_s: float
    details: Mapping = field(default_factory=dict)


def _cost_vector(inst: Instance, cost, name: str) -> tuple[np.ndarray, list[str]]:
    """Cost per site row (1 where no costs are given) and the problems found."""
    if cost is None:
        return np.ones(inst.n_sites), []
    if not isinstance(cost, pd.Series):
        return np.ones(inst.n_sites), [
            f"`{name}` must be a Series site_id -> cost, got {type(cost).__name__}"
        ]
    values = pd.to_numeric(cost, errors="coerce").astype(float)
    problems = []
    aligned = (
        values.reindex(inst.site_ids).to_numpy()
        if not values.index.has_duplicates
        else np.full(inst.n_sites, np.nan)
    )
    if values.index.has_duplicates:
        problems.append(
            f"`{name}` has duplicate site ids: {first_ids(values.index[values.index.duplicated()])}"
        )
    missing = inst.candidates[np.isnan(aligned[inst.candidates])]
    if len(missing) and not problems:
        problems.append(
            f"`{name}` lacks (or has NaN for) candidate sites {first_ids(inst.site_ids[missing])}"
        )
    bad = (values < 0) | ~np.isfinite(values.fillna(0))
    if bad.any():
        problems.append(f"`{name}` must be finite and >= 0; sites {first_ids(values.index[bad])} are not")
    return aligned, problems


def two_tier(
    times_new: TravelTimes,
    times_upgrade: TravelTimes,
    weights: pd.Series,
    *,
    threshold_new_min: float,
    threshold_upgrade_min: float,
    new: int | None = None,
    upgrade: int | None = None,
    candidates_new=None,
    candidates_upgrade=None,
    fixed_new=None,
    fixed_upgrade=None,
    cost_new: pd.Series | None = None,
    cost_upgrade: pd.Series | None = None,
    budget: float | None = None,
    tier_weights: tuple[float, float] | None = None,
    objective: str | None = None,
    method: str = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> TwoTierResult:
    """Open `new` sites of tier *new* and upgrade `upgrade` existing stations, together (see the module doc).

    Parameters
    ----------
    times_new, times_upgrade
        Walk times of each tier's sites to the same demand points.
    weights
        Older residents per demand point.
    threshold_new_min, threshold_upgrade_min
        Each tier's walk threshold in minutes (e.g. 15 for regional centres, 5-10 for stations).
    new, upgrade
        Number of new sites and of upgrades. Required without a `budget`; with one, optional maxima.
    candidates_new, candidates_upgrade
        Eligible sites of each tier (default: every site of that tier's times that is not fixed).
    fixed_new, fixed_upgrade
        Sites of each tier that are open / upgraded already (they cover and count in no limit).
    cost_new, cost_upgrade
        Cost per candidate site of each tier (Series site_id -> cost; default 1 each), used with `budget`.
    budget
        Total cost the new sites and upgrades may spend together; makes it one joint MIP.
    tier_weights
        ``(alpha_new, alpha_upgrade)`` for the "sum" objective (default ``(1, 1)``).
    objective
        ``"sum"`` (default: weighted sum of each tier's covered weight) or ``"either"`` (covered by a site of
        either tier counts once).
    method, time_limit_s, mip_gap
        As in `planner.locate.covering.mclp`. The joint MIP is always exact (``method="heuristic"`` applies to
        the separable case only).
    """
    start_s = time.perf_counter()
    objective = "sum" if objective is None else objective
    alpha = (1.0, 1.0) if tier_weights is None else tier_weights
    problems = []
    if objective not in OBJECTIVES:
        problems.append(f"`objective` must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    if (
        not isinstance(alpha, (tuple, list))
        or len(alpha) != 2
        or not all(isinstance(a, numbers.Real) and np.isfinite(a) and a >= 0 for a in alpha)
    ):
        problems.append(f"`tier_weights` must be two numbers >= 0, got {tier_weights!r}")
        alpha = (1.0, 1.0)
    if budget is not None and (not isinstance(budget, numbers.Real) or not np.isfinite(budget) or budget < 0):
        problems.append(f"`budget` must be a number >= 0, got {budget!r}")
    if budget is None and (new is None or upgrade is None):
        problems.append(
            "give `new` and `upgrade` (numbers of sites), or a `budget` to share between the tiers"
        )
    if budget is None and (cost_new is not None or cost_upgrade is not None):
        problems.append("`cost_new` / `cost_upgrade` are used only with a `budget`; pass `budget=` too")
    if isinstance(times_new, TravelTimes) and isinstance(times_upgrade, TravelTimes):
        a, b = times_new.demand_ids, times_upgrade.demand_ids
        if len(a) != len(b) or len(a.difference(b)):
            problems.append(
                "`times_new` and `times_upgrade` must hold the same demand points; "
                f"{len(a.symmetric_difference(b)):,} demand id(s) differ "
                f"(e.g. {first_ids(a.symmetric_difference(b)[:3])})"
            )
    raise_if(problems, "`two_tier` inputs")
    common = {"method": method, "time_limit_s": time_limit_s, "mip_gap": mip_gap}
    separable = budget is None and objective == "sum"
    inst_n = prepare(
        times_new,
        weights,
        threshold_min=threshold_new_min,
        fixed=fixed_new,
        candidates=candidates_new,
        p=new,
        p_name="new",
        p_required=False,
        what="two_tier (new)",
        **common,
    )
    inst_u = prepare(
        times_upgrade,
        weights,
        threshold_min=threshold_upgrade_min,
        fixed=fixed_upgrade,
        candidates=candidates_upgrade,
        p=upgrade,
        p_name="upgrade",
        p_required=False,
        what="two_tier (upgrade)",
        **common,
    )
    if separable:
        log.info("two_tier: fixed counts and an additive objective: solving the two tiers separately (exact)")
        res_new = mclp(
            times_new,
            weights,
            p=new,
            threshold_min=threshold_new_min,
            fixed=fixed_new,
            candidates=candidates_new,
            **common,
        )
        res_up = mclp(
            times_upgrade,
            weights,
            p=upgrade,
            threshold_min=threshold_upgrade_min,
            fixed=fixed_upgrade,
            candidates=candidates_upgrade,
            **common,
        )
        obj = alpha[0] * res_new.objective + alpha[1] * res_up.objective
        bound = alpha[0] * res_new.bound + alpha[1] * res_up.bound
        statuses = {res_new.status, res_up.status}
        status = (
            "optimal"
            if statuses == {"optimal"}
            else ("time_limit" if "time_limit" in statuses else "heuristic")
        )
        meth = res_new.method if res_new.method == res_up.method else "mixed"
        return TwoTierResult(
            res_new,
            res_up,
            obj,
            bound,
            relative_gap(obj, bound),
            status,
            meth,
            time.perf_counter() - start_s,
            {"separable": True, "objective_kind": objective, "tier_weights": tuple(alpha), "budget": None},
        )
    if method == "heuristic":  # the joint model below
        raise InputError(
            "`method='heuristic'` is not available for a joint two-tier model; use 'exact' or 'auto'"
        )
    cost_n, pn = _cost_vector(inst_n, cost_new, "cost_new")
    cost_u, pu = _cost_vector(inst_u, cost_upgrade, "cost_upgrade")
    raise_if(pn + pu, "`two_tier` costs")
    time_limit_s, mip_gap = resolve_solver(time_limit_s, mip_gap)
    x, sol = _joint(
        inst_n,
        inst_u,
        cost_n,
        cost_u,
        new=new,
        upgrade=upgrade,
        budget=budget,
        alpha=alpha,
        objective=objective,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
    )
    sel_n, sel_u = x
    cnt_n = open_count(inst_n.cover, np.union1d(sel_n, inst_n.fixed))
    cnt_u = open_count(inst_u.cover, np.union1d(sel_u, inst_u.fixed))
    w = inst_n.weight
    cov_n, cov_u = float(w @ (cnt_n >= 1)), float(w @ (cnt_u >= 1))
    either = float(w @ ((cnt_n + cnt_u) >= 1))
    obj = alpha[0] * cov_n + alpha[1] * cov_u if objective == "sum" else either
    bound = max(obj, sol.bound + _constant(inst_n, inst_u, alpha, objective))
    spent = float(cost_n[sel_n].sum() + cost_u[sel_u].sum())
    elapsed = time.perf_counter() - start_s
    tiers = []
    for inst, sel, cov, name in (
        (inst_n, sel_n, cov_n, "two-tier-new"),
        (inst_u, sel_u, cov_u, "two-tier-upgrade"),
    ):
        tiers.append(
            build_result(
                inst,
                model=name,
                selected=sel,
                objective=cov,
                bound=float("nan"),
                status=sol.status,
                method="exact",
                solve_s=elapsed,
                details={"covered_weight": cov, "either_weight": either},
            )
        )
    log.info(
        "two_tier (%s, budget %s): %d new + %d upgrades, %s, objective %.6g, bound %.6g, cost %.6g, %.2f s",
        objective,
        budget,
        len(sel_n),
        len(sel_u),
        sol.status,
        obj,
        bound,
        spent,
        elapsed,
    )
    return TwoTierResult(
        tiers[0],
        tiers[1],
        obj,
        bound,
        relative_gap(obj, bound),
        sol.status,
        "exact",
        elapsed,
        {
            "separable": False,
            "objective_kind": objective,
            "tier_weights": tuple(alpha),
            "budget": budget,
            "cost": spent,
            "either_weight": either,
        },
    )


def _constant(inst_n: Instance, inst_u: Instance, alpha, objective: str) -> float:
    """Objective part fixed sites provide (not in the MIP)."""
    w = inst_n.weight
    ln, lu = inst_n.fixed_count(), inst_u.fixed_count()
    if objective == "sum":
        return float(alpha[0] * (w @ (ln >= 1)) + alpha[1] * (w @ (lu >= 1)))
    return float(w @ ((ln + lu) >= 1))


def _joint(inst_n, inst_u, cost_n, cost_u, *, new, upgrade, budget, alpha, objective, time_limit_s, mip_gap):
    """Build and solve the joint MIP; returns the selected rows of each tier and the MIP solution."""
    w = inst_n.weight
    ln, lu = inst_n.fixed_count(), inst_u.fixed_count()
    cn, cu = inst_n.candidates, inst_u.candidates
    n1, n2 = len(cn), len(cu)
    if objective == "either":
        stacked = sp.csr_array(sp.vstack([inst_n.cover[cn], inst_u.cover[cu]]))
        red = reduce_coverage(stacked, w, np.arange(n1 + n2), level=np.minimum(ln + lu, 1))
        blocks = [(red, 1.0)]
    else:
        red_n = reduce_coverage(sp.csr_array(inst_n.cover[cn]), w, np.arange(n1), level=np.minimum(ln, 1))
        red_u = reduce_coverage(sp.csr_array(inst_u.cover[cu]), w, np.arange(n2), level=np.minimum(lu, 1))
        blocks = [(red_n, alpha[0]), (red_u, alpha[1])]
    # columns: x_new (n1) | x_upgrade (n2) | y of each block
    n_x = n1 + n2
    rows, lo, hi, costs = [], [], [], [np.zeros(n_x)]
    offset = n_x
    total = n_x + sum(r.n_rows for r, _ in blocks)
    for k, (red, a) in enumerate(blocks):
        coo = sp.coo_array(red.a)
        xcol = red.cols[coo.col] + (n1 if objective == "sum" and k == 1 else 0)
        m = red.n_rows
        mat = sp.csr_array(
            (
                np.concatenate([-np.ones(coo.nnz), np.ones(m)]),
                (np.concatenate([coo.row, np.arange(m)]), np.concatenate([xcol, offset + np.arange(m)])),
            ),
            shape=(m, total),
        )
        rows.append(mat)
        lo.append(np.full(m, -np.inf))
        hi.append(red.level.astype(float))
        costs.append(a * red.weight)
        offset += m
    ones_n = np.concatenate([np.ones(n1), np.zeros(total - n1)])
    ones_u = np.concatenate([np.zeros(n1), np.ones(n2), np.zeros(total - n_x)])
    for ones, count in ((ones_n, new), (ones_u, upgrade)):
        if count is not None:
            rows.append(sp.csr_array(ones[None, :]))
            lo.append(np.array([-np.inf if budget is not None else float(count)]))
            hi.append(np.array([float(count)]))
    if budget is not None:
        cvec = np.concatenate([cost_n[cn], cost_u[cu], np.zeros(total - n_x)])
        rows.append(sp.csr_array(cvec[None, :]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(budget)]))
    integral = np.zeros(total, dtype=bool)
    integral[:n_x] = True
    model = MipModel(
        cost=np.concatenate(costs),
        a=sp.vstack(rows, format="csc"),
        row_lo=np.concatenate(lo),
        row_hi=np.concatenate(hi),
        col_lo=np.zeros(total),
        col_hi=np.ones(total),
        integral=integral,
    )
    sol = solve_mip(
        model,
        maximize=True,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_gap,
        what=f"two-tier ({objective})",
    )
    x = sol.x[:n_x] > 0.5
    return (cn[x[:n1]], cu[x[n1:]]), sol
