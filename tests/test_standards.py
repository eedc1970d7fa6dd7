"""Tests of planner.standards: the life-circle levels, the walk check per area and the beds check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner._errors import InputError
from planner.standards import BEDS_PER_1000_OLDER, LEVELS, beds_check, level_for, walk_check


def test_levels_cite_their_source():
    assert {lv.minutes: lv.max_walk_m for lv in LEVELS} == {15.0: 1000.0, 10.0: 500.0, 5.0: 300.0}
    assert all("GB 50180-2018" in lv.source for lv in LEVELS)
    assert level_for(15).name_zh == "十五分钟生活圈"
    assert level_for(8).minutes == 10.0
    assert level_for(30).minutes == 15.0
    assert BEDS_PER_1000_OLDER == 40.0


POINTS = pd.DataFrame(
    {
        "district": ["A", "A", "B", "B"],
        "older": [100.0, 300.0, 200.0, 200.0],
        "walk": [4.0, 9.0, 2.0, np.nan],  # minutes to the nearest open site; NaN: beyond the threshold
    }
)


def test_walk_check_exact_when_the_run_measured_far_enough():
    # 10-minute level: 500 m; at 1.0 m/s a 10-minute threshold measured 600 m, so the check is exact
    got = walk_check(POINTS, by="district", weight="older", walk_min="walk", threshold_min=10, speed_mps=1.0)
    # 4 min = 240 m (in), 9 min = 540 m (out), 2 min (in), none (out)
    assert got.loc["A", "within_standard_share"] == pytest.approx(100 / 400)
    assert got.loc["B", "within_standard_share"] == pytest.approx(0.5)
    assert got.loc["A", "short_residents"] == pytest.approx(300)
    assert (got["bound"] == "exact").all()
    assert not got["meets"].any()


def test_walk_check_is_a_lower_bound_beyond_the_measured_walk():
    # 15-minute level: 1,000 m; at 1.0 m/s a 15-minute threshold measured only 900 m
    got = walk_check(POINTS, by="district", weight="older", walk_min="walk", threshold_min=15, speed_mps=1.0)
    assert (got["bound"] == "at least").all()
    assert got.loc["A", "within_standard_share"] == pytest.approx(1.0)
    assert bool(got.loc["A", "meets"])
    assert got.loc["B", "within_standard_share"] == pytest.approx(0.5)
    with pytest.raises(InputError, match="speed_mps"):
        walk_check(POINTS, by="district", weight="older", walk_min="walk", threshold_min=15, speed_mps=0)


def test_beds_check():
    older = pd.Series([1000.0, 2500.0], index=["A", "B"])
    got = beds_check(older, pd.Series([40.0], index=["A"]))
    assert got.loc["A", "beds_needed"] == 40.0
    assert bool(got.loc["A", "meets"])
    assert got.loc["B", "beds"] == 0.0
    assert not bool(got.loc["B", "meets"])
