"""Sites: existing facilities from files, generated candidate sites, and the stand-in existing stations.

Every site layer is a GeoDataFrame in WGS84 with a unique index ``site_id`` whose ``attrs["provenance"]``
(`planner.provenance`) says whether the sites are real or stand-ins (generated, or the stand-in stations);
every output labels the stand-ins.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from planner._errors import DataError, InputError, PlannerWarning
from planner._validate import check_points, first_ids, raise_if, weight_problems
from planner.coords import utm_crs_of
from planner.io import read_points
from planner.provenance import Source, with_provenance

log = logging.getLogger(__name__)

#: What generated candidates and the stand-in stations are (`planner.provenance`).
GENERATED_CANDIDATES = Source(
    "sites",
    real=False,
    what="STAND-IN candidate sites (generated at street nodes, no list of free plots)",
    what_zh="替代的候选点位（在路网节点生成，无可用地块清单）",
    origin="planner.sites.candidates_on_network",
)
STAND_IN_STATIONS = Source(
    "sites",
    real=False,
    what="STAND-IN existing stations (generated, no published list)",
    what_zh="替代的现有养老服务站（生成，无公开名单）",
    origin="planner.sites.stand_in_stations",
)

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
    layer: str | int | None = None,
):
    """Read existing or candidate sites from a file (polygons are replaced by a point inside each).

    Parameters
    ----------
    path
        Any format `planner.io.read_points` reads (CSV, Excel, GeoJSON, GeoPackage, Shapefile, GeoParquet).
    id
        Column of unique site ids (the index ``site_id``); None numbers the rows from 0.
    crs
        Datum of the coordinates: ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"EPSG:<code>"``.
    capacity, cost
        Optional columns of capacity (places, same unit as demand weight) and cost; copied to ``capacity`` and
        ``cost`` (numbers >= 0).
    lon, lat
        CSV coordinate columns, if not found automatically.
    layer
        The sheet of an Excel workbook (name or number) or the layer of a GeoPackage; None: the only sheet
        (several sheets: an error that lists them) or the first layer.

    Returns
    -------
    GeoDataFrame in WGS84, index ``site_id``, the file's columns plus ``capacity``/``cost`` when given,
    ``site_source="file"``; its provenance says real, from the file.
    """
    gdf = read_points(
        path, id=id, crs=crs, lon=lon, lat=lat, index_name="site_id", as_points=True, layer=layer
    )
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
    log.info("sites from file: %d sites", len(gdf))
    name = Path(path).name
    return with_provenance(gdf, Source("sites", real=True, what=f"sites from {name}", origin=name))


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
    ("generated"); a stand-in provenance.
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
        },
        geometry=geom.to_numpy(),
        index=pd.Index([f"{prefix or 'cand'}-{i:04d}" for i in range(1, len(kept_a) + 1)], name="site_id"),
        crs=4326,
    )
    out = with_provenance(out, GENERATED_CANDIDATES)
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
    district_name, capacity, site_source ("stand-in"); a stand-in provenance.
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
    table.index = pd.Index([f"station-{c}" for c in table["community_code"]], name="site_id")
    geometry = demand.geometry.loc[table["demand_id"]].to_crs(4326).to_numpy()
    out = gpd.GeoDataFrame(table, geometry=geometry, crs=4326).sort_index()
    out = with_provenance(out, STAND_IN_STATIONS)
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


# --------------------------------------------------------------------------------------------- from OSM

#: Values of ``social_facility:for`` (and ``healthcare:for``) that mean older people (OSM wiki,
#: Key:social_facility:for: "senior"; "elderly" and "aged" are in use for the same).
SENIOR_VALUES = frozenset({"senior", "seniors", "elderly", "aged"})

#: What each kind of OSM facility is, as ``(rule, tag condition)`` rows; a feature matches a kind when any row
#: holds. Sources: OpenStreetMap wiki pages Tag:amenity=social_facility, Key:social_facility,
#: Key:social_facility:for, Tag:amenity=nursing_home, Tag:healthcare=nursing_home, Key:healthcare:speciality
#: and Tag:amenity=community_centre (read 2026). "for seniors" means a `SENIOR_VALUES` value in
#: ``social_facility:for`` or ``healthcare:for``; "not for another group" means no such tag, or one that
#: names seniors (``social_facility:for=child`` excludes).
OSM_SITE_KINDS = {
    "elderly_care": (
        ("amenity=social_facility + social_facility:for=senior", "amenity=social_facility, for seniors"),
        ("social_facility=nursing_home|assisted_living", "not for another group"),
        ("social_facility=day_care|group_home|outreach|... + social_facility:for=senior", "for seniors"),
        ("amenity=nursing_home", "not for another group"),
        ("healthcare=nursing_home", "not for another group"),
        ("healthcare=* + healthcare:for=senior or healthcare:speciality=geriatrics", "for seniors"),
    ),
    "community_centre": (("amenity=community_centre", "candidate plots: community centres"),),
}

#: OSM keys `sites_from_osm` reads (all other tags are kept as they are in ``tags``).
OSM_SITE_KEYS = (
    "amenity",
    "social_facility",
    "social_facility:for",
    "healthcare",
    "healthcare:for",
    "healthcare:speciality",
)


def osm_tag_table(kinds=None) -> str:
    """The tag table of `OSM_SITE_KINDS` as text (for messages and docs)."""
    rows = []
    for kind in kinds or OSM_SITE_KINDS:
        for rule, note in OSM_SITE_KINDS[kind]:
            rows.append(f"  {kind}: {rule} ({note})")
    return "\n".join(rows)


def _values(tags, key: str) -> list[set[str]]:
    """Per row, the set of ``;``-separated values of a tag (empty when missing)."""
    if key not in tags.columns:
        return [set()] * len(tags)
    out = []
    for value in tags[key].tolist():
        if isinstance(value, str):
            out.append({p.strip().lower() for p in value.split(";") if p.strip()})
        else:
            out.append(set())
    return out


def osm_site_kind(tags) -> np.ndarray:
    """The kind (`OSM_SITE_KINDS`) of each OSM feature, "" when none; elderly care wins over community centre.

    Parameters
    ----------
    tags
        One row per feature, one column per OSM key (``amenity``, ``social_facility``, ...); missing is
        None / NaN.

    Examples
    --------
    >>> osm_site_kind(pd.DataFrame({"amenity": ["social_facility", "social_facility", "nursing_home",
    ...                                         "community_centre"],
    ...                             "social_facility:for": ["senior", "child", None, None]})).tolist()
    ['elderly_care', '', 'elderly_care', 'community_centre']
    """
    amenity = _values(tags, "amenity")
    facility = _values(tags, "social_facility")
    healthcare = _values(tags, "healthcare")
    speciality = _values(tags, "healthcare:speciality")
    for_ = [
        a | b
        for a, b in zip(_values(tags, "social_facility:for"), _values(tags, "healthcare:for"), strict=True)
    ]
    kinds = []
    for am, fac, hc, spec, who in zip(amenity, facility, healthcare, speciality, for_, strict=True):
        seniors = bool(who & SENIOR_VALUES)
        not_other = not who or seniors
        elderly = (
            ("social_facility" in am and seniors)
            or (bool(fac & {"nursing_home", "assisted_living"}) and not_other)
            or (bool(fac) and seniors)
            or ("nursing_home" in am and not_other)
            or ("nursing_home" in hc and not_other)
            or (bool(hc) and (seniors or "geriatrics" in spec))
        )
        kinds.append("elderly_care" if elderly else "community_centre" if "community_centre" in am else "")
    return np.array(kinds, dtype=object)


def sites_from_osm(source, *, kinds=("elderly_care",), prefix: str | None = None):
    """Existing facilities (or candidate plots) from OpenStreetMap: one point per facility.

    Nodes, ways and relations whose tags match a kind of `OSM_SITE_KINDS` (see `osm_site_kind` and the tag
    table there) become one point each: the node itself, or the centroid of a way's or relation's shape (a
    point on its surface when the centroid falls outside, e.g. for a U-shaped building).

    Parameters
    ----------
    source
        An ``.osm.pbf`` / ``.pbf`` file (read with pyrosm), an ``.osm`` / ``.osm.bz2`` / ``.xml`` file
        (osmnx), or a place name to download through osmnx (e.g. "Heping District, Shenyang, China").
    kinds
        Which kinds to keep: ``"elderly_care"`` (default) and/or ``"community_centre"`` (candidate plots).
    prefix
        Start of the site ids; None: ``"osm"`` (ids ``"osm-node-123"``, ``"osm-way-456"``,
        ``"osm-relation-7"``: the OSM type and id, as text).

    Returns
    -------
    GeoDataFrame in WGS84, index ``site_id``, columns name, osm_type, osm_id, kind, tags (every OSM tag of
    the feature, as JSON text), site_source ("osm"); ``attrs["provenance"]`` says real,
    from OpenStreetMap (ODbL).

    Raises
    ------
    InputError
        Unknown kinds, or a file that does not exist.
    DataError
        No facility of the asked kinds in the data (the message lists the tag table).
    """
    import json

    import geopandas as gpd

    from planner.network.core import OSM_LICENCE

    if isinstance(kinds, str):
        kinds = (kinds,)
    unknown = [k for k in kinds if k not in OSM_SITE_KINDS]
    if unknown or not kinds:
        raise InputError(
            f"`kinds` {list(kinds)!r} must be among {list(OSM_SITE_KINDS)}, e.g. ('elderly_care',)"
        )
    features, origin = _osm_features(source)
    tags = features.drop(columns=[features.geometry.name, "osm_type", "osm_id"])
    kind = osm_site_kind(tags)
    keep = np.isin(kind, list(kinds))
    if not keep.any():
        raise DataError(
            f"{origin} has no OpenStreetMap facility of the kinds {list(kinds)} ({len(features):,} "
            "features with amenity / social_facility / healthcare tags read). A feature counts when its "
            "tags match:\n"
            f"{osm_tag_table(kinds)}\nAdd the facilities to OpenStreetMap, or give them as a file "
            "(sites_from_file)."
        )
    found = features.loc[keep]
    geoms = found.geometry.to_numpy()
    points = np.array([_one_point(g) for g in geoms], dtype=object)
    table = tags.loc[keep]
    tag_text = [
        json.dumps({k: v for k, v in row.items() if isinstance(v, str)}, ensure_ascii=False, sort_keys=True)
        for row in table.to_dict("records")
    ]
    name = table["name"] if "name" in table.columns else pd.Series(None, index=table.index, dtype=object)
    start = prefix or "osm"
    out = gpd.GeoDataFrame(
        {
            "name": name.where(name.notna(), None).to_numpy(dtype=object),
            "osm_type": found["osm_type"].to_numpy(),
            "osm_id": found["osm_id"].astype("int64").to_numpy(),
            "kind": kind[keep],
            "tags": tag_text,
            "site_source": "osm",
        },
        geometry=points,
        index=pd.Index(
            [f"{start}-{t}-{i}" for t, i in zip(found["osm_type"], found["osm_id"], strict=True)],
            name="site_id",
        ),
        crs=4326,
    ).sort_index()
    source_record = Source(
        "sites",
        real=True,
        what=f"{', '.join(kinds)} facilities from OpenStreetMap ({origin})",
        what_zh=f"OpenStreetMap 养老设施（{origin}）",
        origin=str(origin),
        licence=OSM_LICENCE,
    )
    out = with_provenance(out, source_record)
    log.info(
        "sites from OpenStreetMap (%s): %d %s (%d nodes, %d ways, %d relations)",
        origin,
        len(out),
        " / ".join(kinds),
        int((out["osm_type"] == "node").sum()),
        int((out["osm_type"] == "way").sum()),
        int((out["osm_type"] == "relation").sum()),
    )
    return out


def _one_point(geom):
    """The point of a facility: itself, else its centroid when inside its shape, else a point on it."""
    import shapely

    if geom is None or geom.is_empty or geom.geom_type == "Point":
        return geom
    centroid = geom.centroid
    return (
        centroid
        if geom.geom_type not in {"Polygon", "MultiPolygon"} or geom.contains(centroid)
        else (shapely.point_on_surface(geom))
    )


#: osmnx / pyrosm filter: every feature that could match a kind (`osm_site_kind` then decides).
_OSM_QUERY = {
    "amenity": ["social_facility", "nursing_home", "community_centre"],
    "social_facility": True,
    "healthcare": True,
}


def _osm_features(source):
    """Features with amenity / social_facility / healthcare tags: osm_type, osm_id, a column per tag."""
    import json
    from pathlib import Path

    import geopandas as gpd

    path = Path(source) if isinstance(source, (str, Path)) else None
    name = path.name.lower() if path is not None else ""
    if path is not None and name.endswith((".pbf", ".osm", ".osm.bz2", ".xml")):
        if not path.is_file():
            raise InputError(
                f"`source` {str(path)!r} is not a file; give an .osm.pbf or .osm extract (e.g. from "
                "https://download.geofabrik.de) or a place name"
            )
        origin = path.name
        if name.endswith(".pbf"):
            import pyrosm

            osm = pyrosm.OSM(str(path))
            found = osm.get_data_by_custom_criteria(
                custom_filter=dict(_OSM_QUERY),
                filter_type="keep",
                keep_nodes=True,
                keep_ways=True,
                keep_relations=True,
            )
            if found is None or len(found) == 0:
                return gpd.GeoDataFrame({"osm_type": [], "osm_id": []}, geometry=[], crs=4326), origin
            extra = [
                json.loads(t) if isinstance(t, str) else t if isinstance(t, dict) else {}
                for t in found.get("tags", [None] * len(found))
            ]
            skip = {
                "id",
                "osm_type",
                "tags",
                "lon",
                "lat",
                "visible",
                "version",
                "timestamp",
                "changeset",
                "geometry",
            }
            columns = {c: found[c].to_numpy(dtype=object) for c in found.columns if c not in skip}
            table = pd.DataFrame(columns)
            table = pd.concat([table, pd.DataFrame(extra).reindex(range(len(found)))], axis=1)
            table = table.loc[:, ~table.columns.duplicated()]
            table["osm_type"] = found["osm_type"].astype(str).to_numpy()
            table["osm_id"] = found["id"].astype("int64").to_numpy()
            return gpd.GeoDataFrame(table, geometry=found.geometry.to_numpy(), crs=4326), origin
        import osmnx as ox

        try:
            found = ox.features_from_xml(path, tags=dict(_OSM_QUERY))
        except ox._errors.InsufficientResponseError:
            return gpd.GeoDataFrame({"osm_type": [], "osm_id": []}, geometry=[], crs=4326), origin
    elif isinstance(source, str) and source.strip():
        import osmnx as ox

        origin = f"OSM place {source!r}"
        try:
            found = ox.features_from_place(source, tags=dict(_OSM_QUERY))
        except ox._errors.InsufficientResponseError:
            return gpd.GeoDataFrame({"osm_type": [], "osm_id": []}, geometry=[], crs=4326), origin
        except Exception as exc:
            raise DataError(
                f"downloading facilities of {origin} failed ({type(exc).__name__}: {exc}); check the "
                "place name and the internet connection, or give an .osm.pbf extract"
            ) from exc
    else:
        raise InputError(f"`source` must be an .osm.pbf / .osm file or a place name, got {source!r}")
    found = found.reset_index()
    table = found.rename(
        columns={"element": "osm_type", "element_type": "osm_type", "id": "osm_id", "osmid": "osm_id"}
    )
    return gpd.GeoDataFrame(table, geometry=found.geometry.name, crs=4326), origin
