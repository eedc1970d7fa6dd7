"""Coverage curve: greedy values and bounds bracket the brute-force optimum; exact site counts per target."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner._errors import InputError
from planner.costs import TravelTimes
from planner.locate import coverage_curve


def random_times(seed: int, n_sites: int, n_demand: int):
    rng = np.random.default_rng(seed)
    r, c = np.nonzero(rng.random((n_sites, n_demand)) < 0.25)
    table = pd.DataFrame({"site_id": r, "demand_id": c, "walk_s": rng.uniform(0, 900, len(r))})
    times = TravelTimes.from_table(table, range(n_sites), range(n_demand), limit_s=900)
    return times, pd.Series(rng.integers(0, 10, n_demand).astype(float), index=range(n_demand))


def best_with(cover, w, fixed, p):
    cand = [j for j in range(cover.shape[0]) if j not in fixed]
    out = 0.0
    for s in itertools.combinations(cand, p):
        rows = list(fixed) + list(s)
        out = max(out, float(w @ cover[rows].any(axis=0)) if rows else 0.0)
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 7), st.integers(1, 20), st.booleans())
def test_curve_brackets_brute_force_and_counts_are_exact(seed, n_sites, n_demand, with_fixed):
    times, w = random_times(seed, n_sites, n_demand)
    fixed = [0] if with_fixed and n_sites > 1 else []
    cc = coverage_curve(times, w, threshold_min=10, fixed=fixed or None, exact=True)
    cover = times.within(600).toarray()
    wv = w.to_numpy()
    coverable = float(wv @ cover.any(axis=0))
    assert cc.coverable_weight == pytest.approx(coverable)
    t = cc.table
    assert t["p"].tolist() == list(range(len(t)))
    assert t["covered_weight"].iloc[-1] == pytest.approx(coverable)  # default: until all coverable is covered
    assert (np.diff(t["covered_weight"]) >= -1e-9).all()
    for p, row in t.iterrows():
        opt = best_with(cover, wv, fixed, p)
        assert row["covered_weight"] <= opt + 1e-9 <= row["bound"] + 2e-9
        assert row["covered_weight"] >= (1 - 1 / np.e) * (opt - cc.fixed_weight) + cc.fixed_weight - 1e-9
    cand = [j for j in range(n_sites) if j not in fixed]
    for _, row in cc.needed.iterrows():
        goal = row["target"] * coverable - 1e-9
        fewest = next(
            k
            for k in range(len(cand) + 1)
            if any(
                float(wv @ cover[list(fixed) + list(s)].any(axis=0)) >= goal if fixed or s else goal <= 0
                for s in itertools.combinations(cand, k)
            )
        )
        assert row["sites"] == fewest
        assert row["lower_bound"] <= fewest <= row["greedy_sites"]


def test_curve_by_hand_and_max_sites():
    table = pd.DataFrame(
        {
            "site_id": ["A", "A", "B", "B", "C"],
            "demand_id": [0, 1, 1, 2, 3],
            "walk_s": [100.0, 500.0, 550.0, 200.0, 300.0],
        }
    )
    times = TravelTimes.from_table(table, ["A", "B", "C"], range(5), limit_s=900)
    w = pd.Series([10.0, 20.0, 30.0, 40.0, 10.0], index=range(5))
    cc = coverage_curve(times, w, threshold_min=10, targets=(0.5, 1.0), exact=True)
    assert pd.isna(cc.table["site"].iloc[0])
    assert cc.table["site"].iloc[1:].tolist() == ["B", "C", "A"]
    assert cc.table["covered_weight"].tolist() == [0.0, 50.0, 90.0, 100.0]
    assert cc.total_weight == 110.0 and cc.coverable_weight == 100.0
    assert cc.table["share_coverable"].tolist() == [0.0, 0.5, 0.9, 1.0]
    assert cc.needed["sites"].tolist() == [1, 3]
    assert cc.table["bound"].iloc[1] == 50.0  # p=1: no site covers more than 50
    short = coverage_curve(
        times, w, threshold_min=10, max_sites=1, method="heuristic", targets=(0.5, 0.9), exact=True
    )
    assert len(short.table) == 2
    assert short.needed["sites"].iloc[0] == 1
    assert short.needed["sites"].iloc[1] == 2  # the greedy sequence continues past max_sites: B, C
    assert short.needed["lower_bound"].iloc[1] == 2  # the p=1 bound (50) is below 90
    assert short.needed["status"].iloc[1] == "optimal"


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 7), st.integers(1, 20), st.booleans())
def test_one_pass_curve_bounds_bracket_brute_force(seed, n_sites, n_demand, with_fixed):
    times, w = random_times(seed, n_sites, n_demand)
    fixed = [0] if with_fixed and n_sites > 1 else []
    cc = coverage_curve(times, w, threshold_min=10, fixed=fixed or None)  # exact=False: one pass
    cover = times.within(600).toarray()
    wv = w.to_numpy()
    t = cc.table
    assert (np.diff(t["bound"]) >= -1e-9).all()  # monotone
    assert (np.diff(t["covered_weight"]) >= -1e-9).all()
    for p, row in t.iterrows():
        opt = best_with(cover, wv, fixed, p)
        assert row["covered_weight"] <= opt + 1e-9 <= row["bound"] + 2e-9
    cand = [j for j in range(n_sites) if j not in fixed]
    coverable = cc.coverable_weight
    for _, row in cc.needed.iterrows():
        goal = row["target"] * coverable - 1e-9
        fewest = next(
            k
            for k in range(len(cand) + 1)
            if any(
                float(wv @ cover[list(fixed) + list(s)].any(axis=0)) >= goal if fixed or s else goal <= 0
                for s in itertools.combinations(cand, k)
            )
        )
        assert row["lower_bound"] <= fewest <= row["sites"]
        assert row["sites"] == row["greedy_sites"]
        assert (row["status"] == "optimal") == (row["lower_bound"] >= row["sites"])


def test_one_pass_curve_by_hand():
    table = pd.DataFrame(
        {
            "site_id": ["A", "A", "B", "B", "C"],
            "demand_id": [0, 1, 1, 2, 3],
            "walk_s": [100.0, 500.0, 550.0, 200.0, 300.0],
        }
    )
    times = TravelTimes.from_table(table, ["A", "B", "C"], range(5), limit_s=900)
    w = pd.Series([10.0, 20.0, 30.0, 40.0, 10.0], index=range(5))
    cc = coverage_curve(times, w, threshold_min=10, targets=(0.5, 1.0))
    assert cc.table["site"].iloc[1:].tolist() == ["B", "C", "A"]
    assert cc.table["covered_weight"].tolist() == [0.0, 50.0, 90.0, 100.0]
    assert cc.table["bound"].iloc[1] == 50.0
    assert cc.needed["sites"].tolist() == [1, 3]
    assert cc.needed["lower_bound"].tolist() == [1, 3]
    assert cc.needed["status"].tolist() == ["optimal", "optimal"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"targets": (0.5, 1.2)}, r"`targets` must be shares in \(0, 1\], got \[1.2\]"),
        ({"max_sites": -2}, r"`max_sites` must be a whole number >= 0"),
        ({"max_sites": 9}, r"`max_sites` = 9 exceeds the 3 candidate sites"),
        ({"threshold_min": 16}, r"is beyond the 15 min \(900 s\)"),
    ],
)
def test_bad_arguments(kwargs, match):
    times, w = random_times(1, 3, 5)
    with pytest.raises(InputError, match=match):
        coverage_curve(times, w, **{"threshold_min": 10, **kwargs})
