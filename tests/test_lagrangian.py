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
from planner.locate.lagrangian import curve_bound, improve_by_regions, region, solve_mclp, subgradient


def random_cover(seed: int, n_rows: int, n_cols: int, density: float = 0.3):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_rows, n_cols)) < density
    weight = rng.integers(1, 20, n_rows).astype(float)
    return sp.csc_array(dense.astype(float)), weight, dense


def random_times(seed: int, n_sites: int, n_demand: int) -> tuple[TravelTimes, pd.Series]:
    """Random walk times (10 % of pairs within 15 min) and integer weights."""
    rng = np.random.default_rng(seed)
    r, c = np.nonzero(rng.random((n_sites, n_demand)) < 0.1)
    table = pd.DataFrame(
        {"site_id": [f"s{i:02d}" for i in r], "demand_id": c, "walk_s": rng.uniform(0, 900, len(r))}
    )
    ids = [f"s{i:02d}" for i in range(n_sites)]
    times = TravelTimes.from_table(table, ids, range(n_demand), limit_s=900)
    return times, pd.Series(rng.integers(1, 9, n_demand).astype(float), index=pd.RangeIndex(n_demand))


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


def overlap_of(a: sp.csc_array, weight: np.ndarray) -> sp.csr_array:
    overlap = sp.csr_array(a.T @ (sp.diags_array(weight) @ a))
    overlap.setdiag(0.0)
    overlap.eliminate_zeros()
    return overlap


def test_region_grows_from_the_site_by_shared_weight():
    # columns on a street: column j covers rows j and j + 1; row weights grow to the right
    n = 9
    rows = np.concatenate([np.arange(n), np.arange(n) + 1])
    a = sp.csc_array((np.ones(2 * n), (rows, np.concatenate([np.arange(n)] * 2))), shape=(n + 1, n))
    overlap = overlap_of(a, np.arange(1.0, n + 2))
    assert region(overlap, 4, 1).tolist() == [4]
    assert region(overlap, 4, 2).tolist() == [4, 5]  # shares row 5 (weight 6) with 5, row 4 (weight 5) with 3
    assert region(overlap, 4, 3).tolist() == [3, 4, 5]
    assert region(overlap, 4, 5).tolist() == [2, 3, 4, 5, 6]
    assert region(overlap, 4, 50).tolist() == [2, 3, 4, 5, 6]  # two steps away at most
    assert region(overlap, 0, 50).tolist() == [0, 1, 2]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 14), st.integers(2, 8), st.integers(1, 4), st.integers(1, 8))
def test_region_search_never_loses_and_is_exact_when_a_region_spans_everything(seed, n_rows, n_cols, p, size):
    a, weight, dense = random_cover(seed, n_rows, n_cols, density=0.5)
    p = min(p, n_cols)
    start = np.random.default_rng(seed).choice(n_cols, p, replace=False)
    before = float(weight @ dense[:, start].any(axis=1))
    cols, searched = improve_by_regions(a, weight, start, deadline=float("inf"), size=size)
    assert len(cols) == p == len(np.unique(cols))
    assert searched >= p
    value = float(weight @ dense[:, cols].any(axis=1))
    assert before - 1e-9 <= value <= brute_opt(dense, weight, p) + 1e-9
    overlap = overlap_of(a, weight)
    if all(len(region(overlap, int(j), size)) == n_cols for j in cols):
        assert value == pytest.approx(brute_opt(dense, weight, p))


def test_region_search_reports_each_gain_and_stops_when_told():
    a, weight, dense = random_cover(3, 12, 7, density=0.5)
    start = np.array([0, 1, 2])
    opt = brute_opt(dense, weight, 3)
    assert float(weight @ dense[:, start].any(axis=1)) < opt  # room to gain
    seen = []
    cols, searched = improve_by_regions(
        a, weight, start, deadline=float("inf"), size=7, on_gain=lambda v: seen.append(v) or True
    )
    assert searched == 1
    assert seen == [pytest.approx(float(weight @ dense[:, cols].any(axis=1)))] == [pytest.approx(opt)]


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
    times, weights = random_times(3, 40, 300)
    quiet = mclp(times, weights, p=6, threshold_min=15, method="heuristic", time_limit_s=5)
    loud = mclp(times, weights, p=6, threshold_min=15, method="heuristic", time_limit_s=5, progress=True)
    assert loud.objective <= quiet.bound + 1e-9
    assert quiet.objective <= loud.bound + 1e-9
    assert "mclp bound" in capsys.readouterr().err


def test_headline_says_when_a_solve_stopped_at_the_time_limit():
    from dataclasses import replace

    from planner.results import solve_state

    times, weights = random_times(5, 30, 200)
    exact = mclp(times, weights, p=4, threshold_min=15, method="exact")
    assert solve_state(exact) == "optimal"
    stopped = replace(exact, status="time_limit", gap=0.0123)
    assert solve_state(stopped).startswith("stopped at the time limit")
    assert "1.23%" in solve_state(stopped)
    heur = mclp(times, weights, p=4, threshold_min=15, method="heuristic", time_limit_s=5)
    assert heur.status == "heuristic" and "stopped_at_time_limit" in heur.details["heuristic"]
    ran_out = replace(heur, gap=0.02, details={**heur.details, "heuristic": {"stopped_at_time_limit": True}})
    assert solve_state(ran_out).startswith("stopped at the time limit") and "2.00%" in solve_state(ran_out)
    done = replace(heur, gap=0.004, details={**heur.details, "heuristic": {"stopped_at_time_limit": False}})
    assert solve_state(done) == "heuristic, certified gap 0.40%"


def test_solve_mclp_reports_running_out_of_time():
    a, weight, _ = random_cover(11, 400, 60, density=0.05)
    cols, bound, info = solve_mclp(a, weight, 12, time_limit_s=0.05, target_gap=0.0)
    value = float(weight @ (np.asarray(a[:, cols].sum(axis=1)).ravel() > 0))
    assert info["stopped_at_time_limit"] == (bound - value > 0)


def test_deep_subgradient_bound_is_never_below_the_lp_relaxation():
    from scipy.optimize import linprog

    a, weight, _ = random_cover(21, 300, 40, density=0.08)
    m, n = a.shape
    p = 6
    # max w.y  s.t.  y <= A x, sum x = p, 0 <= x, y <= 1
    lp = linprog(
        np.concatenate([np.zeros(n), -weight]),
        A_ub=sp.hstack([-a, sp.identity(m)]),
        b_ub=np.zeros(m),
        A_eq=np.concatenate([np.ones(n), np.zeros(m)])[None, :],
        b_eq=[p],
        bounds=(0, 1),
        method="highs",
    )
    lp_value = -lp.fun
    cols, bound, _ = solve_mclp(a, weight, p, time_limit_s=3, target_gap=0.0)
    assert bound >= lp_value - 1e-6 * lp_value  # no multipliers bound below the LP value
    assert float(weight @ (np.asarray(a[:, cols].sum(axis=1)).ravel() > 0)) <= lp_value + 1e-6
    for stall, deflect in ((10, 0.3), (50, 0.6)):
        dual = subgradient(
            a, weight, p, incumbent=0.9 * lp_value, deadline=float("inf"), stall=stall, deflect=deflect
        )
        assert dual.bound >= lp_value - 1e-6 * lp_value
