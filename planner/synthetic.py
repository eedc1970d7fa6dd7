"""Synthetic street networks and points: for benchmarks, tests, and the labelled stand-in for missing streets.

Everything here is made up. Networks carry ``source="synthetic"`` and ``stand_in=True``; points carry
``attrs["stand_in"] = True``. Every generator takes an explicit ``seed`` and returns the same result for the
same arguments.
"""

from __future__ import annotations

import logging

import numpy as np
import pyproj

from planner._errors import InputError
from planner.network import StreetNetwork, largest_part

log = logging.getLogger(__name__)

#: UTM zone 51N, the projected CRS of Shenyang.
SHENYANG_CRS = pyproj.CRS.from_epsg(32651)
#: Shenyang city centre (123.43 E, 41.80 N) in UTM 51N metres.
SHENYANG_CENTRE_XY = (535_723.0, 4_627_660.0)


def grid_city(
    *,
    n_nodes: int = 300_000,
    block_m: float = 85.0,
    missing_share: float = 0.05,
    curved_share: float = 0.1,
    seed: int = 0,
) -> StreetNetwork:
    """A perturbed street grid of about ``n_nodes`` nodes centred on Shenyang, in UTM 51N (EPSG:32651).

    Column and row spacings vary by +-5 m around ``block_m``, nodes are moved by up to 10 % of a block,
    ``missing_share`` of the links are left out, and ``curved_share`` of the segments are bent (a three-point
    LineString whose true length is the segment length). Only the largest connected part is kept.

    Parameters
    ----------
    n_nodes
        Nodes of the full grid before links are removed (the result has slightly fewer).
    block_m
        Mean block side in metres.
    missing_share, curved_share
        Shares of links left out and of segments bent, in [0, 1).
    seed
        Seed of the random generator.

    Returns
    -------
    StreetNetwork
        ``source="synthetic"``, ``stand_in=True``.
    """
    import shapely

    _check_share(missing_share, "missing_share")
    _check_share(curved_share, "curved_share")
    if int(n_nodes) < 4:
        raise InputError(f"`n_nodes` must be at least 4, got {n_nodes!r}")
    if not block_m > 0:
        raise InputError(f"`block_m` must be a positive number of metres, got {block_m!r}")
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_nodes)))
    cols = np.concatenate([[0.0], np.cumsum(rng.uniform(block_m - 5, block_m + 5, side - 1))])
    rows = np.concatenate([[0.0], np.cumsum(rng.uniform(block_m - 5, block_m + 5, side - 1))])
    gx, gy = np.meshgrid(cols - cols[-1] / 2, rows - rows[-1] / 2)
    x = gx.ravel() + SHENYANG_CENTRE_XY[0] + rng.uniform(-0.1, 0.1, side * side) * block_m
    y = gy.ravel() + SHENYANG_CENTRE_XY[1] + rng.uniform(-0.1, 0.1, side * side) * block_m
    node = np.arange(side * side).reshape(side, side)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    keep = rng.random(len(u)) >= missing_share
    u, v = u[keep], v[keep]
    # bend some segments: the middle vertex moves sideways by 5-20 % of the segment
    bent = rng.random(len(u)) < curved_share
    dx, dy = x[v] - x[u], y[v] - y[u]
    offset = rng.uniform(0.05, 0.2, len(u)) * rng.choice([-1.0, 1.0], len(u))
    mx = (x[u] + x[v]) / 2 - dy * offset
    my = (y[u] + y[v]) / 2 + dx * offset
    length = np.where(
        bent,
        np.hypot(mx - x[u], my - y[u]) + np.hypot(x[v] - mx, y[v] - my),
        np.hypot(dx, dy),
    )
    npts = np.where(bent, 3, 2)
    coords = np.empty((int(npts.sum()), 2))
    start = np.concatenate([[0], np.cumsum(npts)[:-1]])
    coords[start] = np.stack([x[u], y[u]], axis=1)
    coords[start + npts - 1] = np.stack([x[v], y[v]], axis=1)
    coords[start[bent] + 1] = np.stack([mx[bent], my[bent]], axis=1)
    geometry = shapely.linestrings(coords, indices=np.repeat(np.arange(len(u)), npts))
    out = largest_part(
        StreetNetwork(
            node_id=np.arange(len(x), dtype=np.int64),
            x=x,
            y=y,
            edge_u=u,
            edge_v=v,
            length_m=length,
            crs=SHENYANG_CRS,
            geometry=geometry,
            source="synthetic",
            stand_in=True,
            description=f"synthetic stand-in: perturbed {block_m:g} m grid (seed {seed}), not real streets",
        )
    )
    log.info("%s", out.summary())
    return out


def _check_share(value: float, name: str) -> None:
    if not 0 <= value < 1:
        raise InputError(f"`{name}` must be a share in [0, 1), got {value!r}")


def random_points(
    net_or_polygon,
    n: int,
    *,
    max_offset_m: float = 30.0,
    index_name: str = "point_id",
    crs=None,
    seed: int = 0,
):
    """``n`` random points near the streets of a network, or uniformly inside a polygon (a labelled stand-in).

    Parameters
    ----------
    net_or_polygon
        A `StreetNetwork`: points are placed on segments chosen in proportion to their length, then moved
        sideways by up to ``max_offset_m``. Or a shapely (Multi)Polygon in a projected CRS: points uniform
        inside.
    n
        Number of points.
    max_offset_m
        Largest sideways distance from the street (network case), metres.
    index_name
        Name of the index (ids ``0..n-1``), e.g. ``"demand_id"`` or ``"site_id"``.
    crs
        CRS of the polygon (the network case uses ``net.crs``).
    seed
        Seed of the random generator.

    Returns
    -------
    geopandas.GeoDataFrame
        Points with ``attrs["stand_in"] = True``.
    """
    import geopandas as gpd
    import pandas as pd
    import shapely

    n = int(n)
    if n < 0:
        raise InputError(f"`n` must be a count >= 0, got {n!r}")
    rng = np.random.default_rng(seed)
    if isinstance(net_or_polygon, StreetNetwork):
        net = net_or_polygon
        weights = net.length_m / net.length_m.sum()
        edge = rng.choice(net.n_edges, size=n, p=weights)
        lines = net.edge_geometries()[edge]
        frac = rng.random(n)
        on = shapely.line_interpolate_point(lines, frac, normalized=True)
        # sideways direction from a point a little further along
        ahead = shapely.line_interpolate_point(lines, np.minimum(frac + 0.01, 1.0), normalized=True)
        behind = shapely.line_interpolate_point(lines, np.maximum(frac - 0.01, 0.0), normalized=True)
        tx = shapely.get_x(ahead) - shapely.get_x(behind)
        ty = shapely.get_y(ahead) - shapely.get_y(behind)
        norm = np.hypot(tx, ty)
        norm[norm == 0] = 1.0
        side = rng.uniform(-max_offset_m, max_offset_m, n)
        px = shapely.get_x(on) - ty / norm * side
        py = shapely.get_y(on) + tx / norm * side
        crs = net.crs
    else:
        poly = net_or_polygon
        if crs is None:
            raise InputError(
                "`crs` is needed when drawing points in a polygon; pass the polygon's projected CRS"
            )
        minx, miny, maxx, maxy = poly.bounds
        shapely.prepare(poly)
        px = np.empty(0)
        py = np.empty(0)
        while len(px) < n:
            m = max(2 * (n - len(px)), 64)
            cx = rng.uniform(minx, maxx, m)
            cy = rng.uniform(miny, maxy, m)
            inside = shapely.contains_xy(poly, cx, cy)
            px = np.concatenate([px, cx[inside]])
            py = np.concatenate([py, cy[inside]])
        px, py = px[:n], py[:n]
    gdf = gpd.GeoDataFrame(geometry=shapely.points(px, py), index=pd.RangeIndex(n, name=index_name), crs=crs)
    gdf.attrs["stand_in"] = True
    return gdf
