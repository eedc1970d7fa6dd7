"""Compiled kernels: bounded Dijkstra searches from points on street edges, many sources per call.

The kernels are numba ``@njit(cache=True, nogil=True)`` functions, so the first call in a fresh environment
compiles them (a few seconds) and later calls, and later processes, load them from the cache. They release the
GIL, so `planner.costs` runs blocks of sources on a thread pool.

A search starts from a point on an edge ``(u, v)``: it enters the graph at ``u`` with ``start_u_m`` and at
``v`` with ``start_v_m`` metres already walked (the access leg plus the piece of the edge to that end).
Distances are metres; a node is expanded only while its distance is at most ``limit_m``. Every settled node
hands on its distance to the demand points on its incident edges (``node_dem_*``: the point and the metres
from the node to the point's door). Demand points on the source's own edge are also reached directly along
that edge.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _push(heap_d, heap_n, size, dist_m, node):
    """Push ``(dist_m, node)`` on the binary min-heap in ``heap_d, heap_n``; return the (maybe grown) heap."""
    if size == len(heap_d):
        new_d = np.empty(2 * len(heap_d), dtype=np.float64)
        new_n = np.empty(2 * len(heap_n), dtype=np.int64)
        new_d[:size] = heap_d[:size]
        new_n[:size] = heap_n[:size]
        heap_d, heap_n = new_d, new_n
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap_d[parent] <= dist_m:
            break
        heap_d[i] = heap_d[parent]
        heap_n[i] = heap_n[parent]
        i = parent
    heap_d[i] = dist_m
    heap_n[i] = node
    return heap_d, heap_n


@njit(cache=True, nogil=True)
def _pop(heap_d, heap_n, size):
    """Remove the smallest entry of a heap of ``size`` entries; return it (the caller decrements ``size``)."""
    top_d = heap_d[0]
    top_n = heap_n[0]
    last = size - 1
    d = heap_d[last]
    n = heap_n[last]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= last:
            break
        if child + 1 < last and heap_d[child + 1] < heap_d[child]:
            child += 1
        if heap_d[child] >= d:
            break
        heap_d[i] = heap_d[child]
        heap_n[i] = heap_n[child]
        i = child
    heap_d[i] = d
    heap_n[i] = n
    return top_d, top_n


@njit(cache=True, nogil=True)
def _grow(arr, size):
    """``arr`` doubled in capacity when it is full at ``size`` entries."""
    if size < len(arr):
        return arr
    out = np.empty(2 * len(arr), dtype=arr.dtype)
    out[:size] = arr[:size]
    return out


@njit(cache=True, nogil=True)
def bounded_searches(  # noqa: PLR0917  (a compiled kernel takes flat arrays)
    indptr,
    indices,
    weights_m,
    start_u,
    start_v,
    start_u_m,
    start_v_m,
    src_edge,
    src_along_m,
    src_access_m,
    limit_m,
    node_dem_ptr,
    node_dem_idx,
    node_dem_m,
    edge_dem_ptr,
    edge_dem_idx,
    edge_dem_along_m,
    edge_dem_access_m,
    n_dem,
    want_nodes,
):
    """Bounded searches from each source; return reached demand pairs and, if asked, reached nodes.

    Parameters
    ----------
    indptr, indices, weights_m
        The symmetric CSR adjacency of the network (edge lengths in metres).
    start_u, start_v, start_u_m, start_v_m
        Per source: the two end nodes of its edge and the metres already walked on reaching each. A source
        with ``src_edge < 0`` (not snapped) reaches nothing.
    src_edge, src_along_m, src_access_m
        Per source: its edge, its position along the edge from ``edge_u``, and its access leg.
    limit_m
        Nodes and demand points farther than this are not reached.
    node_dem_ptr, node_dem_idx, node_dem_m
        CSR from node to the demand points on its incident edges, with the metres from the node to each point
        (along the edge plus the point's access leg).
    edge_dem_ptr, edge_dem_idx, edge_dem_along_m, edge_dem_access_m
        CSR from edge to the demand points snapped onto it, with their position along it and access leg.
    n_dem
        Number of demand points.
    want_nodes
        Also return every reached node with its distance (for service areas).

    Returns
    -------
    pair_src, pair_dem, pair_m
        Reached ``(source position, demand position, metres)``, grouped by source, demand in reach order.
    node_src, node_idx, node_m
        Reached ``(source position, node, metres)`` when ``want_nodes``, else empty.
    """
    n_nodes = len(indptr) - 1
    dist = np.full(n_nodes, np.inf)
    done = np.zeros(n_nodes, dtype=np.bool_)
    touched = np.empty(n_nodes, dtype=np.int64)
    best = np.full(max(n_dem, 1), np.inf)
    dem_touched = np.empty(max(n_dem, 1), dtype=np.int64)
    heap_d = np.empty(1024, dtype=np.float64)
    heap_n = np.empty(1024, dtype=np.int64)

    pair_src = np.empty(1024, dtype=np.int64)
    pair_dem = np.empty(1024, dtype=np.int64)
    pair_m = np.empty(1024, dtype=np.float64)
    n_pairs = 0
    node_src = np.empty(1024 if want_nodes else 0, dtype=np.int64)
    node_idx = np.empty(1024 if want_nodes else 0, dtype=np.int64)
    node_m = np.empty(1024 if want_nodes else 0, dtype=np.float64)
    n_out_nodes = 0

    for k in range(len(start_u)):
        edge = src_edge[k]
        if edge < 0:
            continue
        n_touched = 0
        n_dem_touched = 0
        size = 0
        for node, d0 in ((start_u[k], start_u_m[k]), (start_v[k], start_v_m[k])):
            if d0 <= limit_m and d0 < dist[node]:
                if dist[node] == np.inf:
                    touched[n_touched] = node
                    n_touched += 1
                dist[node] = d0
                heap_d, heap_n = _push(heap_d, heap_n, size, d0, node)
                size += 1
        # demand points on the source's own edge, reached directly along it
        for j in range(edge_dem_ptr[edge], edge_dem_ptr[edge + 1]):
            p = edge_dem_idx[j]
            cand = src_access_m[k] + abs(src_along_m[k] - edge_dem_along_m[j]) + edge_dem_access_m[j]
            if cand <= limit_m and cand < best[p]:
                if best[p] == np.inf:
                    dem_touched[n_dem_touched] = p
                    n_dem_touched += 1
                best[p] = cand
        while size > 0:
            d, node = _pop(heap_d, heap_n, size)
            size -= 1
            if done[node] or d > dist[node]:
                continue
            done[node] = True
            if want_nodes:
                node_src = _grow(node_src, n_out_nodes)
                node_idx = _grow(node_idx, n_out_nodes)
                node_m = _grow(node_m, n_out_nodes)
                node_src[n_out_nodes] = k
                node_idx[n_out_nodes] = node
                node_m[n_out_nodes] = d
                n_out_nodes += 1
            if n_dem > 0:
                for j in range(node_dem_ptr[node], node_dem_ptr[node + 1]):
                    p = node_dem_idx[j]
                    cand = d + node_dem_m[j]
                    if cand <= limit_m and cand < best[p]:
                        if best[p] == np.inf:
                            dem_touched[n_dem_touched] = p
                            n_dem_touched += 1
                        best[p] = cand
            for j in range(indptr[node], indptr[node + 1]):
                other = indices[j]
                nd = d + weights_m[j]
                if nd <= limit_m and nd < dist[other]:
                    if dist[other] == np.inf:
                        touched[n_touched] = other
                        n_touched += 1
                    dist[other] = nd
                    heap_d, heap_n = _push(heap_d, heap_n, size, nd, other)
                    size += 1
        for i in range(n_dem_touched):
            p = dem_touched[i]
            pair_src = _grow(pair_src, n_pairs)
            pair_dem = _grow(pair_dem, n_pairs)
            pair_m = _grow(pair_m, n_pairs)
            pair_src[n_pairs] = k
            pair_dem[n_pairs] = p
            pair_m[n_pairs] = best[p]
            n_pairs += 1
            best[p] = np.inf
        for i in range(n_touched):
            node = touched[i]
            dist[node] = np.inf
            done[node] = False
    return (
        pair_src[:n_pairs].copy(),
        pair_dem[:n_pairs].copy(),
        pair_m[:n_pairs].copy(),
        node_src[:n_out_nodes].copy(),
        node_idx[:n_out_nodes].copy(),
        node_m[:n_out_nodes].copy(),
    )
