"""Walk networks: loading from OSM files or online, walkable-way filter, projection, largest connected part.

A `StreetNetwork` is an immutable, undirected, projected street graph held as flat arrays (nodes by position
``0..n-1``, each street segment once). Walking is two-way on every walkable way, so the largest strongly connected
part of the walk graph is its largest connected component.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyproj
import scipy.sparse as sp

log = logging.getLogger(__name__)

#: network.source values, as written to metrics.json
SOURCES = ("osm-pbf", "osm-xml", "graphml", "osm-online", "synthetic", "graph")


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
