"""Turn a scenario's specs into stage calls: report areas, demand, the street network, the sites of each tier.

The stage modules (`planner.io`, `planner.demand`, `planner.network`, `planner.sites`) stay generic and never
read a scenario; this module is the one place that knows both.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from dataclasses import replace

from planner._errors import InputError
from planner.provenance import ATTR, Provenance, Source, provenance_of, with_provenance
from planner.scenario import NetworkSpec, Scenario, TierSpec

log = logging.getLogger(__name__)


def load_areas(scenario: Scenario):
    """Report areas (districts) in WGS84 with a ``name`` column, or None."""
    spec = scenario.areas
    if spec is None:
        return None
    if spec.builtin == "shenyang":
        from planner.datasets import shenyang_districts

        return shenyang_districts().to_crs(4326)
    import geopandas as gpd

    from planner.coords import LONLAT_DATUMS, datum_crs, to_wgs84

    areas = gpd.read_file(spec.path)
    if spec.name not in areas.columns:
        near = difflib.get_close_matches(spec.name, [str(c) for c in areas.columns], n=1)
        raise InputError(
            f"[areas] name = {spec.name!r} is not a column of {spec.path}; columns are {list(areas.columns)}"
            + (f"; did you mean {near[0]!r}?" if near else "")
        )
    if areas.crs is None:
        areas = areas.set_crs(datum_crs(spec.crs))
    if spec.crs in LONLAT_DATUMS and spec.crs != "wgs84":
        areas = to_wgs84(areas, spec.crs)
    areas = areas.to_crs(4326).rename(columns={spec.name: "name"})
    source = Source("areas", real=True, what=f"report areas from {spec.path.name}", origin=str(spec.path))
    return with_provenance(areas.set_index(areas["name"].astype(str).rename("area")), source)


def load_demand(scenario: Scenario, areas):
    """Demand points (WGS84, index demand_id, column weight) and their source label."""
    spec = scenario.demand
    if spec.source == "estimated":
        from planner.datasets import shenyang_communities, shenyang_districts
        from planner.demand import estimated_demand

        demand = estimated_demand(
            shenyang_districts(),
            shenyang_communities(),
            share_60plus=spec.share_60plus,
            points_per_community=spec.points_per_community,
            seed=spec.seed,
        )
        return demand, "estimated"
    if spec.source == "osm-buildings":
        from planner.demand import demand_from_buildings

        demand = demand_from_buildings(spec.path, population=spec.population, untyped=spec.untyped)
        source = "osm-buildings"
    elif spec.source == "buildings":
        demand = _census_over_buildings(scenario, areas)
        source = "buildings"
    else:
        from planner.demand import demand_from_file

        demand = demand_from_file(spec.path, id=spec.id, weight=spec.weight, crs=spec.crs, layer=spec.layer)
        source = "file"
    if areas is not None and "district_name" not in demand.columns:
        demand = assign_areas(demand, areas)
    return demand, source


def _census_over_buildings(scenario: Scenario, areas):
    """[demand] source = "buildings": each report area's census total spread over its homes."""
    from planner.demand import demand_by_area

    spec, area_spec = scenario.demand, scenario.areas
    builtin = area_spec.builtin == "shenyang"
    population = area_spec.population_column or ("pop_2020" if builtin else None)
    share_column = area_spec.share_60plus_column or ("share_60plus" if builtin else None)
    share = share_column if share_column is not None else spec.share_60plus
    demand = demand_by_area(
        spec.path, areas, population=population, share_60plus=share, name="name", untyped=spec.untyped
    )
    return demand.assign(district_name=demand["area_name"])


def assign_areas(demand, areas):
    """Add ``district_name`` (the report area each point lies in; "outside" when in none)."""
    import geopandas as gpd

    joined = gpd.sjoin(demand[["geometry"]], areas[["name", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = demand.copy()
    out["district_name"] = joined["name"].reindex(demand.index).fillna("outside").astype(str)
    return out


def load_network(scenario: Scenario, demand, areas):
    from planner import network as nw

    spec = scenario.network
    if spec.source == "file":
        return nw.read_network(spec.path, bbox=study_bbox(spec, areas))
    if spec.source == "osm":
        return _online_network(spec, cached_only=False)
    if spec.source == "auto":
        if spec.path is not None and spec.path.exists():
            return nw.read_network(spec.path, bbox=study_bbox(spec, areas))
        cached = _online_network(spec, cached_only=True) if (spec.place or spec.bbox) else None
        if cached is not None:
            return cached
        log.warning(
            "no OpenStreetMap data for %s (no file %s, no cached download): using a SYNTHETIC STAND-IN "
            "street network; run `planner network fetch` online or put an .osm.pbf there for real streets",
            scenario.name,
            spec.path,
        )
    return stand_in_network(demand, areas, seed=spec.seed, roads=_stand_in_roads(spec))


#: Margin around the report areas when a street file is clipped to them (degrees, about 5 km).
STUDY_AREA_MARGIN_DEG = 0.05


def study_bbox(spec: NetworkSpec, areas):
    """The [network] bbox, else the report areas' bounds plus a margin (a province extract cut to a city)."""
    if spec.bbox is not None:
        return spec.bbox
    if areas is None:
        return None
    west, south, east, north = (float(v) for v in areas.total_bounds)
    m = STUDY_AREA_MARGIN_DEG
    bbox = (west - m, south - m, east + m, north + m)
    log.info("streets clipped to the report areas' bounds with a %g deg margin: %s", m, bbox)
    return bbox


def _online_network(spec: NetworkSpec, *, cached_only: bool):
    from planner import network as nw

    if spec.bbox is not None:
        return nw.network_from_bbox(spec.bbox, cached_only=cached_only)
    return nw.network_from_place(spec.place, cached_only=cached_only)


def fetch_network(scenario: Scenario, *, place: str | None = None):
    """Download (or find in the cache) the walk network of a scenario's study area; return its description."""
    spec = scenario.network
    if place is not None:
        spec = replace(spec, place=place, bbox=None)
    if not spec.place and spec.bbox is None:
        raise InputError(
            f'scenario {scenario.name!r} names no study area; add place = "<name>" or bbox = [w, s, e, n] '
            "to [network], or pass --place"
        )
    net = _online_network(spec, cached_only=False)
    return net.meta.get("cache_file") or net.description


def _stand_in_roads(spec: NetworkSpec):
    """The real major roads [network] names for the stand-in (a line file, or the built-in ones), or None."""
    if spec.roads_builtin == "shenyang":
        from planner.datasets import shenyang_major_roads

        return shenyang_major_roads()
    if spec.roads is None:
        return None
    import geopandas as gpd

    from planner.provenance import Source, with_provenance

    roads = gpd.read_file(spec.roads)
    if "highway" not in roads.columns or roads.crs is None:
        raise InputError(
            f"[network] roads = {str(spec.roads)!r} needs a CRS and a `highway` column (motorway, trunk, "
            f"primary, ...); its columns are {list(roads.columns)}"
        )
    source = Source("roads", real=True, what=f"major roads from {spec.roads.name}", origin=spec.roads.name)
    return with_provenance(roads, source)


def stand_in_network(demand, areas, *, seed: int, roads=None):
    """A SYNTHETIC STAND-IN street network where the (estimated) people live, inside the real districts.

    With `roads` (real major roads with a ``highway`` column), the real trunk and primary roads are its
    arterials and the real motorways its barriers (`planner.synthetic.streets_on_roads`).
    """
    from planner.coords import utm_crs_of
    from planner.synthetic import settlement_streets, streets_on_roads

    metric = demand.to_crs(utm_crs_of(demand))
    boundary = None if areas is None else areas.to_crs(metric.crs).geometry
    column = "population" if "population" in metric.columns else "weight"
    if roads is not None:
        return streets_on_roads(metric, roads, boundary=boundary, population=column, seed=seed)
    return settlement_streets(metric, boundary=boundary, population=column, seed=seed)


def load_sites(tier: TierSpec, net, demand, scenario: Scenario):
    """All sites of a tier (WGS84, index site_id): ``status`` "candidate" or "existing".

    The provenance of each file or generator is kept, its input named ``sites:<tier>``.
    """
    import geopandas as gpd
    import pandas as pd

    from planner import sites as st

    def site_file(path):
        return st.sites_from_file(
            path,
            id=tier.id,
            crs=tier.crs,
            cost=tier.cost_column,
            capacity=tier.capacity_column,
            layer=tier.layer,
        )

    parts = []
    if tier.candidates_osm:
        cand = st.sites_from_osm(_osm_source(scenario), kinds=tier.candidates_osm, prefix=f"{tier.name}-osm")
        parts.append(cand.assign(status="candidate"))
    if tier.kind == "new" and (tier.candidates is not None or tier.generate_candidates is not None):
        if tier.candidates is not None:
            cand = site_file(tier.candidates)
        else:
            cand = st.candidates_on_network(
                net, tier.generate_candidates, weights_gdf=demand, seed=scenario.network.seed
            )
        parts.append(cand.to_crs(4326).assign(status="candidate"))
    if tier.existing_osm:
        exist = st.sites_from_osm(_osm_source(scenario), kinds=tier.existing_osm)
        parts.append(exist.assign(status="existing"))
    if tier.existing is not None or tier.stand_in_existing:
        if tier.existing is not None:
            exist = site_file(tier.existing)
        else:
            exist = st.stand_in_stations(demand, seed=scenario.demand.seed)
        parts.append(exist.to_crs(4326).assign(status="existing"))
    prov = Provenance(
        tuple(
            dataclasses.replace(
                s,
                input=f"sites:{tier.name}",
                what=f"{tier.name}: {s.what}",
                what_zh=f"{tier.name}：{s.label('zh')}",
            )
            if s.input.startswith("sites")
            else s
            for s in provenance_of(*parts).sources
        )
    )
    sites = gpd.GeoDataFrame(pd.concat(parts), crs=4326)
    sites.attrs = {ATTR: prov}  # the tier's record replaces the loaders' (whatever concat kept of them)
    sites.index.name = "site_id"
    if sites.index.has_duplicates:
        from planner._validate import first_ids

        dup = sites.index[sites.index.duplicated()].unique()
        raise InputError(
            f"tier {tier.name!r}: candidate and existing sites share ids {first_ids(dup)}; "
            "give them distinct ids"
        )
    sites["tier"] = tier.name
    if tier.cost is not None:
        sites["cost"] = float(tier.cost)
    elif tier.cost_column is not None and ("cost" not in sites or sites["cost"].isna().any()):
        raise InputError(
            f"tier {tier.name!r}: cost_column = {tier.cost_column!r} needs a cost for every site, but some "
            "sites come from no file (generated or stand-in); give cost = <per site> instead"
        )
    # an unavailable site stays what it was (existing, or a candidate) and says why in `note`
    unknown = sorted(set(tier.exclude) - {str(i) for i in sites.index})
    if unknown:
        from planner._validate import first_ids

        raise InputError(
            f"tier {tier.name!r}: exclude names ids that are not sites of the tier: {first_ids(unknown)}"
        )
    unknown = sorted(set(tier.fixed) - {str(i) for i in sites.index})
    if unknown:
        from planner._validate import first_ids

        raise InputError(
            f"tier {tier.name!r}: fixed names ids that are not sites of the tier: {first_ids(unknown)}"
        )
    sites["note"] = ""
    sites.loc[sites.index.astype(str).isin(set(tier.exclude)), "note"] = "excluded by the scenario"
    sites.loc[sites.index.astype(str).isin(set(tier.fixed)), "note"] = FIXED_NOTE
    n_exist = int((sites["status"] == "existing").sum())
    if tier.upgrade > n_exist:
        raise InputError(
            f"tier {tier.name!r}: upgrade = {tier.upgrade} but only {n_exist} existing sites are given; "
            "lower upgrade or give more existing sites"
        )
    n_cand = int((sites["status"] == "candidate").sum())
    if tier.new > n_cand:
        raise InputError(
            f"tier {tier.name!r}: new = {tier.new} but only {n_cand} candidate sites are given; "
            "lower new or give more candidates"
        )
    return sites


def _osm_source(scenario: Scenario):
    """Where a tier's "osm:" sites are read: the [network] OSM file, else its place (downloaded)."""
    path = scenario.network.path
    if path is not None and path.name.lower().endswith((".pbf", ".osm", ".osm.bz2")):
        return path
    return scenario.network.place


#: The ``note`` of a site the scenario opens (or upgrades) whatever the solver picks.
FIXED_NOTE = "fixed by the scenario"


def fixed_ids(sites) -> list:
    """Ids of the sites the scenario's ``fixed`` list opens (or upgrades)."""
    return list(sites.index[sites["note"] == FIXED_NOTE])


def usable_ids(sites, status: str) -> list:
    """Ids of the sites with this status that the scenario does not exclude."""
    return list(sites.index[(sites["status"] == status) & (sites["note"] == "")])
