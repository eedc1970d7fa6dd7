"""Service areas: polygons around the streets reachable from each site within a walking time.

The polygon follows the streets: it is the union of the reached street pieces, each buffered by ``buffer_m``.
A street segment reached from one end only up to some point contributes the piece up to that point; a segment
reached from both ends contributes both pieces (all of it if they meet). It is never a convex hull of nodes.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from planner._errors import InputError
from planner.costs import as_snapped, run_searches
from planner.network import StreetNetwork
from planner.provenance import ATTR
from planner.settings import DEFAULT_SERVICE_AREA_BUFFER_M, resolve_speed

log = logging.getLogger(__name__)

#: Segments per quarter circle of the buffers around reached streets: 2 keeps a 40 m buffer within 3 m of
#: round and unites several times faster than shapely's default 8.
SERVICE_AREA_QUAD_SEGS = 2


def service_areas(
    net: StreetNetwork,
    sites,
    *,
    threshold_s: float,
    speed_mps: float | str | None = None,
    buffer_m: float | None = None,
):
    """Polygon of the streets each site reaches within ``threshold_s`` of walking.

    Parameters
    ----------
    net
        The walk network.
    sites
        `planner.snap.Snapped` points on ``net``, or a GeoDataFrame of points (snapped here).
    threshold_s
        Walking time in seconds; the site's access leg (door to street) is part of it.
    speed_mps
        Walking speed in m/s or a preset name; default 1.0 m/s (see `planner.settings`).
    buffer_m
        Distance around the reached street pieces that belongs to the area; default
        `planner.settings.DEFAULT_SERVICE_AREA_BUFFER_M` (40 m).

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``site_id`` (in input order); columns ``threshold_min``, ``street_m`` (metres of street
        reached) and ``geometry`` (a polygon in ``net.crs``; empty for a site that reaches no street).
        ``attrs["provenance"]`` joins the network's and the sites' (`planner.provenance`).
    """
    import geopandas as gpd

    try:
        threshold_s = float(threshold_s)
    except (TypeError, ValueError):
        threshold_s = float("nan")
    if not np.isfinite(threshold_s) or threshold_s <= 0:
        raise InputError("`threshold_s` must be a number of seconds > 0 (e.g. 900 for 15 minutes)")
    buffer_m = DEFAULT_SERVICE_AREA_BUFFER_M if buffer_m is None else float(buffer_m)
    if not np.isfinite(buffer_m) or buffer_m <= 0:
        raise InputError(f"`buffer_m` must be a distance in metres > 0 (default 40), got {buffer_m!r}")
    speed = resolve_speed(speed_mps)
    pts = as_snapped(net, sites, "sites")
    reach_m = threshold_s * speed
    found = run_searches(net, pts, reach_m * (1 + 1e-12), want_nodes=True)
    site, edge, lo, hi = _reached_pieces(net, pts, reach_m, found)
    pieces = _substrings(net, edge, lo, hi)
    n = len(pts)
    street_m = np.bincount(site, weights=hi - lo, minlength=n)
    geometry = _buffered_union(pieces, site, n, buffer_m)
    out = gpd.GeoDataFrame(
        {"threshold_min": np.full(n, threshold_s / 60.0), "street_m": street_m},
        geometry=geometry,
        index=pd.Index(pts.ids, name="site_id"),
        crs=net.crs,
    )
    out.attrs[ATTR] = net.provenance | pts.provenance
    log.info(
        "service areas: %s sites, %.0f min at %.2f m/s, median %.0f m of street reached",
        f"{n:,}",
        threshold_s / 60,
        speed,
        float(np.median(street_m)) if n else 0.0,
    )
    return out


def _buffered_union(pieces: np.ndarray, site: np.ndarray, n: int, buffer_m: float) -> np.ndarray:
    """Per site, the union of its pieces each buffered by ``buffer_m`` (empty polygon for a site without).

    Buffering the pieces one by one and uniting them is several times faster than buffering a site's whole
    MultiLineString (GEOS then nodes every overlap); shapely releases the GIL, so sites run on threads.
    """
    import os
    from concurrent.futures import ThreadPoolExecutor

    import shapely

    out = np.array([shapely.Polygon()] * n, dtype=object)
    if not len(pieces):
        return out
    buffered = shapely.buffer(pieces, buffer_m, quad_segs=SERVICE_AREA_QUAD_SEGS)
    has = np.unique(site)  # site is sorted
    bounds = np.searchsorted(site, np.append(has, has[-1] + 1))
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        unions = list(
            pool.map(lambda k: shapely.union_all(buffered[bounds[k] : bounds[k + 1]]), range(len(has)))
        )
    out[has] = unions
    return out


def _reached_pieces(net: StreetNetwork, pts, reach_m: float, found) -> tuple:
    """Per site, the merged reached intervals ``[lo, hi]`` (metres from ``edge_u``) of touched segments."""
    node_src, node_idx, node_m = found.node_src, found.node_idx, found.node_m
    m = net.n_edges
    length = net.length_m
    # incidence: node -> (edge, side 0 = edge_u end, 1 = edge_v end)
    ends = np.concatenate([net.edge_u, net.edge_v])
    order = np.argsort(ends, kind="stable")
    inc_edge = np.concatenate([np.arange(m), np.arange(m)])[order]
    inc_side = np.concatenate([np.zeros(m, np.int8), np.ones(m, np.int8)])[order]
    inc_ptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=net.n_nodes))])
    deg = inc_ptr[node_idx + 1] - inc_ptr[node_idx]
    rep = np.repeat(np.arange(len(node_idx)), deg)
    pos = inc_ptr[node_idx][rep] + (np.arange(len(rep)) - np.repeat(np.cumsum(deg) - deg, deg))
    e = inc_edge[pos]
    side = inc_side[pos]
    rem = reach_m - node_m[rep]
    s = node_src[rep]
    # an interval from the u end is [0, rem]; from the v end [L - rem, L]
    lo = np.where(side == 0, 0.0, np.maximum(length[e] - rem, 0.0))
    hi = np.where(side == 0, np.minimum(rem, length[e]), length[e])
    # the site's own segment, directly from the snapped position
    on = np.flatnonzero(pts.edge >= 0)
    own_rem = reach_m - pts.access_m[on]
    ok = own_rem >= 0
    on, own_rem = on[ok], own_rem[ok]
    own_e = pts.edge[on]
    s = np.concatenate([s, on])
    e = np.concatenate([e, own_e])
    lo = np.concatenate([lo, np.maximum(pts.along_m[on] - own_rem, 0.0)])
    hi = np.concatenate([hi, np.minimum(pts.along_m[on] + own_rem, length[own_e])])
    # merge overlapping intervals of the same (site, segment)
    key = s.astype(np.int64) * m + e
    order = np.lexsort((lo, key))
    key, s, e, lo, hi = key[order], s[order], e[order], lo[order], hi[order]
    start = np.ones(len(key), dtype=bool)
    if len(key):
        start[1:] = key[1:] != key[:-1]
    run_max = hi.copy()
    group = np.cumsum(start) - 1
    # running maximum of hi within each (site, segment) group
    offset = group * (2.0 * (float(length.max()) + 1.0) if len(length) else 1.0)
    run_max = np.maximum.accumulate(hi + offset) - offset
    prev_max = np.full(len(key), -np.inf)
    prev_max[1:] = np.where(start[1:], -np.inf, run_max[:-1])
    new_piece = start | (lo > prev_max)
    idx = np.flatnonzero(new_piece)
    piece_hi = np.maximum.reduceat(hi, idx) if len(idx) else hi[:0]
    piece_lo = lo[idx]
    keep = piece_hi - piece_lo > 1e-9
    return s[idx][keep], e[idx][keep], piece_lo[keep], piece_hi[keep]


def _substrings(net: StreetNetwork, edge: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Pieces ``[lo, hi]`` metres (from ``edge_u``) of the segments ``edge``, as LineStrings (vectorised)."""
    import shapely

    lines = net.edge_geometries()
    out = np.empty(len(edge), dtype=object)
    if not len(edge):
        return out
    length = net.length_m[edge]
    whole = (lo <= 1e-9) & (hi >= length - 1e-9)
    out[whole] = lines[edge[whole]]
    part = np.flatnonzero(~whole)
    if not len(part):
        return out
    seg = lines[edge[part]]
    f_lo = lo[part] / length[part]
    f_hi = hi[part] / length[part]
    first = shapely.get_coordinates(shapely.line_interpolate_point(seg, f_lo, normalized=True))
    last = shapely.get_coordinates(shapely.line_interpolate_point(seg, f_hi, normalized=True))
    coords, which = shapely.get_coordinates(seg, return_index=True)
    # fraction along the line of every vertex
    step = np.hypot(*np.diff(coords, axis=0).T)
    step = np.concatenate([[0.0], step])
    new_line = np.ones(len(which), dtype=bool)
    new_line[1:] = which[1:] != which[:-1]
    step[new_line] = 0.0
    cum = np.cumsum(step)
    cum -= np.repeat(cum[new_line], np.bincount(which, minlength=len(part)))
    frac = cum / np.repeat(shapely.length(seg), np.bincount(which, minlength=len(part)))
    inner = (frac > f_lo[which]) & (frac < f_hi[which])
    ids = np.concatenate([np.arange(len(part)), which[inner], np.arange(len(part))])
    rank = np.concatenate([np.full(len(part), -1.0), frac[inner], np.full(len(part), 2.0)])
    pts = np.concatenate([first, coords[inner], last])
    order = np.lexsort((rank, ids))
    out[part] = shapely.linestrings(pts[order], indices=ids[order])
    return out
