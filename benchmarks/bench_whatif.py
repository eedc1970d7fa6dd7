"""What-if page on the Shenyang default: page size, load and toggle time in headless Chromium.

The peer is planner's own Python evaluation of the same open set (`planner.coverage.multi_tier_coverage`),
which a server-backed what-if tool would run on every click. Prints the page size, the in-page time of one
toggle (the covered totals, district table and choropleth; median of many), the time until the next frame is
painted, and the Python time; the last line is the ratio.

Usage::

    python benchmarks/bench_whatif.py [--result run.pkl] [--toggles 60]

``--result`` takes a pickled `RunResult` (made by this script with ``--save``), to skip the run (~2-3 min).
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", type=Path, help="a pickled RunResult of the default (skips the run)")
    parser.add_argument("--save", type=Path, help="pickle the RunResult here")
    parser.add_argument("--toggles", type=int, default=60)
    args = parser.parse_args()

    from _browser import headless_chromium
    from selenium.webdriver.support.ui import WebDriverWait

    from planner.coverage import multi_tier_coverage
    from planner.scenario import DEFAULT_SCENARIO, read_scenario, run
    from planner.whatif import plan_open_sites, write_whatif

    if args.result:
        result = pickle.loads(args.result.read_bytes())
    else:
        start = time.perf_counter()
        result = run(read_scenario(DEFAULT_SCENARIO))
        print(f"default run: {time.perf_counter() - start:.1f} s")
        if args.save:
            args.save.write_bytes(pickle.dumps(result))
    pairs = sum(int(t.times.matrix.nnz) for t in result.tiers)
    n_sites = sum(len(t.sites) for t in result.tiers)
    print(f"demand points {len(result.demand):,}, sites {n_sites:,}, pairs {pairs:,}")

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        page = write_whatif(result, Path(tmp) / "whatif.html")
        write_s = time.perf_counter() - start
        size_mb = page.stat().st_size / 1e6
        driver = headless_chromium(Path(tmp) / "profile")
        try:
            start = time.perf_counter()
            driver.get(page.as_uri())
            WebDriverWait(driver, 60).until(lambda d: d.execute_script("return !!window.plannerWhatIf"))
            load_s = time.perf_counter() - start
            rng = np.random.default_rng(0)
            in_page, painted = [], []
            for k in range(args.toggles):
                tier = result.tiers[k % len(result.tiers)]
                site = str(rng.choice([str(i) for i in tier.sites.index]))
                ms = driver.execute_async_script(
                    """var done = arguments[arguments.length - 1], t0 = performance.now();
                    plannerWhatIf.toggle(arguments[0], arguments[1]);
                    var t1 = performance.now();
                    requestAnimationFrame(function () { setTimeout(function () {
                      done([t1 - t0, performance.now() - t0]); }, 0); });""",
                    site,
                    tier.spec.name,
                )
                in_page.append(ms[0])
                painted.append(ms[1])
            open_sets = driver.execute_script("return plannerWhatIf.openSites()")
        finally:
            driver.quit()

    times = {t.spec.name: t.times for t in result.tiers}
    thresholds = {t.spec.name: t.spec.threshold_min for t in result.tiers}
    start = time.perf_counter()
    for _ in range(5):
        multi_tier_coverage(times, result.demand["weight"], thresholds_min=thresholds, open_by_tier=open_sets)
    python_ms = 1000 * (time.perf_counter() - start) / 5
    plan = plan_open_sites(result)
    print(f"plan: {', '.join(f'{k} {len(v)} open' for k, v in plan.items())}")
    print(f"page: {size_mb:.2f} MB written in {write_s:.2f} s, loaded in {load_s:.2f} s")
    print(
        f"toggle in page: median {statistics.median(in_page):.1f} ms, max {max(in_page):.1f} ms; "
        f"to the next painted frame: median {statistics.median(painted):.1f} ms, max {max(painted):.1f} ms"
    )
    print(
        f"whatif: page {size_mb:.2f} MB, toggle {statistics.median(in_page):.1f} ms, "
        f"python multi_tier_coverage {python_ms:.1f} ms, ratio {python_ms / statistics.median(in_page):.1f}x"
    )


if __name__ == "__main__":
    main()
