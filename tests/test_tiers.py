"""Two tiers (new centres + upgraded stations): brute force with a budget, separable case, bad inputs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner._errors import InputError
from planner.costs import TravelTimes
from planner.locate import mclp, two_tier


def tier_times(seed: int, n_sites: int, n_demand: int, prefix: str) -> TravelTimes:
    rng = np.random.default_rng(seed)
    r, c = np.nonzero(rng.random((n_sites, n_demand)) < 0.35)
    table = pd.DataFrame(
        {"site_id": [f"{prefix}{i}" for i in r], "demand_id": c, "walk_s": rng.uniform(0, 900, len(r))}
    )
    return TravelTimes.from_table(
        table, [f"{prefix}{i}" for i in range(n_sites)], range(n_demand), limit_s=900
    )


def covered(times: TravelTimes, threshold_s: float, ids) -> np.ndarray:
    cover = times.within(threshold_s).toarray()
    rows = [times.site_ids.get_loc(i) for i in ids]
    return cover[rows].any(axis=0) if rows else np.zeros(cover.shape[1], dtype=bool)


def brute(tn, tu, w, *, cost_n, cost_u, budget, objective, alpha=(1.0, 1.0), fixed_n=(), fixed_u=()):
    best = -1.0
    cand_n = [s for s in tn.site_ids if s not in fixed_n]
    cand_u = [s for s in tu.site_ids if s not in fixed_u]
    for kn in range(len(cand_n) + 1):
        for sn in itertools.combinations(cand_n, kn):
            spent = sum(cost_n[s] for s in sn)
            if spent > budget + 1e-9:
                continue
            cn = covered(tn, 600, list(sn) + list(fixed_n))
            for ku in range(len(cand_u) + 1):
                for su in itertools.combinations(cand_u, ku):
                    if spent + sum(cost_u[s] for s in su) > budget + 1e-9:
                        continue
                    cu = covered(tu, 300, list(su) + list(fixed_u))
                    v = alpha[0] * (w @ cn) + alpha[1] * (w @ cu) if objective == "sum" else w @ (cn | cu)
                    best = max(best, float(v))
    return best


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(0, 8),
    st.sampled_from(["sum", "either"]),
    st.booleans(),
)
def test_budget_matches_brute_force(seed, n_new, n_up, budget, objective, with_fixed):  # noqa: PLR0917
    n_demand = 12
    tn = tier_times(seed, n_new, n_demand, "n")
    tu = tier_times(seed + 1, n_up, n_demand, "u")
    rng = np.random.default_rng(seed + 2)
    w = pd.Series(rng.integers(0, 10, n_demand).astype(float), index=range(n_demand))
    cost_n = pd.Series(rng.integers(1, 5, n_new).astype(float), index=tn.site_ids)
    cost_u = pd.Series(rng.integers(1, 3, n_up).astype(float), index=tu.site_ids)
    fixed_u = ["u0"] if with_fixed and n_up > 1 else []
    alpha = (1.0, 0.5)
    res = two_tier(
        tn,
        tu,
        w,
        threshold_new_min=10,
        threshold_upgrade_min=5,
        budget=budget,
        cost_new=cost_n,
        cost_upgrade=cost_u,
        objective=objective,
        tier_weights=alpha,
        fixed_upgrade=fixed_u or None,
    )
    best = brute(
        tn,
        tu,
        w.to_numpy(),
        cost_n=cost_n,
        cost_u=cost_u,
        budget=budget,
        objective=objective,
        alpha=alpha,
        fixed_u=fixed_u,
    )
    assert res.objective == pytest.approx(best)
    assert res.status == "optimal"
    assert res.details["cost"] <= budget + 1e-9
    assert res.details["separable"] is False
    cn = covered(tn, 600, res.new.selected)
    cu = covered(tu, 300, list(res.upgrade.selected) + fixed_u)
    assert res.new.objective == pytest.approx(w.to_numpy() @ cn)
    assert res.upgrade.objective == pytest.approx(w.to_numpy() @ cu)
    assert res.bound >= res.objective - 1e-9


def test_fixed_counts_sum_is_separable_and_equals_two_mclps():
    tn, tu = tier_times(3, 6, 20, "n"), tier_times(4, 5, 20, "u")
    w = pd.Series(np.arange(20, dtype=float) % 7, index=range(20))
    res = two_tier(
        tn, tu, w, new=2, upgrade=3, threshold_new_min=10, threshold_upgrade_min=5, tier_weights=(2.0, 1.0)
    )
    a = mclp(tn, w, p=2, threshold_min=10)
    b = mclp(tu, w, p=3, threshold_min=5)
    assert res.details["separable"] is True
    assert res.new.selected == a.selected and res.upgrade.selected == b.selected
    assert res.objective == pytest.approx(2 * a.objective + b.objective)
    assert res.status == "optimal" and res.gap == pytest.approx(0.0, abs=1e-9)


def test_fixed_counts_either_is_joint_and_exact():
    tn, tu = tier_times(5, 5, 14, "n"), tier_times(6, 4, 14, "u")
    w = pd.Series(np.arange(14, dtype=float) % 5 + 1, index=range(14))
    res = two_tier(
        tn, tu, w, new=2, upgrade=1, threshold_new_min=10, threshold_upgrade_min=5, objective="either"
    )
    best = max(
        float(w.to_numpy() @ (covered(tn, 600, sn) | covered(tu, 300, su)))
        for sn in itertools.combinations(tn.site_ids, 2)
        for su in itertools.combinations(tu.site_ids, 1)
    )
    assert res.objective == pytest.approx(best)
    assert len(res.new.selected) == 2 and len(res.upgrade.selected) == 1
    assert res.details["separable"] is False


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"new": 1}, r"give `new` and `upgrade`"),
        ({"new": 1, "upgrade": 1, "objective": "both"}, r"`objective` must be one of sum, either"),
        ({"budget": -1}, r"`budget` must be a number >= 0"),
        ({"new": 1, "upgrade": 1, "cost_new": pd.Series(1.0, index=["n0"])}, r"used only with a `budget`"),
        (
            {"budget": 3, "cost_new": pd.Series({"n0": -1.0, "n1": 1.0, "n2": 1.0})},
            r"must be finite and >= 0",
        ),
        (
            {"budget": 3, "cost_new": pd.Series({"n0": 1.0})},
            r"`cost_new` lacks \(or has NaN for\) candidate sites n1",
        ),
        ({"new": 9, "upgrade": 1}, r"`new` = 9 exceeds the 3 candidate sites"),
        ({"new": 1, "upgrade": 1, "tier_weights": (1.0,)}, r"`tier_weights` must be two numbers"),
    ],
)
def test_bad_arguments(kwargs, match):
    tn, tu = tier_times(1, 3, 6, "n"), tier_times(2, 3, 6, "u")
    w = pd.Series(1.0, index=range(6))
    with pytest.raises(InputError, match=match):
        two_tier(tn, tu, w, threshold_new_min=10, threshold_upgrade_min=5, **kwargs)


def test_tiers_must_share_demand():
    tn, tu = tier_times(1, 3, 6, "n"), tier_times(2, 3, 7, "u")
    w = pd.Series(1.0, index=range(6))
    with pytest.raises(
        InputError, match=r"must hold the same demand points; 1 demand id\(s\) differ \(e.g. 6"
    ):
        two_tier(tn, tu, w, new=1, upgrade=1, threshold_new_min=10, threshold_upgrade_min=5)
