"""Benchmark: p-median at city scale (50,000 demand x 2,000 candidates, p = 100) with a certified gap.

Synthetic instances (``stand_in=True``, from ``_instances.city_instance``): clustered demand and sites in a
20 x 20 km square, walk seconds = straight line x 1.3 detour at 1 m/s, kept within 900 s (900 m of street),
about 2-14 candidate sites per demand point (5th-95th percentile). No street network.

Also: spopt ``PMedian.from_cost_matrix`` (PuLP + CBC, dense costs) against planner on the same dense
1,000 x 100, p = 10 instance (every pair kept: no cut-off, so both solve the same classic p-median).

Run: ``python benchmarks/bench_pmedian.py [--quick]``; the last line sums up.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _instances import city_instance, dense_cost

from planner._errors import PlannerWarning
from planner.locate.median import p_median


def city_scale(*, mip_gap: float | None, n_existing: int = 0, side_m: float = 20_000.0, method: str = "auto"):
    """planner p_median on the 50,000 x 2,000 instance, p = 100; returns the result and wall seconds."""
    inst = city_instance(50_000, 2_000, n_existing, side_m=side_m, seed=0)
    per_demand = np.diff(inst.times.matrix.tocsc().indptr)
    lo, med, hi = np.percentile(per_demand, [5, 50, 95])
    print(
        f"city instance (synthetic, stand-in): {inst.times.matrix.nnz:,} pairs, sites per demand point "
        f"p5/median/p95 {lo:.0f}/{med:.0f}/{hi:.0f}, {n_existing} existing sites fixed"
    )
    fixed = inst.existing if n_existing else None
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PlannerWarning)  # a gap above mip_gap is printed below anyway
        res = p_median(
            inst.times,
            inst.weights,
            p=100,
            fixed=fixed,
            candidates=inst.candidates,
            mip_gap=mip_gap,
            method=method,
        )
    wall_s = time.perf_counter() - start
    print(
        f"  planner p_median ({res.method}, mip_gap={res.details['requested_gap']:g}): {wall_s:.2f} s, "
        f"certified gap {100 * res.gap:.3f} % (of the saving over no new sites: "
        f"{100 * res.details['saving_gap']:.2f} %), objective {res.objective:,.0f} weighted s, "
        f"mean walk {res.details['mean_walk_min']:.2f} min, "
        f"{res.details['n_far']:,} points beyond the cut-off "
        f"(greedy {res.details['greedy_objective']:,.0f}, {res.details['swaps']} swaps, "
        f"{res.details['lagrangian_iterations']} Lagrangian iterations, status {res.status})"
    )
    return res, wall_s


def small_dense():
    """spopt and planner on the same dense 1,000 x 100, p = 10 instance; returns both times and objectives."""
    import pulp
    from spopt.locate import PMedian

    inst = city_instance(1_000, 100, 0, side_m=6_000.0, cutoff_m=1e7, n_clusters=10, spread_m=600.0, seed=1)
    assert inst.times.matrix.nnz == 1_000 * 100  # every pair stored: no cut-off
    start = time.perf_counter()
    res = p_median(inst.times, inst.weights, p=10, method="exact")
    planner_s = time.perf_counter() - start
    cost = dense_cost(inst, inst.candidates)
    start = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, inst.weights.to_numpy(), p_facilities=10)
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    spopt_s = time.perf_counter() - start
    spopt_obj = float(pulp.value(model.problem.objective))
    spopt_sites = sorted(inst.candidates[j] for j in range(len(inst.candidates)) if model.fac2cli[j])
    equal = abs(spopt_obj - res.objective) <= 1e-6 * abs(spopt_obj)
    print(
        f"small dense 1,000 x 100, p=10: planner ({res.method}, {res.status}) {planner_s:.2f} s objective "
        f"{res.objective:,.1f}; spopt + CBC {spopt_s:.2f} s objective {spopt_obj:,.1f}; "
        f"same sites: {tuple(spopt_sites) == res.selected}"
    )
    return planner_s, spopt_s, equal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the headline runs (under 90 s)")
    args = parser.parse_args()
    big, big_s = city_scale(mip_gap=None)
    if not args.quick:
        city_scale(mip_gap=0.01)
        city_scale(mip_gap=None, n_existing=300)
        city_scale(mip_gap=None, side_m=43_800.0)
        city_scale(mip_gap=None, method="exact")  # Lagrangian fixing, then HiGHS within the 60 s
    planner_s, spopt_s, equal = small_dense()
    print(
        f"pmedian: planner {big_s:.2f} s gap {100 * big.gap:.2f}% (50000x2000 p=100); small: planner "
        f"{planner_s:.2f} s, spopt {spopt_s:.2f} s, speedup {spopt_s / planner_s:.1f}x, "
        f"objective_equal {'yes' if equal else 'no'}"
    )


if __name__ == "__main__":
    main()
