"""Tests of planner.access: hand-checked 2-site cases, loop oracles on random instances, sum rules."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from planner._errors import InputError, PlannerWarning
from planner.access import (
    AccessScores,
    crowding,
    enhanced_two_step_fca,
    gravity_access,
    two_step_fca,
)
from planner.costs import TravelTimes
from planner.provenance import Provenance, Source, provenance_of

LIMIT_S = 900.0


STAND_IN = Provenance((Source("test", real=False, what="TEST STAND-IN data"),))


def dense_times(dense: np.ndarray, site_ids, demand_ids, *, stand_in: bool = False) -> TravelTimes:
    """TravelTimes from a dense (sites x demand) array of walk seconds, NaN meaning unreachable."""
    rows, cols = np.nonzero(~np.isnan(dense))
    table = pd.DataFrame(
        {
            "site_id": pd.Index(site_ids)[rows],
            "demand_id": pd.Index(demand_ids)[cols],
            "walk_s": dense[rows, cols],
        }
    )
    return TravelTimes.from_table(
        table, site_ids, demand_ids, limit_s=LIMIT_S, provenance=STAND_IN if stand_in else None
    )


@pytest.fixture
def two_sites() -> TravelTimes:
    """Sites A and B, demand points 1-3 (older residents 100, 200, 100); supply A 30, B 40.

    ========  =====  =====  ======
    walk      1      2      3
    ========  =====  =====  ======
    site A    0 min  7 min  -
    site B    -      4 min  12 min
    ========  =====  =====  ======
    """
    dense = np.array([[0.0, 420.0, np.nan], [np.nan, 240.0, 720.0]])
    return dense_times(dense, ["A", "B"], [1, 2, 3])


WEIGHTS = pd.Series([100.0, 200.0, 100.0], index=[1, 2, 3])
SUPPLY = pd.Series([30.0, 40.0], index=["A", "B"])


def test_two_step_fca_hand_checked(two_sites):
    got = two_step_fca(two_sites, WEIGHTS, SUPPLY, threshold_min=10)
    # within 10 min: A reaches 1 and 2 -> 300 residents, R_A = 30 / 300 = 0.1;
    # B reaches 2 only (3 is 12 min away) -> 200 residents, R_B = 40 / 200 = 0.2.
    # A_1 = 0.1, A_2 = 0.1 + 0.2 = 0.3, A_3 = 0 (no supply in reach).
    assert isinstance(got, AccessScores)
    assert got.method == "2sfca"
    assert got.params == {"threshold_min": 10.0}
    np.testing.assert_allclose(got.ratio, [0.1, 0.2])
    np.testing.assert_allclose(got.access, [0.1, 0.3, 0.0])
    assert got.access.index.name == "demand_id"
    assert got.ratio.index.name == "site_id"
    # sum rule: 100 * 0.1 + 200 * 0.3 + 100 * 0 = 70 = 30 + 40
    assert float((WEIGHTS * got.access).sum()) == pytest.approx(70.0)


def test_enhanced_two_step_fca_hand_checked(two_sites):
    got = enhanced_two_step_fca(two_sites, WEIGHTS, SUPPLY)
    # zones 0-5 / 5-10 / 10-15 min weigh 1.0 / 0.68 / 0.22 (Luo & Qi 2009).
    # A: 1 at 0 min (1.0), 2 at 7 min (0.68): D_A = 100 + 136 = 236, R_A = 30 / 236 = 0.12712
    # B: 2 at 4 min (1.0), 3 at 12 min (0.22): D_B = 200 + 22 = 222, R_B = 40 / 222 = 0.18018
    # A_1 = 0.12712, A_2 = 0.68 * 0.12712 + 0.18018 = 0.26662, A_3 = 0.22 * 0.18018 = 0.03964
    r_a, r_b = 30 / 236, 40 / 222
    np.testing.assert_allclose(got.ratio, [r_a, r_b])
    np.testing.assert_allclose(got.access, [r_a, 0.68 * r_a + r_b, 0.22 * r_b])
    np.testing.assert_allclose(got.access, [0.12712, 0.26662, 0.03964], atol=5e-6)
    assert float((WEIGHTS * got.access).sum()) == pytest.approx(70.0)


def test_gravity_access_hand_checked(two_sites):
    got = gravity_access(two_sites, WEIGHTS, SUPPLY, beta=0.1)
    # f(t) = exp(-0.1 t) in minutes; D_A = 100 + 200 e^-0.7 = 199.317, R_A = 30 / 199.317 = 0.15051;
    # D_B = 200 e^-0.4 + 100 e^-1.2 = 164.183, R_B = 40 / 164.183 = 0.24363;
    # A_1 = 0.15051, A_2 = e^-0.7 * 0.15051 + e^-0.4 * 0.24363 = 0.23805, A_3 = e^-1.2 * 0.24363 = 0.07338
    r_a = 30 / (100 + 200 * math.exp(-0.7))
    r_b = 40 / (200 * math.exp(-0.4) + 100 * math.exp(-1.2))
    np.testing.assert_allclose(got.ratio, [r_a, r_b])
    np.testing.assert_allclose(
        got.access, [r_a, math.exp(-0.7) * r_a + math.exp(-0.4) * r_b, math.exp(-1.2) * r_b]
    )
    np.testing.assert_allclose(got.access, [0.15051, 0.23805, 0.07338], atol=5e-6)
    assert got.params == {"beta": 0.1, "threshold_min": 15.0}
    # a catchment of 10 min drops point 3 from B: D_B = 200 e^-0.4
    cut = gravity_access(two_sites, WEIGHTS, SUPPLY, beta=0.1, threshold_min=10)
    assert cut.ratio["B"] == pytest.approx(40 / (200 * math.exp(-0.4)))
    assert cut.access[3] == 0.0
    # beta = 0 is 2SFCA over the same catchment
    flat = gravity_access(two_sites, WEIGHTS, SUPPLY, beta=0, threshold_min=10)
    pd.testing.assert_series_equal(
        flat.access, two_step_fca(two_sites, WEIGHTS, SUPPLY, threshold_min=10).access
    )


def test_e2sfca_zone_edges_belong_to_the_inner_zone():
    # a single site and demand points at 5:00, 5:01, 10:00, 15:00 min; one resident each
    dense = np.array([[300.0, 301.0, 600.0, 900.0]])
    times = dense_times(dense, ["s"], ["a", "b", "c", "d"])
    got = enhanced_two_step_fca(
        times, pd.Series(1.0, index=["a", "b", "c", "d"]), pd.Series([1.0], index=["s"])
    )
    weights = np.array([1.0, 0.68, 0.68, 0.22])
    np.testing.assert_allclose(got.access, weights / weights.sum())


def test_orders_follow_the_inputs(two_sites):
    weights = WEIGHTS.iloc[::-1]
    supply = SUPPLY.iloc[::-1]
    got = two_step_fca(two_sites, weights, supply, threshold_min=10)
    assert list(got.access.index) == [3, 2, 1]
    assert list(got.ratio.index) == ["B", "A"]
    np.testing.assert_allclose(got.access, [0.0, 0.3, 0.1])
    np.testing.assert_allclose(got.ratio, [0.2, 0.1])


def test_sites_outside_supply_take_no_part(two_sites):
    got = two_step_fca(two_sites, WEIGHTS, SUPPLY[["B"]], threshold_min=10)
    # only B: R_B = 40 / 200, point 1 now has nothing in reach
    np.testing.assert_allclose(got.access, [0.0, 0.2, 0.0])
    assert list(got.ratio.index) == ["B"]


def test_site_reaching_nobody_warns_and_is_nan(two_sites):
    # within 3 min only A reaches 1; B reaches nobody (2 is 4 min away)
    with pytest.warns(
        PlannerWarning, match=r"2sfca: 1 sites reach no older residents .*: B \(1 in all\).*NaN"
    ):
        got = two_step_fca(two_sites, WEIGHTS, SUPPLY, threshold_min=3)
    assert got.ratio["A"] == pytest.approx(0.3)
    assert math.isnan(got.ratio["B"])
    np.testing.assert_allclose(got.access, [0.3, 0.0, 0.0])
    assert not got.access.isna().any()


def test_crowding_is_2sfca_over_the_open_sites_with_places(two_sites):
    sites = pd.DataFrame({"capacity": [30.0, 40.0]}, index=pd.Index(["A", "B"], name="site_id"))
    got = crowding(two_sites, WEIGHTS, sites, ["A", "B"], threshold_min=10, label="station")
    np.testing.assert_allclose(got.ratio, [0.1, 0.2])
    np.testing.assert_allclose(got.access, [0.1, 0.3, 0.0])
    only_b = crowding(two_sites, WEIGHTS, sites, ["B"], threshold_min=10)
    np.testing.assert_allclose(only_b.access, [0.0, 0.2, 0.0])


def test_crowding_needs_places_at_every_open_site(two_sites):
    with_gap = pd.DataFrame({"capacity": [30.0, np.nan]}, index=["A", "B"])
    assert crowding(two_sites, WEIGHTS, with_gap, ["A", "B"], threshold_min=10) is None
    # the gap is at a closed site: the open one is scored
    assert crowding(two_sites, WEIGHTS, with_gap, ["A"], threshold_min=10) is not None
    no_column = pd.DataFrame(index=["A", "B"])
    assert crowding(two_sites, WEIGHTS, no_column, ["A"], threshold_min=10) is None
    assert crowding(two_sites, WEIGHTS, with_gap, [], threshold_min=10) is None


def test_crowding_logs_what_two_step_fca_warns(two_sites, caplog):
    sites = pd.DataFrame({"capacity": [30.0, 40.0]}, index=["A", "B"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # logged, not raised
        got = crowding(two_sites, WEIGHTS, sites, ["A", "B"], threshold_min=3, label="station")
    assert math.isnan(got.ratio["B"])
    assert any(
        r.levelname == "WARNING" and r.getMessage().startswith("station: 2sfca: 1 sites reach no older")
        for r in caplog.records
    )


def test_zero_weight_catchment_warns(two_sites):
    # B's only resident within 10 min (point 2) has weight 0: its ratio is undefined, never infinite
    weights = pd.Series([100.0, 0.0, 100.0], index=[1, 2, 3])
    with pytest.warns(PlannerWarning, match=r"sites reach no older residents"):
        got = two_step_fca(two_sites, weights, SUPPLY, threshold_min=10)
    assert math.isnan(got.ratio["B"])
    assert np.isfinite(got.access).all()


def test_stand_in_passthrough(two_sites):
    stand_in = TravelTimes.from_table(
        two_sites.table, ["A", "B"], [1, 2, 3], limit_s=LIMIT_S, provenance=STAND_IN
    )
    got = gravity_access(stand_in, WEIGHTS, SUPPLY, beta=0.05)
    assert got.stand_in is True
    for series in (got.access, got.ratio):
        assert provenance_of(series).is_stand_in is True
    plain = gravity_access(two_sites, WEIGHTS, SUPPLY, beta=0.05)
    assert plain.stand_in is False
    assert provenance_of(plain.access).is_stand_in is False


def test_bad_inputs(two_sites):
    with pytest.raises(InputError, match=r"`supply` has 1 problem\(s\): negative at sites B \(1 in all\)"):
        two_step_fca(two_sites, WEIGHTS, pd.Series([30.0, -1.0], index=["A", "B"]), threshold_min=10)
    with pytest.raises(InputError, match=r"site ids Z \(1 in all\) are not in the travel times"):
        two_step_fca(two_sites, WEIGHTS, pd.Series([30.0, 1.0], index=["A", "Z"]), threshold_min=10)
    with pytest.raises(InputError, match=r"not a finite number at sites A"):
        two_step_fca(two_sites, WEIGHTS, pd.Series([np.nan, 1.0], index=["A", "B"]), threshold_min=10)
    with pytest.raises(InputError, match=r"duplicate site ids A"):
        two_step_fca(two_sites, WEIGHTS, pd.Series([1.0, 1.0], index=["A", "A"]), threshold_min=10)
    with pytest.raises(InputError, match=r"`supply` must be a pandas Series"):
        two_step_fca(two_sites, WEIGHTS, [30.0, 40.0], threshold_min=10)
    with pytest.raises(
        InputError, match=r"`demand_weights` lacks the demand ids 3 (?s:.*)travel times do not hold: 7 "
    ):
        two_step_fca(two_sites, pd.Series(1.0, index=[1, 2, 7]), SUPPLY, threshold_min=10)
    with pytest.raises(InputError, match=r"`demand_weights` is negative in rows 2"):
        two_step_fca(two_sites, pd.Series([1.0, -2.0, 1.0], index=[1, 2, 3]), SUPPLY, threshold_min=10)
    with pytest.raises(InputError, match=r"`threshold_min` = 30 min is beyond the 15 min"):
        two_step_fca(two_sites, WEIGHTS, SUPPLY, threshold_min=30)
    with pytest.raises(InputError, match=r"`threshold_min` = 20 min is beyond the 15 min"):
        gravity_access(two_sites, WEIGHTS, SUPPLY, beta=0.1, threshold_min=20)
    with pytest.raises(InputError, match=r"`beta` must be a finite number >= 0"):
        gravity_access(two_sites, WEIGHTS, SUPPLY, beta=-0.1)
    with pytest.raises(InputError, match=r"`beta` must be a number"):
        gravity_access(two_sites, WEIGHTS, SUPPLY, beta="fast")
    with pytest.raises(InputError, match=r"`zones_min\[-1\]` = 20 min is beyond the 15 min"):
        enhanced_two_step_fca(two_sites, WEIGHTS, SUPPLY, zones_min=(5, 10, 20))
    with pytest.raises(InputError, match=r"`zones_min` must be positive, finite and increasing"):
        enhanced_two_step_fca(two_sites, WEIGHTS, SUPPLY, zones_min=(10, 5, 15))
    with pytest.raises(InputError, match=r"\(2 values\) and `zone_weights` \(3 values\)"):
        enhanced_two_step_fca(two_sites, WEIGHTS, SUPPLY, zones_min=(5, 10))
    with pytest.raises(InputError, match=r"`zone_weights` must be finite and >= 0"):
        enhanced_two_step_fca(two_sites, WEIGHTS, SUPPLY, zone_weights=(1.0, -0.5, 0.2))


def test_inputs_are_not_mutated(two_sites):
    weights, supply = WEIGHTS.copy(), SUPPLY.copy()
    before = two_sites.matrix.copy()
    enhanced_two_step_fca(two_sites, weights, supply)
    pd.testing.assert_series_equal(weights, WEIGHTS)
    pd.testing.assert_series_equal(supply, SUPPLY)
    assert weights.attrs == {}
    assert (two_sites.matrix != before).nnz == 0


# ----------------------------------------------------------------------------------------------------------
# oracles on random instances


@st.composite
def instances(draw):
    """Random small instance: walk seconds (with ties, gaps, zeros), weights, supply on a subset of sites."""
    n_sites = draw(st.integers(1, 5))
    n_demand = draw(st.integers(1, 6))
    cells = draw(
        st.lists(
            st.one_of(st.none(), st.integers(0, 900)),
            min_size=n_sites * n_demand,
            max_size=n_sites * n_demand,
        )
    )
    dense = np.array([np.nan if c is None else float(c) for c in cells]).reshape(n_sites, n_demand)
    weights = draw(st.lists(st.integers(0, 40), min_size=n_demand, max_size=n_demand))
    supply = draw(st.lists(st.one_of(st.none(), st.integers(0, 20)), min_size=n_sites, max_size=n_sites))
    return dense, np.array(weights, dtype=float), supply


def loop_oracle(dense, weights, supply, decay):
    """Two steps by plain loops: ratio per supplied site (NaN if nobody in reach), access per demand point."""
    n_sites, n_demand = dense.shape
    ratio = {}
    for j in range(n_sites):
        if supply[j] is None:
            continue
        in_reach = sum(
            weights[i] * decay(dense[j, i]) for i in range(n_demand) if not math.isnan(dense[j, i])
        )
        ratio[j] = supply[j] / in_reach if in_reach > 0 else math.nan
    access = []
    for i in range(n_demand):
        total = 0.0
        for j, r in ratio.items():
            if not math.isnan(dense[j, i]) and not math.isnan(r):
                total += decay(dense[j, i]) * r
        access.append(total)
    return ratio, access


def run_quietly(func, *args, **kwargs):
    """Call an access function; return its result and whether it warned of sites that reach nobody."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    assert all(issubclass(w.category, PlannerWarning) for w in caught)
    return result, bool(caught)


def zone_decay(zones_min, zone_weights):
    def decay(t):
        for upper, weight in zip(zones_min, zone_weights, strict=True):
            if t <= upper * 60:
                return weight
        return 0.0

    return decay


METHODS = {
    "2sfca": (two_step_fca, {"threshold_min": 10}, lambda t: 1.0 if t <= 600 else 0.0),
    "e2sfca": (enhanced_two_step_fca, {}, zone_decay((5, 10, 15), (1.0, 0.68, 0.22))),
    "e2sfca-2zones": (
        enhanced_two_step_fca,
        {"zones_min": (3, 8), "zone_weights": (0.9, 0.5)},
        zone_decay((3, 8), (0.9, 0.5)),
    ),
    "gravity": (gravity_access, {"beta": 0.2}, lambda t: math.exp(-0.2 * t / 60)),
    "gravity-cut": (
        gravity_access,
        {"beta": 0.05, "threshold_min": 12},
        lambda t: math.exp(-0.05 * t / 60) * (t <= 720),
    ),
}


@pytest.mark.parametrize("method", list(METHODS))
@settings(max_examples=80, deadline=None)
@given(case=instances())
def test_matches_loop_oracle_and_sum_rule(method, case):
    func, options, decay = METHODS[method]
    dense, weights, supply = case
    site_ids = [f"s{j}" for j in range(dense.shape[0])]
    demand_ids = list(range(100, 100 + dense.shape[1]))
    times = dense_times(dense, site_ids, demand_ids)
    supplied = [j for j, s in enumerate(supply) if s is not None]
    supply_s = pd.Series(
        [float(supply[j]) for j in supplied], index=[site_ids[j] for j in supplied], dtype=float
    )
    got, warned = run_quietly(func, times, pd.Series(weights, index=demand_ids), supply_s, **options)
    ratio, access = loop_oracle(dense, weights, supply, decay)
    np.testing.assert_allclose(got.access.to_numpy(), access, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.ratio.to_numpy(), [ratio[j] for j in supplied], rtol=1e-9, atol=1e-12)
    # NaN only in ratio, exactly where the oracle has nobody in reach, and then a warning says so
    assert not got.access.isna().any()
    assert warned == any(math.isnan(r) for r in ratio.values())
    # sum rule: sum_i w_i A_i == total supply of the sites that reach anybody
    reaching = sum(supply[j] for j, r in ratio.items() if not math.isnan(r))
    assert float((weights * got.access.to_numpy()).sum()) == pytest.approx(reaching, rel=1e-9, abs=1e-9)


def test_speed_50000_by_2000():
    rng = np.random.default_rng(7)
    n_sites, n_demand, per_point = 2_000, 50_000, 40
    rows = rng.integers(0, n_sites, n_demand * per_point)
    cols = np.repeat(np.arange(n_demand), per_point)
    matrix = sp.csr_array((rng.uniform(0, LIMIT_S, len(rows)), (rows, cols)), shape=(n_sites, n_demand))
    matrix.sum_duplicates()
    matrix.data = np.minimum(matrix.data, LIMIT_S)
    times = TravelTimes(
        pd.RangeIndex(n_sites, name="site_id"), pd.RangeIndex(n_demand, name="demand_id"), matrix, LIMIT_S
    )
    weights = pd.Series(rng.uniform(0, 100, n_demand), index=times.demand_ids)
    supply = pd.Series(rng.uniform(0, 50, n_sites), index=times.site_ids)
    for func, options in (
        (two_step_fca, {"threshold_min": 15}),
        (enhanced_two_step_fca, {}),
        (gravity_access, {"beta": 0.1}),
    ):
        got = func(times, weights, supply, **options)
        assert float((weights * got.access).sum()) == pytest.approx(supply.sum(), rel=1e-9)


@pytest.mark.parametrize("method", ["2sfca", "e2sfca"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_pysal_access_on_the_same_inputs(method, seed):
    """2SFCA and E2SFCA agree with PySAL `access` (test-only dependency) on random walk times."""
    access = pytest.importorskip("access")
    rng = np.random.default_rng(seed)
    n_sites, n_demand = 12, 60
    dense = rng.uniform(0, 1000, (n_sites, n_demand))  # seconds; pairs beyond the limit are absent
    dense[dense > LIMIT_S] = np.nan
    dense[:, 0] = 30.0  # every site reaches somebody (PySAL divides by zero otherwise)
    site_ids = [f"s{i:02d}" for i in range(n_sites)]
    demand_ids = [f"d{i:03d}" for i in range(n_demand)]
    times = dense_times(dense, site_ids, demand_ids)
    w = pd.Series(rng.integers(1, 300, n_demand).astype(float), index=demand_ids)
    supply = pd.Series(rng.integers(5, 80, n_sites).astype(float), index=site_ids)

    rows, cols = np.nonzero(~np.isnan(dense))
    cost = pd.DataFrame(
        {
            "origin": np.asarray(demand_ids)[cols],
            "dest": np.asarray(site_ids)[rows],
            "minutes": dense[rows, cols] / 60.0,
        }
    )
    with warnings.catch_warnings():  # PySAL access uses pandas APIs that pandas deprecates: not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        theirs = _pysal_scores(access, method, w, supply, cost)
    if method == "2sfca":
        ours = two_step_fca(times, w, supply, threshold_min=10.0)
    else:
        ours = enhanced_two_step_fca(times, w, supply)
    theirs = theirs.reindex(demand_ids).fillna(0.0)  # PySAL leaves points with nothing in reach out
    np.testing.assert_allclose(ours.access.to_numpy(), theirs.to_numpy(), rtol=1e-10, atol=1e-12)
    assert (ours.access > 0).sum() > n_demand / 2  # the instance is not trivially empty


def _pysal_scores(access, method: str, w: pd.Series, supply: pd.Series, cost: pd.DataFrame) -> pd.Series:
    from access import weights

    model = access.Access(
        demand_df=w.rename("older").rename_axis("geoid").reset_index(),
        demand_index="geoid",
        demand_value="older",
        supply_df=supply.rename("places").rename_axis("geoid").reset_index(),
        supply_index="geoid",
        supply_value="places",
        cost_df=cost,
        cost_origin="origin",
        cost_dest="dest",
        cost_name="minutes",
    )
    if method == "2sfca":
        return model.two_stage_fca(name="m", max_cost=10.0)["m_places"]
    fn = weights.step_fn({5.0: 1.0, 10.0: 0.68, 15.0: 0.22})
    return model.enhanced_two_stage_fca(name="m", weight_fn=fn)["m_places"]
