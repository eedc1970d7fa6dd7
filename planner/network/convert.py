"""networkx in and out: a `StreetNetwork` from any networkx / osmnx graph, and a networkx graph of one."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyproj

from planner._errors import DataError, InputError
from planner._validate import first_ids
from planner.network.core import SOURCES, StreetNetwork, assemble, metric_crs
from planner.network.walk import WALK_TAGS, no_walkable_error, walkable

log = logging.getLogger(__name__)


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
    target = None if crs is None else metric_crs(crs)
    n = G.number_of_nodes() if hasattr(G, "number_of_nodes") else 0
    net = from_graph(
        G, crs=target, source=source, description=f"networkx graph of {n:,} nodes", walk_filter=None
    )
    log.info(net.summary())
    return net


def from_graph(
    G,  # noqa: N803
    *,
    crs: pyproj.CRS | None,
    source: str,
    description: str,
    walk_filter: bool | None,
) -> StreetNetwork:
    """The walk network of a networkx graph (the step every graph reader shares; see `from_networkx`).

    `walk_filter` True applies `walkable` to the edges' tags, False keeps every edge, None applies it when
    some edge has a ``highway`` tag. Nothing is logged (the caller logs the summary).
    """
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
            raise no_walkable_error(description, n_raw)
        u, v, geoms, has_geom = u[keep], v[keep], geoms[keep], has_geom[keep]
    if has_geom.any():
        missing = ~has_geom
        if missing.any():
            straight = np.stack([x[u], y[u], x[v], y[v]], axis=1).reshape(-1, 2, 2)
            geoms = geoms.copy()
            geoms[missing] = shapely.linestrings(straight[missing])
    else:
        geoms = None
    return assemble(
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
