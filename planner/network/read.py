"""Reading the walk network of an OpenStreetMap file: ``.osm.pbf`` (pyrosm), OSM XML (osmnx), GraphML."""

from __future__ import annotations

import bz2
import dataclasses
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj

from planner._errors import DataError, InputError
from planner.network import _cache
from planner.network.convert import from_graph
from planner.network.core import (
    StreetNetwork,
    assemble,
    check_bbox,
    clip_network,
    metric_crs,
    osm_streets,
)
from planner.network.walk import WALK_TAGS, no_walkable_error, osmnx_walk_tags, walkable

log = logging.getLogger(__name__)

#: Files larger than this are cached as prepared arrays when ``read_network(cache=None)`` (bytes).
CACHE_MIN_BYTES = 20_000_000

#: File name endings `read_network` understands, and the reader of each.
_FORMATS = (
    (".osm.pbf", "osm-pbf"),
    (".pbf", "osm-pbf"),
    (".osm.bz2", "osm-xml"),
    (".osm", "osm-xml"),
    (".xml", "osm-xml"),
    (".graphml", "graphml"),
)
_FORMAT_HINT = "give a .osm.pbf, .osm, .osm.bz2 or .graphml exported from OpenStreetMap"


def read_network(path: str | os.PathLike, *, crs=None, cache: bool | None = None, bbox=None) -> StreetNetwork:
    """Read the walk network of an OpenStreetMap file.

    The file type comes from the name: ``.osm.pbf`` / ``.pbf`` (read with pyrosm), ``.osm``, ``.osm.bz2``,
    ``.xml`` (OSM XML, read with osmnx), ``.graphml`` (saved with ``osmnx.save_graphml``). Every format goes
    through the same walk filter (`walkable`, rule `WALK_RULE`), is projected to a metric CRS, and is cut to
    its largest connected part. Walking is two-way on every walkable way: ``oneway`` tags are ignored. Each
    segment between two consecutive OSM nodes of a way is one edge; parallel segments are kept; zero-length
    self-loops are dropped.

    Parameters
    ----------
    path
        The file.
    crs
        Projected CRS in metres for the result (anything pyproj reads, e.g. 32651). None: the UTM zone of the
        data's centroid (EPSG:32651, UTM 51N, for Shenyang).
    cache
        Keep the prepared arrays under ``planner.settings.cache_dir() / "networks"``, keyed by the file's
        path, size and modification time and by `crs` and the walk rule, so that a second read loads them in a
        fraction of the time. None: cache files larger than `CACHE_MIN_BYTES` (20 MB) only.
    bbox
        ``(west, south, east, north)`` in WGS84 degrees: keep only the streets inside (e.g. one city out of a
        province extract); a ``.pbf`` is clipped while it is read, which saves time and memory. None: all.

    Returns
    -------
    StreetNetwork
        With ``source`` "osm-pbf", "osm-xml" or "graphml" and ``description`` the file name; ``meta`` holds
        ``raw_nodes`` and ``raw_edges`` (before the walk filter); when cached, ``cache_file`` (its path) and,
        when read from the cache, ``from_cache``.

    Raises
    ------
    InputError
        The file is missing, its type is unknown, or `crs` is not a projected metric CRS.
    DataError
        The file is not OSM data, is corrupt, or has no walkable ways.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"`path` {str(path)!r} does not exist; check the name and folder (relative paths start at "
            f"{Path.cwd()}), or download an extract, e.g. from https://download.geofabrik.de"
        )
    if not path.is_file():
        raise InputError(f"`path` {str(path)!r} is a folder, not a file; {_FORMAT_HINT}")
    fmt = _format_of(path)
    target = None if crs is None else metric_crs(crs)
    stat = path.stat()
    use_cache = stat.st_size > CACHE_MIN_BYTES if cache is None else bool(cache)
    cache_file = None
    if use_cache:
        key = _cache.cache_key(
            {
                "kind": "file",
                "path": str(path.resolve()),
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "crs": None if target is None else target.to_wkt(),
                "bbox": None if bbox is None else list(check_bbox(bbox)),
            }
        )
        cache_file = _cache.cache_path(key, path.name)
        net = _cache.load_cached(cache_file)
        if net is not None:
            log.info("%s (prepared arrays from the cache)", net.summary())
            return net
    if fmt == "osm-pbf":
        net = _read_pbf(path, target, bbox=None if bbox is None else check_bbox(bbox))
    elif fmt == "osm-xml":
        net = _read_xml(path, target)
    else:
        net = _read_graphml(path, target)
    if bbox is not None:
        net = clip_network(net, bbox)
    modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC).date().isoformat()
    net = dataclasses.replace(net, provenance=osm_streets(path.name, date=f"file of {modified}"))
    if cache_file is not None:
        net = _cache.save_cached(net, cache_file)
    log.info(net.summary())
    return net


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for ending, fmt in _FORMATS:
        if name.endswith(ending):
            return fmt
    raise InputError(
        f"`path` {path.name!r} has an unknown file type; {_FORMAT_HINT} "
        "(endings understood: " + ", ".join(e for e, _ in _FORMATS) + ")"
    )


def _read_pbf(path: Path, crs: pyproj.CRS | None, *, bbox=None) -> StreetNetwork:
    """pyrosm's "all" network (highway ways but areas and never-walkable values), then our walk filter."""
    import pyrosm

    _check_pbf_header(path)
    try:
        osm = pyrosm.OSM(str(path), bounding_box=None if bbox is None else list(bbox))
        result = osm.get_network(network_type="all", nodes=True)
    except Exception as exc:
        raise DataError(
            f"`path` {path.name!r} could not be read as an OSM PBF file ({type(exc).__name__}: {exc}); "
            f"it may be truncated or corrupt: download it again, or {_FORMAT_HINT}"
        ) from exc
    nodes, edges = (None, None) if result is None else result
    if edges is None or len(edges) == 0:
        raise no_walkable_error(path.name, 0)
    table = pd.DataFrame({tag: edges[tag] for tag in WALK_TAGS if tag in edges.columns})
    keep = walkable(table)
    if not keep.any():
        raise no_walkable_error(path.name, len(edges))
    return assemble(
        nodes["id"].to_numpy(np.int64),
        nodes["lon"].to_numpy(np.float64),
        nodes["lat"].to_numpy(np.float64),
        edges["u"].to_numpy(np.int64)[keep],
        edges["v"].to_numpy(np.int64)[keep],
        None,
        src_crs=pyproj.CRS.from_epsg(4326),
        crs=crs,
        source="osm-pbf",
        description=path.name,
        meta={"raw_nodes": len(nodes), "raw_edges": len(edges)},
    )


def _check_pbf_header(path: Path) -> None:
    """An OSM PBF file starts with a 4-byte header size and a BlobHeader of type "OSMHeader"."""
    with path.open("rb") as f:
        head = f.read(4)
        size = int.from_bytes(head, "big") if len(head) == 4 else -1
        blob_header = f.read(size) if 0 < size <= 65536 else b""
    if b"OSMHeader" not in blob_header:
        raise DataError(
            f"`path` {path.name!r} is not an OSM PBF file (it does not start with an OSMHeader blob); "
            f"{_FORMAT_HINT}"
        )


def _read_xml(path: Path, crs: pyproj.CRS | None) -> StreetNetwork:
    """osmnx keeps every way of the file (no filter, no simplification); our walk filter picks."""
    _check_osm_xml(path)
    with osmnx_walk_tags() as ox:
        try:
            graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
        except Exception as exc:
            raise DataError(
                f"`path` {path.name!r} could not be read as OSM XML ({type(exc).__name__}: {exc}); it may be "
                f"truncated or corrupt: export it again, or {_FORMAT_HINT}"
            ) from exc
    return from_graph(graph, crs=crs, source="osm-xml", description=path.name, walk_filter=True)


def _check_osm_xml(path: Path) -> None:
    """The first element of an OSM XML file is <osm>."""
    from xml.etree.ElementTree import ParseError, iterparse

    opener = bz2.open if path.name.lower().endswith(".bz2") else open
    root = None
    try:
        with opener(path, "rb") as f:
            for _event, element in iterparse(f, events=("start",)):
                root = element.tag
                break
    except (ParseError, OSError, EOFError) as exc:
        raise DataError(
            f"`path` {path.name!r} is not an OSM file (not readable as XML: {exc}); {_FORMAT_HINT}"
        ) from exc
    if root != "osm":
        raise DataError(
            f"`path` {path.name!r} is not an OSM file (its root element is <{root}>, not <osm>); "
            f"{_FORMAT_HINT}"
        )


def _read_graphml(path: Path, crs: pyproj.CRS | None) -> StreetNetwork:
    import osmnx as ox

    try:
        graph = ox.load_graphml(path)
    except Exception as exc:
        raise DataError(
            f"`path` {path.name!r} could not be read as GraphML ({type(exc).__name__}: {exc}); "
            f"save graphs with osmnx.save_graphml, or {_FORMAT_HINT}"
        ) from exc
    return from_graph(graph, crs=crs, source="graphml", description=path.name, walk_filter=None)
