"""p-median and p-center: brute force on small random instances, hand-checked optima, bounds, bad inputs."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner._errors import InfeasibleError, InputError, PlannerWarning
from planner.costs import TravelTimes
from planner.locate.median import p_center, p_median


def make_times(walk: np.ndarray, *, limit_s: float = 100.0, site_prefix: str = "s") -> TravelTimes:
    """TravelTimes from a dense (sites x demand) array, ``inf`` meaning absent; zeros stay stored."""
    walk = np.asarray(walk, dtype=float)
    rows, cols = np.nonzero(np.isfinite(walk) & (walk <= limit_s))
    mat = sp.csr_array((walk[rows, cols], (rows, cols)), shape=walk.shape)
    sites = pd.Index([f"{site_prefix}{j}" for j in range(walk.shape[0])], name="site_id")
    demand = pd.Index([f"d{i}" for i in range(walk.shape[1])], name="demand_id")
    return TravelTimes(sites, demand, mat, limit_s)


def weights_of(times: TravelTimes, values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=times.demand_ids, name="older")


def median_cost(walk, w, open_rows, far_s) -> float:
    """Brute-force objective: each point walks to its nearest open site, at most far_s."""
    walk = np.where(np.isfinite(walk), walk, np.inf)
    best = walk[list(open_rows)].min(axis=0) if len(open_rows) else np.full(walk.shape[1], np.inf)
    return float(np.dot(w, np.minimum(best, far_s)))


def brute_median(walk, w, p, fixed_rows, cand_rows, *, far_s) -> float:
    return min(
        median_cost(walk, w, list(fixed_rows) + list(c), far_s) for c in itertools.combinations(cand_rows, p)
    )


def brute_center(walk, w, p, fixed_rows, cand_rows) -> float:
    reach = np.isfinite(walk[list(fixed_rows) + list(cand_rows)]).any(axis=0) & (w > 0)
    best = np.inf
    for c in itertools.combinations(cand_rows, p):
        near = walk[list(fixed_rows) + list(c)].min(axis=0)
        best = min(best, float(near[reach].max()))
    return best


@st.composite
def instances(draw):
    n_sites = draw(st.integers(2, 6))
    n_dem = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    walk = rng.integers(0, 101, size=(n_sites, n_dem)).astype(float)
    walk[rng.random((n_sites, n_dem)) < draw(st.sampled_from([0.2, 0.5]))] = np.inf
    w = rng.integers(0, 6, size=n_dem).astype(float)
    n_fixed = draw(st.integers(0, n_sites - 1))
    fixed_rows = sorted(rng.choice(n_sites, size=n_fixed, replace=False).tolist())
    cand_rows = [j for j in range(n_sites) if j not in fixed_rows]
    p = draw(st.integers(1, len(cand_rows)))
    return walk, w, fixed_rows, cand_rows, p


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def quiet_median(*args, **kwargs):
    """p_median, letting through only the gap warning (asserted consistent with the reported gap)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = p_median(*args, **kwargs)
    target = kwargs.get("mip_gap")
    if target is None:
        target = 1e-6 if kwargs.get("method") == "exact" else 0.001
    gap_warned = [c for c in caught if issubclass(c.category, PlannerWarning)]
    assert [c for c in caught if c not in gap_warned] == []
    assert bool(gap_warned) == (result.gap > target)
    return result


@SETTINGS
@given(instances(), st.sampled_from([None, 40.0, 150.0]))
def test_p_median_matches_brute_force(instance, far_s):
    walk, w, fixed_rows, cand_rows, p = instance
    times = make_times(walk)
    weights = weights_of(times, w)
    fixed = [f"s{j}" for j in fixed_rows]
    far = 100.0 if far_s is None else far_s
    best = brute_median(walk, w, p, fixed_rows, cand_rows, far_s=far)
    exact = p_median(times, weights, p=p, fixed=fixed, far_s=far_s, method="exact")
    heur = quiet_median(times, weights, p=p, fixed=fixed, far_s=far_s, method="heuristic", mip_gap=0.0)
    for res in (exact, heur):
        rows = [int(s[1:]) for s in res.selected]
        assert len(rows) == p
        assert set(rows).isdisjoint(fixed_rows)
        assert res.fixed == tuple(sorted(fixed))
        assert res.objective == pytest.approx(median_cost(walk, w, fixed_rows + rows, far), abs=1e-6)
        assert res.bound <= best + 1e-6
        assert res.gap >= 0
    assert exact.objective == pytest.approx(best, abs=1e-6)
    assert heur.objective >= best - 1e-6


@SETTINGS
@given(instances())
def test_p_center_matches_brute_force(instance):
    walk, w, fixed_rows, cand_rows, p = instance
    times = make_times(walk)
    weights = weights_of(times, w)
    fixed = [f"s{j}" for j in fixed_rows]
    reach = np.isfinite(walk).any(axis=0) & (w > 0)
    if not reach.any():
        with pytest.raises(InputError, match="no positive-weight demand point"):
            p_center(times, weights, p=p, fixed=fixed)
        return
    best = brute_center(walk, w, p, fixed_rows, cand_rows)
    if not np.isfinite(best):
        with pytest.raises(InfeasibleError, match=f"{p} new sites cannot reach"):
            p_center(times, weights, p=p, fixed=fixed)
        return
    res = p_center(times, weights, p=p, fixed=fixed, method="exact")
    assert res.objective == best
    assert res.bound == best
    assert res.status == "optimal"
    assert len(res.selected) <= p
    assert set(res.details["unreachable"]) == {f"d{i}" for i in np.flatnonzero(~reach & (w > 0))}
    heur = p_center(times, weights, p=p, fixed=fixed, method="heuristic")
    assert heur.objective >= best
    assert heur.bound <= best


def line_instance() -> tuple[TravelTimes, pd.Series]:
    """Five demand points and five sites on one street at 0, 100, ..., 400 m, 1 m/s; limit 1,000 s."""
    pos = np.arange(5) * 100.0
    times = make_times(np.abs(pos[:, None] - pos[None, :]), limit_s=1000.0)
    return times, weights_of(times, [1, 1, 1, 1, 1])


def test_p_median_hand_checked_line():
    times, weights = line_instance()
    for method in ("exact", "heuristic"):
        one = p_median(times, weights, p=1, method=method)
        assert one.selected == ("s2",)
        assert one.objective == pytest.approx(200 + 100 + 0 + 100 + 200)
        assert one.details["mean_walk_min"] == pytest.approx(600 / 5 / 60)
        assert one.gap == pytest.approx(0.0, abs=1e-9)
        two = p_median(times, weights, p=2, method=method)
        # {1, 3}: 100 + 0 + 100 + 0 + 100 = 300; ties with {1, 4}, {0, 3}: smaller ids first
        assert two.objective == pytest.approx(300.0)
    assert one.assigned.tolist() == ["s2"] * 5
    assert one.covered.tolist() == [1] * 5
    # an existing site at 0 m: the one new site goes to 300 m (0 + 100 + 100 + 0 + 100)
    fixed = p_median(times, weights, p=1, fixed=["s0"], method="exact")
    assert fixed.selected == ("s3",)
    assert fixed.fixed == ("s0",)
    assert fixed.objective == pytest.approx(300.0)
    assert fixed.assigned.tolist() == ["s0", "s0", "s3", "s3", "s3"]
    # without new sites: 1,000 s each (the limit) / walking to s0 (0 + 100 + 200 + 300 + 400)
    assert one.details["cost_without_new_sites"] == pytest.approx(5000.0)
    assert fixed.details["cost_without_new_sites"] == pytest.approx(1000.0)
    assert fixed.details["saving_gap"] == pytest.approx(0.0, abs=1e-9)


def test_p_median_far_option_truncates():
    times, weights = line_instance()
    # far_s = 150 s: from 200 m, points at 0 and 400 m count 150 s, not 200
    res = p_median(times, weights, p=1, far_s=150.0, method="exact")
    assert res.objective == pytest.approx(150 + 100 + 0 + 100 + 150)
    assert res.details["n_far"] == 2
    assert res.details["weight_far"] == 2.0


def test_p_center_hand_checked_line():
    times, weights = line_instance()
    one = p_center(times, weights, p=1)
    assert one.selected == ("s2",)
    assert one.objective == 200.0
    assert one.bound == 200.0
    two = p_center(times, weights, p=2)
    assert two.objective == 100.0
    assert two.details["worst_walk_min"] == pytest.approx(100 / 60)


def test_p_center_reports_unreachable_demand():
    walk = np.array([[10.0, 50.0, np.inf], [np.inf, 20.0, np.inf]])
    times = make_times(walk)
    res = p_center(times, weights_of(times, [1, 1, 5]), p=1)
    assert res.selected == ("s0",)
    assert res.objective == 50.0
    assert res.details["unreachable"] == ("d2",)
    assert res.details["weight_unreachable"] == 5.0
    assert np.isnan(res.assigned["d2"])


def random_times(
    n_sites: int, n_dem: int, seed: int, *, limit_s: float = 900.0
) -> tuple[TravelTimes, pd.Series]:
    """Points in a 3 km square, walk = 1.3 x straight line at 1 m/s, cut at limit_s."""
    rng = np.random.default_rng(seed)
    s_xy = rng.uniform(0, 3000, size=(n_sites, 2))
    d_xy = rng.uniform(0, 3000, size=(n_dem, 2))
    walk = 1.3 * np.hypot(*(s_xy[:, None, :] - d_xy[None, :, :]).transpose(2, 0, 1))
    walk[walk > limit_s] = np.inf
    times = make_times(walk, limit_s=limit_s)
    return times, weights_of(times, rng.integers(1, 50, size=n_dem))


def test_heuristic_exact_bound_order_and_gap():
    times, weights = random_times(60, 600, seed=3)
    exact = p_median(times, weights, p=8, method="exact")
    heur = p_median(times, weights, p=8, method="heuristic", mip_gap=0.01)
    assert exact.status == "optimal"
    assert heur.objective >= exact.objective - 1e-6
    assert exact.objective >= heur.bound - 1e-6
    assert heur.gap <= 0.01
    assert heur.gap == pytest.approx((heur.objective - heur.bound) / heur.objective)
    assert exact.details["requested_gap"] == 1e-6
    assert heur.details["requested_gap"] == 0.01
    assert p_median(times, weights, p=8, method="heuristic").details["requested_gap"] == 0.001


def test_deterministic_and_ties_by_id():
    times, weights = random_times(40, 300, seed=5)
    a = p_median(times, weights, p=5, method="heuristic")
    b = p_median(times, weights, p=5, method="heuristic")
    assert a.selected == b.selected
    assert a.objective == b.objective
    assert a.bound == b.bound
    # two identical sites: the smaller id wins, in either method, and in p-center
    walk = np.array([[5.0, 5.0], [5.0, 5.0], [50.0, 50.0]])
    times = make_times(walk)
    w = weights_of(times, [1, 1])
    assert p_median(times, w, p=1, method="exact").selected == ("s0",)
    assert p_median(times, w, p=1, method="heuristic").selected == ("s0",)
    assert p_center(times, w, p=1).selected == ("s0",)


def test_exact_and_auto_agree_with_fixed_and_candidates():
    times, weights = random_times(30, 200, seed=7)
    cands = [f"s{j}" for j in range(0, 30, 2)]
    res = p_median(times, weights, p=4, fixed=["s1", "s3"], candidates=cands)
    assert set(res.selected) <= set(cands)
    assert res.method == "exact"
    heur = p_median(times, weights, p=4, fixed=["s1", "s3"], candidates=cands, method="heuristic")
    assert heur.objective >= res.objective - 1e-6


def dense_walk(times: TravelTimes) -> np.ndarray:
    """Dense (sites x demand) walk seconds, inf where absent (stored zeros kept)."""
    walk = np.full(times.matrix.shape, np.inf)
    coo = times.matrix.tocoo()
    walk[coo.row, coo.col] = coo.data
    return walk


def test_p_center_exact_and_greedy_medium():
    times, weights = random_times(50, 400, seed=11, limit_s=2500.0)
    exact = p_center(times, weights, p=6)
    heur = p_center(times, weights, p=6, method="heuristic")
    assert exact.gap == 0
    assert exact.status == "optimal"
    assert heur.objective >= exact.objective
    assert heur.bound <= exact.objective
    walk = dense_walk(times)
    for res in (exact, heur):  # the plan really reaches every point within its objective, and no faster
        rows = times.site_ids.get_indexer(list(res.selected))
        assert walk[rows].min(axis=0).max() == res.objective
    # every radius below the bound was proven infeasible or skipped, none proven feasible
    assert all(v != "yes" for r, v in exact.details["radii_tested"] if r < exact.bound)


def test_heuristic_gap_warning_when_not_met():
    times, weights = random_times(60, 600, seed=3)
    with pytest.warns(PlannerWarning, match="certified gap .* exceeds the requested mip_gap"):
        p_median(times, weights, p=8, method="heuristic", mip_gap=0.0, time_limit_s=0.01)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": 0}, "`p` must be at least 1 for p_(median|center), got 0"),
        ({"p": 4}, r"`p` = 4 exceeds the 3 candidate sites"),
        ({"p": 2, "fixed": ["s0", "s1"]}, r"`p` = 2 exceeds the 1 candidate sites"),
        ({"p": 1.5}, "`p` must be a whole number"),
        ({"p": 1, "fixed": ["x9"]}, r"`fixed` has site ids the travel times do not hold: x9 \(1 in all\)"),
        ({"p": 1, "candidates": ["s0", "zz"]}, r"`candidates` has site ids .*zz"),
        (
            {"p": 1, "fixed": ["s0"], "candidates": ["s0", "s1"]},
            r"sites s0 \(1 in all\) are both `fixed` and",
        ),
        ({"p": 1, "method": "magic"}, "`method` must be one of"),
        ({"p": 1, "time_limit_s": -1}, "`time_limit_s` must be a positive"),
    ],
)
def test_bad_inputs(kwargs, match):
    times, weights = random_times(3, 5, seed=1)
    with pytest.raises(InputError, match=match):
        p_median(times, weights, **kwargs)
    with pytest.raises(InputError, match=match):
        p_center(times, weights, **kwargs)


def test_bad_weights_and_options():
    times, weights = random_times(3, 5, seed=1)
    nan = weights.copy()
    nan.iloc[2] = np.nan
    with pytest.raises(InputError, match=r"`weights` is NaN or infinite in rows d2 \(1 in all\)"):
        p_median(times, nan, p=1)
    neg = weights.copy()
    neg.iloc[[0, 4]] = -3
    with pytest.raises(InputError, match=r"`weights` is negative in rows d0, d4 \(2 in all\)"):
        p_center(times, neg, p=1)
    with pytest.raises(InputError, match=r"`weights` lacks the demand ids d4 \(1 in all\)"):
        p_median(times, weights.iloc[:4], p=1)
    shifted = weights.rename(index=lambda i: i.replace("d", "x"))
    with pytest.raises(InputError, match=r"has demand ids the travel times do not hold: x0, x1"):
        p_median(times, shifted, p=1)
    with pytest.raises(InputError, match="must be a pandas Series"):
        p_median(times, weights.to_numpy(), p=1)
    with pytest.raises(InputError, match=r"`times` must be a planner\.costs\.TravelTimes"):
        p_median(times.table, weights, p=1)
    with pytest.raises(InputError, match="`mip_gap` must be a relative gap in"):
        p_median(times, weights, p=1, mip_gap=2.0)
    with pytest.raises(InputError, match="`far_s` must be a positive number"):
        p_median(times, weights, p=1, far_s=0.0)


def test_inputs_not_mutated():
    times, weights = random_times(20, 100, seed=2, limit_s=2500.0)
    before_w = weights.copy()
    before_m = times.matrix.copy()
    p_median(times, weights, p=3, fixed=["s0"])
    p_center(times, weights, p=3, fixed=["s0"])
    pd.testing.assert_series_equal(weights, before_w)
    assert (times.matrix != before_m).nnz == 0


@settings(max_examples=60, deadline=None)
@given(instances())
def test_lagrangian_fixing_keeps_every_optimal_plan(instance):
    """With the optimum (+ 1e-7) as upper bound, no optimal plan uses a closed or lacks an opened site."""
    from planner.locate import median as med
    from planner.locate._common import prepare

    walk, w, fixed_rows, _, p = instance
    times = make_times(walk)
    fixed = [f"s{j}" for j in fixed_rows]
    inst = prepare(times, weights_of(times, w), threshold_min=100 / 60, fixed=fixed, p=p)
    m = med._median_model(inst, p, 100.0)
    if len(m.cost) == 0:
        return
    plan = med._greedy(m)
    _, lam, _, _, _ = med._lagrangian(m, med._cost(m, plan), plan, 0.0, deadline=float("inf"))
    rows = [int(inst.site_ids[r][1:]) for r in inst.candidates]  # candidate index -> row of `walk`
    values = {
        combo: median_cost(walk, w, fixed_rows + [rows[k] for k in combo], 100.0)
        for combo in itertools.combinations(range(m.n_cand), p)
    }
    best = min(values.values())
    closed, opened = med._lagrangian_fixing(m, lam, best + 1e-7)
    for combo, value in values.items():
        if value <= best + 1e-9:
            assert not closed[list(combo)].any()
            assert set(np.flatnonzero(opened)) <= set(combo)


def test_same_plan_whatever_the_input_order():
    times, weights = random_times(40, 300, seed=9, limit_s=1500.0)
    rng = np.random.default_rng(0)
    s_perm = rng.permutation(len(times.site_ids))
    d_perm = rng.permutation(len(times.demand_ids))
    shuffled = TravelTimes(
        times.site_ids[s_perm], times.demand_ids[d_perm], times.matrix[s_perm][:, d_perm], times.limit_s
    )
    for solve in (p_median, p_center):
        a = solve(times, weights, p=5)
        b = solve(shuffled, weights.iloc[::-1], p=5)
        assert a.selected == b.selected
        assert a.objective == pytest.approx(b.objective)
        pd.testing.assert_series_equal(a.assigned, b.assigned.reindex(a.assigned.index))
    assert list(b.assigned.index) == list(shuffled.demand_ids)  # per-demand results in the caller's order


def _line(n: int, limit_s: float = 3600.0):
    """Demand and sites at the same n points of a line, 60 s apart: walk = 60 |i - j| s."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    keep = 60.0 * np.abs(i - j) <= limit_s
    table = pd.DataFrame(
        {
            "site_id": [f"s{v:02d}" for v in j[keep]],
            "demand_id": i[keep],
            "walk_s": 60.0 * np.abs(i - j)[keep],
        }
    )
    times = TravelTimes.from_table(table, [f"s{v:02d}" for v in range(n)], range(n), limit_s=limit_s)
    return times, pd.Series(1.0, index=pd.RangeIndex(n))


@pytest.mark.parametrize(("n", "p", "radius_steps"), [(30, 3, 5), (40, 4, 5), (31, 5, 3), (24, 2, 6)])
def test_p_center_known_optimum_on_a_line(n, p, radius_steps):
    # p sites each cover 2r + 1 consecutive points: the optimum is the smallest r with p (2r + 1) >= n
    times, weights = _line(n)
    res = p_center(times, weights, p=p, method="exact")
    assert res.objective == 60.0 * radius_steps
    assert res.bound == res.objective
    assert res.status == "optimal"


def test_p_center_lp_proves_a_radius_infeasible():
    from planner.locate.median import _center_feasible

    # a 3 x 3 cycle-like cover: each column covers two of three rows; two columns are needed, the LP needs 1.5
    a = sp.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=bool))
    assert _center_feasible(a, 1, 100.0, exact=True, time_limit_s=60)[0] == "no"
    verdict, plan = _center_feasible(a, 2, 100.0, exact=True, time_limit_s=60)
    assert verdict == "yes" and len(plan) <= 2
