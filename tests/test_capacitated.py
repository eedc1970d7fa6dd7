"""Capacitated p-median and backup-covering LSCP against brute force on small random instances."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from planner._errors import InfeasibleError, InputError
from planner.costs import TravelTimes
from planner.locate import capacitated_p_median, lscp, lscp_backup

THRESHOLD_MIN = 10.0  # 600 s; random walks are drawn in [0, 900] s


def random_times(seed: int, n_sites: int, n_demand: int, density: float = 0.35):
    """Random sparse walk times (limit 900 s) and integer weights (some zero)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_sites, n_demand)) < density
    r, c = np.nonzero(mask)
    table = pd.DataFrame(
        {"site_id": [f"s{i}" for i in r], "demand_id": c, "walk_s": rng.uniform(0, 900, len(r)).round()}
    )
    times = TravelTimes.from_table(table, [f"s{i}" for i in range(n_sites)], range(n_demand), limit_s=900)
    weights = pd.Series(rng.integers(0, 10, n_demand).astype(float), index=pd.RangeIndex(n_demand))
    return times, weights


instances = st.tuples(st.integers(0, 10**6), st.integers(2, 6), st.integers(1, 10))


# -------------------------------------------------------------------------------------------------- LSCP-B


def brute_lscp_backup(times, weights, fixed):
    """(fewest new sites covering all coverable positive demand, most weight covered twice with that many)."""
    cover = times.within(THRESHOLD_MIN * 60).toarray()
    w = weights.reindex(times.demand_ids).to_numpy()
    fixed_rows = [times.site_ids.get_loc(f) for f in fixed]
    cand = [i for i in range(len(times.site_ids)) if i not in fixed_rows]
    need = (w > 0) & cover.any(axis=0)
    for k in range(len(cand) + 1):
        best = None
        for sub in itertools.combinations(cand, k):
            counts = cover[fixed_rows + list(sub)].sum(axis=0)
            if (counts[need] >= 1).all():
                twice = float(w @ (counts >= 2))
                best = twice if best is None else max(best, twice)
        if best is not None:
            return k, best
    raise AssertionError("no cover")


@settings(max_examples=40, deadline=None)
@given(instances, st.integers(0, 2))
def test_lscp_backup_matches_brute_force(inst, n_fixed):
    seed, n_sites, n_demand = inst
    times, weights = random_times(seed, n_sites, n_demand)
    fixed = list(times.site_ids[:n_fixed]) if n_fixed < n_sites else []
    k, twice = brute_lscp_backup(times, weights, fixed)
    res = lscp_backup(times, weights, threshold_min=THRESHOLD_MIN, fixed=fixed or None, method="exact")
    assert res.objective == k
    assert len(res.selected) == k
    assert res.bound == k
    assert res.details["covered_twice_weight"] == pytest.approx(twice)
    assert res.details["covered_twice_bound"] >= twice - 1e-9
    assert res.status == "optimal"
    # the plan really covers every coverable demand point, and covered twice is what `covered` says
    w = weights.to_numpy()
    c = res.covered.reindex(times.demand_ids).to_numpy()
    reach = times.within(THRESHOLD_MIN * 60).toarray().any(axis=0)
    assert ((c >= 1) | ~((w > 0) & reach)).all()
    assert float(w @ (c >= 2)) == pytest.approx(twice)
    # the same count as plain LSCP, and a heuristic plan never claims more than its bound
    assert lscp(times, weights, threshold_min=THRESHOLD_MIN, fixed=fixed or None).objective == k
    heur = lscp_backup(times, weights, threshold_min=THRESHOLD_MIN, fixed=fixed or None, method="heuristic")
    assert heur.details["covered_twice_weight"] <= twice + 1e-9 <= heur.details["covered_twice_bound"] + 2e-9


def test_lscp_backup_by_hand_prefers_the_plan_covering_twice():
    # demand 0 (w 5) is reached by A and B, demand 1 (w 1) by B and C, demand 2 (w 1) by C only:
    # two sites are needed (C, and A or B); {B, C} covers demand 1 twice, {A, C} covers nobody twice
    table = pd.DataFrame(
        {
            "site_id": ["A", "B", "B", "C", "C"],
            "demand_id": [0, 0, 1, 1, 2],
            "walk_s": [100.0, 200.0, 100.0, 100.0, 100.0],
        }
    )
    times = TravelTimes.from_table(table, ["A", "B", "C"], [0, 1, 2], limit_s=900)
    weights = pd.Series([5.0, 1.0, 1.0], index=[0, 1, 2])
    res = lscp_backup(times, weights, threshold_min=THRESHOLD_MIN)
    assert res.selected == ("B", "C")
    assert res.objective == 2
    assert res.details["covered_twice_weight"] == 1.0
    assert res.status == "optimal"


# -------------------------------------------------------------------------------------------------- CPMP


def assignment_cost(times, w, cap, open_rows, *, far_s):
    """Cheapest fractional assignment of all weight to open sites within capacity (scipy LP); None: none."""
    walk = times.matrix.toarray()
    stored = np.zeros_like(walk, dtype=bool)
    coo = times.matrix.tocoo()
    stored[coo.row, coo.col] = True
    demand = [i for i in range(walk.shape[1]) if w[i] > 0]
    pairs = [(i, j) for i in demand for j in open_rows if stored[j, i]]
    far = [] if far_s is None else demand
    reach = {i for i, _ in pairs}
    if far_s is None:  # demand no site reaches is left out; reachable demand must be served in full
        demand = [i for i in demand if stored[:, i].any()]
        if any(i not in reach for i in demand):
            return None
    n = len(pairs) + len(far)
    if n == 0:
        return 0.0
    c = [w[i] * walk[j, i] for i, j in pairs] + [w[i] * far_s for i in far]
    a_eq, b_eq = [], []
    for i in demand:
        row = [1.0 if pi == i else 0.0 for pi, _ in pairs] + [1.0 if fi == i else 0.0 for fi in far]
        a_eq.append(row)
        b_eq.append(1.0)
    a_ub, b_ub = [], []
    for j in open_rows:
        a_ub.append([w[pi] if pj == j else 0.0 for pi, pj in pairs] + [0.0] * len(far))
        b_ub.append(cap[j])
    out = linprog(
        np.array(c),
        A_ub=np.array(a_ub) if a_ub else None,
        b_ub=np.array(b_ub) if b_ub else None,
        A_eq=np.array(a_eq) if a_eq else None,
        b_eq=np.array(b_eq) if b_eq else None,
        bounds=[(0, 1)] * n,
        method="highs",
    )
    return float(out.fun) if out.status == 0 else None


def brute_cpmp(times, weights, cap, p, *, fixed, far_s):
    w = weights.reindex(times.demand_ids).to_numpy()
    fixed_rows = [times.site_ids.get_loc(f) for f in fixed]
    cand = [i for i in range(len(times.site_ids)) if i not in fixed_rows]
    values = [
        assignment_cost(times, w, cap, fixed_rows + list(sub), far_s=far_s)
        for sub in itertools.combinations(cand, p)
    ]
    values = [v for v in values if v is not None]
    return min(values) if values else None


@settings(max_examples=30, deadline=None)
@given(instances, st.integers(1, 3), st.integers(0, 1), st.integers(0, 10**6), st.booleans())
# the heuristic's rounded LP plan once picked a large site that reaches nobody: it must fall back, not fail
@example(inst=(600229, 5, 2), p=2, n_fixed=0, cap_seed=3, with_far=False)
def test_capacitated_p_median_matches_brute_force(inst, p, n_fixed, cap_seed, with_far):
    seed, n_sites, n_demand = inst
    times, weights = random_times(seed, n_sites, n_demand, density=0.5)
    fixed = list(times.site_ids[:n_fixed]) if n_fixed < n_sites else []
    p = min(p, n_sites - len(fixed))
    if p == 0:
        return
    cap = pd.Series(
        np.random.default_rng(cap_seed).integers(0, 40, n_sites).astype(float), index=times.site_ids
    )
    cap.iloc[-1] = max(cap.iloc[-1], 1.0)
    far_s = 1000.0 if with_far else None
    best = brute_cpmp(times, weights, cap.to_numpy(), p, fixed=fixed, far_s=far_s)
    kwargs = {"p": p, "fixed": fixed or None, "far_s": far_s}
    if best is None:
        with pytest.raises(InfeasibleError, match="capacit"):
            capacitated_p_median(times, weights, cap, method="exact", **kwargs)
        return
    res = capacitated_p_median(times, weights, cap, method="exact", **kwargs)
    assert res.objective == pytest.approx(best, rel=1e-6, abs=1e-6)
    assert res.status == "optimal"
    assert res.bound <= res.objective + 1e-9
    assert len(res.selected) == p
    load = res.details["load"]
    assert (load <= cap.reindex(load.index) + 1e-6).all()
    # the plan's own cheapest assignment is the objective
    open_rows = [times.site_ids.get_loc(s) for s in list(res.selected) + fixed]
    w = weights.to_numpy()
    assert assignment_cost(times, w, cap.to_numpy(), open_rows, far_s=far_s) == pytest.approx(
        res.objective, rel=1e-6, abs=1e-6
    )
    heur = capacitated_p_median(times, weights, cap, method="heuristic", **kwargs)
    assert heur.bound <= best + 1e-6
    assert heur.objective >= best - 1e-6


def test_capacitated_p_median_by_hand_splits_demand():
    # demand 0 (w 10) is 100 s from A (capacity 6) and 300 s from B (capacity 10): A serves 6, B serves 4
    table = pd.DataFrame({"site_id": ["A", "B"], "demand_id": [0, 0], "walk_s": [100.0, 300.0]})
    times = TravelTimes.from_table(table, ["A", "B"], [0], limit_s=900)
    weights = pd.Series([10.0], index=[0])
    cap = pd.Series([6.0, 10.0], index=["A", "B"])
    res = capacitated_p_median(times, weights, cap, p=1, fixed=["A"])
    assert res.selected == ("B",)
    assert res.objective == pytest.approx(6 * 100 + 4 * 300)
    assert res.assigned.loc[0] == "A"
    assert res.details["load"].to_dict() == pytest.approx({"A": 6.0, "B": 4.0})
    with pytest.raises(InfeasibleError, match=r"capacity is short: .* \(4 missing\)"):
        capacitated_p_median(times, weights, pd.Series([6.0, 0.0], index=["A", "B"]), p=1, fixed=["A"])
    far = capacitated_p_median(
        times, weights, pd.Series([6.0, 0.0], index=["A", "B"]), p=1, fixed=["A"], far_s=900
    )
    assert far.objective == pytest.approx(6 * 100 + 4 * 900)
    assert far.details["unserved_weight"] == pytest.approx(4.0)


def test_capacitated_p_median_bad_inputs():
    times, weights = random_times(1, 3, 4)
    with pytest.raises(InputError, match=r"`capacity` lacks candidate or fixed sites s2"):
        capacitated_p_median(times, weights, pd.Series([1.0, 1.0], index=["s0", "s1"]), p=1)
    with pytest.raises(InputError, match=r"`far_s` must be a positive number of seconds"):
        capacitated_p_median(times, weights, pd.Series(1.0, index=times.site_ids), p=1, far_s=-1)
    with pytest.raises(InputError, match=r"`p` must be at least 1"):
        capacitated_p_median(times, weights, pd.Series(1.0, index=times.site_ids), p=0)
