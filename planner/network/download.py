"""Downloading the walk network of a place, polygon or box from OpenStreetMap (through osmnx), cached."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from datetime import UTC, datetime

from planner._errors import DataError, InputError
from planner.network import _cache
from planner.network.convert import from_graph
from planner.network.core import StreetNetwork, check_bbox, metric_crs, osm_streets
from planner.network.walk import OVERPASS_FILTERS, osmnx_walk_tags

log = logging.getLogger(__name__)


def network_from_place(
    query: str | dict | list, *, crs=None, cache: bool | None = None, cached_only: bool | None = None
) -> StreetNetwork | None:
    """Download the walk network of a named place from OpenStreetMap (through osmnx).

    Parameters
    ----------
    query
        A place name osmnx geocodes (e.g. "Heping District, Shenyang, China"), a structured dict, or a list of
        them.
    crs
        Projected metric CRS of the result. None: the local UTM zone.
    cache
        Keep the prepared network under ``planner.settings.cache_dir() / "networks"``, keyed by a hash of the
        query, `crs` and the walk rule, so that a second call does not download. None: on.
    cached_only
        True: never download; return the cached network, or None when there is none (``planner network
        fetch`` fills the cache). None: False.

    Returns
    -------
    StreetNetwork or None
        ``source`` "osm-online", walk filter `WALK_RULE`, largest connected part (see `read_network`);
        None only with `cached_only` and nothing cached.
    """
    if (
        not isinstance(query, (str, dict, list))
        or not query
        or (isinstance(query, str) and not query.strip())
    ):
        raise InputError(
            f"`query` must be a place name such as 'Heping District, Shenyang, China' (or an osmnx dict / "
            f"list of them), got {query!r}"
        )
    return _online(
        "place", query, query, f"OSM place {query!r}", crs=crs, cache=cache, cached_only=cached_only
    )


def network_from_polygon(
    polygon_wgs84, *, crs=None, cache: bool | None = None, cached_only: bool | None = None
) -> StreetNetwork | None:
    """Download the walk network inside a polygon given in WGS84 lon/lat (through osmnx).

    Parameters
    ----------
    polygon_wgs84
        shapely Polygon or MultiPolygon in lon/lat degrees (e.g. ``districts.to_crs(4326).union_all()``).
    crs, cache, cached_only
        As in `network_from_place`.
    """
    import shapely

    if not isinstance(polygon_wgs84, (shapely.Polygon, shapely.MultiPolygon)) or polygon_wgs84.is_empty:
        raise InputError(
            f"`polygon_wgs84` must be a non-empty shapely Polygon or MultiPolygon in lon/lat, got "
            f"{type(polygon_wgs84).__name__}; e.g. gdf.to_crs(4326).union_all()"
        )
    west, south, east, north = polygon_wgs84.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InputError(
            f"`polygon_wgs84` has bounds {polygon_wgs84.bounds}, outside lon/lat degrees; it looks "
            "projected: convert it with gdf.to_crs(4326) first"
        )
    digest = hashlib.sha256(shapely.to_wkb(shapely.normalize(polygon_wgs84))).hexdigest()
    description = f"OSM polygon {west:.4f},{south:.4f},{east:.4f},{north:.4f}"
    return _online(
        "polygon", polygon_wgs84, digest, description, crs=crs, cache=cache, cached_only=cached_only
    )


def network_from_bbox(
    bbox, *, crs=None, cache: bool | None = None, cached_only: bool | None = None
) -> StreetNetwork | None:
    """Download the walk network inside a lon/lat box (through osmnx).

    Parameters
    ----------
    bbox
        ``(west, south, east, north)`` in WGS84 degrees, the osmnx 2 order (left, bottom, right, top).
    crs, cache, cached_only
        As in `network_from_place`.
    """
    values = check_bbox(bbox)
    west, south, east, north = values
    description = f"OSM bbox {west:.4f},{south:.4f},{east:.4f},{north:.4f}"
    return _online("bbox", values, values, description, crs=crs, cache=cache, cached_only=cached_only)


def _online(
    kind: str, arg, key, description: str, *, crs, cache: bool | None, cached_only: bool | None
) -> StreetNetwork | None:
    target = None if crs is None else metric_crs(crs)
    use_cache = True if cache is None else bool(cache)
    if cached_only and not use_cache:
        raise InputError(
            "`cached_only=True` reads the cache, which `cache=False` turns off; drop one of them"
        )
    cache_file = _cache.cache_path(
        _cache.cache_key({"kind": kind, "query": key, "crs": None if target is None else target.to_wkt()}),
        kind,
    )
    if use_cache:
        net = _cache.load_cached(cache_file)
        if net is not None:
            log.info("%s (from the cache, not downloaded)", net.summary())
            return net
    if cached_only:
        log.info("no cached walk network of %s (cached_only: not downloading)", description)
        return None
    with osmnx_walk_tags() as ox:
        download = getattr(ox, f"graph_from_{kind}")
        try:
            graph = download(
                arg,
                network_type="walk",
                simplify=False,
                retain_all=True,
                custom_filter=list(OVERPASS_FILTERS),
            )
        except Exception as exc:
            raise DataError(
                f"downloading the walk network of {description} failed ({type(exc).__name__}: {exc}); "
                "check the query and the internet connection, or download an extract (.osm.pbf, e.g. from "
                "https://download.geofabrik.de) and use read_network"
            ) from exc
    net = from_graph(graph, crs=target, source="osm-online", description=description, walk_filter=True)
    today = datetime.now(tz=UTC).date().isoformat()
    net = dataclasses.replace(net, provenance=osm_streets(description, date=f"downloaded {today}"))
    if use_cache:
        net = _cache.save_cached(net, cache_file)
    log.info(net.summary())
    return net
