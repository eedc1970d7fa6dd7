"""The `StreetNetwork` type and its operations: assembly from arrays, largest part, clipping, CRS.

A `StreetNetwork` is an immutable, undirected, projected street graph held as flat arrays (nodes by position
``0..n-1``, each street segment once). Walking is two-way on every walkable way, so the largest strongly
connected part of the walk graph is its largest connected component.

Every reader (`planner.network.read`, `planner.network.download`, `planner.network.convert`) ends in
`assemble`: projection to a metric CRS (local UTM by default, `planner.coords.utm_crs`), segment lengths from
the projected geometry, and the largest connected part.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyproj
import scipy.sparse as sp

from planner._errors import DataError, InputError
from planner.coords import utm_crs
from planner.network.walk import no_walkable_error
from planner.provenance import Provenance, Source

log = logging.getLogger(__name__)

#: network.source values, as written to metrics.json
SOURCES = ("osm-pbf", "osm-xml", "graphml", "osm-online", "synthetic", "graph")

#: Licence and attribution of anything made from OpenStreetMap data.
OSM_LICENCE = "ODbL 1.0, (c) OpenStreetMap contributors"


def osm_streets(origin: str, *, date: str = "") -> Provenance:
    """The provenance of real streets read or downloaded from OpenStreetMap."""
    return Provenance(
        (
            Source(
                "streets",
                real=True,
                what=f"OpenStreetMap streets ({origin})",
                what_zh=f"OpenStreetMap 真实街道（{origin}）",
                origin=origin,
                licence=OSM_LICENCE,
                date=date,
            ),
        )
    )


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
    dropped_nodes, dropped_parts
        Nodes, and disconnected parts, removed when keeping the largest connected part.
    description
        One line for logs, maps and metrics (e.g. the file name).
    meta
        Counts and paths for logs and metrics (``raw_nodes``, ``cache_file``, ...).
    provenance
        What the streets are and where they came from (`planner.provenance`): one ``"streets"`` source, real
        for OpenStreetMap data, a stand-in for synthetic streets; empty for a graph of unknown origin.
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
    dropped_nodes: int = 0
    dropped_parts: int = 0
    description: str = ""
    meta: dict = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def stand_in(self) -> bool:
        """True when the network is not real street data (read from `provenance`); every output shows it."""
        return self.provenance.is_stand_in

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
            text += f" ({'; '.join(self.provenance.banner_lines())})"
        return text


def assemble(  # noqa: PLR0917
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
            ux, uy = x[used], y[used]
            crs = utm_crs((ux.min() + ux.max()) / 2.0, (uy.min() + uy.max()) / 2.0)
        else:
            crs = metric_crs(src_crs, name="the graph's CRS")
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
        raise no_walkable_error(description, int(known.sum()))

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


def check_bbox(bbox) -> tuple[float, float, float, float]:
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

    west, south, east, north = check_bbox(bbox)
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


def metric_crs(crs, *, name: str = "crs") -> pyproj.CRS:
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
