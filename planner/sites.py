"""Sites: existing facilities from files, generated candidate sites, and the stand-in existing stations.

Every site layer is a GeoDataFrame in WGS84 with a unique index ``site_id`` and a ``stand_in`` column (True
for generated or stand-in sites, which every output labels).
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pandas as pd

from planner._errors import InputError, PlannerWarning
from planner._validate import check_points, first_ids, raise_if, weight_problems
from planner.coords import utm_crs_of
from planner.io import read_points

log = logging.getLogger(__name__)

#: Minimum distance (m) between generated candidate sites: the 5-minute life circle's 300 m (GB 50180-2018)
#: halved, so that two candidates can serve neighbouring 5-minute circles.
DEFAULT_MIN_SPACING_M = 150.0

#: Candidates are drawn in proportion to the demand weight within this straight-line distance (m) of a street
#: node; 500 m is the 10-minute life circle's walking distance (GB 50180-2018).
DEMAND_RADIUS_M = 500.0

#: Stand-in capacity of an existing community station: the older residents of the communities it stands for,
#: rounded up to this step.
CAPACITY_STEP = 100

#: A town or township with at least this many villages per `per_communities` gets village stations (one per
#: ``3 x per_communities`` villages): the "larger village clusters".
VILLAGES_PER_STATION_FACTOR = 3


def sites_from_file(
    path,
    *,
    id: str | None = None,
    crs=None,
    capacity: str | None = None,
    cost: str | None = None,
    lon: str | None = None,
    lat: str | None = None,
):
    """Read existing or candidate sites from a file (polygons are replaced by a point inside each).

    Parameters
    ----------
    path
        Any format `planner.io.read_points` reads (CSV, GeoJSON, GeoPackage, Shapefile, GeoParquet).
    id
        Column of unique site ids (the index ``site_id``); None numbers the rows from 0.
    crs
        Datum of the coordinates: ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"EPSG:<code>"``.
    capacity, cost
        Optional columns of capacity (places, same unit as demand weight) and cost; copied to ``capacity`` and
        ``cost`` (numbers >= 0).
    lon, lat
        CSV coordinate columns, if not found automatically.

    Returns
    -------
    GeoDataFrame in WGS84, index ``site_id``, the file's columns plus ``capacity``/``cost`` when given,
    ``site_source="file"`` and ``stand_in=False``.
    """
    gdf = read_points(path, id=id, crs=crs, lon=lon, lat=lat, index_name="site_id", as_points=True)
    problems = []
    for arg, col in (("capacity", capacity), ("cost", cost)):
        if col is None:
            continue
        if col not in gdf.columns:
            problems.append(f"`{arg}` column {col!r} is not in the file; columns are {list(gdf.columns)}")
        else:
            problems += weight_problems(gdf[col], f"{arg} column {col!r}")
    raise_if(problems, f"sites from {path}")
    for arg, col in (("capacity", capacity), ("cost", cost)):
        if col is not None:
            gdf[arg] = pd.to_numeric(gdf[col]).astype(float)
    gdf["site_source"] = "file"
    gdf["stand_in"] = False
    log.info("sites from file: %d sites", len(gdf))
    return gdf


def _thin(x: np.ndarray, y: np.ndarray, order: np.ndarray, n: int, spacing_m: float) -> list[int]:
    """Greedily keep points in ``order`` that are at least ``spacing_m`` from every kept one, up to ``n``."""
    kept: list[int] = []
    if spacing_m <= 0:
        return [int(i) for i in order[:n]]
    cells: dict[tuple[int, int], list[int]] = {}
    s2 = spacing_m * spacing_m
    for i in order:
        cx = math.floor(x[i] / spacing_m)
        cy = math.floor(y[i] / spacing_m)
        ok = True
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in cells.get((cx + dx, cy + dy), ()):
                    if (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 < s2:
                        ok = False
                        break
                if not ok:
                    break
            if not ok:
                break
        if ok:
            kept.append(int(i))
            cells.setdefault((cx, cy), []).append(int(i))
            if len(kept) == n:
                break
    return kept


def candidates_on_network(
    net,
    n: int,
    *,
    weights_gdf=None,
    weight: str | None = None,
    seed: int = 0,
    min_spacing_m: float | None = None,
    prefix: str | None = None,
):
    """Generate ``n`` candidate sites for new centres at street nodes (a labelled stand-in for real sites).

    Nodes are drawn without replacement, in proportion to the demand weight within `DEMAND_RADIUS_M` (500 m)
    of each node when a demand layer is given (nodes with no demand nearby are never drawn), or uniformly
    otherwise (weighted random keys ``u ** (1 / w)``, ties by node position), then thinned greedily so that no
    two candidates are closer than ``min_spacing_m`` (straight line).

    Parameters
    ----------
    net
        A `planner.network.StreetNetwork`.
    n
        Number of candidates wanted (>= 1). When fewer nodes qualify, all that do are returned and a
        `PlannerWarning` says how many.
    weights_gdf
        Optional demand GeoDataFrame (with a CRS) and a weight column, to spread candidates where people are.
    weight
        Weight column of ``weights_gdf``; None uses ``"weight"``.
    seed
        Seed of the draw; the same seed gives the same candidates.
    min_spacing_m
        Minimum distance between candidates; None uses `DEFAULT_MIN_SPACING_M` (150 m).
    prefix
        Start of the site ids (e.g. one per tier, so ids stay distinct); None uses ``"cand"``.

    Returns
    -------
    GeoDataFrame in WGS84, index ``site_id`` (``"cand-0001"``, ... in draw order), columns node (position in
    the network), node_id, demand_nearby (weight within 500 m, NaN without demand), site_source
    ("generated"), stand_in (True).
    """
    import geopandas as gpd
    from scipy.spatial import cKDTree

    from planner.network import StreetNetwork

    if not isinstance(net, StreetNetwork):
        raise InputError(
            f"`net` must be a planner.network.StreetNetwork (see read_network), got {type(net).__name__}"
        )
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"`n` must be a whole number of candidate sites >= 1, got {n!r}")
    spacing = DEFAULT_MIN_SPACING_M if min_spacing_m is None else float(min_spacing_m)
    if not np.isfinite(spacing) or spacing < 0:
        raise InputError(f"`min_spacing_m` must be a distance >= 0 in metres, got {min_spacing_m!r}")
    if net.n_nodes == 0:
        raise InputError("`net` has no nodes; load a street network with streets in it")
    xy = np.column_stack([net.x, net.y])
    if weights_gdf is not None:
        wcol = weight or "weight"
        check_points(weights_gdf, "weights_gdf", weight=wcol)
        pts = weights_gdf.geometry.to_crs(net.crs)
        if not (pts.geom_type == "Point").all():
            pts = pts.representative_point()
        pxy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
        w = pd.to_numeric(weights_gdf[wcol]).to_numpy(dtype=float)
        tree = cKDTree(pxy)
        near = tree.query_ball_point(xy, r=DEMAND_RADIUS_M)
        nearby = np.array([w[idx].sum() if idx else 0.0 for idx in near])
        rel = nearby / nearby.max() if nearby.max() > 0 else nearby
    else:
        nearby = np.full(net.n_nodes, np.nan)
        rel = np.ones(net.n_nodes)
    rng = np.random.default_rng(int(seed))
    u = rng.uniform(size=net.n_nodes)
    with np.errstate(divide="ignore"):
        key = np.where(rel > 0, np.log(u) / np.where(rel > 0, rel, 1.0), -np.inf)
    order = np.lexsort((np.arange(net.n_nodes), -key))
    order = order[np.isfinite(key[order])]
    kept = _thin(net.x, net.y, order, int(n), spacing)
    if len(kept) < n:
        warnings.warn(
            f"candidates_on_network: only {len(kept):,} of the {n:,} candidates requested fit "
            f"({int(np.isfinite(key).sum()):,} eligible nodes, min_spacing_m={spacing:g}); lower "
            "`min_spacing_m` or ask for fewer",
            PlannerWarning,
            stacklevel=2,
        )
    kept_a = np.asarray(kept, dtype=np.int64)
    geom = gpd.GeoSeries(gpd.points_from_xy(net.x[kept_a], net.y[kept_a]), crs=net.crs).to_crs(4326)
    out = gpd.GeoDataFrame(
        {
            "node": kept_a,
            "node_id": net.node_id[kept_a],
            "demand_nearby": nearby[kept_a],
            "site_source": "generated",
            "stand_in": True,
        },
        geometry=geom.to_numpy(),
        index=pd.Index([f"{prefix or 'cand'}-{i:04d}" for i in range(1, len(kept_a) + 1)], name="site_id"),
        crs=4326,
    )
    out.attrs.update(source="generated", stand_in=True)
    log.info(
        "candidate sites (STAND-IN, generated at street nodes): %d of %d nodes, min spacing %g m%s",
        len(out),
        net.n_nodes,
        spacing,
        ", weighted by demand within 500 m" if weights_gdf is not None else "",
    )
    return out


def _spread(x: np.ndarray, y: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Choose ``k`` of the points, spread out: a random first one, then each farthest from those chosen."""
    chosen = [int(rng.integers(len(x)))]
    d = np.hypot(x - x[chosen[0]], y - y[chosen[0]])
    while len(chosen) < k:
        nxt = int(np.argmax(d))  # ties -> first (lowest code)
        chosen.append(nxt)
        d = np.minimum(d, np.hypot(x - x[nxt], y - y[nxt]))
    return chosen


def stand_in_stations(demand, *, per_communities: int = 2, seed: int = 0):
    """The STAND-IN set of existing community elderly-care stations (社区养老服务站); none are published.

    Rule, per sub-district or town (``street_code``), communities in code order:

    * urban communities (``community_kind="community"``): ``ceil(n / per_communities)`` stations, at
      communities spread over the street (a seeded first one, then each farthest from those chosen);
    * villages: only larger clusters get stations: ``n_villages // (3 x per_communities)`` of them
      (`VILLAGES_PER_STATION_FACTOR`), chosen the same way.

    Each station sits at one (seeded) block point of its community. Its ``capacity`` is a stand-in too: the
    older residents (``weight``) of the communities it stands for (the street's total divided by its
    stations),
    rounded up to `CAPACITY_STEP` (100).

    Parameters
    ----------
    demand
        Demand blocks from `planner.demand.estimated_demand` (needs community_code, community_name,
        community_kind, street_code, street_name, district_code, district_name, weight).
    per_communities
        Urban communities per station (>= 1).
    seed
        Seed of the choices; the same seed gives the same stations.

    Returns
    -------
    GeoDataFrame in WGS84, index ``site_id`` (``"station-<community code>"``), columns demand_id (the block
    point used), community_code, community, community_kind, street_code, street_name, district_code,
    district_name, capacity, site_source ("stand-in"), stand_in (True).
    """
    import geopandas as gpd

    need = [
        "community_code",
        "community_name",
        "community_kind",
        "street_code",
        "street_name",
        "district_code",
        "district_name",
        "weight",
    ]
    problems = []
    if not isinstance(demand, gpd.GeoDataFrame):
        problems.append(f"`demand` must be a GeoDataFrame from estimated_demand, got {type(demand).__name__}")
    elif missing := [c for c in need if c not in demand.columns]:
        problems.append(
            f"`demand` lacks columns {missing} (it should come from planner.demand.estimated_demand); "
            f"columns are {list(demand.columns)}"
        )
    if (
        isinstance(per_communities, bool)
        or not isinstance(per_communities, int | np.integer)
        or per_communities < 1
    ):
        problems.append(f"`per_communities` must be a whole number >= 1, got {per_communities!r}")
    raise_if(problems, "stand_in_stations")
    if demand.crs is None:
        raise InputError("`demand` has no CRS; set it with `demand.set_crs(4326)`")
    pts = demand.geometry.to_crs(utm_crs_of(demand))
    blocks = pd.DataFrame(
        {"x": pts.x.to_numpy(), "y": pts.y.to_numpy(), "weight": demand["weight"].to_numpy(dtype=float)},
        index=demand.index,
    )
    blocks["community_code"] = demand["community_code"].to_numpy()
    comm = (
        demand.drop(columns=demand.geometry.name)
        .assign(x=blocks["x"], y=blocks["y"])
        .groupby("community_code", sort=True)
        .agg(
            community_name=("community_name", "first"),
            community_kind=("community_kind", "first"),
            street_code=("street_code", "first"),
            street_name=("street_name", "first"),
            district_code=("district_code", "first"),
            district_name=("district_name", "first"),
            weight=("weight", "sum"),
            x=("x", "mean"),
            y=("y", "mean"),
        )
    )
    rng = np.random.default_rng(int(seed))
    rows = []
    for (_street, kind), group in comm.groupby(["street_code", "community_kind"], sort=True):
        m = len(group)
        if kind == "village":
            k = m // (VILLAGES_PER_STATION_FACTOR * per_communities)
        else:
            k = math.ceil(m / per_communities)
        if k == 0:
            continue
        chosen = _spread(group["x"].to_numpy(), group["y"].to_numpy(), k, rng)
        capacity = math.ceil(group["weight"].sum() / k / CAPACITY_STEP) * CAPACITY_STEP
        for i in chosen:
            code = group.index[i]
            ids = blocks.index[blocks["community_code"].to_numpy() == code]
            block = sorted(ids)[int(rng.integers(len(ids)))]
            rows.append({"community_code": code, "demand_id": block, "capacity": float(capacity)})
    if not rows:
        raise InputError(
            f"`demand` yields no station with per_communities={per_communities}: it has "
            f"{len(comm):,} communities; lower `per_communities`"
        )
    table = pd.DataFrame(rows).merge(comm.drop(columns=["x", "y", "weight"]), on="community_code")
    table = table.rename(columns={"community_name": "community"})
    table["site_source"] = "stand-in"
    table["stand_in"] = True
    table.index = pd.Index([f"station-{c}" for c in table["community_code"]], name="site_id")
    geometry = demand.geometry.loc[table["demand_id"]].to_crs(4326).to_numpy()
    out = gpd.GeoDataFrame(table, geometry=geometry, crs=4326).sort_index()
    out.attrs.update(source="stand-in", stand_in=True)
    if out.index.has_duplicates:  # cannot happen: one station per community at most
        raise InputError(f"duplicate stations: {first_ids(out.index[out.index.duplicated()])}")
    log.info(
        "existing stations (STAND-IN, none published): %d stations (%d in villages) for %d communities, "
        "capacity %s older residents in all",
        len(out),
        int((out["community_kind"] == "village").sum()),
        len(comm),
        f"{out['capacity'].sum():,.0f}",
    )
    return out
