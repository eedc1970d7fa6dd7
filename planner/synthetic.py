"""Synthetic street networks and points: for benchmarks, tests, and the labelled stand-in for missing streets.

Everything here is made up. Networks carry ``source="synthetic"`` and a stand-in `planner.provenance` record;
points carry one in ``attrs["provenance"]``. Every generator takes an explicit ``seed`` and returns the same
result for the same arguments.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pyproj
import scipy.sparse as sp

from planner._errors import InputError
from planner._validate import first_ids
from planner.coords import utm_crs
from planner.network import StreetNetwork, largest_part
from planner.provenance import ATTR, Provenance, Source

log = logging.getLogger(__name__)

#: What every synthetic network is (`planner.provenance`): a stand-in for missing streets.
STAND_IN_STREETS = Provenance(
    (
        Source(
            "streets",
            real=False,
            what="SYNTHETIC STAND-IN street network (not real streets)",
            what_zh="合成的替代路网（非真实街道）",
            origin="planner.synthetic",
        ),
    )
)

#: What `random_points` makes: made-up points.
STAND_IN_POINTS = Provenance(
    (
        Source(
            "points",
            real=False,
            what="SYNTHETIC random points",
            what_zh="合成的随机点",
            origin="planner.synthetic",
        ),
    )
)

#: UTM zone 51N, the projected CRS of Shenyang.
SHENYANG_CRS = pyproj.CRS.from_epsg(32651)
#: Shenyang city centre (123.43 E, 41.80 N) in UTM 51N metres: where `grid_city` lays its grid by default.
SHENYANG_CENTRE_XY = (535_723.0, 4_627_660.0)


def grid_city(
    *,
    n_nodes: int = 300_000,
    block_m: float = 85.0,
    missing_share: float = 0.05,
    curved_share: float = 0.1,
    seed: int = 0,
    centre: tuple[float, float] | None = None,
) -> StreetNetwork:
    """A perturbed street grid of about ``n_nodes`` nodes centred on ``centre``, in its local UTM zone.

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
    centre
        ``(lon, lat)`` in WGS84 degrees of the grid's centre; the grid is laid out in the UTM zone of that
        point (`planner.coords.utm_crs`). None: Shenyang's centre (123.43 E, 41.80 N), i.e.
        `SHENYANG_CENTRE_XY` in UTM 51N (EPSG:32651), as benchmarks and tests have always used.

    Returns
    -------
    StreetNetwork
        ``source="synthetic"``, ``stand_in=True``.
    """
    import shapely

    crs, (cx, cy) = _grid_centre(centre)
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
    x = gx.ravel() + cx + rng.uniform(-0.1, 0.1, side * side) * block_m
    y = gy.ravel() + cy + rng.uniform(-0.1, 0.1, side * side) * block_m
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
            crs=crs,
            geometry=geometry,
            source="synthetic",
            provenance=STAND_IN_STREETS,
            description=f"synthetic stand-in: perturbed {block_m:g} m grid (seed {seed}), not real streets",
        )
    )
    log.info("%s", out.summary())
    return out


def _grid_centre(centre) -> tuple[pyproj.CRS, tuple[float, float]]:
    """The CRS and projected centre of `grid_city` for a lon/lat centre (None: Shenyang)."""
    if centre is None:
        return SHENYANG_CRS, SHENYANG_CENTRE_XY
    try:
        lon, lat = (float(c) for c in centre)
    except (TypeError, ValueError):
        raise InputError(
            f"`centre` must be (lon, lat) in WGS84 degrees, e.g. (24.94, 60.17) for Helsinki, got {centre!r}"
        ) from None
    if not (-180 <= lon <= 180 and -80 <= lat <= 84):
        raise InputError(
            f"`centre` {centre!r} is not (lon, lat) in degrees inside UTM's range (-180..180 E, -80..84 N); "
            "give longitude first, e.g. (24.94, 60.17) for Helsinki"
        )
    crs = utm_crs(lon, lat)
    x, y = pyproj.Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    return crs, (float(x), float(y))


def _check_share(value: float, name: str) -> None:
    if not 0 <= value < 1:
        raise InputError(f"`{name}` must be a share in [0, 1), got {value!r}")


#: Local street spacing used when an area gives none (metres; rounded to the arterial spacing / 2**j).
DEFAULT_LOCAL_SPACING_M = 150.0


def streets_in_areas(
    areas,
    *,
    arterial_spacing_m: float = 450.0,
    local_spacing_m: float | None = None,
    jitter_m: float = 12.0,
    missing_share: float = 0.08,
    seed: int = 0,
) -> StreetNetwork:
    """A synthetic street network inside the given areas (a labelled stand-in for missing streets).

    Arterials run every ``arterial_spacing_m`` in both directions; each arterial block holds a grid of local
    streets whose spacing is the local spacing rounded to ``arterial_spacing_m / 2**j`` (so finer grids nest
    in coarser ones and meet them at shared nodes). Nodes are moved by up to ``jitter_m``, ``missing_share``
    of the local links are left out, everything outside the areas is cut away, and the largest connected
    part is kept.

    Parameters
    ----------
    areas
        GeoSeries or GeoDataFrame of polygons in a projected (metric) CRS. A GeoDataFrame may carry a
        ``local_spacing_m`` column so that places where people live get denser streets; an arterial block
        touching several areas takes the densest.
    arterial_spacing_m
        Distance between arterials, metres (400-500 m in Chinese cities).
    local_spacing_m
        Local street spacing where ``areas`` gives none, metres; default `DEFAULT_LOCAL_SPACING_M` (150 m).
    jitter_m
        Largest random shift of a node in x and in y, metres.
    missing_share
        Share of local links left out, in [0, 1).
    seed
        Seed of the random generator.

    Returns
    -------
    StreetNetwork
        ``source="synthetic"``, ``stand_in=True``, straight segments, node ids ``0..n-1`` before cutting.
    """
    import geopandas as gpd
    import shapely

    geoms, spacing, crs = _check_areas(areas, local_spacing_m)
    _check_share(missing_share, "missing_share")
    if not arterial_spacing_m > 0 or not jitter_m >= 0:
        raise InputError(
            f"`arterial_spacing_m` must be > 0 and `jitter_m` >= 0 metres, got {arterial_spacing_m!r} and "
            f"{jitter_m!r}"
        )
    a_m = float(arterial_spacing_m)
    k_area = 2 ** np.clip(np.round(np.log2(a_m / spacing)), 0, 6).astype(np.int64)
    minx, miny, maxx, maxy = gpd.GeoSeries(geoms).total_bounds
    i0, j0 = int(np.floor(minx / a_m)), int(np.floor(miny / a_m))
    nci, ncj = int(np.ceil(maxx / a_m)) - i0, int(np.ceil(maxy / a_m)) - j0
    ci, cj = np.meshgrid(np.arange(nci), np.arange(ncj), indexing="ij")
    ci, cj = ci.ravel(), cj.ravel()
    boxes = shapely.box((i0 + ci) * a_m, (j0 + cj) * a_m, (i0 + ci + 1) * a_m, (j0 + cj + 1) * a_m)
    cell_hit, area_hit = shapely.STRtree(geoms).query(boxes, predicate="intersects")
    k_cell = np.zeros(nci * ncj, dtype=np.int64)
    np.maximum.at(k_cell, cell_hit, k_area[area_hit])
    k_grid = np.zeros((nci + 2, ncj + 2), dtype=np.int64)  # padded by one empty cell on each side
    k_grid[1:-1, 1:-1] = k_cell.reshape(nci, ncj)
    big_k = int(k_cell.max())
    if big_k == 0:
        raise InputError("`areas` are empty: no polygon has an area to put streets in")

    pieces = []  # (gi0, gj0, gi1, gj1, arterial) in lattice units of a_m / big_k
    for k in np.unique(k_cell[k_cell > 1]):
        cells = np.flatnonzero(k_cell == k)
        step = big_k // k
        r, c = np.meshgrid(np.arange(1, k), np.arange(k), indexing="ij")
        r, c = r.ravel(), c.ravel()
        bi = ((ci[cells] + i0) * big_k)[:, None]
        bj = ((cj[cells] + j0) * big_k)[:, None]
        # horizontal local streets at rows r, vertical at columns r
        pieces.append((bi + c * step, bj + r * step, bi + (c + 1) * step, bj + r * step, False))
        pieces.append((bi + r * step, bj + c * step, bi + r * step, bj + (c + 1) * step, False))
    for horizontal in (True, False):
        # arterial along the lower (horizontal) or left (vertical) side of cell (i, j), between it and its
        # neighbour below / to the left; subdivided at the finer of the two grids
        i, j = np.meshgrid(np.arange(nci + 1), np.arange(ncj + 1), indexing="ij")
        i, j = i.ravel(), j.ravel()
        here = k_grid[i + 1, j + 1]
        there = k_grid[i + 1, j] if horizontal else k_grid[i, j + 1]
        kk = np.maximum(here, there)
        for k in np.unique(kk[kk > 0]):
            sel = kk == k
            step = big_k // k
            c = np.arange(k)[None, :]
            bi = ((i[sel] + i0) * big_k)[:, None]
            bj = ((j[sel] + j0) * big_k)[:, None]
            if horizontal:
                pieces.append((bi + c * step, bj + 0 * c, bi + (c + 1) * step, bj + 0 * c, True))
            else:
                pieces.append((bi + 0 * c, bj + c * step, bi + 0 * c, bj + (c + 1) * step, True))
    gi0, gj0, gi1, gj1 = (np.concatenate([p[n].ravel() for p in pieces]) for n in range(4))
    arterial = np.concatenate([np.full(p[0].size, p[4]) for p in pieces])

    unit = a_m / big_k
    inside = shapely.union_all(geoms)
    shapely.prepare(inside)
    mid_in = shapely.intersects_xy(inside, (gi0 + gi1) * unit / 2, (gj0 + gj1) * unit / 2)
    ends_in = shapely.intersects_xy(inside, gi0 * unit, gj0 * unit) & shapely.intersects_xy(
        inside, gi1 * unit, gj1 * unit
    )
    rng = np.random.default_rng(seed)
    kept = mid_in & ends_in & (arterial | (rng.random(len(arterial)) >= missing_share))
    gi0, gj0, gi1, gj1 = gi0[kept], gj0[kept], gi1[kept], gj1[kept]
    span = int(max(gj0.max(initial=0), gj1.max(initial=0)) - min(gj0.min(initial=0), gj1.min(initial=0)) + 1)
    base_j = min(gj0.min(initial=0), gj1.min(initial=0))
    keys = np.concatenate([gi0 * span + (gj0 - base_j), gi1 * span + (gj1 - base_j)])
    uniq, inverse = np.unique(keys, return_inverse=True)
    u, v = inverse[: len(gi0)], inverse[len(gi0) :]
    x = (uniq // span) * unit + rng.uniform(-jitter_m, jitter_m, len(uniq))
    y = (uniq % span + base_j) * unit + rng.uniform(-jitter_m, jitter_m, len(uniq))
    n_local = np.unique(k_area)
    net = largest_part(
        StreetNetwork(
            node_id=np.arange(len(uniq), dtype=np.int64),
            x=x,
            y=y,
            edge_u=u.astype(np.int64),
            edge_v=v.astype(np.int64),
            length_m=np.hypot(x[u] - x[v], y[u] - y[v]),
            crs=crs,
            source="synthetic",
            provenance=STAND_IN_STREETS,
            description=(
                f"synthetic stand-in streets in {len(geoms):,} areas: arterials every {a_m:g} m, local "
                f"streets every {', '.join(f'{a_m / k:g}' for k in n_local)} m (seed {seed}); "
                "not real streets"
            ),
        )
    )
    log.info("%s", net.summary())
    return net


def _check_areas(areas, local_spacing_m: float | None) -> tuple:
    """Polygons, local spacing per polygon (metres) and the CRS of ``areas``, or an `InputError`."""
    import geopandas as gpd

    if not isinstance(areas, gpd.GeoSeries | gpd.GeoDataFrame):
        raise InputError(
            f"`areas` must be a GeoSeries or GeoDataFrame of polygons, got {type(areas).__name__}"
        )
    crs = areas.crs
    if crs is None or not crs.is_projected:
        raise InputError(
            f"`areas` must be in a projected, metric CRS (e.g. EPSG:32651 for Shenyang), got {crs}; "
            "reproject with `areas.to_crs(32651)`"
        )
    default = DEFAULT_LOCAL_SPACING_M if local_spacing_m is None else float(local_spacing_m)
    geoms = areas.geometry.to_numpy() if isinstance(areas, gpd.GeoDataFrame) else areas.to_numpy()
    spacing = np.full(len(geoms), default)
    if isinstance(areas, gpd.GeoDataFrame) and "local_spacing_m" in areas.columns:
        given = areas["local_spacing_m"].to_numpy(dtype=float)
        spacing = np.where(np.isnan(given), default, given)
    bad = ~(spacing > 0)
    if bad.any():
        raise InputError(
            f"`local_spacing_m` must be > 0 metres; areas {first_ids(areas.index[bad])} have "
            f"{spacing[bad][0]!r}"
        )
    keep = np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)
    return geoms[keep], spacing[keep], crs


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
        Points whose ``attrs["provenance"]`` says they are a stand-in.
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
    gdf.attrs[ATTR] = STAND_IN_POINTS
    return gdf


def settlement_streets(
    points,
    *,
    boundary=None,
    population: str = "population",
    arterial_spacing_m: float = 450.0,
    urban_per_cell: float = 1500.0,
    missing_share_urban: float = 0.05,
    missing_share_rural: float = 0.35,
    jitter_m: float = 10.0,
    seed: int = 0,
) -> StreetNetwork:
    """A connected synthetic street network where people live: the stand-in of a city with no OSM streets.

    Built on square arterial cells of ``arterial_spacing_m`` (400-500 m between arterials in Chinese cities):

    1. A cell is built up when a residential point lies in it; an *urban* cell (at least `urban_per_cell`
       residents, counting its 8 neighbours at half weight) also builds up its 8 neighbours, so that towns
       have streets around their edges.
    2. Every built-up cell gets arterials on its four sides and local streets every quarter of a cell
       (112.5 m at 450 m) in between; ``missing_share_*`` of the local links are left out (more in villages,
       where streets are sparser) and nodes are moved by up to ``jitter_m``.
    3. Separate settlements are joined by country roads: a minimum spanning tree over the settlements (by
       the straight distance between their nearest cells) drawn as L-shaped arterials along cell borders.
    4. Cells whose centre lies outside ``boundary`` (if given) are not built up, except by country roads.

    Parameters
    ----------
    points
        GeoDataFrame of residential points in a projected (metric) CRS with a `population` column.
    boundary
        Polygon(s) in the same CRS that streets stay inside (the study area), or None.
    population
        Column of `points` holding residents.
    arterial_spacing_m, urban_per_cell, missing_share_urban, missing_share_rural, jitter_m
        See the steps above.
    seed
        Seed of the random choices; the same inputs and seed give the same network.

    Returns
    -------
    StreetNetwork
        Connected; ``source="synthetic"``, ``stand_in=True``, straight segments.
    """
    import shapely
    from scipy import ndimage
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial import cKDTree

    crs = pyproj.CRS.from_user_input(points.crs) if points.crs is not None else None
    if crs is None or not crs.is_projected:
        raise InputError(
            "`points` must be in a projected (metric) CRS; reproject with gdf.to_crs(<UTM EPSG>)"
        )
    rng = np.random.default_rng(seed)
    a = float(arterial_spacing_m)
    sub = 4  # local streets per cell side
    step = a / sub
    x = points.geometry.x.to_numpy()
    y = points.geometry.y.to_numpy()
    pop = points[population].to_numpy(dtype=float)
    x0 = np.floor(x.min() / a) * a - 2 * a
    y0 = np.floor(y.min() / a) * a - 2 * a
    ci = ((x - x0) // a).astype(np.int64)
    cj = ((y - y0) // a).astype(np.int64)
    shape = (int(ci.max()) + 3, int(cj.max()) + 3)
    people = np.zeros(shape)
    np.add.at(people, (ci, cj), pop)
    occupied = people > 0
    kernel = np.array([[0.5, 0.5, 0.5], [0.5, 1.0, 0.5], [0.5, 0.5, 0.5]])
    urban = ndimage.convolve(people, kernel, mode="constant") >= urban_per_cell
    urban &= occupied
    built = occupied | ndimage.binary_dilation(urban, structure=np.ones((3, 3), dtype=bool))
    if boundary is not None:
        bi, bj = np.nonzero(built)
        area = shapely.union_all(np.asarray(getattr(boundary, "values", boundary)).ravel())
        shapely.prepare(area)
        inside = shapely.contains_xy(area, x0 + (bi + 0.5) * a, y0 + (bj + 0.5) * a)
        built[bi[~inside], bj[~inside]] = False
        built[ci, cj] = True  # a cell holding people always has streets
    urban_cells = ndimage.binary_dilation(urban, structure=np.ones((3, 3), dtype=bool)) & built

    # country roads: join the settlements (8-connected groups of built cells) by a spanning tree
    labels, n_groups = ndimage.label(built, structure=np.ones((3, 3), dtype=bool))
    road_h: list[tuple[int, int, int]] = []  # (row j, from i, to i) along the cell border line j
    road_v: list[tuple[int, int, int]] = []  # (column i, from j, to j)
    if n_groups > 1:
        gi, gj = np.nonzero(built)
        glab = labels[gi, gj] - 1
        tree = cKDTree(np.c_[gi, gj])
        # candidate links: for each cell, its nearest cells of other groups among the k nearest cells
        k = min(64, len(gi))
        dist, idx = tree.query(np.c_[gi, gj], k=k)
        other = glab[idx] != glab[:, None]
        rows, cols = np.nonzero(other)
        near = idx[rows, cols]
        g1 = np.minimum(glab[rows], glab[near])
        g2 = np.maximum(glab[rows], glab[near])
        d = dist[rows, cols]
        # groups with no other group among their k nearest cells: link the groups' first cells
        reps = np.array([np.flatnonzero(glab == g)[0] for g in range(n_groups)])
        rd, ri = cKDTree(np.c_[gi[reps], gj[reps]]).query(np.c_[gi[reps], gj[reps]], k=min(6, n_groups))
        rg = np.repeat(np.arange(n_groups), rd.shape[1] - 1)
        rh = ri[:, 1:].ravel()
        g1 = np.concatenate([g1, np.minimum(rg, rh)])
        g2 = np.concatenate([g2, np.maximum(rg, rh)])
        d = np.concatenate([d, rd[:, 1:].ravel() * 1.0001])
        a_cell = np.concatenate([rows, reps[rg]])
        b_cell = np.concatenate([near, reps[rh]])
        order = np.lexsort((b_cell, a_cell, d, g2, g1))
        g1, g2, d, a_cell, b_cell = g1[order], g2[order], d[order], a_cell[order], b_cell[order]
        first = np.ones(len(g1), bool)
        first[1:] = (g1[1:] != g1[:-1]) | (g2[1:] != g2[:-1])
        g1, g2, d, a_cell, b_cell = g1[first], g2[first], d[first], a_cell[first], b_cell[first]
        best = {
            (int(p), int(q)): (float(w), int(ca), int(cb))
            for p, q, w, ca, cb in zip(g1, g2, d, a_cell, b_cell, strict=True)
        }
        keys = sorted(best)
        ga = np.array([kk[0] for kk in keys])
        gb = np.array([kk[1] for kk in keys])
        w = np.array([best[kk][0] for kk in keys]) + 1e-9
        mst = minimum_spanning_tree(sp.csr_array((w, (ga, gb)), shape=(n_groups, n_groups))).tocoo()
        for g1, g2 in zip(mst.row, mst.col, strict=True):
            key = (min(g1, g2), max(g1, g2))
            _, c1, c2 = best[key]
            i1, j1, i2, j2 = int(gi[c1]), int(gj[c1]), int(gi[c2]), int(gj[c2])
            road_h.append((j1, min(i1, i2), max(i1, i2)))  # along the lower border of row j1
            road_v.append((i2, min(j1, j2), max(j1, j2)))  # along the left border of column i2

    # lattice nodes: (I, J) with I = sub * i + k; key = I * M + J
    m_big = (shape[1] + 2) * sub + 1
    bi, bj = np.nonzero(built)
    k = np.arange(sub + 1)
    big_i = (bi[:, None, None] * sub + k[None, :, None]).repeat(sub + 1, axis=2)
    big_j = (bj[:, None, None] * sub + k[None, None, :]).repeat(sub + 1, axis=1)
    cell_urban = urban_cells[bi, bj]
    # edges inside each built cell: horizontal (I, J)-(I+1, J) and vertical (I, J)-(I, J+1)
    hi = big_i[:, :-1, :].reshape(len(bi), -1)
    hj = big_j[:, :-1, :].reshape(len(bi), -1)
    vi = big_i[:, :, :-1].reshape(len(bi), -1)
    vj = big_j[:, :, :-1].reshape(len(bi), -1)
    e_i = np.concatenate([hi.ravel(), vi.ravel()])
    e_j = np.concatenate([hj.ravel(), vj.ravel()])
    e_horizontal = np.concatenate([np.ones(hi.size, bool), np.zeros(vi.size, bool)])
    e_urban = np.concatenate([np.repeat(cell_urban, hi.shape[1]), np.repeat(cell_urban, vi.shape[1])])
    # a horizontal edge lies on an arterial when its J is on a cell border, a vertical one when its I is
    arterial = np.where(e_horizontal, e_j % sub == 0, e_i % sub == 0)
    missing = np.where(e_urban, missing_share_urban, missing_share_rural)
    keep = arterial | (rng.random(len(e_i)) >= missing)
    e_i, e_j, e_horizontal = e_i[keep], e_j[keep], e_horizontal[keep]
    # country roads along cell borders
    road_i, road_j, road_h_flag = [], [], []
    for j, i_from, i_to in road_h:
        big = np.arange(i_from * sub, i_to * sub)
        road_i.append(big)
        road_j.append(np.full(len(big), j * sub))
        road_h_flag.append(np.ones(len(big), bool))
    for i, j_from, j_to in road_v:
        big = np.arange(j_from * sub, j_to * sub)
        road_i.append(np.full(len(big), i * sub))
        road_j.append(big)
        road_h_flag.append(np.zeros(len(big), bool))
    if road_i:
        e_i = np.concatenate([e_i, *road_i])
        e_j = np.concatenate([e_j, *road_j])
        e_horizontal = np.concatenate([e_horizontal, *road_h_flag])
    start = e_i * m_big + e_j
    end = np.where(e_horizontal, (e_i + 1) * m_big + e_j, e_i * m_big + e_j + 1)
    pair = np.unique(np.c_[start, end], axis=0)
    keys, inverse = np.unique(pair.ravel(), return_inverse=True)
    u, v = inverse.reshape(-1, 2).T
    node_i = keys // m_big
    node_j = keys % m_big
    nx_ = x0 + node_i * step + rng.uniform(-jitter_m, jitter_m, len(keys))
    ny_ = y0 + node_j * step + rng.uniform(-jitter_m, jitter_m, len(keys))
    length = np.hypot(nx_[u] - nx_[v], ny_[u] - ny_[v])
    net = StreetNetwork(
        node_id=keys.astype(np.int64),
        x=nx_,
        y=ny_,
        edge_u=u.astype(np.int64),
        edge_v=v.astype(np.int64),
        length_m=length,
        crs=crs,
        source="synthetic",
        provenance=STAND_IN_STREETS,
        description=(
            f"SYNTHETIC STAND-IN streets where people live: {int(built.sum()):,} built-up cells of "
            f"{a:g} m, {n_groups:,} settlements joined by country roads"
        ),
    )

    return largest_part(net)


#: ``highway`` values of real roads that `streets_on_roads` keeps as walkable arterials.
ARTERIAL_HIGHWAYS = frozenset({"trunk", "trunk_link", "primary", "primary_link"})
#: ``highway`` values of real roads that `streets_on_roads` treats as barriers (not walkable, not crossed).
BARRIER_HIGHWAYS = frozenset({"motorway", "motorway_link"})
#: The exact label of a network of real major roads and synthetic local streets, in every output.
ROADS_STAND_IN_LABEL = "real major roads from OpenStreetMap, ODbL; SYNTHETIC local streets"
ROADS_STAND_IN_LABEL_ZH = "真实主干道（© OpenStreetMap 贡献者，ODbL）；合成的支路（非真实街道）"


def streets_on_roads(
    points,
    roads,
    *,
    boundary=None,
    population: str = "population",
    seed: int = 0,
    **settlement,
) -> StreetNetwork:
    """A stand-in street network on real major roads: real arterials, real barriers, synthetic local streets.

    1. Synthetic local streets where people live: `settlement_streets` of `points` (same options).
    2. Real motorways (``highway`` in `BARRIER_HIGHWAYS`) are barriers: every synthetic street that touches
       one is removed, so walks cross a motorway only along a real road that crosses it (a bridge or an
       underpass). Motorways themselves are not walkable (`planner.network.WALK_RULE`).
    3. Real trunk and primary roads (`ARTERIAL_HIGHWAYS`) are the walkable arterials, one segment per pair of
       consecutive vertices; ways that share a vertex meet there (roads crossing without one, on a bridge,
       do not). Where a synthetic street crosses a real arterial, both are split at the crossing and meet in
       a new node (a junction); a road vertex and a crossing at the same point (within 1 cm) are one node.
    4. A part that the motorways would cut off entirely (no real arterial crosses into it: the ring and radial
       expressways around outer settlements) keeps one of its removed synthetic streets per part, standing in
       for the underpass it must have (first in street order; counted in ``barrier_crossings_kept``). The
       largest connected part is kept (anything else is counted in ``dropped_nodes``).

    Parameters
    ----------
    points
        Residential points in a projected (metric) CRS with a `population` column (as `settlement_streets`).
    roads
        GeoDataFrame of real roads (LineStrings or MultiLineStrings, any CRS) with a ``highway`` column,
        e.g. `planner.datasets.shenyang_major_roads`; other ``highway`` values are ignored. Its
        ``attrs["provenance"]`` (`planner.provenance`), if any, gives the origin and date of the result's
        record.
    boundary, population, seed, settlement
        Passed on to `settlement_streets`.

    Returns
    -------
    StreetNetwork
        Straight segments; ``source="synthetic"``, ``stand_in=True``, ``description`` and the provenance
        label `ROADS_STAND_IN_LABEL` exactly; ``meta`` counts ``real_road_segments``, ``real_road_km``,
        ``barrier_cuts`` (synthetic streets removed at motorways), ``barrier_crossings_kept`` and
        ``junctions``.

    Raises
    ------
    InputError
        `roads` is not a GeoDataFrame with a CRS and a ``highway`` column, or holds no arterial.
    """
    import geopandas as gpd
    import shapely

    from planner.network.core import OSM_LICENCE, assemble
    from planner.provenance import provenance_of

    if not isinstance(roads, gpd.GeoDataFrame) or roads.crs is None or "highway" not in roads.columns:
        raise InputError(
            "`roads` must be a GeoDataFrame of road lines with a CRS and a `highway` column (e.g. "
            f"planner.datasets.shenyang_major_roads()), got {type(roads).__name__}"
            + (f" with columns {list(roads.columns)}" if isinstance(roads, gpd.GeoDataFrame) else "")
        )
    local = settlement_streets(points, boundary=boundary, population=population, seed=seed, **settlement)
    crs = local.crs
    lines = roads.to_crs(crs).explode(index_parts=False)
    lines = lines[lines.geom_type == "LineString"]
    highway = lines["highway"].astype(str).to_numpy()
    arterial_xy, arterial_way = _segments(
        lines.geometry.to_numpy()[np.isin(highway, list(ARTERIAL_HIGHWAYS))]
    )
    barrier_xy, _ = _segments(lines.geometry.to_numpy()[np.isin(highway, list(BARRIER_HIGHWAYS))])
    if len(arterial_xy) == 0:
        raise InputError(
            f"`roads` holds no arterial (highway in {sorted(ARTERIAL_HIGHWAYS)}); its highway values are "
            f"{sorted(set(highway))[:10]}"
        )

    # 2. synthetic streets touching a motorway go
    lx = np.stack([local.x[local.edge_u], local.y[local.edge_u]], axis=1)
    ly = np.stack([local.x[local.edge_v], local.y[local.edge_v]], axis=1)
    local_lines = shapely.linestrings(np.stack([lx, ly], axis=1))
    tree = shapely.STRtree(local_lines)
    keep = np.ones(local.n_edges, dtype=bool)
    if len(barrier_xy):
        _, hit = tree.query(shapely.linestrings(barrier_xy), predicate="intersects")
        keep[hit] = False
    n_cut = int((~keep).sum())

    # 3. crossings of the remaining synthetic streets with the real arterials
    road_lines = shapely.linestrings(arterial_xy)
    a_idx, l_idx = tree.query(road_lines, predicate="intersects")
    sel = keep[l_idx]
    a_idx, l_idx = a_idx[sel], l_idx[sel]
    t, s, ok = _crossing(lx[l_idx], ly[l_idx], arterial_xy[a_idx, 0], arterial_xy[a_idx, 1])
    a_idx, l_idx, t, s = a_idx[ok], l_idx[ok], t[ok], s[ok]
    cross_xy = lx[l_idx] + t[:, None] * (ly[l_idx] - lx[l_idx])

    # road vertices and crossings become nodes, one per point (1 cm)
    extra_xy = np.concatenate([arterial_xy[:, 0], arterial_xy[:, 1], cross_xy])
    _, first, inverse = np.unique(np.round(extra_xy, 2), axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    base = int(local.node_id.max()) + 1
    extra_id = base + inverse.astype(np.int64)  # id of each extra point
    n_seg = len(arterial_xy)
    seg_u, seg_v = extra_id[:n_seg], extra_id[n_seg : 2 * n_seg]
    cross_id = extra_id[2 * n_seg :]

    lu, lv = _split(local.node_id[local.edge_u], local.node_id[local.edge_v], l_idx, t, cross_id, keep=keep)
    ru, rv = _split(seg_u, seg_v, a_idx, s, cross_id)
    cut = np.flatnonzero(~keep)
    restored = _reconnect(
        np.concatenate([lu, ru]),
        np.concatenate([lv, rv]),
        local.node_id[local.edge_u[cut]],
        local.node_id[local.edge_v[cut]],
    )
    lu = np.concatenate([lu, local.node_id[local.edge_u[cut[restored]]]])
    lv = np.concatenate([lv, local.node_id[local.edge_v[cut[restored]]]])
    node_id = np.concatenate([local.node_id, base + np.arange(len(first), dtype=np.int64)])
    x = np.concatenate([local.x, extra_xy[first, 0]])
    y = np.concatenate([local.y, extra_xy[first, 1]])
    road_km = float(np.hypot(*(arterial_xy[:, 1] - arterial_xy[:, 0]).T).sum() / 1000.0)
    prov = provenance_of(roads)
    source = Source(
        "streets",
        real=False,
        what=ROADS_STAND_IN_LABEL,
        what_zh=ROADS_STAND_IN_LABEL_ZH,
        origin="; ".join(s.origin for s in prov.sources if s.origin) or "roads given to streets_on_roads",
        licence="; ".join(dict.fromkeys(s.licence for s in prov.sources if s.licence)) or OSM_LICENCE,
        date="; ".join(s.date for s in prov.sources if s.date),
    )
    net = assemble(
        node_id,
        x,
        y,
        np.concatenate([lu, ru]),
        np.concatenate([lv, rv]),
        None,
        src_crs=crs,
        crs=crs,
        source="synthetic",
        description=ROADS_STAND_IN_LABEL,
        meta={
            "real_road_segments": len(arterial_xy),
            "real_road_ways": len(np.unique(arterial_way)),
            "real_road_km": round(road_km, 1),
            "barrier_cuts": n_cut,
            "barrier_crossings_kept": int(restored.sum()),
            "junctions": len(np.unique(cross_id)),
        },
    )
    net = dataclasses.replace(net, provenance=Provenance((source,)))
    log.info(
        "%s: %s real arterial km, %s junctions with synthetic streets, %s synthetic streets cut at motorways",
        net.summary(),
        f"{road_km:,.0f}",
        f"{net.meta['junctions']:,}",
        f"{n_cut:,}",
    )
    return net


def _reconnect(u, v, cut_u, cut_v) -> np.ndarray:
    """Which of the cut edges to put back so that no part is left cut off: one per part, in edge order.

    Kruskal's rule over the parts of the graph ``u``-``v``: a cut edge is put back when it joins two parts
    not joined yet.
    """
    from scipy.sparse.csgraph import connected_components

    ids, inverse = np.unique(np.concatenate([u, v, cut_u, cut_v]), return_inverse=True)
    pos = inverse.ravel()
    m, k = len(u), len(cut_u)
    graph = sp.coo_array((np.ones(m), (pos[:m], pos[m : 2 * m])), shape=(len(ids), len(ids)))
    _, label = connected_components(graph, directed=False)
    parent = np.arange(label.max() + 1)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    put_back = np.zeros(k, dtype=bool)
    for i, (a, b) in enumerate(zip(label[pos[2 * m : 2 * m + k]], label[pos[2 * m + k :]], strict=True)):
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            put_back[i] = True
    return put_back


def _segments(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive vertex pairs of LineStrings, shape (k, 2, 2), and the line each comes from."""
    import shapely

    if len(lines) == 0:
        return np.empty((0, 2, 2)), np.empty(0, dtype=np.int64)
    xy, which = shapely.get_coordinates(lines, return_index=True)
    same = which[1:] == which[:-1]
    start = np.flatnonzero(same)
    return np.stack([xy[start], xy[start + 1]], axis=1), which[start]


def _crossing(p0, p1, q0, q1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where segments p0-p1 and q0-q1 cross: positions t (along p) and s (along q) in [0, 1], and which do.

    Parallel segments (touching or overlapping) count as not crossing.
    """
    r = p1 - p0
    d = q1 - q0
    w = q0 - p0
    denom = r[:, 0] * d[:, 1] - r[:, 1] * d[:, 0]
    scale = np.hypot(*r.T) * np.hypot(*d.T)
    ok = np.abs(denom) > 1e-9 * np.maximum(scale, 1e-12)
    safe = np.where(ok, denom, 1.0)
    t = (w[:, 0] * d[:, 1] - w[:, 1] * d[:, 0]) / safe
    s = (w[:, 0] * r[:, 1] - w[:, 1] * r[:, 0]) / safe
    ok &= (t >= 0) & (t <= 1) & (s >= 0) & (s <= 1)
    return np.clip(t, 0, 1), np.clip(s, 0, 1), ok


def _split(u, v, edge, position, node, *, keep=None) -> tuple[np.ndarray, np.ndarray]:
    """Segments u-v split at the nodes placed on them (``node`` at ``position`` in [0, 1] along ``edge``).

    Returns the end ids of the pieces; edges not in ``keep`` (a mask) are left out.
    """
    n = len(u)
    keep = np.ones(n, dtype=bool) if keep is None else keep
    rows = np.flatnonzero(keep)
    e = np.concatenate([rows, rows, edge])
    pos = np.concatenate([np.zeros(len(rows)), np.ones(len(rows)), position])
    ids = np.concatenate([u[rows], v[rows], node])
    order = np.lexsort((ids, pos, e))
    e, ids = e[order], ids[order]
    same = e[1:] == e[:-1]
    a, b = ids[:-1][same], ids[1:][same]
    distinct = a != b
    return a[distinct], b[distinct]
