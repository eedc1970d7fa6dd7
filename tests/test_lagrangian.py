"""The Lagrangian bounds of maximal covering are valid (brute force, exact MIP) and its plans are real."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.costs import TravelTimes
from planner.locate import mclp
from planner.locate.lagrangian import curve_bound, solve_mclp, subgradient


def random_cover(seed: int, n_rows: int, n_cols: int, density: float = 0.3):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_rows, n_cols)) < density
    weight = rng.integers(1, 20, n_rows).astype(float)
    return sp.csc_array(dense.astype(float)), weight, dense


def brute_opt(dense: np.ndarray, weight: np.ndarray, p: int) -> float:
    best = 0.0
    for cols in itertools.combinations(range(dense.shape[1]), p):
        best = max(best, float(weight @ dense[:, list(cols)].any(axis=1)))
    return best


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 12), st.integers(2, 7), st.integers(0, 10**6))
def test_any_multipliers_bound_every_p(seed, n_rows, n_cols, lam_seed):
    a, weight, dense = random_cover(seed, n_rows, n_cols)
    lam = np.random.default_rng(lam_seed).random(n_rows) * weight  # any point of the box
    bounds = curve_bound(weight, lam, sp.csr_array(a.T) @ lam, n_cols)
    assert (np.diff(bounds) >= -1e-9).all()
    for p in range(n_cols + 1):
        assert bounds[p] >= brute_opt(dense, weight, p) - 1e-9


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 14), st.integers(2, 7), st.integers(1, 4))
def test_solve_mclp_plan_and_bound_bracket_the_optimum(seed, n_rows, n_cols, p):
    a, weight, dense = random_cover(seed, n_rows, n_cols)
    p = min(p, n_cols)
    opt = brute_opt(dense, weight, p)
    cols, bound, info = solve_mclp(a, weight, p, time_limit_s=2, target_gap=0.0)
    assert len(cols) == p
    value = float(weight @ dense[:, cols].any(axis=1))
    assert value <= opt + 1e-9 <= bound + 2e-9
    dual = subgradient(a, weight, p, incumbent=value, deadline=float("inf"), max_iter=50)
    assert dual.bound >= opt - 1e-9
    assert info["lagrangian_iterations"] >= 1


def test_heuristic_mclp_on_a_mid_size_instance_brackets_the_exact_optimum():
    rng = np.random.default_rng(7)
    n_sites, n_demand = 120, 1500
    xy_d = rng.uniform(0, 5000, (n_demand, 2))
    xy_s = xy_d[rng.choice(n_demand, n_sites, replace=False)] + rng.normal(0, 100, (n_sites, 2))
    dist = np.hypot(*(xy_s[:, None, :] - xy_d[None, :, :]).transpose(2, 0, 1))
    r, c = np.nonzero(dist <= 900)
    table = pd.DataFrame({"site_id": [f"s{i:03d}" for i in r], "demand_id": c, "walk_s": dist[r, c]})
    times = TravelTimes.from_table(table, [f"s{i:03d}" for i in range(n_sites)], range(n_demand), limit_s=900)
    weights = pd.Series(rng.integers(1, 50, n_demand).astype(float), index=pd.RangeIndex(n_demand))
    for p, fixed in ((5, None), (15, ["s000", "s001"])):
        exact = mclp(times, weights, p=p, threshold_min=15, fixed=fixed, method="exact")
        heur = mclp(
            times,
            weights,
            p=p,
            threshold_min=15,
            fixed=fixed,
            method="heuristic",
            mip_gap=0.0,
            time_limit_s=8,
        )
        assert exact.status == "optimal"
        assert heur.objective <= exact.objective + 1e-9 <= heur.bound + 1e-6
        assert heur.details["heuristic"]["bound_kind"] in {"lagrangian", "lp"}
        assert heur.gap == pytest.approx(abs(heur.bound - heur.objective) / heur.objective)


def test_progress_bar_changes_nothing(capsys):
    rng = np.random.default_rng(3)
    r, c = np.nonzero(rng.random((40, 300)) < 0.1)
    table = pd.DataFrame(
        {"site_id": [f"s{i:02d}" for i in r], "demand_id": c, "walk_s": rng.uniform(0, 900, len(r))}
    )
    times = TravelTimes.from_table(table, [f"s{i:02d}" for i in range(40)], range(300), limit_s=900)
    weights = pd.Series(rng.integers(1, 9, 300).astype(float), index=pd.RangeIndex(300))
    quiet = mclp(times, weights, p=6, threshold_min=15, method="heuristic", time_limit_s=5)
    loud = mclp(times, weights, p=6, threshold_min=15, method="heuristic", time_limit_s=5, progress=True)
    assert loud.objective <= quiet.bound + 1e-9
    assert quiet.objective <= loud.bound + 1e-9
    assert "mclp bound" in capsys.readouterr().err
