"""Benchmark: planner's coverage models against spopt (PuLP + CBC) on the same synthetic instance, in one run.

Instance (``benchmarks/_instances.py``, labelled synthetic / ``stand_in=True``): clustered demand over a 43.8
km
square, 2,000 candidate sites and 300 existing sites near demand; walk seconds = straight line x 1.3 detour at
1.0 m/s, kept within 900 s (a 15-minute walk at planning speed = 900 m of street).

1. MCLP, p = 100 new sites, cut-off 900 s;
2. the same with the 300 existing sites fixed open (spopt: ``predefined_facilities_arr``, p counted with
them);
3. p-median at a size spopt can finish (dense costs, no cut-off), if ``planner.locate.median.p_median``
exists.

planner times include model build and solve (the whole call); spopt times include its dense
``from_cost_matrix``
build and the CBC solve. Both must reach the same optimum.

Run: ``python benchmarks/bench_siting.py`` (50,000 demand points x 2,000 candidates + 300 existing, p = 100)
or ``--quick`` (5,000 demand points x 1,000 candidates + 150 existing, p = 50, p-median 500 x 50: spopt's
dense model build grows with demand x candidates; this keeps the whole run under 90 s); ``--demand N
--candidates M`` for other sizes. The last line is
``siting: planner <s> s, spopt <s> s, speedup <x>, objective_equal yes|no``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from _instances import city_instance, dense_cost, straight_line_cost

from planner.costs import TravelTimes
from planner.locate import mclp
from planner.synthetic import STAND_IN_POINTS

THRESHOLD_MIN = 15.0


def _spopt_mclp(inst, sites: pd.Index, p: int, fixed_mask: np.ndarray | None) -> tuple[float, float]:
    """spopt MCLP on the dense cost matrix of `sites`; returns (seconds, covered weight)."""
    import pulp
    from spopt.locate import MCLP

    start = time.perf_counter()
    cost = dense_cost(inst, sites)
    model = MCLP.from_cost_matrix(
        cost,
        inst.weights.to_numpy(),
        service_radius=THRESHOLD_MIN * 60 * inst.times.speed_mps,
        p_facilities=p,
        predefined_facilities_arr=fixed_mask,
    )
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    seconds = time.perf_counter() - start
    return seconds, float(pulp.value(model.problem.objective))


def _spopt_pmedian(cost: np.ndarray, weights: np.ndarray, p: int) -> tuple[float, float]:
    import pulp
    from spopt.locate import PMedian

    start = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, weights, p_facilities=p)
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    return time.perf_counter() - start, float(pulp.value(model.problem.objective))


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 demand x 1,000 candidates, p = 50")
    parser.add_argument("--demand", type=int, default=None, help="demand points (default 50,000)")
    parser.add_argument("--candidates", type=int, default=None, help="candidate sites (default 2,000)")
    parser.add_argument("--no-spopt", action="store_true", help="time planner only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    n_demand = args.demand or (5_000 if args.quick else 50_000)
    n_cand = args.candidates or (1_000 if args.quick else 2_000)
    n_existing = round(0.15 * n_cand)
    p_new = max(1, n_cand // 20)
    inst = city_instance(n_demand, n_cand, n_existing, seed=args.seed)
    pairs = inst.times.matrix[: len(inst.candidates)].nnz
    print(
        f"instance (synthetic, stand_in=True): {n_demand:,} demand points "
        f"({inst.weights.sum():,.0f} people), "
        f"{len(inst.candidates):,} candidates + {len(inst.existing)} existing, {pairs:,} candidate pairs "
        f"within {inst.cutoff_m:.0f} m (straight line x {inst.detour})"
    )
    rows = []
    for label, fixed in ((f"MCLP p={p_new}", None), (f"MCLP p={p_new} + {n_existing} fixed", inst.existing)):
        start = time.perf_counter()
        res = mclp(
            inst.times,
            inst.weights,
            p=p_new,
            threshold_min=THRESHOLD_MIN,
            candidates=inst.candidates,
            fixed=fixed,
            method="exact",
        )
        ours_s = time.perf_counter() - start
        red = res.details["reduction"]
        print(
            f"{label}: planner {ours_s:.2f} s, covered {res.objective:,.0f} "
            f"({100 * res.details['share']:.1f} %), "
            f"{res.status}, gap {res.gap:.2e}; reduced to {red['demand_out']:,} demand x "
            f"{red['candidates_out']:,} candidates"
        )
        if args.no_spopt:
            rows.append((label, ours_s, np.nan, True))
            continue
        if fixed is None:
            sites, mask, p = inst.candidates, None, p_new
        else:
            sites = inst.candidates.append(inst.existing)
            mask = np.r_[np.zeros(len(inst.candidates), bool), np.ones(len(inst.existing), bool)]
            p = p_new + n_existing  # spopt counts predefined facilities in p
        spopt_s, spopt_obj = _spopt_mclp(inst, sites, p, mask)
        same = _same(res.objective, spopt_obj)
        print(
            f"{label}: spopt {spopt_s:.2f} s, covered {spopt_obj:,.0f}; "
            f"same optimum: {'yes' if same else 'NO'}"
        )
        rows.append((label, ours_s, spopt_s, same))

    try:
        from planner.locate.median import p_median
    except ImportError:
        print("p-median: skipped (planner.locate.median.p_median not available)")
    else:
        n_d, n_c, p = (500, 50, 5) if args.quick else (1_000, 100, 10)
        rng = np.random.default_rng(args.seed + 1)
        demand = np.sort(rng.choice(n_demand, size=n_d, replace=False))
        sites = inst.candidates[np.sort(rng.choice(len(inst.candidates), size=n_c, replace=False))]
        cost = straight_line_cost(inst, sites, demand)
        weights = inst.weights.to_numpy()[demand]
        d_ids = pd.RangeIndex(n_d, name="demand_id")
        r, c = np.meshgrid(np.arange(n_c), np.arange(n_d), indexing="ij")
        table = pd.DataFrame({"site_id": sites[r.ravel()], "demand_id": c.ravel(), "walk_s": cost.T.ravel()})
        times = TravelTimes.from_table(table, sites, d_ids, provenance=STAND_IN_POINTS)
        start = time.perf_counter()
        res = p_median(times, pd.Series(weights, index=d_ids), p=p, method="exact")
        ours_s = time.perf_counter() - start
        print(
            f"p-median {n_d} x {n_c}, p={p} (dense, no cut-off): planner {ours_s:.2f} s, "
            f"objective {res.objective:,.1f}, {res.status}"
        )
        if not args.no_spopt:
            spopt_s, spopt_obj = _spopt_pmedian(cost, weights, p)
            same = _same(res.objective, spopt_obj)
            print(
                f"p-median: spopt {spopt_s:.2f} s, objective {spopt_obj:,.1f}; same optimum: "
                f"{'yes' if same else 'NO'}"
            )
            rows.append(("p-median", ours_s, spopt_s, same))

    ours = sum(r[1] for r in rows)
    theirs = sum(r[2] for r in rows)
    equal = all(r[3] for r in rows)
    speedup = theirs / ours if ours > 0 and np.isfinite(theirs) else float("nan")
    print(
        f"siting: planner {ours:.2f} s, spopt {theirs:.2f} s, speedup {speedup:.1f}x, "
        f"objective_equal {'yes' if equal else 'no'}"
    )


if __name__ == "__main__":
    main()
