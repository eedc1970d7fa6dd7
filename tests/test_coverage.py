"""Tests of planner.coverage: hand-checked cases, loops over small dense matrices as oracles, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner._errors import InputError
from planner.costs import TravelTimes
from planner.coverage import (
    STAND_IN_NOTE,
    coverage_by_area,
    coverage_table,
    covered_weight,
    gaps,
    multi_tier_coverage,
    nearest_sites,
)
from planner.provenance import Provenance, Source, provenance_of, with_provenance

LIMIT_S = 900.0


STAND_IN = Provenance((Source("test", real=False, what="TEST STAND-IN data"),))


def times_from_dense(dense: np.ndarray, site_ids, demand_ids, *, stand_in: bool = False) -> TravelTimes:
    """TravelTimes from a dense (sites x demand) array, NaN meaning unreachable."""
    rows, cols = np.nonzero(~np.isnan(dense))
    table = pd.DataFrame(
        {
            "site_id": np.asarray(site_ids, dtype=object)[rows],
            "demand_id": np.asarray(demand_ids, dtype=object)[cols],
            "walk_s": dense[rows, cols],
        }
    )
    return TravelTimes.from_table(
        table, site_ids, demand_ids, limit_s=LIMIT_S, provenance=STAND_IN if stand_in else None
    )


@pytest.fixture
def small() -> TravelTimes:
    """Sites "b" and "a" (listed in that order), demand points 1-4; point 4 reaches nobody.

    ========  ====  ====  ====  ====
    walk s      1     2     3     4
    ========  ====  ====  ====  ====
    site b      0   300   600     -
    site a    120   300     -     -
    ========  ====  ====  ====  ====
    """
    dense = np.array([[0.0, 300.0, 600.0, np.nan], [120.0, 300.0, np.nan, np.nan]])
    return times_from_dense(dense, ["b", "a"], [1, 2, 3, 4])


@st.composite
def instances(draw):
    """Random small instance: walk seconds with ties and gaps, shuffled site ids, weights, open set."""
    n_sites = draw(st.integers(1, 5))
    n_demand = draw(st.integers(1, 6))
    minutes = st.one_of(st.none(), st.integers(0, 15))
    cells = draw(st.lists(minutes, min_size=n_sites * n_demand, max_size=n_sites * n_demand))
    dense = np.array([np.nan if m is None else 60.0 * m for m in cells]).reshape(n_sites, n_demand)
    site_ids = draw(st.permutations(range(10, 10 + n_sites)))
    weights = draw(st.lists(st.integers(0, 50), min_size=n_demand, max_size=n_demand))
    open_flags = draw(st.lists(st.booleans(), min_size=n_sites, max_size=n_sites))
    threshold_min = draw(st.integers(1, 15))
    return dense, list(site_ids), np.array(weights, dtype=float), open_flags, threshold_min


def oracle_nearest(dense, site_ids, open_flags):
    """Loop oracle: (site id, walk s, count in reach) per demand column; ties to the smallest id."""
    out = []
    for i in range(dense.shape[1]):
        options = [
            (dense[j, i], site_ids[j])
            for j in range(dense.shape[0])
            if open_flags[j] and not math.isnan(dense[j, i])
        ]
        best = min(options) if options else (math.nan, None)
        out.append((best[1], best[0], len(options)))
    return out


# ----------------------------------------------------------------------------------------------------
# nearest_sites


def test_nearest_sites_hand_checked(small):
    got = nearest_sites(small)
    # point 1: b at 0 s beats a at 120 s; point 2: tie at 300 s goes to the smaller id "a";
    # point 3: only b (600 s); point 4: nobody within 15 min.
    assert got.index.name == "demand_id"
    assert list(got.index) == [1, 2, 3, 4]
    assert list(got["site_id"][:3]) == ["b", "a", "b"]
    assert pd.isna(got["site_id"].iloc[3])
    np.testing.assert_array_equal(got["walk_s"], [0.0, 300.0, 600.0, np.nan])
    assert list(got["n_within"]) == [2, 2, 1, 0]
    assert provenance_of(got).is_stand_in is False
    assert "note" not in got.columns


def test_nearest_sites_open_subset(small):
    got = nearest_sites(small, open_sites=["a"])
    assert list(got["site_id"][:2]) == ["a", "a"]
    assert got["site_id"][2:].isna().all()
    np.testing.assert_array_equal(got["walk_s"], [120.0, 300.0, np.nan, np.nan])
    assert list(got["n_within"]) == [1, 1, 0, 0]
    # no site open: nobody has a nearest site
    none = nearest_sites(small, open_sites=[])
    assert none["site_id"].isna().all()
    assert none["walk_s"].isna().all()
    assert (none["n_within"] == 0).all()


def test_nearest_sites_integer_ids_stay_integers():
    dense = np.array([[60.0, np.nan], [60.0, np.nan]])
    got = nearest_sites(times_from_dense(dense, [7, 3], ["p", "q"]))
    assert got.loc["p", "site_id"] == 3  # tie at 60 s goes to id 3 although 7 is listed first
    assert pd.isna(got.loc["q", "site_id"])
    assert str(got["site_id"].dtype) == "Int64"


@settings(max_examples=150, deadline=None)
@given(instances())
def test_nearest_sites_matches_loop_oracle(case):
    dense, site_ids, _, open_flags, _ = case
    times = times_from_dense(dense, site_ids, list(range(dense.shape[1])))
    opened = [s for s, flag in zip(site_ids, open_flags, strict=True) if flag]
    got = nearest_sites(times, open_sites=opened)
    for i, (site, walk, count) in enumerate(oracle_nearest(dense, site_ids, open_flags)):
        if site is None:
            assert pd.isna(got["site_id"].iloc[i])
            assert math.isnan(got["walk_s"].iloc[i])
        else:
            assert got["site_id"].iloc[i] == site
            assert got["walk_s"].iloc[i] == walk
        assert got["n_within"].iloc[i] == count


# ----------------------------------------------------------------------------------------------------
# coverage_table


def test_coverage_table_hand_checked(small):
    weights = pd.Series([10.0, 20.0, 30.0, 40.0], index=[4, 3, 2, 1])  # any order of the same ids
    got = coverage_table(small, weights, threshold_min=5)
    # within 5 min (300 s): point 1 by b (0 s) and a (120 s); point 2 by a and b (300 s, on the threshold);
    # point 3 only at 600 s: not covered; point 4 reaches nobody.
    assert list(got.index) == [1, 2, 3, 4]
    assert list(got["older_residents"]) == [40.0, 30.0, 20.0, 10.0]
    np.testing.assert_allclose(got["walk_min"], [0.0, 5.0, 10.0, np.nan])
    assert list(got["covered"]) == [True, True, False, False]
    assert list(got["n_covering"]) == [2, 2, 0, 0]
    assert got.attrs["threshold_min"] == 5.0
    assert got.attrs["limit_min"] == 15.0


def test_coverage_table_demand_on_a_site_is_covered():
    # a demand point on the site is a stored zero, and must count as covered
    times = times_from_dense(np.array([[0.0]]), ["s"], ["d"])
    got = coverage_table(times, pd.Series([5.0], index=["d"]), threshold_min=1)
    assert bool(got.loc["d", "covered"])
    assert got.loc["d", "walk_min"] == 0.0


@settings(max_examples=150, deadline=None)
@given(instances())
def test_coverage_table_matches_loop_oracle(case):
    dense, site_ids, weights, open_flags, threshold_min = case
    demand_ids = [f"d{i}" for i in range(dense.shape[1])]
    times = times_from_dense(dense, site_ids, demand_ids)
    opened = [s for s, flag in zip(site_ids, open_flags, strict=True) if flag]
    got = coverage_table(
        times, pd.Series(weights, index=demand_ids), threshold_min=threshold_min, open_sites=opened
    )
    for i, (site, walk, _) in enumerate(oracle_nearest(dense, site_ids, open_flags)):
        row = got.iloc[i].to_dict()
        n_covering = sum(
            1
            for j in range(len(site_ids))
            if open_flags[j] and not math.isnan(dense[j, i]) and dense[j, i] <= 60 * threshold_min
        )
        assert row["n_covering"] == n_covering
        assert bool(row["covered"]) == (n_covering > 0)
        assert row["older_residents"] == weights[i]
        if site is None:
            assert math.isnan(row["walk_min"])
        else:
            assert row["walk_min"] == pytest.approx(walk / 60)
            assert row["site_id"] == site


def test_coverage_table_bad_inputs(small):
    good = pd.Series(1.0, index=[1, 2, 3, 4])
    with pytest.raises(
        InputError, match=r"`weights` lacks the demand ids 4 (?s:.*)travel times do not hold: 9 "
    ):
        coverage_table(small, pd.Series(1.0, index=[1, 2, 3, 9]), threshold_min=5)
    with pytest.raises(InputError, match=r"`threshold_min` = 20 min is beyond the 15 min .* limit_s >= 1200"):
        coverage_table(small, good, threshold_min=20)
    with pytest.raises(InputError, match=r"`threshold_min` must be a positive number"):
        coverage_table(small, good, threshold_min=0)
    with pytest.raises(InputError, match=r"`threshold_min` must be a number of minutes, got 'x'"):
        coverage_table(small, good, threshold_min="x")
    with pytest.raises(InputError, match=r"`weights` is negative in rows 2 \(1 in all\)"):
        coverage_table(small, pd.Series([1.0, -3.0, 1.0, 1.0], index=[1, 2, 3, 4]), threshold_min=5)
    with pytest.raises(InputError, match=r"`weights` has duplicate demand ids: 1"):
        coverage_table(small, pd.Series(1.0, index=[1, 1, 2, 3, 4]), threshold_min=5)
    with pytest.raises(InputError, match=r"`weights` must be a pandas Series"):
        coverage_table(small, [1.0, 1.0, 1.0, 1.0], threshold_min=5)
    with pytest.raises(
        InputError, match=r"`open_sites` names sites that are not in the travel times: z \(1 in all\)"
    ):
        coverage_table(small, good, threshold_min=5, open_sites=["a", "z"])
    with pytest.raises(InputError, match=r"`open_sites` must be a list of site ids"):
        nearest_sites(small, open_sites="a")


def test_stand_in_passthrough():
    times = times_from_dense(np.array([[60.0, np.nan]]), ["s"], ["d1", "d2"], stand_in=True)
    weights = pd.Series([1.0, 2.0], index=["d1", "d2"])
    for table in (
        nearest_sites(times),
        coverage_table(times, weights, threshold_min=5),
        multi_tier_coverage({"centre": times}, weights, thresholds_min={"centre": 5}),
    ):
        assert provenance_of(table).is_stand_in is True
        assert (table["note"] == STAND_IN_NOTE).all()


def test_inputs_are_not_mutated(small):
    weights = pd.Series([3.0, 2.0, 1.0, 0.0], index=[4, 3, 2, 1])
    before_w = weights.copy()
    before_m = small.matrix.copy()
    coverage_table(small, weights, threshold_min=5, open_sites=["a"])
    pd.testing.assert_series_equal(weights, before_w)
    assert weights.attrs == {}
    assert (small.matrix != before_m).nnz == 0


# ----------------------------------------------------------------------------------------------------
# coverage_by_area and gaps


@pytest.fixture
def districts() -> pd.DataFrame:
    """Six demand points in districts 210102 / 210103 and sub-districts; point 6 has no sub-district code."""
    return pd.DataFrame(
        {
            "district": ["210103", "210102", "210102", "210103", "210102", "210103"],
            "subdistrict": ["b2", "a1", "a2", "b1", "a1", None],
            "older": [100.0, 50.0, 80.0, 0.0, 30.0, 40.0],
        },
        index=pd.Index([1, 2, 3, 4, 5, 6], name="demand_id"),
    )


def test_coverage_by_area_hand_checked(districts):
    covered = pd.Series([True, True, False, False, True, False], index=districts.index)
    got = coverage_by_area(districts, covered, "older", by="district", total=True)
    # 210102: points 2, 3, 5 -> 160 older, covered 50 + 30 = 80 -> share 0.5, uncovered 80;
    # 210103: points 1, 4, 6 -> 140 older, covered 100 -> share 100/140, uncovered 40; total 300, 180, 0.6.
    assert list(got.index) == ["210102", "210103", "total"]
    np.testing.assert_allclose(got["older_residents"], [160.0, 140.0, 300.0])
    np.testing.assert_allclose(got["covered_residents"], [80.0, 100.0, 180.0])
    np.testing.assert_allclose(got["uncovered_residents"], [80.0, 40.0, 120.0])
    np.testing.assert_allclose(got["covered_share"], [0.5, 100 / 140, 0.6])
    assert list(got["points"]) == [3, 3, 6]
    assert list(got["covered_points"]) == [2, 1, 3]
    assert provenance_of(got).is_stand_in is False


def test_coverage_by_area_two_levels_missing_code_and_empty_area(districts):
    covered = pd.Series([True, True, False, False, True, False], index=districts.index)
    got = coverage_by_area(districts, covered, districts["older"], by=["district", "subdistrict"])
    keys = list(got.index)
    # sorted by code; the point without a sub-district code is its own group, last within its district
    assert keys[:4] == [("210102", "a1"), ("210102", "a2"), ("210103", "b1"), ("210103", "b2")]
    assert keys[4][0] == "210103"
    assert pd.isna(keys[4][1])
    assert got.loc[("210102", "a1"), "older_residents"] == 80.0
    assert got.loc[("210102", "a1"), "covered_share"] == 1.0
    # b1 holds only point 4 with 0 older residents: its share is undefined, shown as NaN
    assert math.isnan(got.loc[("210103", "b1"), "covered_share"])
    assert got["points"].sum() == 6


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["x", "y", "z"]), st.integers(0, 9), st.booleans()), min_size=1, max_size=12
    )
)
def test_coverage_by_area_matches_loop(rows):
    demand = pd.DataFrame(
        {"area": [r[0] for r in rows], "w": [float(r[1]) for r in rows]}, index=range(100, 100 + len(rows))
    )
    covered = pd.Series([r[2] for r in rows], index=demand.index)
    got = coverage_by_area(demand, covered, "w", by="area", total=True)
    for area in sorted({r[0] for r in rows}):
        members = [r for r in rows if r[0] == area]
        total = sum(r[1] for r in members)
        done = sum(r[1] for r in members if r[2])
        assert got.loc[area, "older_residents"] == total
        assert got.loc[area, "covered_residents"] == done
        assert got.loc[area, "uncovered_residents"] == total - done
        assert got.loc[area, "points"] == len(members)
    assert got.loc["total", "older_residents"] == sum(r[1] for r in rows)
    assert list(got.index[:-1]) == sorted({r[0] for r in rows})


@given(st.lists(st.tuples(st.integers(0, 9), st.booleans()), max_size=12))
def test_covered_weight_matches_loop_and_by_area_total(rows):
    ids = [f"d{i}" for i in range(len(rows))]
    weights = pd.Series([float(r[0]) for r in rows], index=ids, dtype=float)
    covered = pd.Series([r[1] for r in rows], index=ids, dtype=bool)
    got = covered_weight(covered, weights)
    assert got == sum(r[0] for r in rows if r[1])
    # the same set given as 1/0 and in another order
    assert covered_weight(covered.astype(int).iloc[::-1], weights) == got
    if rows:
        demand = pd.DataFrame({"area": "x", "w": weights})
        table = coverage_by_area(demand, covered, "w", by="area", total=True)
        assert table.loc["total", "covered_residents"] == got


def test_covered_weight_names_points_without_a_value():
    weights = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    with pytest.raises(InputError, match=r"`covered` has no value .*: c \(1 in all\)"):
        covered_weight(pd.Series([True, False], index=["a", "b"]), weights)


def test_coverage_by_area_bad_inputs(districts):
    covered = pd.Series(True, index=districts.index)
    with pytest.raises(InputError, match=r"`by` names columns \['street'\] that `demand` lacks"):
        coverage_by_area(districts, covered, "older", by="street")
    with pytest.raises(InputError, match=r"`weights` names column 'pop' that `demand` lacks"):
        coverage_by_area(districts, covered, "pop", by="district")
    with pytest.raises(InputError, match=r"`covered` is not aligned with `demand`: no value for ids 6 "):
        coverage_by_area(districts, covered.iloc[:5], "older", by="district")
    with pytest.raises(InputError, match=r"`covered` must be True/False .* 1 missing"):
        coverage_by_area(districts, covered.astype(object).where(covered.index != 3), "older", by="district")
    with pytest.raises(InputError, match=r"`weights` is negative in rows 2"):
        coverage_by_area(
            districts, covered, districts["older"].where(districts.index != 2, -1.0), by="district"
        )


def test_coverage_by_area_stand_in_from_demand_or_coverage(districts):
    covered = pd.Series(True, index=districts.index)
    plain = coverage_by_area(districts, covered, "older", by="district")
    assert provenance_of(plain).is_stand_in is False
    assert "note" not in plain.columns
    marked = with_provenance(districts, STAND_IN)
    got = coverage_by_area(marked, covered, "older", by="district")
    assert provenance_of(got).is_stand_in is True
    assert (got["note"] == STAND_IN_NOTE).all()
    # the label also travels on the `covered` column of a stand-in coverage table
    times = times_from_dense(np.full((1, 6), 60.0), ["s"], list(districts.index), stand_in=True)
    table = coverage_table(times, districts["older"], threshold_min=5)
    via_column = coverage_by_area(districts, table["covered"], "older", by="district")
    assert provenance_of(via_column).is_stand_in is True


def test_gaps_order_ties_and_total_row(districts):
    covered = pd.Series([False, True, False, False, True, False], index=districts.index)
    by_area = coverage_by_area(districts, covered, "older", by="subdistrict", total=True)
    got = gaps(by_area, n=3)
    # uncovered: b2 100, a2 80, (no code) 40, b1 0, a1 0 -> three rows, largest first; total row left out
    assert list(got.index[:2]) == ["b2", "a2"]
    assert pd.isna(got.index[2])
    np.testing.assert_allclose(got["uncovered_residents"], [100.0, 80.0, 40.0])
    np.testing.assert_allclose(got["share_of_uncovered"], [100 / 220, 80 / 220, 40 / 220])
    np.testing.assert_allclose(got["cumulative_share"].iloc[-1], 1.0)
    # ties by code: equal uncovered weight keeps the smaller code first
    tie = pd.DataFrame({"uncovered_residents": [5.0, 5.0, 9.0]}, index=["c", "a", "b"])
    assert list(gaps(tie).index) == ["b", "a", "c"]


def test_gaps_of_demand_points(small):
    table = coverage_table(small, pd.Series([1.0, 2.0, 3.0, 4.0], index=[1, 2, 3, 4]), threshold_min=5)
    got = gaps(table, n=1)
    # points 3 (3 residents) and 4 (4 residents) are uncovered; 4 first
    assert list(got.index) == [4]
    assert got["share_of_uncovered"].iloc[0] == pytest.approx(4 / 7)
    tiers = multi_tier_coverage({"c": small}, table["older_residents"], thresholds_min={"c": 5})
    assert list(gaps(tiers).index) == [4, 3]  # uncovered by any tier: 4 (4 residents), then 3
    with pytest.raises(InputError, match=r"`n` must be a whole number >= 1, got 0"):
        gaps(table, n=0)
    with pytest.raises(InputError, match=r"`coverage` needs a column 'uncovered_residents'"):
        gaps(table[["walk_min"]])


# ----------------------------------------------------------------------------------------------------
# multi_tier_coverage


def test_multi_tier_coverage_hand_checked(small):
    stations = times_from_dense(np.array([[np.nan, 170.0, np.nan, 100.0]]), ["st1"], [4, 3, 2, 1])
    weights = pd.Series([1.0, 2.0, 3.0, 4.0], index=[1, 2, 3, 4])
    got = multi_tier_coverage(
        {"centre": small, "station": stations},
        weights,
        thresholds_min={"centre": 5, "station": 3},
        open_by_tier={"centre": ["b"]},
    )
    # centre (only b open, 5 min): 1 (0 s) and 2 (300 s) covered; station (3 min): the station reaches
    # point 3 in 170 s and point 1 in 100 s (its demand ids are in another order); any: 1, 2, 3.
    assert list(got.index) == [1, 2, 3, 4]
    assert list(got["covered_centre"]) == [True, True, False, False]
    assert list(got["covered_station"]) == [True, False, True, False]
    assert list(got["covered_any"]) == [True, True, True, False]
    np.testing.assert_allclose(got["walk_min_station"], [100 / 60, np.nan, 170 / 60, np.nan])
    assert list(got["site_id_centre"][:3]) == ["b", "b", "b"]
    assert list(got["n_covering_centre"]) == [1, 1, 0, 0]
    assert list(got["older_residents"]) == [1.0, 2.0, 3.0, 4.0]
    assert got.attrs["thresholds_min"] == {"centre": 5.0, "station": 3.0}
    assert provenance_of(got).is_stand_in is False


@settings(max_examples=60, deadline=None)
@given(instances(), instances())
def test_multi_tier_covered_any_is_or_of_tiers(one, two):
    n = min(one[0].shape[1], two[0].shape[1])
    ids = list(range(n))
    tiers = {
        "a": times_from_dense(one[0][:, :n], one[1], ids),
        "b": times_from_dense(two[0][:, :n], two[1], ids),
    }
    weights = pd.Series(one[2][:n], index=ids)
    thresholds = {"a": one[4], "b": two[4]}
    got = multi_tier_coverage(tiers, weights, thresholds_min=thresholds)
    for tier, times in tiers.items():
        alone = coverage_table(times, weights, threshold_min=thresholds[tier])
        assert list(got[f"covered_{tier}"]) == list(alone["covered"])
    assert list(got["covered_any"]) == list(got["covered_a"] | got["covered_b"])


def test_multi_tier_bad_inputs(small):
    weights = pd.Series(1.0, index=[1, 2, 3, 4])
    other = times_from_dense(np.array([[60.0, 60.0]]), ["s"], [1, 5])
    with pytest.raises(
        InputError, match=r"`times_by_tier\['b'\]` covers other demand points .*missing 2, 3, 4"
    ):
        multi_tier_coverage({"a": small, "b": other}, weights, thresholds_min={"a": 5, "b": 5})
    with pytest.raises(InputError, match=r"`thresholds_min` has no threshold for tiers \['b'\]"):
        multi_tier_coverage({"a": small, "b": small}, weights, thresholds_min={"a": 5})
    with pytest.raises(InputError, match=r"name unknown tiers \['c'\]"):
        multi_tier_coverage({"a": small}, weights, thresholds_min={"a": 5}, open_by_tier={"c": ["a"]})
    with pytest.raises(InputError, match=r"`open_by_tier` must be a dict of tier name -> site ids, got list"):
        multi_tier_coverage({"a": small}, weights, thresholds_min={"a": 5}, open_by_tier=["a"])
    with pytest.raises(InputError, match=r"`times_by_tier` must be a non-empty dict"):
        multi_tier_coverage({}, weights, thresholds_min={})
    with pytest.raises(InputError, match=r"`times_by_tier\['a'\]` must be a TravelTimes, got DataFrame"):
        multi_tier_coverage({"a": small.table}, weights, thresholds_min={"a": 5})
    with pytest.raises(InputError, match=r"`threshold_min` = 16 min is beyond the 15 min"):
        multi_tier_coverage({"a": small}, weights, thresholds_min={"a": 16})
