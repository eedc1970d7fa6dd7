"""Benchmark: planner's sparse walk times against networkx, on the same prepared graph and snapped points.

Builds a synthetic city (`planner.synthetic.grid_city`, ~300,000 nodes), 2,000 sites and 50,000 demand
points near its streets, a 15-minute limit at 1.0 m/s; snaps once; then times

* planner: `planner.costs.travel_times` (numba bounded Dijkstra), after a separate warm-up (numba compile, or
  loading the compiled kernels from the cache);
* networkx: ``single_source_dijkstra_path_length(cutoff=...)`` per site, on the street graph augmented with
  one
  node per site and per demand point joined to both ends of its segment by its access leg plus the piece of
  the segment (and site-demand pairs on the same segment joined directly), so that both compute the same
  walks.

and checks that both find the same pairs with the same times (to the millisecond). Peak RSS is read with
``resource.getrusage`` after the planner part (before networkx is built) and at the end.

Run ``python benchmarks/bench_travel_times.py`` (full size) or ``--quick`` (small, under 30 s). The last
line is::

    travel_times: planner <s> s, networkx <s> s, speedup <x>, pairs <n>, identical yes|no, peak_mb <m>
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from planner.costs import travel_times
from planner.network import StreetNetwork
from planner.snap import Snapped, snap_points
from planner.synthetic import grid_city, random_points


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def networkx_times(
    net: StreetNetwork, sites: Snapped, demand: Snapped, limit_m: float
) -> tuple[dict, float, float]:
    """Walk metres of every site -> demand pair within ``limit_m`` by networkx; set-up and query seconds."""
    import networkx as nx

    t0 = time.perf_counter()
    adj = net.adjacency.tocoo()
    graph = nx.Graph()
    graph.add_nodes_from(range(net.n_nodes))
    upper = adj.row < adj.col
    graph.add_weighted_edges_from(
        zip(adj.row[upper].tolist(), adj.col[upper].tolist(), adj.data[upper].tolist(), strict=True)
    )
    n = net.n_nodes

    def attach(node: int, points: Snapped, i: int) -> None:
        e = points.edge[i]
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        for end, metres in ((u, points.along_m[i]), (v, net.length_m[e] - points.along_m[i])):
            w = float(points.access_m[i] + metres)
            if not graph.has_edge(node, end) or graph[node][end]["weight"] > w:
                graph.add_edge(node, end, weight=w)

    site_node = {}
    for i in np.flatnonzero(sites.edge >= 0):
        site_node[i] = n + int(i)
        attach(n + int(i), sites, i)
    dem_base = n + len(sites)
    for j in np.flatnonzero(demand.edge >= 0):
        attach(dem_base + int(j), demand, j)
    # points on the same segment: directly along it
    on_edge: dict[int, list[int]] = {}
    for j in np.flatnonzero(demand.edge >= 0):
        on_edge.setdefault(int(demand.edge[j]), []).append(int(j))
    for i, node in site_node.items():
        for j in on_edge.get(int(sites.edge[i]), []):
            w = float(sites.access_m[i] + abs(sites.along_m[i] - demand.along_m[j]) + demand.access_m[j])
            graph.add_edge(node, dem_base + j, weight=w)
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    pairs = {}
    for i, node in site_node.items():
        reached = nx.single_source_dijkstra_path_length(graph, node, cutoff=limit_m)
        for other, metres in reached.items():
            if other >= dem_base:
                pairs[(int(i), other - dem_base)] = metres
    return pairs, setup_s, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small instance, under 30 s")
    args = parser.parse_args()
    n_nodes, n_sites, n_demand = (40_000, 300, 7_000) if args.quick else (300_000, 2_000, 50_000)
    limit_s, speed_mps = 15 * 60.0, 1.0

    t0 = time.perf_counter()
    from planner._dijkstra import bounded_searches  # noqa: F401  (import cost counted in the warm-up)

    net = grid_city(n_nodes=9, seed=0)
    tiny = random_points(net, 3, seed=0)
    travel_times(net, tiny, tiny, limit_s=60)
    warm_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    net = grid_city(n_nodes=n_nodes, seed=0)
    sites = snap_points(net, random_points(net, n_sites, seed=1, index_name="site_id"), name="sites")
    demand = snap_points(net, random_points(net, n_demand, seed=2, index_name="demand_id"), name="demand")
    _ = net.adjacency
    build_s = time.perf_counter() - t0
    print(
        f"city: {net.n_nodes:,} nodes, {net.n_edges:,} edges; {n_sites:,} sites, {n_demand:,} demand points; "
        f"built, snapped and adjacency prepared in {build_s:.1f} s"
    )

    t0 = time.perf_counter()
    tt = travel_times(net, sites, demand, limit_s=limit_s, speed_mps=speed_mps)
    planner_s = time.perf_counter() - t0
    planner_peak = peak_mb()
    print(
        f"planner: warm-up (numba compile or cache load) {warm_s:.2f} s, query {planner_s:.3f} s, "
        f"peak RSS so far {planner_peak:.0f} MB"
    )

    nx_pairs, nx_setup_s, nx_s = networkx_times(net, sites, demand, limit_s * speed_mps)
    nx_pairs = {k: m / speed_mps for k, m in nx_pairs.items() if m / speed_mps <= limit_s}
    print(
        f"networkx: graph set-up {nx_setup_s:.2f} s, query {nx_s:.3f} s, peak RSS at end {peak_mb():.0f} MB"
    )

    coo = tt.matrix.tocoo()
    mine = dict(zip(zip(coo.row.tolist(), coo.col.tolist(), strict=True), coo.data.tolist(), strict=True))
    same_keys = mine.keys() == nx_pairs.keys()
    worst = max((abs(mine[k] - nx_pairs[k]) for k in mine), default=0.0) if same_keys else float("inf")
    identical = same_keys and worst <= 1e-3
    if not same_keys:
        print(
            f"pair sets differ: {len(mine.keys() - nx_pairs.keys())} only in planner, "
            f"{len(nx_pairs.keys() - mine.keys())} only in networkx"
        )
    else:
        print(f"largest time difference {worst:.2e} s")
    print(
        f"travel_times: planner {planner_s:.3f} s, networkx {nx_s:.3f} s, speedup {nx_s / planner_s:.1f}x, "
        f"pairs {len(mine):,}, identical {'yes' if identical else 'no'}, peak_mb {planner_peak:.0f}"
    )


if __name__ == "__main__":
    main()
