"""Benchmark: city-scale solves with a certified gap (issue 9), against the exact MIP where it finishes.

Instances (``benchmarks/_instances.py``, synthetic and labelled ``stand_in=True``): clustered demand over a
43.8 km square, walk seconds = straight line x 1.3 at 1.0 m/s within 900 s, 300 existing sites.

* MCLP, 15-minute threshold: 50k and 200k demand points x 2k and 10k candidates, p = 100 and 300; the
  200k x 10k instance also with the 300 existing sites fixed open;
* p-median: 50k x 2k, p = 100 and 50k x 10k, p = 1,000 (truncated at the cut-off);
* optionally the whole-city run: ``--run SCENARIO.toml`` times ``python -m planner run`` on it and reads its
  ``metrics.json`` for the worst gap reported.

Each line gives planner's default (``method="auto"``: exact MIP where it is fast, else the Lagrangian method)
with its certified gap and time, and, unless ``--no-exact``, the exact MIP's status, gap and time under the
same limit. The machine is shared: the load average is printed with each line.

Run: ``python benchmarks/bench_city.py`` (about 25 minutes), ``--quick`` (smaller instances, under a minute
without the exact MIPs: ``--quick --no-exact``). The last line is
``city: mclp_gap <x>, pmedian_gap <x>, run_s <s>, run_worst_gap <x>, peak_mb <m>`` (gaps in %, the worst of
the 200k x 10k MCLP solves and of the largest p-median; ``n/a`` when not measured).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # measure the checkout the script is in

from _instances import city_instance

from planner.locate import mclp, p_median

THRESHOLD_MIN = 15.0


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _mclp_line(inst, p: int, *, fixed: bool, limit_s: float, exact: bool) -> float:
    label = f"mclp {len(inst.weights) // 1000}k x {len(inst.candidates) // 1000}k p={p}" + (
        " +300 fixed" if fixed else ""
    )
    kwargs = {
        "p": p,
        "threshold_min": THRESHOLD_MIN,
        "candidates": inst.candidates,
        "fixed": list(inst.existing) if fixed else None,
        "time_limit_s": limit_s,
    }
    t0 = time.perf_counter()
    res = mclp(inst.times, inst.weights, **kwargs)
    run_s = time.perf_counter() - t0
    line = f"{label}: {res.method} {res.status}, gap {100 * res.gap:.3f}%, {run_s:.1f} s"
    if exact and res.method != "exact":
        t0 = time.perf_counter()
        mip = mclp(inst.times, inst.weights, method="exact", **kwargs)
        mip_s = time.perf_counter() - t0
        line += (
            f"; exact MIP {mip.status}, gap {100 * mip.gap:.3f}%, {mip_s:.1f} s, "
            f"objective ratio {res.objective / mip.objective:.5f}"
        )
    print(f"{line} ({_load()})", flush=True)
    return res.gap


def _pmedian_line(inst, p: int, *, limit_s: float, exact: bool) -> float:
    label = f"p-median {len(inst.weights) // 1000}k x {len(inst.candidates) // 1000}k p={p}"
    kwargs = {"p": p, "candidates": inst.candidates, "time_limit_s": limit_s}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a gap above mip_gap is printed below
        t0 = time.perf_counter()
        res = p_median(inst.times, inst.weights, method="heuristic", mip_gap=0.01, **kwargs)
        run_s = time.perf_counter() - t0
        line = f"{label}: heuristic {res.status}, gap {100 * res.gap:.3f}%, {run_s:.1f} s"
        if exact:
            t0 = time.perf_counter()
            mip = p_median(inst.times, inst.weights, method="exact", **kwargs)  # to 1e-6 or the limit
            line += f"; exact {mip.status}, gap {100 * mip.gap:.3f}%, {time.perf_counter() - t0:.1f} s"
    print(f"{line} ({_load()})", flush=True)
    return res.gap


def _run_line(scenario: str, limit_s: float) -> tuple[float, float]:
    """Time ``python -m planner run`` on `scenario`; the worst gap reported in its metrics."""
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "planner", "run", scenario, "--out", out, "--quiet"],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=False,
            timeout=max(600.0, 10 * limit_s),
        )
        run_s = time.perf_counter() - t0
        if done.returncode != 0:
            print(f"run {scenario}: failed ({done.stderr.strip()[-300:]})", flush=True)
            return run_s, float("nan")
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    gaps = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "gap" and isinstance(value, int | float):
                    gaps.append(float(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(metrics)
    worst = max(gaps) if gaps else float("nan")
    print(f"run {scenario}: {run_s:.1f} s, worst reported gap {100 * worst:.3f}% ({_load()})", flush=True)
    return run_s, worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller instances")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact MIP comparisons")
    parser.add_argument("--limit", type=float, default=60.0, help="time limit per solve, seconds")
    parser.add_argument("--run", default=None, help="a scenario file to time with `python -m planner run`")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    exact = not args.no_exact
    if args.quick:
        mclp_sizes = [(20_000, 2_000, (50,))]
        city = (50_000, 5_000)
        med_sizes = [(10_000, 2_000, 100)]
        limit = min(args.limit, 20.0)
    else:
        mclp_sizes = [(50_000, 2_000, (100, 300)), (200_000, 2_000, (100, 300)), (50_000, 10_000, (100, 300))]
        city = (200_000, 10_000)
        med_sizes = [(50_000, 2_000, 100), (50_000, 10_000, 1_000)]
        limit = args.limit
    for n_dem, n_cand, ps in mclp_sizes:
        inst = city_instance(n_dem, n_cand, 300, seed=0)
        for p in ps:
            _mclp_line(inst, p, fixed=False, limit_s=limit, exact=exact)
    inst = city_instance(*city, 300, seed=0)
    city_gaps = [
        _mclp_line(inst, p, fixed=fixed, limit_s=limit, exact=exact and not args.quick)
        for p in ((100,) if args.quick else (100, 300))
        for fixed in (False, True)
    ]
    med_gap = float("nan")
    for n_dem, n_cand, p in med_sizes:
        med_gap = _pmedian_line(city_instance(n_dem, n_cand, 300, seed=0), p, limit_s=limit, exact=exact)
    run_s = run_gap = float("nan")
    if args.run:
        run_s, run_gap = _run_line(args.run, limit)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def pct(x: float) -> str:
        return "n/a" if math.isnan(x) else f"{100 * x:.3f}%"

    print(
        f"city: mclp_gap {pct(max(city_gaps))}, pmedian_gap {pct(med_gap)}, "
        f"run_s {'n/a' if math.isnan(run_s) else f'{run_s:.1f}'}, run_worst_gap {pct(run_gap)}, "
        f"peak_mb {peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
