"""Walk networks: loading from OSM files or online, walkable-way filter, projection, largest connected part.

A `StreetNetwork` is an immutable, undirected, projected street graph held as flat arrays (nodes by position
``0..n-1``, each street segment once). Walking is two-way on every walkable way, so the largest strongly
connected part of the walk graph is its largest connected component.

Every reader (``.osm.pbf`` through pyrosm, ``.osm`` / ``.osm.bz2`` / ``.xml`` and online downloads through
osmnx, ``.graphml`` and any networkx graph) ends in the same steps: the walk filter `walkable` (rule
`WALK_RULE`), projection to a metric CRS (local UTM by default), segment lengths from the projected geometry,
and the largest connected part.
"""

from __future__ import annotations

import bz2
import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp

from planner._errors import DataError, InputError
from planner._validate import first_ids

log = logging.getLogger(__name__)

#: network.source values, as written to metrics.json
SOURCES = ("osm-pbf", "osm-xml", "graphml", "osm-online", "synthetic", "graph")

#: The walk filter, one rule for every format (applied by `walkable` to a table of OSM way tags).
#:
#: A way is walkable when all of these hold:
#:
#: * its ``highway`` value is in ``highway_walkable``, or it is in ``highway_if_foot_allowed`` (motorways
#:   and trunk roads: in Chinese OSM data ``trunk`` is mostly the urban expressway, 快速路, closed to people
#:   on foot) and its ``foot`` tag is in ``foot_allows``. Every other value is dropped (construction,
#:   proposed, abandoned, raceway, bus_guideway, busway, platform, ...), and so is a way without ``highway``
#:   (buildings, land use);
#: * its ``foot`` tag is not in ``foot_forbids`` (``use_sidepath``: the sidewalk is mapped as its own way);
#: * it is not an area (``area=yes``: a square's outline is not a walked line);
#: * its ``access`` tag is not in ``access_forbids`` and its ``service`` tag not in ``service_forbids``,
#:   unless its ``foot`` tag is in ``foot_allows`` (``access=private`` + ``foot=yes`` is walkable).
#:
#: Multi-value tags (``foot=yes;no``, ``access=private;delivery``) forbid when any value forbids and allow
#: when any value allows; a merged ``highway`` (a list, from a simplified osmnx graph) is walkable when every
#: value is. Cycleways are walkable unless ``foot=no``. Streets whose sidewalk is mapped as a separate way
#: (``sidewalk=separate``) are kept, unlike osmnx's and pyrosm's walk filters: a parallel street adds edges of
#: about the same length and cannot shorten a walk noticeably, while dropping it disconnects places where the
#: separate sidewalk is only partly mapped. ``oneway`` is ignored: people walk both ways.
WALK_RULE = MappingProxyType(
    {
        "highway_walkable": frozenset(
            {
                "footway",
                "path",
                "pedestrian",
                "steps",
                "living_street",
                "residential",
                "service",
                "unclassified",
                "tertiary",
                "tertiary_link",
                "secondary",
                "secondary_link",
                "primary",
                "primary_link",
                "track",
                "corridor",
                "elevator",
                "bridleway",
                "cycleway",
                "road",
                "trail",
            }
        ),
        "highway_if_foot_allowed": frozenset({"motorway", "motorway_link", "trunk", "trunk_link"}),
        "foot_allows": frozenset({"yes", "designated", "permissive"}),
        "foot_forbids": frozenset({"no", "private", "use_sidepath"}),
        "access_forbids": frozenset({"no", "private"}),
        "service_forbids": frozenset({"private"}),
        "area_excludes": frozenset({"yes"}),
    }
)

#: OSM way tags the walk filter reads.
WALK_TAGS = ("highway", "foot", "access", "service", "area")

#: Files larger than this are cached as prepared arrays when ``read_network(cache=None)`` (bytes).
CACHE_MIN_BYTES = 20_000_000

#: Bump when the prepared arrays change meaning, so that old caches are not read.
_CACHE_VERSION = 1

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


@dataclass(frozen=True, eq=False)
class StreetNetwork:
    """An undirected, projected walk network held as arrays.

    Attributes
    ----------
    node_id
        Original node ids (OSM ids, or generated), int64, shape (n,). Nodes are addressed by position.
    x, y
        Node coordinates in metres in `crs`.
    edge_u, edge_v
        Positions of the two end nodes of each street segment (int64, shape (m,)); each segment once.
    length_m
        Walked length of each segment in metres (the length of its geometry).
    geometry
        Shapely LineStrings in `crs`, running from ``edge_u`` to ``edge_v``; None means straight segments.
    crs
        The projected, metric CRS of the coordinates (local UTM by default).
    source
        Where the streets come from: one of `SOURCES`.
    stand_in
        True when the network is not real street data (a synthetic stand-in); every output shows it.
    dropped_nodes, dropped_parts
        Nodes, and disconnected parts, removed when keeping the largest connected part.
    description
        One line for logs, maps and metrics (e.g. the file name).
    """

    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    length_m: np.ndarray
    crs: pyproj.CRS
    geometry: np.ndarray | None = None
    source: str = "graph"
    stand_in: bool = False
    dropped_nodes: int = 0
    dropped_parts: int = 0
    description: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.x)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @cached_property
    def adjacency(self) -> sp.csr_array:
        """Symmetric CSR matrix of segment lengths in metres (the shortest of parallel segments)."""
        n = self.n_nodes
        rows = np.concatenate([self.edge_u, self.edge_v])
        cols = np.concatenate([self.edge_v, self.edge_u])
        vals = np.concatenate([self.length_m, self.length_m]).astype(np.float64)
        order = np.lexsort((vals, cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        keep = np.ones(len(rows), dtype=bool)
        keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        mat = sp.csr_array((vals[keep], (rows[keep], cols[keep])), shape=(n, n))
        mat.has_sorted_indices = True
        return mat

    def edge_geometries(self) -> np.ndarray:
        """LineStrings of all segments (straight ones built from node coordinates when `geometry` is None)."""
        import shapely

        if self.geometry is not None:
            return self.geometry
        coords = np.stack(
            [self.x[self.edge_u], self.y[self.edge_u], self.x[self.edge_v], self.y[self.edge_v]], axis=1
        ).reshape(-1, 2, 2)
        return shapely.linestrings(coords)

    def summary(self) -> str:
        """One INFO line: counts, CRS, what was dropped."""
        epsg = self.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else self.crs.name
        text = f"walk network: {self.n_nodes:,} nodes, {self.n_edges:,} edges, {crs}"
        if self.dropped_nodes:
            text += f", {self.dropped_nodes:,} nodes in {self.dropped_parts:,} small parts dropped"
        if self.stand_in:
            text += " (SYNTHETIC STAND-IN, not real streets)"
        return text


# --------------------------------------------------------------------------------------------- walk filter


def walkable(tags: pd.DataFrame) -> np.ndarray:
    """Which ways are walkable under `WALK_RULE`.

    Parameters
    ----------
    tags
        One row per way (or per segment of a way), columns named after OSM tags: ``highway``, ``foot``,
        ``access``, ``service``, ``area`` (others are ignored). A missing column, None, NaN or "" means that
        the way lacks the tag. A value may be a ``;``-separated multi-value or a list (merged ways of a
        simplified osmnx graph).

    Returns
    -------
    numpy.ndarray
        One bool per row, True where people may walk.

    Examples
    --------
    >>> walkable(pd.DataFrame({"highway": ["footway", "motorway", "motorway", "cycleway"],
    ...                        "foot": [None, None, "yes", "no"]}))
    array([ True, False,  True, False])
    """
    if not isinstance(tags, pd.DataFrame):
        raise InputError(f"`tags` must be a pandas DataFrame of OSM tags, got {type(tags).__name__}")
    rule = WALK_RULE
    highway_ok = rule["highway_walkable"]
    highway_if_foot = rule["highway_if_foot_allowed"]
    highway_all = highway_ok | highway_if_foot

    def test(key, predicate) -> np.ndarray:
        if key not in tags.columns:
            return np.full(len(tags), predicate(()), dtype=bool)
        codes, values = _tag_values(tags[key])
        lookup = np.array([predicate(v) for v in values] + [predicate(())], dtype=bool)
        return lookup[codes]  # code -1 (tag missing) picks the last entry

    street = test("highway", lambda v: bool(v) and all(p in highway_ok for p in v))
    foot_only = test(
        "highway",
        lambda v: bool(v) and all(p in highway_all for p in v) and any(p in highway_if_foot for p in v),
    )
    foot_allows = test("foot", lambda v: any(p in rule["foot_allows"] for p in v))
    foot_forbids = test("foot", lambda v: any(p in rule["foot_forbids"] for p in v))
    area = test("area", lambda v: any(p in rule["area_excludes"] for p in v))
    closed = test("access", lambda v: any(p in rule["access_forbids"] for p in v)) | test(
        "service", lambda v: any(p in rule["service_forbids"] for p in v)
    )
    return (street | (foot_only & foot_allows)) & ~foot_forbids & ~area & (foot_allows | ~closed)


def _tag_values(column: pd.Series) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Codes of a tag column (-1 = missing) and the parsed values of each distinct entry."""
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # unhashable entries (lists from simplified osmnx graphs)
        codes, uniques = pd.factorize(column.map(lambda v: ";".join(_tag_parts(v)) or None))
    return codes, [_tag_parts(u) for u in uniques]


def _tag_parts(value) -> tuple[str, ...]:
    """The values of one tag entry: ``"private;delivery"`` and ``["a", "b"]`` give two, None none."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):  # a list written as text (GraphML)
            text = text[1:-1].replace(",", ";").replace("'", "").replace('"', "")
        return tuple(p.strip() for p in text.split(";") if p.strip())
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return tuple(p for item in value for p in _tag_parts(item))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    return _tag_parts(str(value))


# --------------------------------------------------------------------------------------------- files


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
    target = None if crs is None else _metric_crs(crs)
    stat = path.stat()
    use_cache = stat.st_size > CACHE_MIN_BYTES if cache is None else bool(cache)
    cache_file = None
    if use_cache:
        key = _cache_key(
            {
                "kind": "file",
                "path": str(path.resolve()),
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
                "crs": None if target is None else target.to_wkt(),
                "bbox": None if bbox is None else list(_bbox(bbox)),
            }
        )
        cache_file = _cache_path(key, path.name)
        net = _load_cached(cache_file)
        if net is not None:
            log.info("%s (prepared arrays from the cache)", net.summary())
            return net
    if fmt == "osm-pbf":
        net = _read_pbf(path, target, bbox=None if bbox is None else _bbox(bbox))
    elif fmt == "osm-xml":
        net = _read_xml(path, target)
    else:
        net = _read_graphml(path, target)
    if bbox is not None:
        net = clip_network(net, bbox)
    if cache_file is not None:
        net = _save_cached(net, cache_file)
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
        raise _no_walkable(path.name, 0)
    table = pd.DataFrame({tag: edges[tag] for tag in WALK_TAGS if tag in edges.columns})
    keep = walkable(table)
    if not keep.any():
        raise _no_walkable(path.name, len(edges))
    return _assemble(
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
    with _osmnx_walk_tags() as ox:
        try:
            graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
        except Exception as exc:
            raise DataError(
                f"`path` {path.name!r} could not be read as OSM XML ({type(exc).__name__}: {exc}); it may be "
                f"truncated or corrupt: export it again, or {_FORMAT_HINT}"
            ) from exc
    return _from_graph(graph, crs=crs, source="osm-xml", description=path.name, walk_filter=True)


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
    return _from_graph(graph, crs=crs, source="graphml", description=path.name, walk_filter=None)


@contextlib.contextmanager
def _osmnx_walk_tags() -> Iterator:
    """osmnx, with the tags of the walk filter kept on edges (restored afterwards)."""
    import osmnx as ox

    old = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = list(dict.fromkeys([*old, *WALK_TAGS]))
    try:
        yield ox
    finally:
        ox.settings.useful_tags_way = old


def _no_walkable(what: str, n_ways: int) -> DataError:
    return DataError(
        f"{what!r} has no walkable ways ({n_ways:,} street segments read, none passes the walk filter "
        "planner.network.WALK_RULE, e.g. only motorways or trunk roads without foot=yes); give an extract "
        "that covers streets and footpaths"
    )


# --------------------------------------------------------------------------------------------- networkx


def from_networkx(G, *, source: str | None = None, crs=None) -> StreetNetwork:  # noqa: N803
    """A walk network from a networkx / osmnx graph.

    Parameters
    ----------
    G
        Any networkx graph (directed or not, multi or not), with node attributes ``x``, ``y`` and its CRS in
        ``G.graph["crs"]`` (osmnx graphs carry it; lon/lat is "EPSG:4326"). Edges may carry shapely LineString
        ``geometry`` in that CRS (straight segments otherwise); a ``length`` attribute is ignored: lengths are
        measured on the projected geometry. In a directed graph the two directions of a two-way street are one
        segment (edges between the same nodes with the same ``osmid`` and geometry length); a one-way edge
        counts as a two-way segment. Integer node keys become ``node_id``; other keys are numbered in graph
        order. When edges carry ``highway`` tags, the walk filter `walkable` applies (edges without
        ``highway`` are dropped). Filter before simplifying: an edge of a simplified graph merges the tags of
        several ways, so the filter can only judge the merge (every ``highway`` value must be walkable; any
        ``foot`` value that allows, allows). Nodes without edges are left out (not counted as dropped).
    source
        ``network.source`` of the result, one of `SOURCES`. None: "graph".
    crs
        Projected metric CRS for the result. None: the graph's own CRS if projected, else the local UTM zone.

    Returns
    -------
    StreetNetwork
        Cut to its largest connected part.
    """
    source = "graph" if source is None else source
    if source not in SOURCES:
        raise InputError(f"`source` {source!r} is not one of {', '.join(SOURCES)}")
    target = None if crs is None else _metric_crs(crs)
    n = G.number_of_nodes() if hasattr(G, "number_of_nodes") else 0
    net = _from_graph(
        G, crs=target, source=source, description=f"networkx graph of {n:,} nodes", walk_filter=None
    )
    log.info(net.summary())
    return net


def _from_graph(
    G,  # noqa: N803
    *,
    crs: pyproj.CRS | None,
    source: str,
    description: str,
    walk_filter: bool | None,
) -> StreetNetwork:
    import networkx as nx
    import shapely

    if not isinstance(G, nx.Graph):
        raise InputError(f"`G` must be a networkx graph (e.g. from osmnx), got {type(G).__name__}")
    graph_crs = G.graph.get("crs")
    if graph_crs is None:
        raise InputError(
            "`G` has no CRS in G.graph['crs']; set it to 'EPSG:4326' when x/y are lon/lat, or to the EPSG "
            "code of its projected x/y"
        )
    try:
        src = pyproj.CRS.from_user_input(graph_crs)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(f"`G`.graph['crs'] {graph_crs!r} is not a CRS pyproj understands ({exc})") from exc
    keys = list(G.nodes)
    x = np.array([_float(G.nodes[k].get("x")) for k in keys])
    y = np.array([_float(G.nodes[k].get("y")) for k in keys])
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise InputError(
            f"`G` has nodes without numeric x/y attributes: {first_ids(np.asarray(keys, dtype=object)[bad])}"
            "; give every node its coordinates as x and y"
        )
    if all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys):
        node_id = np.array(keys, dtype=np.int64)
    else:
        node_id = np.arange(len(keys), dtype=np.int64)
    position = {k: i for i, k in enumerate(keys)}

    u, v, data = _graph_edges(G, position)
    if not data:
        raise DataError(f"{description!r} has no edges; a walk network needs streets between its nodes")
    geoms = np.array([d.get("geometry") for d in data], dtype=object)
    has_geom = np.array([g is not None for g in geoms], dtype=bool)
    if G.is_directed():
        glen = np.zeros(len(data))
        if has_geom.any():
            glen[has_geom] = shapely.length(geoms[has_geom])
        rev = np.array([d.get("reversed") is True for d in data], dtype=bool)
        osmid = np.array([_way_key(d.get("osmid")) for d in data], dtype=object)
        keep = _one_per_segment(u, v, osmid, glen, rev)
        u, v, geoms, has_geom = u[keep], v[keep], geoms[keep], has_geom[keep]
        data = [d for d, k in zip(data, keep, strict=True) if k]
    n_raw = len(data)
    if walk_filter is None:
        walk_filter = any("highway" in d for d in data)
    if walk_filter:
        table = pd.DataFrame({tag: [d.get(tag) for d in data] for tag in WALK_TAGS})
        keep = walkable(table)
        if not keep.any():
            raise _no_walkable(description, n_raw)
        u, v, geoms, has_geom = u[keep], v[keep], geoms[keep], has_geom[keep]
    if has_geom.any():
        missing = ~has_geom
        if missing.any():
            straight = np.stack([x[u], y[u], x[v], y[v]], axis=1).reshape(-1, 2, 2)
            geoms = geoms.copy()
            geoms[missing] = shapely.linestrings(straight[missing])
    else:
        geoms = None
    return _assemble(
        node_id,
        x,
        y,
        node_id[u],
        node_id[v],
        geoms,
        src_crs=src,
        crs=crs,
        source=source,
        description=description,
        meta={"raw_nodes": len(keys), "raw_edges": n_raw},
    )


def _graph_edges(G, position: dict) -> tuple[np.ndarray, np.ndarray, list[dict]]:  # noqa: N803
    """Node positions of both ends and the attribute dict of every edge, each undirected edge once."""
    directed, multi = G.is_directed(), G.is_multigraph()
    us: list[int] = []
    vs: list[int] = []
    data: list[dict] = []
    for a, neighbours in G.adjacency():  # raw dicts: much faster than G.edges(data=True)
        pa = position[a]
        for b, entry in neighbours.items():
            pb = position[b]
            if not directed and pb < pa:  # an undirected edge is listed under both ends
                continue
            for d in entry.values() if multi else (entry,):
                us.append(pa)
                vs.append(pb)
                data.append(d)
    return np.array(us, dtype=np.int64), np.array(vs, dtype=np.int64), data


def _way_key(value) -> str:
    """A way id (or the sorted ids of merged ways) as text, to group the two directions of a segment."""
    if isinstance(value, (list, tuple, set)):
        return ";".join(sorted(str(p) for p in value))
    return "" if value is None else str(value)


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _one_per_segment(u, v, osmid, glen, rev) -> np.ndarray:
    """Rows to keep so that each street segment of a directed graph appears once.

    Edges between the same two nodes with the same way id and geometry length are one group; a two-way segment
    has as many edges one way as the other, a one-way segment only one way, so the group keeps the edges of
    its more numerous direction (forward on a tie). A self-loop's direction is osmnx's ``reversed`` flag.
    """
    forward = (u < v) | ((u == v) & ~rev)
    frame = pd.DataFrame(
        {"a": np.minimum(u, v), "b": np.maximum(u, v), "o": osmid, "l": np.round(glen, 6), "f": forward}
    )
    groups = frame.groupby(["a", "b", "o", "l"], sort=False)["f"]
    n_forward = groups.transform("sum").to_numpy()
    n_all = groups.transform("size").to_numpy()
    return np.where(n_forward >= n_all - n_forward, forward, ~forward)


def to_networkx(net: StreetNetwork):
    """An undirected networkx graph of a walk network (for oracles and plotting).

    Nodes are positions ``0..n-1`` with attributes ``x``, ``y`` (metres in ``net.crs``) and ``node_id``; edges
    carry ``length`` in metres, the shortest of parallel segments (as in ``net.adjacency``).
    ``G.graph["crs"]`` is ``net.crs``, so `from_networkx` reads the graph back.
    """
    import networkx as nx

    G = nx.Graph(crs=net.crs)  # noqa: N806
    G.add_nodes_from(
        (i, {"x": float(net.x[i]), "y": float(net.y[i]), "node_id": int(net.node_id[i])})
        for i in range(net.n_nodes)
    )
    coo = net.adjacency.tocoo()
    upper = coo.row <= coo.col
    G.add_edges_from(
        (int(a), int(b), {"length": float(w)})
        for a, b, w in zip(coo.row[upper], coo.col[upper], coo.data[upper], strict=True)
    )
    return G


# --------------------------------------------------------------------------------------------- preparing


def _assemble(  # noqa: PLR0917
    node_id: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    u_id: np.ndarray,
    v_id: np.ndarray,
    geoms: np.ndarray | None,
    *,
    src_crs: pyproj.CRS,
    crs: pyproj.CRS | None,
    source: str,
    description: str,
    meta: dict,
) -> StreetNetwork:
    """Project, measure, drop zero-length self-loops, order by node id, keep the largest connected part."""
    import shapely

    order = np.argsort(node_id, kind="stable")
    sorted_id = node_id[order]
    iu = np.minimum(np.searchsorted(sorted_id, u_id), len(sorted_id) - 1)
    iv = np.minimum(np.searchsorted(sorted_id, v_id), len(sorted_id) - 1)
    known = (sorted_id[iu] == u_id) & (sorted_id[iv] == v_id)
    if not known.all():
        log.debug(
            "%s: %d segments refer to nodes without coordinates; dropped", description, int((~known).sum())
        )
    iu, iv = order[iu[known]], order[iv[known]]
    if geoms is not None:
        geoms = geoms[known]

    if crs is None:
        if src_crs.is_geographic:
            used = _used_positions(len(x), iu, iv)
            crs = _utm_crs(float(np.mean(x[used])), float(np.mean(y[used])))
        else:
            crs = _metric_crs(src_crs, name="the graph's CRS")
    px, py = x, y
    if not crs.equals(src_crs):
        transformer = pyproj.Transformer.from_crs(src_crs, crs, always_xy=True)
        used = _used_positions(len(x), iu, iv)
        px, py = np.full(len(x), np.nan), np.full(len(y), np.nan)
        px[used], py[used] = transformer.transform(x[used], y[used])
        if geoms is not None:
            geoms = shapely.transform(
                geoms, lambda c: np.column_stack(transformer.transform(c[:, 0], c[:, 1]))
            )
        if not (np.isfinite(px[used]).all() and np.isfinite(py[used]).all()):
            raise DataError(
                f"{description}: some coordinates cannot be projected to {crs.name}; check that the data's "
                f"CRS ({src_crs.name}) is right and that `crs` covers the area (crs=None: local UTM zone)"
            )

    if geoms is not None:
        start = shapely.get_coordinates(shapely.get_point(geoms, 0))
        backwards = np.hypot(start[:, 0] - px[iv], start[:, 1] - py[iv]) < np.hypot(
            start[:, 0] - px[iu], start[:, 1] - py[iu]
        )
        geoms = geoms.copy()
        geoms[backwards] = shapely.reverse(geoms[backwards])
        length = shapely.length(geoms)
    else:
        length = np.hypot(px[iu] - px[iv], py[iu] - py[iv])
    keep = ~((iu == iv) & (length == 0))
    iu, iv, length = iu[keep], iv[keep], length[keep]
    if geoms is not None:
        geoms = geoms[keep]
    if len(iu) == 0:
        raise _no_walkable(description, int(known.sum()))

    used = _used_positions(len(x), iu, iv)
    pos = used[np.argsort(node_id[used], kind="stable")]  # nodes by ascending id
    remap = np.empty(len(x), dtype=np.int64)
    remap[pos] = np.arange(len(pos))
    eu, ev = remap[iu], remap[iv]
    swap = eu > ev
    eu, ev = np.where(swap, ev, eu), np.where(swap, eu, ev)
    if geoms is not None:
        geoms[swap] = shapely.reverse(geoms[swap])
    edge_order = np.lexsort((length, ev, eu))
    net = StreetNetwork(
        node_id=node_id[pos].astype(np.int64),
        x=np.asarray(px[pos], dtype=np.float64),
        y=np.asarray(py[pos], dtype=np.float64),
        edge_u=eu[edge_order].astype(np.int64),
        edge_v=ev[edge_order].astype(np.int64),
        length_m=np.asarray(length[edge_order], dtype=np.float64),
        crs=crs,
        geometry=None if geoms is None else geoms[edge_order],
        source=source,
        description=description,
        meta=dict(meta),
    )
    return largest_part(net)


def _used_positions(n: int, iu: np.ndarray, iv: np.ndarray) -> np.ndarray:
    """Sorted positions that some edge touches (a mask: much faster than np.unique at city scale)."""
    mask = np.zeros(n, dtype=bool)
    mask[iu] = True
    mask[iv] = True
    return np.flatnonzero(mask)


def largest_part(net: StreetNetwork) -> StreetNetwork:
    """The largest connected part of a walk network (ties: the part holding the smallest node id).

    Walking is two-way, so this is also the largest strongly connected part. ``dropped_nodes`` and
    ``dropped_parts`` of the result add what this call removed to what `net` had already dropped (an isolated
    node counts as a part). Returns `net` itself when it is connected.
    """
    from scipy.sparse.csgraph import connected_components

    n = net.n_nodes
    n_parts, labels = connected_components(net.adjacency, directed=False)
    if n_parts <= 1:
        return net
    sizes = np.bincount(labels, minlength=n_parts)
    first = np.full(n_parts, n, dtype=np.int64)
    np.minimum.at(first, labels, np.argsort(np.argsort(net.node_id, kind="stable"), kind="stable"))
    biggest = np.flatnonzero(sizes == sizes.max())
    part = biggest[np.argmin(first[biggest])]
    keep_node = labels == part
    return _keep(net, keep_node, keep_node[net.edge_u], dropped_parts=net.dropped_parts + int(n_parts - 1))


def _keep(net: StreetNetwork, keep_node: np.ndarray, keep_edge: np.ndarray, **changes) -> StreetNetwork:
    """`net` cut to the marked nodes and segments (both ends kept), the removed nodes counted."""
    remap = np.cumsum(keep_node) - 1
    return dataclasses.replace(
        net,
        node_id=net.node_id[keep_node],
        x=net.x[keep_node],
        y=net.y[keep_node],
        edge_u=remap[net.edge_u[keep_edge]],
        edge_v=remap[net.edge_v[keep_edge]],
        length_m=net.length_m[keep_edge],
        geometry=None if net.geometry is None else net.geometry[keep_edge],
        dropped_nodes=net.dropped_nodes + int(net.n_nodes - keep_node.sum()),
        **{"meta": dict(net.meta), **changes},
    )


def _bbox(bbox) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` in degrees, checked, or an `InputError` that says what to give."""
    try:
        values = tuple(float(b) for b in bbox)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not np.isfinite(values).all():
        raise InputError(f"`bbox` must be four numbers (west, south, east, north) in degrees, got {bbox!r}")
    west, south, east, north = values
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(
            f"`bbox` {values} is not (west, south, east, north) in lon/lat degrees with west < east and "
            "south < north; e.g. (123.38, 41.78, 123.45, 41.82) for central Shenyang"
        )
    return values


def clip_network(net: StreetNetwork, bbox) -> StreetNetwork:
    """The streets of `net` with both ends inside ``bbox`` (west, south, east, north; WGS84), largest part.

    Nodes and segments outside are counted in ``dropped_nodes`` (and ``dropped_parts`` for what the clip cut
    off), so nothing leaves silently.
    """
    import shapely

    west, south, east, north = _bbox(bbox)
    box = shapely.segmentize(shapely.box(west, south, east, north), 0.01)  # curved edges once projected
    to_net = pyproj.Transformer.from_crs(4326, net.crs, always_xy=True)
    area = shapely.transform(box, lambda xy: np.column_stack(to_net.transform(xy[:, 0], xy[:, 1])))
    inside = shapely.contains_xy(area, net.x, net.y)
    keep_edge = inside[net.edge_u] & inside[net.edge_v]
    keep_node = np.zeros(net.n_nodes, dtype=bool)
    keep_node[net.edge_u[keep_edge]] = True
    keep_node[net.edge_v[keep_edge]] = True
    if not keep_node.any():
        raise DataError(
            f"no walkable street of {net.description or 'the network'} lies inside bbox {bbox!r}; "
            "check the order (west, south, east, north) and that the file covers the area"
        )
    clipped = _keep(net, keep_node, keep_edge, meta={**net.meta, "bbox": [west, south, east, north]})
    return largest_part(clipped)


def _utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """The WGS84 UTM zone of a point (EPSG:326xx north, 327xx south)."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _metric_crs(crs, *, name: str = "crs") -> pyproj.CRS:
    """A projected CRS in metres, or an `InputError` that says what to give."""
    example = "e.g. 32651 (UTM 51N, Shenyang), or crs=None for the local UTM zone"
    try:
        value = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(
            f"`{name}` {crs!r} is not a CRS pyproj understands ({exc}); give an EPSG code, {example}"
        ) from exc
    if value.is_geographic:
        raise InputError(
            f"`{name}` {value.name} is geographic (degrees); walk lengths need a projected CRS in metres, "
            f"{example}"
        )
    units = {axis.unit_name for axis in value.axis_info}
    if not value.is_projected or units != {"metre"}:
        raise InputError(
            f"`{name}` {value.name} is not a projected CRS in metres "
            f"(units: {', '.join(sorted(units)) or 'none'}); "
            f"{example}"
        )
    return value


# --------------------------------------------------------------------------------------------- online


#: Overpass filters of the downloads: a superset of `WALK_RULE` (union of the two), which is then applied in
#: full.
OVERPASS_FILTERS = (
    '["highway"~"^(' + "|".join(sorted(WALK_RULE["highway_walkable"])) + ')$"]["area"!~"^yes$"]',
    '["highway"~"^(' + "|".join(sorted(WALK_RULE["highway_if_foot_allowed"])) + ')$"]'
    '["foot"~"^(' + "|".join(sorted(WALK_RULE["foot_allows"])) + ')$"]',
)


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
    values = _bbox(bbox)
    west, south, east, north = values
    description = f"OSM bbox {west:.4f},{south:.4f},{east:.4f},{north:.4f}"
    return _online("bbox", values, values, description, crs=crs, cache=cache, cached_only=cached_only)


def _online(
    kind: str, arg, key, description: str, *, crs, cache: bool | None, cached_only: bool | None
) -> StreetNetwork | None:
    target = None if crs is None else _metric_crs(crs)
    use_cache = True if cache is None else bool(cache)
    if cached_only and not use_cache:
        raise InputError(
            "`cached_only=True` reads the cache, which `cache=False` turns off; drop one of them"
        )
    cache_file = _cache_path(
        _cache_key({"kind": kind, "query": key, "crs": None if target is None else target.to_wkt()}), kind
    )
    if use_cache:
        net = _load_cached(cache_file)
        if net is not None:
            log.info("%s (from the cache, not downloaded)", net.summary())
            return net
    if cached_only:
        log.info("no cached walk network of %s (cached_only: not downloading)", description)
        return None
    with _osmnx_walk_tags() as ox:
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
    net = _from_graph(graph, crs=target, source="osm-online", description=description, walk_filter=True)
    if use_cache:
        net = _save_cached(net, cache_file)
    log.info(net.summary())
    return net


# --------------------------------------------------------------------------------------------- cache


def _cache_key(params: Mapping) -> str:
    """Hash of the parameters, the walk rule and the cache format."""
    payload = {"version": _CACHE_VERSION, "rule": {k: sorted(v) for k, v in WALK_RULE.items()}, **params}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _cache_path(key: str, label: str) -> Path:
    from planner.settings import cache_dir

    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in label)[:48]
    return cache_dir() / "networks" / f"{safe}-{key}.npz"


def _save_cached(net: StreetNetwork, file: Path) -> StreetNetwork:
    """Write the arrays (geometry as WKB) to an .npz, atomically; return `net` with ``meta["cache_file"]``.

    A failure only logs a warning (and returns `net` unchanged).
    """
    import shapely

    arrays = {
        "node_id": net.node_id,
        "x": net.x,
        "y": net.y,
        "edge_u": net.edge_u,
        "edge_v": net.edge_v,
        "length_m": net.length_m,
    }
    if net.geometry is not None:
        wkb = shapely.to_wkb(net.geometry)
        sizes = np.fromiter((len(b) for b in wkb), np.int64, len(wkb))
        arrays["geometry_wkb"] = np.frombuffer(b"".join(wkb), dtype=np.uint8)
        arrays["geometry_offsets"] = np.concatenate([[0], np.cumsum(sizes)])
    header = {
        "crs": net.crs.to_wkt(),
        "source": net.source,
        "stand_in": net.stand_in,
        "dropped_nodes": net.dropped_nodes,
        "dropped_parts": net.dropped_parts,
        "description": net.description,
        "meta": net.meta,
    }
    arrays["header"] = np.array(json.dumps(header, default=str))
    tmp = file.with_name(f"{file.stem}.{os.getpid()}.tmp.npz")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp, **arrays)
        tmp.replace(file)
    except OSError as exc:
        log.warning(
            "could not write the network cache %s (%s); the next read prepares the network again", file, exc
        )
        tmp.unlink(missing_ok=True)
        return net
    return dataclasses.replace(net, meta={**net.meta, "cache_file": str(file)})


def _load_cached(file: Path) -> StreetNetwork | None:
    """The network stored in `file`, or None when there is none (or it is unreadable: then it is rebuilt)."""
    import zipfile

    import shapely

    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            geometry = None
            if "geometry_wkb" in z.files:
                buffer = z["geometry_wkb"].tobytes()
                offsets = z["geometry_offsets"]
                geometry = shapely.from_wkb(
                    np.array([buffer[a:b] for a, b in itertools.pairwise(offsets)], dtype=object)
                )
            net = StreetNetwork(
                node_id=z["node_id"],
                x=z["x"],
                y=z["y"],
                edge_u=z["edge_u"],
                edge_v=z["edge_v"],
                length_m=z["length_m"],
                crs=pyproj.CRS.from_wkt(header["crs"]),
                geometry=geometry,
                source=header["source"],
                stand_in=header["stand_in"],
                dropped_nodes=header["dropped_nodes"],
                dropped_parts=header["dropped_parts"],
                description=header["description"],
                meta={**header["meta"], "cache_file": str(file), "from_cache": True},
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, shapely.errors.GEOSException) as exc:
        log.warning("ignoring the unreadable network cache %s (%s); preparing the network again", file, exc)
        return None
    return net
