"""Coverage models: maximal covering (with backup coverage and equity), set covering (with backup coverage),
capacitated covering.

Notation shared by the docstrings: demand points :math:`i \\in I` with weight :math:`w_i` (older residents),
candidate sites :math:`j \\in J`, fixed (existing / required) sites :math:`F`, and
:math:`N_i = \\{ j : t_{ij} \\le T \\}` the sites within the walk threshold :math:`T` of :math:`i`. Fixed
sites are open in every plan: they cover, serve, and do not count against :math:`p`;
:math:`\\ell_i = |N_i \\cap F|`.

Every model is built as sparse arrays (a `MipModel`) on the reduced problem (`planner.locate._reduce`) and
solved exactly by HiGHS (`method="exact"`), or without the full MIP (`method="heuristic"`: for plain MCLP the
Lagrangian method of `planner.locate.lagrangian`, else greedy + interchange with an LP-relaxation bound);
``"auto"`` picks exact unless the reduced model has more than `AUTO_EXACT_NNZ` nonzeros (or, for MCLP, more
than `AUTO_EXACT_COLS` candidates).
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import InfeasibleError, SolverError
from planner._validate import first_ids, raise_if
from planner.costs import TravelTimes
from planner.locate import heuristics, lagrangian
from planner.locate._common import (
    Instance,
    build_result,
    capacity_per_site,
    ids_of,
    open_count,
    prepare,
    resolve_solver,
)
from planner.locate._highs import MipModel, MipSolution, relative_gap, solve_mip
from planner.locate._reduce import Reduced, reduce_coverage
from planner.locate._result import SitingResult

log = logging.getLogger(__name__)

#: ``method="auto"`` solves exactly when the reduced coverage matrix has at most this many nonzeros...
AUTO_EXACT_NNZ = 5_000_000
#: ... and (MCLP) at most this many candidate columns: 2,000 close in seconds; at 4,000 (50,000 demand points)
#: HiGHS stopped at a 20 s limit, at 10,000 its root LP alone outlasts a minute (issue 9).
AUTO_EXACT_COLS = 2_500
#: The heuristic adds the LP relaxation's bound (interior point) up to this many nonzeros.
LP_BOUND_NNZ = 400_000
#: Gap at which the heuristic (Lagrangian) method stops when `mip_gap` is not given (0.1 %).
DEFAULT_HEURISTIC_GAP = 0.001

_INF = np.inf


@dataclass(frozen=True, eq=False)
class Equity:
    """A fairness requirement over groups of demand (districts, sub-districts).

    Attributes
    ----------
    groups
        Group name per demand point (a Series indexed by demand_id, covering every demand id of the model).
    min_share
        Each group's covered share of its weight must reach this (a float in [0, 1], or a dict group -> share;
        groups absent from the dict have no floor).
    maximin
        Maximise the worst group's covered share first, then total coverage among the plans that reach it.
    """

    groups: pd.Series
    min_share: float | Mapping | None = None
    maximin: bool = False

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.groups, pd.Series):
            problems.append(
                f"`Equity.groups` must be a Series demand_id -> group, got {type(self.groups).__name__}"
            )
        if self.min_share is None and not self.maximin:
            problems.append(
                "`Equity` needs `min_share=` (a share or a dict group -> share) or `maximin=True`"
            )
        shares = (
            self.min_share.values()
            if isinstance(self.min_share, Mapping)
            else ([] if self.min_share is None else [self.min_share])
        )
        for s in shares:
            if isinstance(s, bool) or not isinstance(s, numbers.Real) or not (0.0 <= float(s) <= 1.0):
                problems.append(f"`Equity.min_share` values must be shares in [0, 1], got {s!r}")
                break
        raise_if(problems, "`equity`")


# ------------------------------------------------------------------------------------------------------------
# shared pieces


def _weight_covered(
    inst: Instance, open_rows: np.ndarray, backup_weight: float = 0.0
) -> tuple[float, np.ndarray]:
    """Value of a plan on the full instance, and the per-demand coverage counts."""
    counts = open_count(inst.cover, open_rows)
    return heuristics.plan_value(counts, inst.weight, backup_weight=backup_weight), counts


def _pad(inst: Instance, chosen: np.ndarray, p: int, pool: np.ndarray) -> np.ndarray:
    """`chosen` plus the smallest-id sites of `pool` not yet chosen, up to `p` sites (they add no
    coverage).
    """
    chosen = np.unique(chosen)
    if len(chosen) >= p:
        return chosen
    rest = np.setdiff1d(pool, chosen)[: p - len(chosen)]
    return np.union1d(chosen, rest)


def _use_exact(method: str, nnz: int) -> bool:
    return method == "exact" or (method == "auto" and nnz <= AUTO_EXACT_NNZ)


def _group_codes(inst: Instance, equity: Equity) -> tuple[np.ndarray, pd.Index, list[str]]:
    """Integer group code per demand column, the group names, and the problems found."""
    groups = equity.groups
    missing = inst.demand_ids.difference(groups.index, sort=False)
    problems = []
    if groups.index.has_duplicates:
        problems.append(
            f"`equity.groups` has duplicate demand ids: {first_ids(groups.index[groups.index.duplicated()])}"
        )
        return np.zeros(0, dtype=np.int64), pd.Index([]), problems
    if len(missing):
        problems.append(
            f"`equity.groups` lacks the demand ids {first_ids(missing)}; give every demand point a group"
        )
    aligned = groups.reindex(inst.demand_ids)
    if aligned.isna().any() and not len(missing):
        problems.append(
            f"`equity.groups` is missing for demand ids {first_ids(inst.demand_ids[aligned.isna()])}"
        )
    if problems:
        return np.zeros(0, dtype=np.int64), pd.Index([]), problems
    codes, names = pd.factorize(aligned, sort=True)
    if isinstance(equity.min_share, Mapping):
        unknown = [g for g in equity.min_share if g not in set(names)]
        if unknown:
            problems.append(
                f"`equity.min_share` names groups that `equity.groups` does not hold: {first_ids(unknown)}; "
                f"groups are {first_ids(names)}"
            )
    return codes.astype(np.int64), pd.Index(names), problems


def _share_table(
    inst: Instance, codes: np.ndarray, names: pd.Index, counts: np.ndarray, best: np.ndarray
) -> pd.DataFrame:
    """Per group: total weight, covered weight and share of the plan, and the share with every candidate
    open.
    """
    total = np.bincount(codes, weights=inst.weight, minlength=len(names))
    covered = np.bincount(codes, weights=inst.weight * (counts >= 1), minlength=len(names))
    reach = np.bincount(codes, weights=inst.weight * best, minlength=len(names))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, covered / np.where(total > 0, total, 1), np.nan)
        best_share = np.where(total > 0, reach / np.where(total > 0, total, 1), np.nan)
    return pd.DataFrame(
        {"weight": total, "covered_weight": covered, "share": share, "best_share": best_share},
        index=pd.Index(names, name="group"),
    )


# ------------------------------------------------------------------------------------------------------------
# MCLP model arrays


def mclp_model(
    red: Reduced,
    p: int,
    *,
    backup_weight: float,
    group_need: np.ndarray | None = None,
    group_total: np.ndarray | None = None,
    group_const: np.ndarray | None = None,
    maximin: bool = False,
) -> tuple[MipModel, np.ndarray]:
    """The (backup / equity) MCLP on a reduced instance; columns ``[x | y1 | y2 (backup) | z (maximin)]``.

    ``cost`` is the coverage objective (0 on z); the maximin stage puts its own cost on z. Returns the model
    and the reduced rows that have a y column (rows reached by one candidate only fold into that column's
    cost, exactly, in the plain model).
    """
    backup = backup_weight > 0
    a = sp.csr_array(red.a)
    weight, level = red.weight, red.level
    col_weight = np.zeros(a.shape[1])
    rows_kept = np.arange(a.shape[0])
    if not backup and group_total is None:
        # a row reached by one candidate only has y_i = x_j at the optimum: move its weight onto x_j (exact)
        single = np.diff(a.indptr) == 1
        first = a.indices[a.indptr[:-1][single]]
        col_weight = np.bincount(first, weights=weight[single], minlength=a.shape[1])
        rows_kept = np.flatnonzero(~single)
        a, weight, level = sp.csr_array(a[rows_kept]), weight[rows_kept], level[rows_kept]
    m, n = a.shape
    ny = m * (2 if backup else 1)
    width = n + ny + (1 if maximin else 0)

    def row(*blocks):
        used = sum(b.shape[1] for b in blocks)
        return sp.hstack([*blocks, sp.csr_array((blocks[0].shape[0], width - used))], format="csr")

    eye = sp.identity(m, format="csr")
    rows = [row(-a, eye, eye) if backup else row(-a, eye)]  # y1 (+ y2) - sum x <= level
    lo, hi = [np.full(m, -_INF)], [level.astype(float)]
    if backup:
        rows.append(row(sp.csr_array((m, n)), -eye, eye))  # y2 <= y1
        lo.append(np.full(m, -_INF))
        hi.append(np.zeros(m))
    rows.append(row(sp.csr_array(np.ones((1, n)))))  # sum x = p
    lo.append(np.array([float(p)]))
    hi.append(np.array([float(p)]))
    if group_total is not None:
        gmask = red.group >= 0
        g = sp.csr_array(
            (red.weight[gmask], (red.group[gmask], np.flatnonzero(gmask))), shape=(len(group_total), m)
        )  # per group: sum of w_i y1_i
        if group_need is not None:
            sel = np.flatnonzero(group_need > 0)
            rows.append(row(sp.csr_array((len(sel), n)), g[sel]))
            lo.append(group_need[sel])
            hi.append(np.full(len(sel), _INF))
        if maximin:
            sel = np.flatnonzero(group_total > 0)
            zcol = sp.csr_array(group_total[sel][:, None])
            pad = [sp.csr_array((len(sel), m))] if backup else []
            rows.append(row(sp.csr_array((len(sel), n)), -g[sel], *pad, zcol))  # z W_g - sum w y1 <= C_g
            lo.append(np.full(len(sel), -_INF))
            hi.append(group_const[sel])
    cost = np.zeros(width)
    cost[:n] = col_weight
    cost[n : n + m] = weight
    if backup:
        cost[n + m : n + 2 * m] = backup_weight * weight
    integral = np.zeros(width, dtype=bool)
    integral[:n] = True
    model = MipModel(
        cost=cost,
        a=sp.vstack(rows, format="csc"),
        row_lo=np.concatenate(lo),
        row_hi=np.concatenate(hi),
        col_lo=np.zeros(width),
        col_hi=np.ones(width),
        integral=integral,
    )
    return model, rows_kept


def _solve(
    model: MipModel,
    *,
    maximize: bool,
    time_limit_s: float,
    mip_gap: float,
    what: str,
    relax: bool = False,
    start: np.ndarray | None = None,
    ipm: bool = False,
) -> MipSolution:
    return solve_mip(
        model.relaxed() if relax else model,
        maximize=maximize,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_gap,
        what=what,
        start=start if not relax else None,
        ipm=ipm,
    )


def _start_vector(
    red: Reduced, chosen: np.ndarray, model: MipModel, y_rows: np.ndarray, backup_weight: float
) -> np.ndarray:
    """A feasible column vector for the MCLP arrays from chosen reduced columns (y from the coverage
    counts).
    """
    n = red.n_cols
    x = np.zeros(n)
    x[chosen] = 1.0
    counts = (red.level + np.asarray(red.a @ x).ravel())[y_rows]
    y1 = (counts >= 1).astype(float)
    parts = [x, y1]
    if backup_weight > 0:
        parts.append((counts >= 2).astype(float))
    vec = np.concatenate(parts)
    return np.concatenate([vec, np.zeros(model.n_cols - len(vec))])  # maximin z = 0 is feasible


# ------------------------------------------------------------------------------------------------------------
# MCLP


def mclp(
    times: TravelTimes,
    weights: pd.Series,
    *,
    p: int,
    threshold_min: float,
    fixed=None,
    candidates=None,
    backup_weight: float | None = None,
    equity: Equity | None = None,
    method: str = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
    progress: bool = False,
) -> SitingResult:
    """Maximal covering location problem: open `p` new sites to cover the most weight within `threshold_min`.

    .. math::

        \\max \\sum_i w_i y_i \\quad \\text{s.t.} \\quad
        y_i \\le \\ell_i + \\sum_{j \\in N_i \\cap J} x_j, \\quad \\sum_{j \\in J} x_j = p, \\quad
        x_j \\in \\{0,1\\}, \\; 0 \\le y_i \\le 1

    Fixed sites are open: demand with :math:`\\ell_i \\ge 1` is covered whatever the plan (counted in the
    objective
    as a constant), and they do not count against `p`.

    With ``backup_weight = b`` (Hogan and ReVelle's backup coverage), demand covered twice counts ``1 + b``
    times:

    .. math::

        \\max \\sum_i w_i (y_i + b \\, u_i) \\quad \\text{s.t.} \\quad
        y_i + u_i \\le \\ell_i + \\sum_{j \\in N_i \\cap J} x_j, \\quad u_i \\le y_i, \\quad
        \\sum_j x_j = p

    With ``equity = Equity(groups, min_share=s)``: for every group :math:`g` with total weight :math:`W_g`,
    :math:`\\sum_{i \\in g} w_i y_i \\ge s_g W_g`. With ``maximin=True``: first
    :math:`\\max z` s.t. :math:`\\sum_{i \\in g} w_i y_i \\ge z W_g` for all g, then the total coverage among
    the
    plans that reach :math:`z^*`.

    Parameters
    ----------
    times
        Walk seconds between sites and demand (`planner.costs.TravelTimes`).
    weights
        Older residents per demand point (Series indexed by demand_id, the same ids as `times`).
    p
        Number of new sites to open (0 <= p <= number of candidates). Exactly `p` are returned; when fewer
        sites cover anything, the rest are the smallest remaining candidate ids (they add nothing).
    threshold_min
        A demand point is covered by a site when ``walk_s <= threshold_min * 60``.
    fixed
        Ids of existing / required sites, open in every plan.
    candidates
        Ids eligible to open (default: every site that is not fixed).
    backup_weight
        Extra weight ``0 < b <= 1`` of a second covering site (None: plain MCLP).
    equity
        An `Equity` requirement.
    method
        ``"exact"`` (HiGHS MIP), ``"heuristic"`` (not with `equity`: for plain coverage the Lagrangian
        method of `planner.locate.lagrangian`, greedy + interchange + a core MIP with a certified bound;
        for backup coverage greedy + interchange with the LP bound) or ``"auto"`` (exact when the reduced
        matrix has at most `AUTO_EXACT_NNZ` nonzeros and `AUTO_EXACT_COLS` candidates, else heuristic).
    time_limit_s
        Limit of each HiGHS solve, and of the heuristic (default `planner.settings.DEFAULT_TIME_LIMIT_S`);
        a solve that hits it returns status ``"time_limit"`` with its gap.
    progress
        Show a tqdm bar with the bound and the plan during the Lagrangian method.
    mip_gap
        Relative gap at which HiGHS stops (default 1e-6), or the heuristic (default 0.1 %).

    Returns
    -------
    SitingResult
        ``objective`` is the covered weight (plus ``b`` x the weight covered twice), fixed sites included;
        ``details`` holds the reduction sizes, coverage shares, and per-group shares with `equity`.

    Raises
    ------
    InputError
        For any bad input (all listed at once).
    InfeasibleError
        When an equity floor cannot be met: quoting the group and the best share reachable in it.
    """
    start_s = time.perf_counter()
    problems = []
    b = 0.0
    if backup_weight is not None:
        if (
            isinstance(backup_weight, bool)
            or not isinstance(backup_weight, numbers.Real)
            or not (0 < float(backup_weight) <= 1)
        ):
            problems.append(f"`backup_weight` must be in (0, 1], got {backup_weight!r}")
        else:
            b = float(backup_weight)
    if equity is not None and not isinstance(equity, Equity):
        problems.append(f"`equity` must be a planner.locate.Equity, got {type(equity).__name__}")
    if equity is not None and method == "heuristic":
        problems.append("`method='heuristic'` does not support `equity`; use method='exact' or 'auto'")
    inst = prepare(
        times,
        weights,
        threshold_min=threshold_min,
        fixed=fixed,
        candidates=candidates,
        p=p,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        extra_problems=problems,
        what="mclp",
    )
    p = int(p)
    mip_gap_given = mip_gap
    time_limit_s, mip_gap = resolve_solver(time_limit_s, mip_gap)
    level = inst.fixed_count()
    full_level = 2 if b > 0 else 1
    codes = names = None
    if isinstance(equity, Equity):
        codes, names, gproblems = _group_codes(inst, equity)
        raise_if(gproblems, "`equity`")
    red = reduce_coverage(
        inst.cover,
        inst.weight,
        inst.candidates,
        level=level,
        full_level=full_level,
        group=codes,
        p=p,
        dominance=b == 0,
    )
    const = heuristics.plan_value(
        np.minimum(level, full_level) * (red.row_of < 0), inst.weight, backup_weight=b
    )
    model = "backup-mclp" if b > 0 else "mclp"
    p_red = min(p, red.n_cols)
    details: dict = {"reduction": red.sizes, "backup_weight": b or None}

    group_need = group_total = group_const = None
    if equity is not None:
        best = open_count(inst.cover, np.union1d(inst.fixed, inst.candidates)) >= 1
        table = _share_table(inst, codes, names, level, best)
        group_total = table["weight"].to_numpy()
        group_const = np.bincount(
            codes, weights=inst.weight * (level >= 1) * (red.row_of < 0), minlength=len(names)
        )
        if equity.min_share is not None:
            if isinstance(equity.min_share, Mapping):
                share = np.array([float(equity.min_share.get(g, 0.0)) for g in names])
            else:
                share = np.full(len(names), float(equity.min_share))
            short = (table["best_share"].to_numpy() < share - 1e-9) & (group_total > 0)
            if short.any():
                worst = [
                    f"{g!r} (target {s:.1%}, best reachable {r:.1%} "
                    f"with all {len(inst.candidates):,} candidates open)"
                    for g, s, r in zip(
                        names[short], share[short], table["best_share"].to_numpy()[short], strict=True
                    )
                ]
                raise InfeasibleError(
                    f"`equity.min_share` cannot be met in {short.sum()} group(s): {first_ids(worst)}; "
                    "lower the target for those groups or add candidate sites near them"
                )
            group_need = share * group_total - group_const - 1e-9 * group_total
        details["equity_min_share"] = equity.min_share

    if red.n_cols <= p and equity is None:
        chosen = red.cols
        status, method_used, bound_red = "optimal", "exact", None
        log.info("mclp: every useful candidate (%d <= p = %d) opens; no solve needed", red.n_cols, p)
    elif (
        method == "exact" or (_use_exact(method, red.a.nnz) and red.n_cols <= AUTO_EXACT_COLS)
    ) or equity is not None:
        arrays, y_rows = mclp_model(
            red,
            p_red,
            backup_weight=b,
            group_need=group_need,
            group_total=group_total,
            group_const=group_const,
            maximin=bool(equity is not None and equity.maximin),
        )
        maximin = bool(equity is not None and equity.maximin)
        g0, _ = heuristics.greedy(red.a, red.weight, p_red, level=red.level, backup_weight=b)
        g0, _ = heuristics.interchange(red.a, red.weight, g0, level=red.level, backup_weight=b, max_passes=3)
        start = _start_vector(red, g0, arrays, y_rows, b) if group_need is None else None
        stage = arrays
        if maximin:
            z_cost = np.zeros(arrays.n_cols)
            z_cost[-1] = 1.0
            stage = arrays.with_(cost=z_cost)
        try:
            sol = _solve(
                stage, maximize=True, time_limit_s=time_limit_s, mip_gap=mip_gap, what=model, start=start
            )
        except InfeasibleError as err:
            raise InfeasibleError(
                f"no plan of p = {p} new sites meets `equity.min_share` = {equity.min_share!r} "
                f"(each group can reach its floor with all {len(inst.candidates):,} candidates open, "
                f"but not with "
                f"{p}); raise p or lower the floors"
            ) from err
        if maximin:
            z_star = float(sol.x[-1])
            details["maximin_share"] = z_star
            col_lo = arrays.col_lo.copy()
            col_lo[-1] = max(0.0, z_star - 1e-7)
            stage = arrays.with_(col_lo=col_lo)
            sol = _solve(
                stage,
                maximize=True,
                time_limit_s=time_limit_s,
                mip_gap=mip_gap,
                what=f"{model} (maximin)",
                start=sol.x,
            )
        chosen_red = np.flatnonzero(sol.x[: red.n_cols] > 0.5)
        chosen = red.cols[chosen_red]
        status, method_used = sol.status, "exact"
        # a solve stopped early may have a weak (or no) dual bound; the submodular bound of its plan holds too
        bound_red = min(sol.bound, _submodular(red, chosen_red, p_red, b))
        if sol.status != "optimal" and b == 0 and equity is None and red.n_rows:
            # and so does the Lagrangian bound, worth a few more seconds when HiGHS's stays weak
            value = lagrangian.plan_weight(red.a, red.weight, chosen_red)
            dual = lagrangian.subgradient(
                red.a,
                red.weight,
                p_red,
                incumbent=value,
                deadline=time.perf_counter() + min(10.0, 0.2 * time_limit_s),
                target_gap=mip_gap,
            )
            bound_red = min(bound_red, dual.bound)
            details["bound_after_limit"] = "lagrangian" if dual.bound <= bound_red else "mip"
    else:
        gap_goal = DEFAULT_HEURISTIC_GAP if mip_gap_given is None else mip_gap
        chosen_red, status, bound_red, hinfo = _mclp_heuristic(
            red,
            p_red,
            b,
            # the whole call keeps to the limit: validation and reduction already took their share
            max(1.0, 0.97 * time_limit_s - (time.perf_counter() - start_s)),
            target_gap=gap_goal,
            progress=progress,
        )
        chosen = red.cols[chosen_red]
        method_used = "heuristic"
        details["heuristic"] = hinfo

    chosen = _pad(inst, chosen, p, inst.candidates)
    objective, counts = _weight_covered(inst, np.union1d(chosen, inst.fixed), b)
    bound = objective if bound_red is None else max(objective, const + bound_red)
    total = float(inst.weight.sum())
    covered_w = float(inst.weight @ (counts >= 1))
    details.update(
        {
            "covered_weight": covered_w,
            "covered_twice_weight": float(inst.weight @ (counts >= 2)),
            "total_weight": total,
            "share": covered_w / total if total > 0 else float("nan"),
            "covered_by_fixed_weight": float(inst.weight @ (level >= 1)),
        }
    )
    if equity is not None:
        best = open_count(inst.cover, np.union1d(inst.fixed, inst.candidates)) >= 1
        details["groups"] = _share_table(inst, codes, names, counts, best)
    if status == "heuristic" and bound - objective <= 1e-9 * max(1.0, abs(objective)):
        status = "optimal"
    log.info(
        "%s: p = %d (+%d fixed), %s, covered %.6g of %.6g (%.1f%%), bound %.6g, %d x %d reduced, %.2f s",
        model,
        p,
        len(inst.fixed),
        status,
        covered_w,
        total,
        100 * details["share"] if total else 0.0,
        bound,
        red.n_rows,
        red.n_cols,
        time.perf_counter() - start_s,
    )
    return build_result(
        inst,
        model=model,
        selected=chosen,
        objective=objective,
        bound=bound,
        status=status,
        method=method_used,
        solve_s=time.perf_counter() - start_s,
        details=details,
    )


def _submodular(red: Reduced, chosen: np.ndarray, p: int, b: float) -> float:
    """Upper bound on the reduced MCLP optimum from the plan `chosen` (see `heuristics.submodular_bound`)."""
    counts = red.level + np.asarray(red.a[:, chosen].sum(axis=1)).ravel()
    value = heuristics.plan_value(counts, red.weight, backup_weight=b)
    marg = red.weight * ((counts == 0) + b * (counts == 1))
    return heuristics.submodular_bound(value, red.a.T @ marg, p)


def _mclp_heuristic(
    red: Reduced, p: int, b: float, time_limit_s: float, *, target_gap: float, progress: bool = False
) -> tuple[np.ndarray, str, float, dict]:
    """Plan and certified bound without the full MIP.

    Plain coverage: `planner.locate.lagrangian.solve_mclp` (greedy + interchange, Lagrangian bound, a MIP
    over the best-priced candidates). Backup coverage: greedy + interchange with the LP relaxation (or the
    submodular) bound. On models up to `LP_BOUND_NNZ` nonzeros the LP bound is also tried when the gap
    remains above `target_gap`.
    """
    t0 = time.perf_counter()
    if b == 0 and red.n_rows:
        chosen, bound, info = lagrangian.solve_mclp(
            red.a, red.weight, p, time_limit_s=time_limit_s, target_gap=target_gap, progress=progress
        )
        value = lagrangian.plan_weight(red.a, red.weight, chosen)
    else:
        chosen, _ = heuristics.greedy(red.a, red.weight, p, level=red.level, backup_weight=b)
        greedy_value = heuristics.plan_value(
            red.level + np.asarray(red.a[:, chosen].sum(axis=1)).ravel(), red.weight, backup_weight=b
        )
        chosen, swaps = heuristics.interchange(
            red.a,
            red.weight,
            chosen,
            level=red.level,
            backup_weight=b,
            time_limit_s=max(1.0, time_limit_s / 2),
        )
        bound = _submodular(red, chosen, p, b)
        value = heuristics.plan_value(
            red.level + np.asarray(red.a[:, chosen].sum(axis=1)).ravel(), red.weight, backup_weight=b
        )
        info = {"greedy_value": greedy_value, "swaps": swaps, "bound_kind": "submodular"}
    left = time_limit_s - (time.perf_counter() - t0)
    if relative_gap(value, bound) > target_gap and red.a.nnz <= LP_BOUND_NNZ and left > 0:
        try:
            lp = _solve(
                mclp_model(red, p, backup_weight=b)[0],
                maximize=True,
                time_limit_s=left,
                mip_gap=0.0,
                what="mclp LP relaxation",
                relax=True,
                ipm=True,
            )
            if lp.status == "optimal" and lp.objective < bound:
                bound, info["bound_kind"] = lp.objective, "lp"
        except SolverError:
            log.warning("mclp: LP relaxation did not finish; keeping the %s bound", info["bound_kind"])
    info["heuristic_s"] = time.perf_counter() - t0
    return chosen, "heuristic", bound, info


# ------------------------------------------------------------------------------------------------------------
# LSCP


def lscp(
    times: TravelTimes,
    weights: pd.Series,
    *,
    threshold_min: float,
    fixed=None,
    candidates=None,
    method: str = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> SitingResult:
    """Location set covering: the fewest new sites that cover every coverable demand point.

    .. math::

        \\min \\sum_{j \\in J} x_j \\quad \\text{s.t.} \\quad
        \\sum_{j \\in N_i \\cap J} x_j \\ge 1 \\;\\; \\forall i \\in I^c, \\quad x_j \\in \\{0, 1\\}

    where :math:`I^c` holds the demand with positive weight that no fixed site covers and at least one
    candidate
    reaches. Fixed sites are open and free: what they cover needs nothing more. Demand no candidate or fixed
    site
    reaches is *uncoverable*: it is reported in ``details`` (``uncoverable_ids``, ``uncoverable_count``,
    ``uncoverable_weight``) and does not make the model fail. Demand with zero weight is not required.

    Parameters are as in `mclp`; ``objective`` is the number of new sites, ``bound`` a proven lower bound.
    """
    start_s = time.perf_counter()
    inst = prepare(
        times,
        weights,
        threshold_min=threshold_min,
        fixed=fixed,
        candidates=candidates,
        p_required=False,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        what="lscp",
    )
    time_limit_s, mip_gap = resolve_solver(time_limit_s, mip_gap)
    level = inst.fixed_count()
    red = reduce_coverage(inst.cover, inst.weight, inst.candidates, level=level, dominance=True)
    reach = open_count(inst.cover, np.union1d(inst.fixed, inst.candidates))
    unreached = (reach == 0) & (inst.weight > 0)
    details: dict = {
        "reduction": red.sizes,
        "uncoverable_ids": tuple(inst.demand_ids[unreached].tolist()),
        "uncoverable_count": int(unreached.sum()),
        "uncoverable_weight": float(inst.weight[unreached].sum()),
    }
    n = red.n_cols
    if red.n_rows == 0:
        chosen_red, status, bound, method_used = np.zeros(0, dtype=np.int64), "optimal", 0.0, "exact"
    else:
        arrays = MipModel(
            cost=np.ones(n),
            a=red.a,
            row_lo=np.ones(red.n_rows),
            row_hi=np.full(red.n_rows, _INF),
            col_lo=np.zeros(n),
            col_hi=np.ones(n),
            integral=np.ones(n, dtype=bool),
        )
        greedy_cols = heuristics.greedy_cover(red.a)
        if _use_exact(method, red.a.nnz):
            start = np.zeros(n)
            start[greedy_cols] = 1.0
            sol = _solve(
                arrays, maximize=False, time_limit_s=time_limit_s, mip_gap=mip_gap, what="lscp", start=start
            )
            chosen_red = np.flatnonzero(sol.x > 0.5)
            lower = sol.bound if np.isfinite(sol.bound) else 0.0  # a solve stopped early may have no bound
            status, bound, method_used = sol.status, float(np.ceil(lower - 1e-6)), "exact"
        else:
            chosen_red, method_used = greedy_cols, "heuristic"
            lp = _solve(
                arrays, maximize=False, time_limit_s=time_limit_s, mip_gap=0.0, what="lscp LP", relax=True
            )
            bound = float(np.ceil(lp.objective - 1e-6))
            status = "optimal" if bound >= len(chosen_red) else "heuristic"
    chosen = red.cols[chosen_red]
    objective = float(len(chosen))
    counts = open_count(inst.cover, np.union1d(chosen, inst.fixed))
    coverable = reach > 0
    details.update(
        {
            "covered_weight": float(inst.weight @ (counts >= 1)),
            "coverable_weight": float(inst.weight[coverable].sum()),
            "total_weight": float(inst.weight.sum()),
        }
    )
    log.info(
        "lscp: %d new sites (+%d fixed), %s, %d demand points (%.6g weight) uncoverable, %.2f s",
        len(chosen),
        len(inst.fixed),
        status,
        details["uncoverable_count"],
        details["uncoverable_weight"],
        time.perf_counter() - start_s,
    )
    return build_result(
        inst,
        model="lscp",
        selected=chosen,
        objective=objective,
        bound=min(bound, objective),
        status=status,
        method=method_used,
        solve_s=time.perf_counter() - start_s,
        details=details,
    )


# ------------------------------------------------------------------------------------------------------------
# LSCP with backup coverage


def lscp_backup(
    times: TravelTimes,
    weights: pd.Series,
    *,
    threshold_min: float,
    fixed=None,
    candidates=None,
    method: str = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> SitingResult:
    """Backup-covering set covering (LSCP-B): the fewest sites covering all coverable demand, then, among
    the plans with that many sites, the most demand covered twice (lexicographic).

    Stage 1 is `lscp`, giving :math:`k^*` new sites. Stage 2, with :math:`u_i` = demand point :math:`i`
    covered at least twice:

    .. math::

        \\max \\sum_i w_i u_i \\quad \\text{s.t.} \\quad
        \\ell_i + \\sum_{j \\in N_i \\cap J} x_j \\ge 1 \\;\\; \\forall i \\in I^c, \\quad
        u_i \\le \\ell_i - 1 + \\sum_{j \\in N_i \\cap J} x_j, \\quad
        \\sum_{j \\in J} x_j = k^*, \\quad x_j \\in \\{0, 1\\}, \\; 0 \\le u_i \\le 1

    (ReVelle, Schilling and Church's backup covering, as spopt's ``LSCPB``). Fixed sites are open and free;
    demand they cover twice already counts as covered twice whatever the plan. Demand no site reaches is
    *uncoverable* and reported as in `lscp`.

    Parameters are as in `lscp`. ``method="heuristic"`` keeps the stage-1 plan and bounds stage 2 by its
    LP relaxation.

    Returns
    -------
    SitingResult
        ``objective`` is the number of new sites (``bound`` a proven lower bound on it, as in `lscp`);
        ``details`` adds ``covered_twice_weight`` (stage 2's value, fixed sites included),
        ``covered_twice_bound`` (a proven upper bound on it for :math:`k` = ``objective`` sites) and
        ``covered_twice_gap``. ``status`` is ``"optimal"`` only when both stages are proven.
    """
    start_s = time.perf_counter()
    first = lscp(
        times,
        weights,
        threshold_min=threshold_min,
        fixed=fixed,
        candidates=candidates,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
    )
    inst = prepare(
        times,
        weights,
        threshold_min=threshold_min,
        fixed=fixed,
        candidates=candidates,
        p_required=False,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        what="lscp_backup",
    )
    time_limit_s, mip_gap = resolve_solver(time_limit_s, mip_gap)
    k = len(first.selected)
    level = inst.fixed_count()
    red = reduce_coverage(inst.cover, inst.weight, inst.candidates, level=level, full_level=2)
    twice_const = float(inst.weight @ ((level >= 2) & (inst.weight > 0)))
    chosen = inst.site_ids.get_indexer(list(first.selected))
    col_of = {int(c): i for i, c in enumerate(red.cols)}
    start_cols = np.array(sorted(col_of[c] for c in chosen if c in col_of), dtype=np.int64)
    k_red = min(k, red.n_cols)
    plan_cols = start_cols
    status2, method2 = "optimal", "exact"
    bound2 = 0.0
    if red.n_rows and k_red > 0:
        model = _backup_cover_model(red, k_red)
        x0 = np.zeros(red.n_cols)
        x0[start_cols] = 1.0
        if len(start_cols) < k_red:  # the stage-1 plan uses columns reduction dropped: pad with unused ones
            x0[np.flatnonzero(x0 == 0)[: k_red - len(start_cols)]] = 1.0
        counts = red.level + np.asarray(red.a @ x0).ravel()
        start = np.concatenate([x0, (counts >= 2).astype(float)])
        if _use_exact(method, red.a.nnz):
            sol = _solve(
                model, maximize=True, time_limit_s=time_limit_s, mip_gap=mip_gap, what="lscp-b", start=start
            )
            plan_cols, bound2, status2 = np.flatnonzero(sol.x[: red.n_cols] > 0.5), sol.bound, sol.status
        else:
            lp = _solve(
                model, maximize=True, time_limit_s=time_limit_s, mip_gap=0.0, what="lscp-b LP", relax=True
            )
            plan_cols, bound2, method2 = np.flatnonzero(x0 > 0.5), lp.objective, "heuristic"
    chosen_rows = _pad(inst, red.cols[plan_cols], k, inst.candidates)
    counts = open_count(inst.cover, np.union1d(chosen_rows, inst.fixed))
    twice = float(inst.weight @ (counts >= 2))
    twice_bound = max(twice, twice_const + bound2) if red.n_rows and k_red > 0 else twice
    if method2 == "heuristic" and twice_bound - twice <= 1e-9 * max(1.0, twice):
        method2, status2 = "exact", "optimal"
    elif method2 == "heuristic":
        status2 = "heuristic"
    gap2 = relative_gap(twice, twice_bound) if twice > 0 else (0.0 if twice_bound <= 1e-9 else 1.0)
    status = first.status if first.status != "optimal" else status2
    details = dict(first.details)
    details.update(
        {
            "covered_weight": float(inst.weight @ (counts >= 1)),
            "covered_twice_weight": twice,
            "covered_twice_bound": twice_bound,
            "covered_twice_gap": gap2,
            "stage_status": (first.status, status2),
        }
    )
    log.info(
        "lscp-b: %d new sites (%s), covered twice %.6g (bound %.6g, %s), %.2f s",
        k,
        first.status,
        twice,
        twice_bound,
        status2,
        time.perf_counter() - start_s,
    )
    return build_result(
        inst,
        model="lscp-backup",
        selected=chosen_rows,
        objective=float(k),
        bound=first.bound,
        status=status,
        method="heuristic" if "heuristic" in (first.method, method2) else "exact",
        solve_s=time.perf_counter() - start_s,
        details=details,
    )


def _backup_cover_model(red: Reduced, k: int) -> MipModel:
    """Stage 2 of `lscp_backup` on a reduced instance (levels capped at 2); columns ``[x | u]``."""
    m, n = red.a.shape
    a = sp.csr_array(red.a)
    need = np.flatnonzero(red.level == 0)  # rows no fixed site covers: sum x >= 1
    eye = sp.identity(m, format="csr")
    rows = [
        sp.hstack([a[need], sp.csr_array((len(need), m))], format="csr"),
        sp.hstack([-a, eye], format="csr"),  # u_i - sum x <= level_i - 1
        sp.hstack([sp.csr_array(np.ones((1, n))), sp.csr_array((1, m))], format="csr"),
    ]
    return MipModel(
        cost=np.concatenate([np.zeros(n), red.weight]),
        a=sp.vstack(rows, format="csc"),
        row_lo=np.concatenate([np.ones(len(need)), np.full(m, -_INF), [float(k)]]),
        row_hi=np.concatenate([np.full(len(need), _INF), red.level - 1.0, [float(k)]]),
        col_lo=np.zeros(n + m),
        col_hi=np.ones(n + m),
        integral=np.concatenate([np.ones(n, dtype=bool), np.zeros(m, dtype=bool)]),
    )


# ------------------------------------------------------------------------------------------------------------
# capacitated MCLP


def capacitated_mclp(
    times: TravelTimes,
    weights: pd.Series,
    capacity: pd.Series,
    *,
    p: int,
    threshold_min: float,
    fixed=None,
    candidates=None,
    method: str = "auto",
    time_limit_s: float | None = None,
    mip_gap: float | None = None,
) -> SitingResult:
    """Capacitated maximal covering: open `p` sites and assign demand within the threshold up to capacities.

    Assignment is *fractional*: part of a demand point's weight may go to one site and part to another (or
    stay
    unserved), so a capacity smaller than one demand point's weight still serves part of it.

    .. math::

        \\max \\sum_i \\sum_{j \\in N_i} w_i z_{ij} \\quad \\text{s.t.} \\quad
        \\sum_{j \\in N_i} z_{ij} \\le 1, \\quad
        \\sum_{i : j \\in N_i} w_i z_{ij} \\le C_j x_j, \\quad z_{ij} \\le x_j, \\quad
        \\sum_{j \\in J} x_j = p, \\quad x_j \\in \\{0,1\\}, \\; z_{ij} \\ge 0

    with :math:`x_j = 1` for fixed sites (open, with their capacity, not counted in `p`).

    Parameters
    ----------
    capacity
        Places per site (Series site_id -> places, >= 0), for every candidate and fixed site.
    others
        As in `mclp`. ``method="heuristic"`` rounds the LP relaxation (the `p` largest site values, ties by
        id)
        and assigns optimally for those sites; the LP value is the bound.

    Returns
    -------
    SitingResult
        ``objective`` is the assigned weight; ``assigned`` the site serving the largest part of each demand
        point
        (ties: smaller id; NaN if unserved); ``details["served_share"]`` the share of each demand point's
        weight
        served, ``details["load"]`` the weight assigned to each open site.
    """
    start_s = time.perf_counter()
    pre = prepare(
        times,
        weights,
        threshold_min=threshold_min,
        fixed=fixed,
        candidates=candidates,
        p=p,
        method=method,
        time_limit_s=time_limit_s,
        mip_gap=mip_gap,
        what="capacitated_mclp",
    )
    cap, problems = capacity_per_site(pre, capacity)
    raise_if(problems, "`capacity`")
    p = int(p)
    time_limit_s, mip_gap = resolve_solver(time_limit_s, mip_gap)
    cols_all = np.union1d(pre.candidates, pre.fixed)
    red = reduce_coverage(pre.cover, pre.weight, cols_all, dominance=False)
    is_fixed = np.isin(red.cols, pre.fixed)
    cand_cols = np.flatnonzero(~is_fixed)
    p_red = min(p, len(cand_cols))
    arrays = _capacitated_arrays(red, cap[red.cols], is_fixed, p_red)
    n_x = len(cand_cols)
    if red.n_rows == 0:
        x_open, status, bound, method_used = np.zeros(0, dtype=np.int64), "optimal", 0.0, "exact"
        z = np.zeros(0)
    elif len(cand_cols) <= p or _use_exact(method, arrays.a.nnz):
        if len(cand_cols) <= p:
            arrays.col_lo[:n_x] = 1.0
        sol = _solve(
            arrays, maximize=True, time_limit_s=time_limit_s, mip_gap=mip_gap, what="capacitated mclp"
        )
        x_open = np.flatnonzero(sol.x[:n_x] > 0.5)
        z, status, bound, method_used = sol.x[n_x:], sol.status, sol.bound, "exact"
    else:
        lp = _solve(
            arrays, maximize=True, time_limit_s=time_limit_s, mip_gap=0.0, what="capacitated LP", relax=True
        )
        order = np.lexsort((np.arange(n_x), -lp.x[:n_x]))
        x_open = np.sort(order[:p_red])
        col_lo, col_hi = arrays.col_lo.copy(), arrays.col_hi.copy()
        col_lo[:n_x] = 0.0
        col_hi[:n_x] = 0.0
        col_lo[x_open] = col_hi[x_open] = 1.0
        fixed_arrays = arrays.with_(col_lo=col_lo, col_hi=col_hi)
        sol = _solve(
            fixed_arrays,
            maximize=True,
            time_limit_s=time_limit_s,
            mip_gap=0.0,
            what="capacitated assign",
            relax=True,
        )
        z, bound, method_used = sol.x[n_x:], lp.objective, "heuristic"
        status = "optimal" if bound - sol.objective <= 1e-9 * max(1.0, sol.objective) else "heuristic"
    chosen = _pad(pre, red.cols[cand_cols[x_open]], p, pre.candidates)
    pair_row, pair_col = _pairs(red)
    served_rows = np.bincount(pair_row, weights=z, minlength=red.n_rows) if len(z) else np.zeros(red.n_rows)
    objective = float(red.weight @ served_rows)
    # main site per merged row: the largest z, ties by smaller site id
    main = np.full(red.n_rows, -1, dtype=np.int64)
    if len(z):
        positive = z > 1e-9
        order = np.lexsort((red.cols[pair_col], -z, pair_row))
        order = order[positive[order]]
        first = np.ones(len(order), dtype=bool)
        first[1:] = pair_row[order][1:] != pair_row[order][:-1]
        main[pair_row[order][first]] = red.cols[pair_col[order][first]]
    main_by_demand = _per_demand(red, main, -1)
    ids = pre.site_ids.to_numpy()
    values = ids[np.maximum(main_by_demand, 0)].astype(object)
    values[main_by_demand < 0] = np.nan
    assigned = pd.Series(values, index=pre.demand_ids, name="assigned").reindex(pre.input_demand_ids)
    share = _per_demand(red, served_rows, 0.0)
    load = (
        np.bincount(pair_col, weights=z * red.weight[pair_row], minlength=red.n_cols)
        if len(z)
        else np.zeros(red.n_cols)
    )
    open_cols = np.isin(red.cols, np.union1d(chosen, pre.fixed))
    details = {
        "reduction": red.sizes,
        "fractional": True,
        "served_share": pd.Series(np.clip(share, 0, 1), index=pre.demand_ids, name="served_share").reindex(
            pre.input_demand_ids
        ),
        "load": pd.Series(
            load[open_cols],
            index=pd.Index(red.cols[open_cols], name="site_id").map(lambda r: pre.site_ids[r]),
            name="load",
        ),
        "total_weight": float(pre.weight.sum()),
    }
    log.info(
        "capacitated mclp: p = %d (+%d fixed), %s, assigned %.6g of %.6g, bound %.6g, %.2f s",
        p,
        len(pre.fixed),
        status,
        objective,
        details["total_weight"],
        bound,
        time.perf_counter() - start_s,
    )
    return build_result(
        pre,
        model="capacitated-mclp",
        selected=chosen,
        objective=objective,
        bound=max(bound, objective),
        status=status,
        method=method_used,
        solve_s=time.perf_counter() - start_s,
        details=details,
        assigned=assigned,
    )


def _per_demand(red: Reduced, per_row: np.ndarray, fill):
    """Spread a per-merged-row array back to every demand column (`fill` where the demand was dropped)."""
    out = np.full(len(red.row_of), fill, dtype=np.asarray(per_row).dtype)
    kept = red.row_of >= 0
    out[kept] = per_row[red.row_of[kept]]
    return out


def _pairs(red: Reduced) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every nonzero of the reduced matrix, in CSC order (column by column)."""
    a = red.a
    cols = np.repeat(np.arange(a.shape[1]), np.diff(a.indptr))
    return a.indices.astype(np.int64), cols


def _capacitated_arrays(red: Reduced, cap: np.ndarray, is_fixed: np.ndarray, p: int) -> MipModel:
    """Arrays of the capacitated MCLP; columns ``[x (candidate columns) | z (pairs)]``."""
    m, n = red.a.shape
    pair_row, pair_col = _pairs(red)
    e = len(pair_row)
    cand = np.flatnonzero(~is_fixed)
    n_x = len(cand)
    x_of_col = np.full(n, -1, dtype=np.int64)
    x_of_col[cand] = np.arange(n_x)
    pe = np.arange(e)
    # demand rows: sum_j z_ij <= 1
    r1 = sp.csr_array((np.ones(e), (pair_row, n_x + pe)), shape=(m, n_x + e))
    # capacity rows: sum_i w_i z_ij - C_j x_j <= 0 (candidates) / <= C_j (fixed)
    r2 = sp.csr_array(
        (
            np.concatenate([red.weight[pair_row], -cap[cand]]),
            (np.concatenate([pair_col, cand]), np.concatenate([n_x + pe, np.arange(n_x)])),
        ),
        shape=(n, n_x + e),
    )
    # linking rows: z_ij - x_j <= 0 for candidate pairs
    link = np.flatnonzero(~is_fixed[pair_col])
    nl = len(link)
    r3 = sp.csr_array(
        (
            np.concatenate([np.ones(nl), -np.ones(nl)]),
            (
                np.concatenate([np.arange(nl), np.arange(nl)]),
                np.concatenate([n_x + link, x_of_col[pair_col[link]]]),
            ),
        ),
        shape=(nl, n_x + e),
    )
    r4 = sp.csr_array((np.ones(n_x), (np.zeros(n_x, dtype=np.int64), np.arange(n_x))), shape=(1, n_x + e))
    a = sp.vstack([r1, r2, r3, r4], format="csc")
    cap_hi = np.where(is_fixed, cap, 0.0)
    return MipModel(
        cost=np.concatenate([np.zeros(n_x), red.weight[pair_row]]),
        a=a,
        row_lo=np.concatenate([np.full(m + n + nl, -_INF), [float(p)]]),
        row_hi=np.concatenate([np.ones(m), cap_hi, np.zeros(nl), [float(p)]]),
        col_lo=np.zeros(n_x + e),
        col_hi=np.ones(n_x + e),
        integral=np.concatenate([np.ones(n_x, dtype=bool), np.zeros(e, dtype=bool)]),
    )


__all__ = [
    "AUTO_EXACT_NNZ",
    "Equity",
    "capacitated_mclp",
    "ids_of",
    "lscp",
    "lscp_backup",
    "mclp",
    "mclp_model",
]
