"""Demand (older residents) as weighted points: from a file, from OSM buildings, or the estimated stand-in.

Every demand layer is a GeoDataFrame in WGS84 with a unique index ``demand_id``, a ``weight`` column (people,
usually older residents) and a ``source`` column; ``attrs["provenance"]`` (`planner.provenance`) says whether
it is real or a stand-in (estimated positions).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from planner._errors import DataError, InputError, PlannerWarning
from planner._validate import first_ids, raise_if
from planner.coords import utm_crs_of
from planner.datasets import (  # noqa: F401 - the built-in data, handed on under their old names
    SHENYANG_CENTRE,
    SHENYANG_SHARE_60PLUS,
    SHENYANG_UTM,
    data_dir,
    shenyang_communities,
    shenyang_districts,
    shenyang_streets,
)
from planner.io import read_points
from planner.network.core import OSM_LICENCE
from planner.provenance import Source, provenance_of, with_provenance

log = logging.getLogger(__name__)

#: What `estimated_demand` is (`planner.provenance`): census totals at estimated positions.
ESTIMATED_POSITIONS = Source(
    "demand",
    real=False,
    what="ESTIMATED demand positions (census totals spread over communities)",
    what_zh="估计的需求位置（普查人口分配到社区）",
    origin="planner.demand.estimated_demand",
)

#: Decay length (m) of the density of urban sub-districts away from the urban centre: exp(-d / 4 km).
URBAN_DECAY_M = 4_000.0

#: Districts whose nearest point is farther than this from `SHENYANG_CENTRE` are outer counties; their urban
#: communities gather around the district's own representative point (a stand-in for the county seat).
OUTER_DISTRICT_M = 20_000.0

#: Stand-in assumption: an urban community (社区) holds this many times the residents of a village (村).
URBAN_TO_VILLAGE = 3.0

#: Block points spread this far (m) around their community's estimated position.
BLOCK_RADIUS_M = 250.0

#: OSM ``building=*`` values counted as homes by `demand_from_buildings`, with the storeys assumed when a
#: building has no ``building:levels`` tag (an assumption: apartment blocks ~5 storeys, houses 2,
#: bungalows 1).
RESIDENTIAL_LEVELS = {
    "apartments": 5.0,
    "residential": 5.0,
    "dormitory": 5.0,
    "house": 2.0,
    "detached": 2.0,
    "semidetached_house": 2.0,
    "terrace": 2.0,
    "farm": 2.0,
    "bungalow": 1.0,
}

#: Storeys assumed for untyped buildings (``building=yes``) when they are counted (``untyped=True``).
UNTYPED_LEVELS = 3.0

#: Tags that make an untyped building non-residential.
NON_RESIDENTIAL_TAGS = ("amenity", "shop", "office", "tourism", "craft", "industrial", "public_transport")


# ---------------------------------------------------------------------------------------------------- files
def demand_from_file(
    path,
    *,
    id: str | None = None,
    weight: str | None = None,
    crs=None,
    lon: str | None = None,
    lat: str | None = None,
    layer: str | int | None = None,
):
    """Read demand points (or polygons, replaced by a point inside each) from a file.

    Parameters
    ----------
    path
        Any format `planner.io.read_points` reads (CSV, Excel, GeoJSON, GeoPackage, Shapefile, GeoParquet).
    id
        Column of unique ids (the index ``demand_id``); None numbers the rows from 0.
    weight
        Column of people (e.g. older residents) at each point; None gives every point the weight 1.
    crs
        Datum of the coordinates: ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"EPSG:<code>"``
        (see `read_points`).
    lon, lat
        CSV coordinate columns, if not found automatically.
    layer
        The sheet of an Excel workbook (name or number) or the layer of a GeoPackage; None: the only sheet
        (several sheets: an error that lists them) or the first layer.

    Returns
    -------
    GeoDataFrame in WGS84, index ``demand_id``, columns of the file plus ``weight`` (float),
    ``source="file"``; its provenance says real, from the file.
    """
    gdf = read_points(
        path,
        id=id,
        weight=weight,
        crs=crs,
        lon=lon,
        lat=lat,
        index_name="demand_id",
        as_points=True,
        layer=layer,
    )
    if weight is None:
        if "weight" in gdf.columns:
            raise InputError(
                f"{Path(path).name} has a 'weight' column but `weight` was not given; pass weight='weight' "
                "to use it, or rename it"
            )
        gdf["weight"] = 1.0
        log.info("demand from %s: no weight column given, every point weighs 1", Path(path).name)
    elif weight != "weight":
        gdf["weight"] = gdf[weight].astype(float)
    gdf["source"] = "file"
    name = Path(path).name
    gdf = with_provenance(gdf, Source("demand", real=True, what=f"demand points from {name}", origin=name))
    log.info("demand from file: %d points, total weight %s", len(gdf), f"{gdf['weight'].sum():,.0f}")
    return gdf


# ------------------------------------------------------------------------------------------------ buildings
def _levels(values: pd.Series) -> pd.Series:
    """First number of a ``building:levels`` tag ("5", "5;6", "3.5"); NaN when missing, invalid or <= 0."""
    first = values.astype("string").str.extract(r"^\s*([0-9]+(?:\.[0-9]+)?)", expand=False)
    levels = pd.to_numeric(first, errors="coerce").astype(float)
    return levels.where(levels > 0)


def _homes(path: Path, bounding_box, default_levels, untyped):
    """Residential buildings of a ``.pbf`` with their storeys and floor area (m²); and how many buildings."""
    import pyrosm

    levels_map = dict(RESIDENTIAL_LEVELS)
    levels_map["yes"] = UNTYPED_LEVELS
    if isinstance(default_levels, Mapping):
        levels_map.update({str(k): float(v) for k, v in default_levels.items()})
    elif default_levels is not None:
        if not float(default_levels) > 0:
            raise InputError(f"`default_levels` must be > 0 storeys, got {default_levels!r}")
        levels_map = dict.fromkeys(levels_map, float(default_levels))

    try:
        osm = pyrosm.OSM(str(path), bounding_box=bounding_box, complete_relations=bounding_box is not None)
        buildings = osm.get_buildings()
    except Exception as err:  # pyrosm raises generic errors on non-pbf input
        raise DataError(
            f"could not read buildings from {path.name} ({err}); is it an .osm.pbf file?"
        ) from err
    if buildings is None or len(buildings) == 0:
        raise DataError(f"{path.name} holds no buildings (in the bounding box given)")
    btype = buildings["building"].astype("string").fillna("yes")
    residential = np.array(btype.isin(list(RESIDENTIAL_LEVELS)), dtype=bool)
    if untyped:
        other = np.zeros(len(buildings), dtype=bool)
        for tag in NON_RESIDENTIAL_TAGS:
            if tag in buildings.columns:
                other |= buildings[tag].notna().to_numpy()
        residential = residential | (np.array(btype == "yes", dtype=bool) & ~other)
    homes = buildings.loc[residential].copy()
    homes = homes[homes.geometry.notna() & homes.geom_type.isin(["Polygon", "MultiPolygon"])]
    if homes.empty:
        raise DataError(
            f"{path.name} has {len(buildings):,} buildings but none is residential "
            f"(building={', '.join(RESIDENTIAL_LEVELS)}); pass untyped=True to count building=yes too"
        )
    homes = homes.set_crs(4326, allow_override=True)
    utm = utm_crs_of(homes)
    area_m2 = homes.to_crs(utm).area.to_numpy()
    tagged = (
        _levels(homes["building:levels"])
        if "building:levels" in homes.columns
        else pd.Series(np.nan, index=homes.index)
    )
    kind = homes["building"].astype("string").fillna("yes")
    default = kind.map(levels_map).astype(float).fillna(UNTYPED_LEVELS)
    levels = tagged.fillna(default).to_numpy()
    floor = area_m2 * levels
    if not floor.sum() > 0:
        raise DataError(f"the residential buildings of {path.name} have no floor area")
    homes = homes.assign(building=kind.to_numpy(), levels=levels)
    return homes, floor, tagged, len(buildings)


def demand_from_buildings(
    pbf_path,
    *,
    population: float,
    bounding_box=None,
    default_levels: float | Mapping[str, float] | None = None,
    untyped: bool | None = None,
):
    """Spread a population over the residential buildings of an OSM ``.pbf`` extract by floor area.

    Each residential building gets ``population x floor_area / total floor area``, where floor area is the
    footprint area (m², in the local UTM zone) times its storeys: the ``building:levels`` tag when present,
    else the default for its ``building=*`` value (`RESIDENTIAL_LEVELS`). One point per building, inside its
    footprint.

    Parameters
    ----------
    pbf_path
        An ``.osm.pbf`` file (read with pyrosm ``get_buildings``).
    population
        People to spread (e.g. the older residents of the area), > 0; the weights sum to it.
    bounding_box
        Optional ``[min_lon, min_lat, max_lon, max_lat]`` or shapely polygon to read only part of the file.
    default_levels
        Storeys for buildings without a ``building:levels`` tag: one number for all, or a mapping of
        ``building=*`` values; None uses `RESIDENTIAL_LEVELS` (and `UNTYPED_LEVELS` for ``building=yes``).
    untyped
        Also count ``building=yes`` without a non-residential tag (`NON_RESIDENTIAL_TAGS`) as homes: useful
        where residential buildings are rarely typed (common in China). None means False.

    Returns
    -------
    GeoDataFrame in WGS84, index ``demand_id`` (``"way/<osm id>"``), columns osm_id, building, levels,
    levels_source ("tag" or "default"), floor_area_m2, weight, source ("osm-buildings").
    """
    path = Path(pbf_path)
    if not path.exists():
        raise InputError(f"`pbf_path` {str(path)!r} does not exist; give the path of an .osm.pbf file")
    try:
        population = float(population)
    except (TypeError, ValueError):
        raise InputError(f"`population` must be a number of people > 0, got {population!r}") from None
    if not np.isfinite(population) or population <= 0:
        raise InputError(f"`population` must be a number of people > 0, got {population!r}")
    homes, floor, tagged, n_buildings = _homes(path, bounding_box, default_levels, untyped)
    total = floor.sum()
    out = _building_points(path, homes, floor, tagged, population * floor / total)
    log.info(
        "demand from buildings: %d residential buildings (%d with a levels tag, %d without area: weight 0) "
        "of %d, %s m2 floor area, %s people",
        len(out),
        int((out["levels_source"] == "tag").sum()),
        int((out["floor_area_m2"] <= 0).sum()),
        n_buildings,
        f"{total:,.0f}",
        f"{population:,.0f}",
    )
    return out


#: About this many points per area, on a regular grid, when an area has no residential building
#: (`demand_by_area`; the grid step is sqrt(area / this), so the count inside the area varies a little).
FALLBACK_POINTS_PER_AREA = 20


def demand_by_area(
    pbf_path,
    areas,
    *,
    population: str | Mapping[str, float] = "population",
    share_60plus: str | float | None = None,
    name: str = "name",
    default_levels: float | Mapping[str, float] | None = None,
    untyped: bool | None = None,
):
    """Census totals per area spread over the area's residential buildings by floor area.

    Each area (district, sub-district) receives exactly its total: ``population x share_60plus`` older
    residents, spread over the residential buildings whose point lies inside it in proportion to floor
    area (footprint x storeys, as `demand_from_buildings`). An area without any residential building gets
    the same total on about `FALLBACK_POINTS_PER_AREA` points on a regular grid inside it, marked
    ``position_source="estimated"`` (a stand-in in the provenance), and a `PlannerWarning` names those
    areas. Homes outside every area are not counted (the log says how many).

    Parameters
    ----------
    pbf_path
        An ``.osm.pbf`` extract covering the areas.
    areas
        GeoDataFrame of polygons (any CRS) with a unique `name` column.
    population
        Column of `areas` holding each area's census population, or a mapping ``{area name: population}``
        (then every name must match an area, and every area must have a total).
    share_60plus
        Share of residents aged 60+: a number in (0, 1], or a column of `areas`; None: 1 (the totals are
        spread as given).
    name
        Column of `areas` with their names (ids kept as text).
    default_levels, untyped
        As in `demand_from_buildings` (``untyped=True`` counts ``building=yes`` as homes where buildings
        carry no residential type, as is common in China).

    Returns
    -------
    GeoDataFrame in WGS84, index ``demand_id``, columns as `demand_from_buildings` plus ``area_name``,
    ``position_source`` ("building" or "estimated"); ``weight`` sums to each area's total. Its
    ``attrs["provenance"]`` lists the buildings (real, ODbL), the census totals and, if any area fell back,
    the estimated positions (a stand-in).

    Raises
    ------
    InputError
        Bad areas, population or share, or census names that match no area (named).
    DataError
        The file has no residential building at all (the message suggests ``untyped=True``).
    """
    import geopandas as gpd

    path = Path(pbf_path)
    if not path.exists():
        raise InputError(f"`pbf_path` {str(path)!r} does not exist; give the path of an .osm.pbf file")
    totals, names, polygons = _area_totals(areas, population, share_60plus, name)
    homes, floor, tagged, n_buildings = _homes(path, list(polygons.total_bounds), default_levels, untyped)
    points = homes.geometry.representative_point()
    hit_home, hit_area = polygons.sindex.query(points.to_numpy(), predicate="within")
    area_of = np.full(len(homes), -1, dtype=np.int64)
    area_of[hit_home[::-1]] = hit_area[::-1]  # the first area wins where areas overlap
    inside = area_of >= 0
    area_floor = np.bincount(area_of[inside], weights=floor[inside], minlength=len(names))
    weight = np.zeros(len(homes))
    has = inside & (area_floor[np.maximum(area_of, 0)] > 0)
    weight[has] = totals[area_of[has]] * floor[has] / area_floor[area_of[has]]
    out = _building_points(path, homes.loc[has], floor[has], tagged.loc[has], weight[has])
    kept = homes.loc[has]
    kept_ids = (kept["osm_type"].astype(str) if "osm_type" in kept.columns else "way") + "/"
    kept_ids = kept_ids + kept["id"].astype("int64").astype(str)
    out["area_name"] = pd.Series(names[area_of[has]], index=kept_ids.to_numpy()).reindex(out.index).to_numpy()
    out["position_source"] = "building"
    empty = np.flatnonzero(area_floor <= 0)
    parts = [out]
    if len(empty):
        parts.append(_grid_points(polygons.iloc[empty], names[empty], totals[empty]))
        warnings.warn(
            f"{len(empty):,} areas have no residential building in {path.name}: "
            f"{first_ids(pd.Index(names[empty]))}; their totals are placed on "
            f"about {FALLBACK_POINTS_PER_AREA} ESTIMATED positions each (stand-ins); add buildings to "
            "OSM or pass untyped=True if their homes are mapped as building=yes",
            PlannerWarning,
            stacklevel=2,
        )
    result = gpd.GeoDataFrame(pd.concat(parts), crs=4326)
    result.index.name = "demand_id"
    records = list(provenance_of(out).sources)
    if len(empty):
        records.append(
            Source(
                "demand",
                real=False,
                what=f"ESTIMATED demand positions in {len(empty):,} areas without buildings",
                what_zh=f"{len(empty):,} 个无建筑区域的需求位置为估计值",
                origin="planner.demand.demand_by_area",
            )
        )
    result = with_provenance(result, provenance_of(areas), *records)
    log.info(
        "demand by area: %s people in %d areas over %d residential buildings (%d of %d buildings read lie "
        "outside every area, not counted); %d areas on estimated positions",
        f"{totals.sum():,.0f}",
        len(names),
        int(has.sum()),
        int((~inside).sum()),
        n_buildings,
        len(empty),
    )
    return result


def _area_totals(areas, population, share_60plus, name: str):
    """Per area: the total to spread, its name (text) and the polygons in WGS84; or one `InputError`."""
    import geopandas as gpd

    if not isinstance(areas, gpd.GeoDataFrame) or areas.crs is None:
        raise InputError(
            "`areas` must be a GeoDataFrame of polygons with a CRS (e.g. districts with a population "
            f"column), got {type(areas).__name__}"
        )
    problems = []
    if name not in areas.columns:
        problems.append(f"`name` column {name!r} is not in `areas`; columns are {list(areas.columns)}")
        raise_if(problems, "demand_by_area")
    names = areas[name].astype(str).to_numpy()
    if pd.Index(names).has_duplicates:
        problems.append(f"area names repeat: {first_ids(pd.Index(names)[pd.Index(names).duplicated()])}")
    if isinstance(population, Mapping):
        given = {str(k): v for k, v in population.items()}
        unknown = sorted(set(given) - set(names))
        missing = [n for n in names if n not in given]
        if unknown:
            problems.append(
                f"census totals for names that match no area: {first_ids(pd.Index(unknown))}; area names "
                f"are {first_ids(pd.Index(names))}"
            )
        if missing:
            problems.append(f"areas without a census total: {first_ids(pd.Index(missing))}")
        pop = pd.to_numeric(pd.Series([given.get(n, np.nan) for n in names]), errors="coerce").to_numpy()
    elif population in areas.columns:
        pop = pd.to_numeric(areas[population], errors="coerce").to_numpy(dtype=float)
    else:
        problems.append(
            f"`population` {population!r} is neither a column of `areas` ({list(areas.columns)}) nor a "
            "mapping {area name: population}"
        )
        pop = np.zeros(len(areas))
    bad = ~(np.isfinite(pop) & (pop >= 0))
    if bad.any() and not any("census" in p for p in problems):
        problems.append(
            f"population must be a number >= 0 in every area; not in {first_ids(pd.Index(names[bad]))}"
        )
    if share_60plus is None:
        share = np.ones(len(areas))
    elif isinstance(share_60plus, str):
        if share_60plus not in areas.columns:
            problems.append(f"`share_60plus` column {share_60plus!r} is not in `areas`")
            share = np.ones(len(areas))
        else:
            share = pd.to_numeric(areas[share_60plus], errors="coerce").to_numpy(dtype=float)
    else:
        share = np.full(len(areas), float(share_60plus))
    if not ((share > 0) & (share <= 1)).all():
        problems.append(f"`share_60plus` must be a share in (0, 1], got {share_60plus!r}")
    raise_if(problems, "demand_by_area")
    polygons = areas.geometry.to_crs(4326).reset_index(drop=True)
    return pop * share, names, polygons


def _grid_points(polygons, names: np.ndarray, totals: np.ndarray):
    """`FALLBACK_POINTS_PER_AREA` points on a regular grid inside each area, sharing its total."""
    import geopandas as gpd
    import shapely

    utm = utm_crs_of(polygons)
    metric = polygons.to_crs(utm)
    rows = []
    for poly, area_name, total in zip(metric.to_numpy(), names, totals, strict=True):
        step = np.sqrt(poly.area / FALLBACK_POINTS_PER_AREA)
        x0, y0, x1, y1 = poly.bounds
        gx, gy = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
        xy = np.column_stack([gx.ravel(), gy.ravel()])
        xy = xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]
        if len(xy) == 0:
            point = shapely.point_on_surface(poly)
            xy = np.array([[point.x, point.y]])
        for k, (x, y) in enumerate(xy):
            rows.append(
                {
                    "id": f"estimated/{area_name}/{k + 1:03d}",
                    "x": x,
                    "y": y,
                    "area_name": area_name,
                    "weight": total / len(xy),
                }
            )
    table = pd.DataFrame(rows)
    geometry = gpd.GeoSeries(gpd.points_from_xy(table["x"], table["y"]), crs=utm).to_crs(4326)
    return gpd.GeoDataFrame(
        {
            "weight": table["weight"].to_numpy(),
            "area_name": table["area_name"].to_numpy(),
            "position_source": "estimated",
            "source": "estimated",
        },
        geometry=geometry.to_numpy(),
        index=pd.Index(table["id"].to_numpy(), name="demand_id"),
        crs=4326,
    )


def _building_points(path: Path, homes, floor: np.ndarray, tagged: pd.Series, weight: np.ndarray):
    """One demand point per home (inside its footprint), index ``demand_id`` ``"<osm type>/<id>"``, sorted."""
    import geopandas as gpd

    osm_type = homes["osm_type"].astype(str) if "osm_type" in homes.columns else "way"
    ids = osm_type + "/" + homes["id"].astype("int64").astype(str)
    out = gpd.GeoDataFrame(
        {
            "osm_id": homes["id"].astype("int64").to_numpy(),
            "building": homes["building"].to_numpy(),
            "levels": homes["levels"].to_numpy(),
            "levels_source": np.where(tagged.notna().to_numpy(), "tag", "default"),
            "floor_area_m2": floor,
            "weight": weight,
            "source": "osm-buildings",
        },
        geometry=homes.geometry.representative_point().to_numpy(),
        index=pd.Index(ids.to_numpy(), name="demand_id"),
        crs=4326,
    )
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()].unique()
        raise DataError(f"{path.name} has duplicate building ids {first_ids(dup)}")
    out = out.sort_index()
    return with_provenance(
        out,
        Source(
            "demand",
            real=True,
            what=f"residential buildings of {path.name} (OpenStreetMap), weighted by floor area",
            what_zh=f"OpenStreetMap 住宅建筑（{path.name}），按建筑面积分配",
            origin=path.name,
            licence=OSM_LICENCE,
        ),
    )


# ------------------------------------------------------------------------------------- estimated stand-in
def _largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    """Integers proportional to ``shares`` summing to ``total`` (ties to the earlier item)."""
    raw = total * shares / shares.sum()
    base = np.floor(raw).astype(np.int64)
    rest = int(total - base.sum())
    if rest > 0:
        order = np.lexsort((np.arange(len(raw)), -(raw - base)))
        base[order[:rest]] += 1
    return base


def _sample_in(poly, n: int, rng: np.random.Generator, *, centre=None, decay_m: float | None = None):
    """``n`` points uniform in ``poly`` (metric CRS), or with density exp(-d/decay_m) from ``centre``."""
    import shapely

    minx, miny, maxx, maxy = poly.bounds
    out_x: list[np.ndarray] = []
    out_y: list[np.ndarray] = []
    got = 0
    for _ in range(1000):
        if got >= n:
            break
        m = max(2_000, 40 * (n - got))
        x = rng.uniform(minx, maxx, m)
        y = rng.uniform(miny, maxy, m)
        keep = shapely.contains_xy(poly, x, y)
        if centre is not None:
            d = np.hypot(x - centre[0], y - centre[1])
            d_min = d[keep].min() if keep.any() else 0.0
            keep &= rng.uniform(size=m) < np.exp(-(d - d_min) / decay_m)
        out_x.append(x[keep])
        out_y.append(y[keep])
        got += int(keep.sum())
    xs = np.concatenate(out_x)[:n]
    ys = np.concatenate(out_y)[:n]
    if len(xs) < n:
        raise DataError(f"could not place {n} points inside a polygon of area {poly.area:,.0f} m2")
    return xs, ys


def _jitter_in(poly, x0: np.ndarray, y0: np.ndarray, radius: np.ndarray, rng: np.random.Generator):
    """Points uniform in discs of ``radius`` around (x0, y0), redrawn until inside ``poly`` (else centre)."""
    import shapely

    x = x0.copy()
    y = y0.copy()
    todo = np.arange(len(x0))
    for _ in range(50):
        if not len(todo):
            break
        r = radius[todo] * np.sqrt(rng.uniform(size=len(todo)))
        a = rng.uniform(0, 2 * np.pi, size=len(todo))
        cx = x0[todo] + r * np.cos(a)
        cy = y0[todo] + r * np.sin(a)
        inside = shapely.contains_xy(poly, cx, cy)
        x[todo[inside]] = cx[inside]
        y[todo[inside]] = cy[inside]
        todo = todo[~inside]
    return x, y


def _check_estimate_inputs(districts, communities, share: float, points_per_community) -> None:
    import geopandas as gpd

    problems = []
    if not isinstance(districts, gpd.GeoDataFrame):
        problems.append(
            f"`districts` must be a GeoDataFrame (e.g. shenyang_districts()), got {type(districts).__name__}"
        )
    elif "pop_2020" not in districts.columns:
        problems.append(f"`districts` needs a 'pop_2020' column; columns are {list(districts.columns)}")
    elif districts.crs is None:
        problems.append("`districts` has no CRS; set it with `districts.set_crs(4326)`")
    need = {"code", "name", "street_code", "street_name", "district_code", "district_name", "kind"}
    if not isinstance(communities, pd.DataFrame):
        problems.append(
            f"`communities` must be a DataFrame (e.g. shenyang_communities()), got {type(communities)}"
        )
    elif missing := sorted(need - set(communities.columns)):
        problems.append(f"`communities` lacks columns {missing}; columns are {list(communities.columns)}")
    elif communities["code"].duplicated().any():
        problems.append(
            "`communities` has duplicate codes: "
            f"{first_ids(communities['code'][communities['code'].duplicated()])}"
        )
    if not (0 < share <= 1):
        problems.append(f"`share_60plus` must be a fraction in (0, 1], got {share!r} (27.05 % is 0.2705)")
    if not isinstance(points_per_community, int | np.integer) or not 1 <= points_per_community <= 99:
        problems.append(f"`points_per_community` must be an integer 1-99, got {points_per_community!r}")
    raise_if(problems, "estimated_demand")
    if isinstance(districts, gpd.GeoDataFrame) and isinstance(communities, pd.DataFrame):
        known = set(districts.index)
        unknown = sorted(set(communities["district_code"]) - known)
        empty = sorted(known - set(communities["district_code"]))
        if unknown:
            problems.append(
                f"communities name districts not in `districts` (its index): {first_ids(unknown)}"
            )
        if empty:
            problems.append(
                f"districts without any community (their people would be lost): {first_ids(empty)}"
            )
        raise_if(problems, "estimated_demand")


def estimated_demand(
    districts,
    communities,
    *,
    share_60plus: float | None = None,
    points_per_community: int = 6,
    seed: int = 0,
):
    """The STAND-IN demand of the built-in default: census population split over estimated community blocks.

    No coordinates of Shenyang's communities exist, so their positions are **estimated**; the result says so
    in every row (``position_source="estimated"``, a stand-in provenance). The recipe (all in UTM 51N metres):

    1. Population: each district's census population is split over its communities in integers (largest
       remainder), an urban community (社区, ``kind="community"``) counting `URBAN_TO_VILLAGE` (3) times a
       village (村; and the 11 'virtual' farm/prison units count as villages).
    2. Sub-districts: a sub-district or town is urban when at least half of its communities are urban
       communities (社区). Each urban one gets a position drawn inside its district with density
       ``exp(-d / 4 km)`` in the distance d from the urban centre (people live in the compact city): the
       Shenyang centre `SHENYANG_CENTRE` (123.43 E, 41.80 N) for the city districts, the district's
       representative point for the outer counties (`OUTER_DISTRICT_M`: Liaozhong, Xinmin, Faku, Kangping),
       standing in for their county seats. Rural ones (mostly villages) are drawn uniformly over the district.
    3. Communities: around their sub-district's position, uniformly in a disc of radius
       ``r = sqrt(district area / sub-districts / pi)``: villages over all of it (so villages spread over the
       district), urban communities within ``r / 2`` in an urban sub-district and ``r / 5`` in a rural one
       (its seat).
    4. Blocks: each community is split into ``points_per_community`` residential blocks, uniformly within
       `BLOCK_RADIUS_M` (250 m) of its position, sharing its population in integers.
    Every point lies inside its district polygon (draws outside are redrawn). ``weight`` = block population
    x ``share_60plus`` (older residents).

    Parameters
    ----------
    districts
        GeoDataFrame indexed by district code (or with an ``adcode`` column) with ``pop_2020`` (e.g.
        `shenyang_districts`), any CRS.
    communities
        DataFrame with code, name, street_code, street_name, district_code, district_name, kind (and
        optionally street_kind, virtual), e.g. `shenyang_communities`.
    share_60plus
        Share of residents aged 60+; None uses `SHENYANG_SHARE_60PLUS` (27.05 %).
    points_per_community
        Block points per community (1-99).
    seed
        Seed of the random positions; the same seed gives the same points.

    Returns
    -------
    GeoDataFrame in WGS84, index ``demand_id`` (``"<community code>-<block>"``), sorted; columns
    community_code, community_name, community_kind, street_code, street_name, district_code, district_name,
    block, population, weight, source ("estimated"), position_source ("estimated"); a stand-in provenance.
    """
    import geopandas as gpd
    import shapely

    share = SHENYANG_SHARE_60PLUS if share_60plus is None else float(share_60plus)
    if "adcode" in getattr(districts, "columns", ()):
        districts = districts.set_index("adcode")  # a copy; the caller's frame is untouched
    _check_estimate_inputs(districts, communities, share, points_per_community)
    k = int(points_per_community)
    dist_m = districts.to_crs(SHENYANG_UTM)
    centre = gpd.GeoSeries(gpd.points_from_xy([SHENYANG_CENTRE[0]], [SHENYANG_CENTRE[1]]), crs=4326)
    cx, cy = shapely.get_coordinates(centre.to_crs(SHENYANG_UTM).values)[0]
    comm = communities.sort_values("code").reset_index(drop=True)
    virtual = (
        comm["virtual"].astype(bool) if "virtual" in comm.columns else pd.Series(False, index=comm.index)
    )
    urban = comm["kind"].eq("community") & ~virtual
    # a street is urban when most of its communities are (社区 rather than 村), whatever its name
    street_urban = urban.groupby(comm["street_code"]).transform("mean") >= 0.5

    parts = []
    for code, group in comm.groupby("district_code", sort=True):
        poly = dist_m.geometry.loc[code]
        shapely.prepare(poly)
        rng = np.random.default_rng([int(seed), int(code)])
        is_urban = urban.loc[group.index].to_numpy()
        pop = _largest_remainder(int(dist_m.loc[code, "pop_2020"]), np.where(is_urban, URBAN_TO_VILLAGE, 1.0))
        outer = poly.distance(shapely.Point(cx, cy)) > OUTER_DISTRICT_M
        ux, uy = (shapely.get_coordinates(poly.representative_point())[0]) if outer else (cx, cy)
        streets = group.groupby("street_code", sort=True).head(1)
        s_urban = street_urban.loc[streets.index].to_numpy()
        sx = np.empty(len(streets))
        sy = np.empty(len(streets))
        if s_urban.any():
            sx[s_urban], sy[s_urban] = _sample_in(
                poly, int(s_urban.sum()), rng, centre=(ux, uy), decay_m=URBAN_DECAY_M
            )
        if (~s_urban).any():
            sx[~s_urban], sy[~s_urban] = _sample_in(poly, int((~s_urban).sum()), rng)
        r_street = np.sqrt(poly.area / len(streets) / np.pi)
        pos = {s: i for i, s in enumerate(streets["street_code"])}
        si = group["street_code"].map(pos).to_numpy()
        in_urban_street = street_urban.loc[group.index].to_numpy()
        radius = np.where(is_urban, np.where(in_urban_street, r_street / 2, r_street / 5), r_street)
        qx, qy = _jitter_in(poly, sx[si], sy[si], radius, rng)
        bx, by = _jitter_in(
            poly, np.repeat(qx, k), np.repeat(qy, k), np.full(len(qx) * k, BLOCK_RADIUS_M), rng
        )
        block_pop = np.concatenate([_largest_remainder(int(p), np.ones(k)) for p in pop])
        rep = group.loc[group.index.repeat(k)]
        parts.append(
            pd.DataFrame(
                {
                    "demand_id": [f"{c}-{b:02d}" for c in group["code"] for b in range(1, k + 1)],
                    "community_code": rep["code"].to_numpy(),
                    "community_name": rep["name"].to_numpy(),
                    "community_kind": rep["kind"].to_numpy(),
                    "street_code": rep["street_code"].to_numpy(),
                    "street_name": rep["street_name"].to_numpy(),
                    "district_code": rep["district_code"].to_numpy(),
                    "district_name": rep["district_name"].to_numpy(),
                    "block": np.tile(np.arange(1, k + 1), len(group)),
                    "population": block_pop,
                    "x": bx,
                    "y": by,
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    table["weight"] = table["population"] * share
    table["source"] = "estimated"
    table["position_source"] = "estimated"
    geometry = gpd.points_from_xy(table.pop("x"), table.pop("y"), crs=SHENYANG_UTM)
    out = gpd.GeoDataFrame(table, geometry=geometry).to_crs(4326)
    out = out.set_index("demand_id").sort_index()
    out = with_provenance(out, provenance_of(districts, communities), ESTIMATED_POSITIONS)
    log.info(
        "estimated demand (STAND-IN, positions estimated): %d block points of %d communities "
        "in %d districts, "
        "%s residents, %s aged 60+",
        len(out),
        len(comm),
        comm["district_code"].nunique(),
        f"{int(out['population'].sum()):,}",
        f"{out['weight'].sum():,.0f}",
    )
    return out
