"""Benchmark: `planner sweep` (shared streets, snaps and walk times; solves in parallel on Dask) against the
same variants run one by one with `planner.pipeline.run` in one process.

Instance: the Shenyang default's inputs (city size: the synthetic stand-in street network of about 160,000
nodes inside the real districts, unless an OSM extract is in ``data/shenyang/``; 16,218 estimated demand
points; 2,000 generated candidate sites), one tier of new centres. 24 variants: 3 walking speeds (planning
1.0, older_at_risk 0.76, frail 0.64 m/s) x 2 thresholds (10, 15 min) x 4 counts (25, 50, 75, 100 centres).

The solver's time limit is long (600 s) so that every solve finishes: a solve stopped by the clock may
differ between two runs. Both sides give the numbers of ``sweep.csv``; a plain run also computes what a
sweep leaves out unless ``--keep-runs`` (service areas of the chosen sites, and the coverage curve, here cut
to one site with no targets). "identical" compares every variant's chosen sites exactly, and its objective
and covered share to 1e-12 (the last bits of a float sum may differ between processes: numpy's vectorised
sums depend on how an array lies in memory).

Run: ``python benchmarks/bench_sweep.py`` (the city-size instance above) or ``--quick`` (2 demand points per
community, 500 candidates); ``--workers N`` sets the LocalCluster (default: one per core). The last line is
``sweep: planner <s> s, naive <s> s, speedup <x>, variants <n>, identical yes|no``.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import textwrap
import time
from pathlib import Path

from planner.pipeline import run
from planner.scenario import DEFAULT_SCENARIO
from planner.sweep import read_sweep, result_row, run_sweep

BASE = """\
name = "shenyang_centres"
[network]
source = "auto"
path = "{pbf}"
place = "Shenyang, Liaoning, China"
speed = "planning"
[demand]
source = "estimated"
points_per_community = {points}
[[tiers]]
name = "centre"
threshold_min = 15
new = 100
generate_candidates = {candidates}
[areas]
builtin = "shenyang"
[curve]
max_sites = 1
targets = []
[solver]
method = "auto"
time_limit_s = 600
"""

SWEEP = """\
base = "base.toml"
[axes]
"network.speed" = ["planning", "older_at_risk", "frail"]
"tiers.centre.threshold_min" = [10, 15]
"tiers.centre.new" = [25, 50, 75, 100]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 demand points a community, 500 candidates")
    parser.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")
    args = parser.parse_args()
    import distributed  # noqa: F401  (its logging set-up first, then quiet it)

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("distributed").setLevel(logging.ERROR)
    points, candidates = (2, 500) if args.quick else (6, 2000)
    folder = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    pbf = (DEFAULT_SCENARIO.parent / "../data/shenyang/shenyang.osm.pbf").resolve()
    (folder / "base.toml").write_text(BASE.format(pbf=pbf, points=points, candidates=candidates))
    (folder / "sweep.toml").write_text(SWEEP)
    sweep = read_sweep(folder / "sweep.toml")

    start = time.perf_counter()
    result = run_sweep(sweep, folder / "sweep", workers=args.workers)
    planner_s = time.perf_counter() - start

    start = time.perf_counter()
    naive = [result_row(run(v.scenario)) for v in sweep.variants]
    naive_s = time.perf_counter() - start

    table = result.table

    def same(name: str, row: dict) -> bool:
        # the same plan; its numbers equal but for the last bits of a float sum taken in another process
        return table.loc[name, "selected_centre"] == row["selected_centre"] and all(
            math.isclose(table.loc[name, c], row[c], rel_tol=1e-12)
            for c in ("objective_centre", "covered_share_centre")
        )

    differ = [v.name for v, row in zip(sweep.variants, naive, strict=True) if not same(v.name, row)]
    identical = not result.failed and not differ
    print(
        textwrap.dedent(
            f"""\
            instance: {points} demand points a community, {candidates} candidates; {folder}
            sweep table: {folder / "sweep" / "sweep.csv"}
            failed: {result.failed or "none"}; differ from the plain runs: {differ or "none"}"""
        )
    )
    print(
        f"sweep: planner {planner_s:.2f} s, naive {naive_s:.2f} s, speedup {naive_s / planner_s:.1f}x, "
        f"variants {len(sweep)}, identical {'yes' if identical else 'no'}"
    )


if __name__ == "__main__":
    main()
