"""Tests of planner.equity: Gini, Palma and worst-off decile against brute force and hand-checked cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner._errors import InputError
from planner.equity import area_equity, gini, palma, summary, worst_off_decile


def _gini_pairs(x, w) -> float:
    """The definition: sum_ij w_i w_j |x_i - x_j| / (2 W^2 mu), by a double loop."""
    total_w = sum(w)
    mean = sum(a * b for a, b in zip(x, w, strict=True)) / total_w
    diff = sum(
        wi * wj * abs(xi - xj) for (xi, wi), (xj, wj) in itertools.product(zip(x, w, strict=True), repeat=2)
    )
    return diff / (2 * total_w**2 * mean)


def _expand(x, w):
    """Integer weights as repeated people: the grouped measure must equal the per-person one."""
    return np.repeat(np.asarray(x, float), np.asarray(w, int))


#: Areas as (covered share, older residents) with something covered; shares in steps of 0.1 point.
AREAS = st.lists(
    st.tuples(st.integers(0, 1000).map(lambda k: k / 1000), st.integers(1, 30)), min_size=1, max_size=12
).filter(lambda rows: sum(x * w for x, w in rows) > 0)


@settings(max_examples=60, deadline=None)
@given(AREAS)
def test_gini_equals_the_pairwise_definition(rows):
    x, w = zip(*rows, strict=True)
    assert gini(x, w) == pytest.approx(_gini_pairs(x, w), abs=1e-12)
    people = _expand(x, w)
    assert gini(people) == pytest.approx(gini(x, w), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(AREAS)
def test_palma_and_decile_equal_counting_people(rows):
    """With integer weights, split groups give what sorting the individual people gives."""
    x, w = zip(*rows, strict=True)
    people = np.sort(_expand(x, w))
    n = len(people)

    def held(share):  # what the worst-off `share` of the people hold, a person split at the edge
        k = share * n
        whole = math.floor(k)
        return people[:whole].sum() + (k - whole) * (people[whole] if whole < n else 0.0)

    bottom, top = held(0.4), people.sum() - held(0.9)
    expected = math.inf if bottom == 0 else top / bottom
    got = palma(x, w)
    if math.isinf(expected):
        assert math.isinf(got) or got > 1e12
    else:
        assert got == pytest.approx(expected, rel=1e-9)
    assert worst_off_decile(x, w) == pytest.approx(held(0.1) / (0.1 * n), abs=1e-12)


def test_hand_checked_cases():
    assert gini([0.5, 0.5, 0.5], [1, 2, 3]) == 0.0
    assert palma([0.7, 0.7], [3, 5]) == pytest.approx(0.25)  # everybody equal: 10 % / 40 %
    # 40 people at 0.2 and 60 at 0.9: bottom 40 % hold 8, top 10 % hold 9
    assert palma([0.2, 0.9], [40, 60]) == pytest.approx(9 / 8)
    assert worst_off_decile([0.2, 0.9], [40, 60]) == pytest.approx(0.2)
    # 5 at 0 and 95 at 1: the worst 10 % are 5 at 0 and 5 at 1
    assert worst_off_decile([0.0, 1.0], [5, 95]) == pytest.approx(0.5)
    assert math.isinf(palma([0.0, 1.0], [50, 50]))
    assert math.isnan(gini([0.0, 0.0], [1, 1]))


def test_bad_inputs_name_the_problem():
    with pytest.raises(InputError, match="differ in length"):
        gini([0.1, 0.2], [1])
    with pytest.raises(InputError, match="NaN"):
        palma([0.1, float("nan")], [1, 1])
    with pytest.raises(InputError, match="weights"):
        gini([0.1, 0.2], [1, -1])


def test_area_equity_per_district():
    points = pd.DataFrame(
        {
            "district": ["A", "A", "A", "B", "B"],
            "older": [100.0, 100.0, 200.0, 50.0, 50.0],
            "covered": [True, False, True, False, False],
            "walk": [4.0, np.nan, 10.0, np.nan, np.nan],
        }
    )
    table = area_equity(points, by="district", weight="older", covered="covered", walk_min="walk")
    assert table.loc["A", "covered_share"] == pytest.approx(300 / 400)
    assert table.loc["B", "covered_share"] == 0.0
    assert table.loc["A", "mean_walk_min"] == pytest.approx((4 * 100 + 10 * 200) / 300)
    assert math.isnan(table.loc["B", "mean_walk_min"])
    city = 300 / 500
    assert table.loc["A", "gap_to_city"] == pytest.approx(0.75 - city)
    assert table.loc["B", "gap_to_city"] == pytest.approx(-city)
    got = summary(table)
    assert got["areas"] == 2
    assert got["gini"] == pytest.approx(gini([0.75, 0.0], [400, 100]))
    with pytest.raises(InputError, match=r"columns \['street'\]"):
        area_equity(points, by="street", weight="older", covered="covered")
