"""Solve a sparse MIP with HiGHS (highspy), models handed over as CSC arrays, never built term by term."""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import time
from dataclasses import dataclass, replace

import highspy
import numpy as np
import scipy.sparse as sp

from planner._errors import InfeasibleError, SolverError

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MipModel:
    """A sparse MIP: ``min/max cost @ x  s.t.  row_lo <= A x <= row_hi, col_lo <= x <= col_hi``.

    Infinite bounds are ``np.inf``; `integral` marks the integer columns. Built whole from arrays by each
    model's own function (never term by term) and handed to `solve_mip`.
    """

    cost: np.ndarray
    a: sp.sparray
    row_lo: np.ndarray
    row_hi: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    integral: np.ndarray

    @property
    def n_cols(self) -> int:
        """Number of columns (variables)."""
        return len(self.cost)

    def relaxed(self) -> MipModel:
        """The LP relaxation (no integer columns)."""
        return replace(self, integral=np.zeros(self.n_cols, dtype=bool))

    def with_(self, **changes) -> MipModel:
        """A copy with some arrays replaced (`dataclasses.replace`)."""
        return replace(self, **changes)


@dataclass(frozen=True, eq=False)
class MipSolution:
    """What HiGHS returned.

    Attributes
    ----------
    x
        Column values (rounded to integers where the column is integral).
    objective
        Objective of the best plan found.
    bound
        Best proven bound (the MIP dual bound; equals `objective` when optimal).
    gap
        Relative gap ``|bound - objective| / max(|objective|, 1e-9)``.
    status
        ``"optimal"`` or ``"time_limit"``.
    solve_s
        Wall seconds in HiGHS.
    """

    x: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    solve_s: float


def relative_gap(objective: float, bound: float) -> float:
    """``|bound - objective| / max(|objective|, 1e-9)``, the gap every result reports."""
    return abs(bound - objective) / max(abs(objective), 1e-9)


def solve_mip(
    model: MipModel,
    *,
    maximize: bool = False,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 1e-6,
    what: str = "model",
    start: np.ndarray | None = None,
    ipm: bool = False,
) -> MipSolution:
    """Solve a `MipModel` with HiGHS.

    Runs single-threaded with a fixed seed, so the same model gives the same plan. Raises `InfeasibleError`
    when HiGHS proves the model infeasible, `SolverError` when no plan is found. `start`, optional, is a
    feasible column vector handed to HiGHS as a first incumbent (e.g. a greedy plan); a result claimed
    optimal whose plan does not meet the bound is solved again without it. `ipm` solves an LP (a model
    without integer columns) by the interior-point method with crossover, much faster than the simplex on
    large coverage relaxations.
    """
    cost, a, row_lo, row_hi = model.cost, model.a, model.row_lo, model.row_hi
    col_lo, col_hi, integral = model.col_lo, model.col_hi, model.integral
    a = sp.csc_array(a)
    a.sort_indices()
    n_row, n_col = a.shape
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = n_row
    lp.col_cost_ = np.asarray(cost, dtype=np.float64)
    lp.col_lower_ = np.where(np.isinf(col_lo), -inf, col_lo).astype(np.float64)
    lp.col_upper_ = np.where(np.isinf(col_hi), inf, col_hi).astype(np.float64)
    lp.row_lower_ = np.where(np.isinf(row_lo), -inf, row_lo).astype(np.float64)
    lp.row_upper_ = np.where(np.isinf(row_hi), inf, row_hi).astype(np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(np.float64)
    lp.a_matrix_.num_col_ = n_col
    lp.a_matrix_.num_row_ = n_row
    lp.sense_ = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    integral = np.asarray(integral, dtype=bool)
    if integral.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous for flag in integral
        ]

    h = _quiet_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("threads", 1)
    if ipm and not integral.any():
        h.setOptionValue("solver", "ipm")
    h.passModel(lp)
    start_given = start is not None
    if start_given:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64)
        sol.value_valid = True
        h.setSolution(sol)
    start = time.perf_counter()
    h.run()
    solve_s = time.perf_counter() - start
    status = h.getModelStatus()
    ms = highspy.HighsModelStatus
    if status == ms.kInfeasible:
        raise InfeasibleError(f"{what} is infeasible: no plan meets all its constraints")
    info = h.getInfo()
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    if status == ms.kModelEmpty:  # no columns: feasible when every row range holds 0
        if ((np.asarray(row_lo) > 1e-9) | (np.asarray(row_hi) < -1e-9)).any():
            raise InfeasibleError(f"{what} is infeasible: no plan meets all its constraints")
        return MipSolution(np.zeros(n_col), 0.0, 0.0, 0.0, "optimal", solve_s)
    if status == ms.kOptimal:
        label = "optimal"
    elif status in (ms.kTimeLimit, ms.kIterationLimit, ms.kSolutionLimit, ms.kInterrupt) and len(x) == n_col:
        label = "time_limit"
    else:
        raise SolverError(
            f"HiGHS stopped on {what} with status {h.modelStatusToString(status)!r} and no plan"
        )
    if len(x) != n_col or info.primal_solution_status == 0:
        raise SolverError(
            f"HiGHS found no feasible plan for {what} within {time_limit_s:g} s; raise time_limit_s"
        )
    x = np.where(integral, np.round(x), x) + 0.0
    objective = float(np.dot(lp.col_cost_, x))
    bound = float(info.mip_dual_bound) if integral.any() else objective
    if label == "optimal" and integral.any() and not np.isfinite(bound):
        bound = objective
    gap = relative_gap(objective, bound)
    if label == "optimal" and integral.any() and gap > 1.01 * mip_rel_gap + 1e-9:
        # HiGHS 1.16 can answer "optimal" with a start solution it did not improve while its own incumbent
        # differs (seen on set covering): never report such a plan as optimal; solve again without the start
        if start_given:
            log.debug("HiGHS %s: start solution came back unproven (gap %.3g); solving without it", what, gap)
            return solve_mip(
                model,
                maximize=maximize,
                time_limit_s=max(1.0, time_limit_s - solve_s),
                mip_rel_gap=mip_rel_gap,
                what=what,
            )
        label = "time_limit"
    log.info(
        "HiGHS %s: %d rows, %d cols, %s, objective %.6g, bound %.6g, gap %.3g%%, %.2f s",
        what,
        n_row,
        n_col,
        label,
        objective,
        bound,
        100 * gap,
        solve_s,
    )
    return MipSolution(x, objective, bound, gap, label, solve_s)


def _quiet_highs() -> highspy.Highs:
    """A `highspy.Highs` whose constructor's licence banner does not land on the user's standard output.

    HiGHS prints the banner from C++ before any option can be set; standard output is pointed at the null
    device just for the construction (C buffers flushed on both sides), so CLI output stays clean.
    """
    sys.stdout.flush()
    libc = ctypes.CDLL(None)
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highs = highspy.Highs()
        libc.fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
    return highs
