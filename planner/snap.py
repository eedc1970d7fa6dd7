"""Points onto the nearest street edge (not the nearest node), with the walk from the door to the street.

A point far from every walkable street (farther than ``max_snap_m``) is not dropped: it stays in the result
with ``edge == -1``, is listed in `Snapped.far`, and a `PlannerWarning` names it. Such a point reaches
nothing.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from planner._errors import InputError, PlannerWarning
from planner._validate import check_points, first_ids
from planner.network import StreetNetwork
from planner.provenance import Provenance, provenance_of
from planner.settings import DEFAULT_MAX_SNAP_M

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Snapped:
    """Points placed on the street network.

    Attributes
    ----------
    ids
        The points' ids (the index of the input layer, same order).
    edge
        Position of the street segment each point is snapped onto (int64); -1 for points beyond
        ``max_snap_m``.
    along_m
        Metres along that segment from its ``edge_u`` end to the snapped position (NaN when not snapped).
    access_m
        Straight metres from the point to the street: the walk from the door to the street, counted in every
        travel time. Given for every point, also for those too far to snap.
    x, y
        The snapped position on the street, in the network's CRS (NaN when not snapped).
    far
        Ids of the points farther than ``max_snap_m`` from any street (not snapped).
    provenance
        What the points and the network are (`planner.provenance`): stand-ins (estimated positions,
        synthetic streets) say so.
    """

    ids: pd.Index
    edge: np.ndarray
    along_m: np.ndarray
    access_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    far: pd.Index
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def stand_in(self) -> bool:
        """True when the points or the network are stand-in data (read from `provenance`)."""
        return self.provenance.is_stand_in

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def snapped(self) -> np.ndarray:
        """Boolean mask of the points that are on the network (``edge >= 0``)."""
        return self.edge >= 0

    def subset(self, ids) -> Snapped:
        """The points with these ids, in this order (e.g. the chosen sites), without snapping again."""
        from planner._errors import InputError
        from planner._validate import first_ids

        pos = self.ids.get_indexer(pd.Index(ids))
        if (pos < 0).any():
            raise InputError(f"`ids` names points that were not snapped: {first_ids(pd.Index(ids)[pos < 0])}")
        return replace(
            self,
            ids=self.ids[pos],
            edge=self.edge[pos],
            along_m=self.along_m[pos],
            access_m=self.access_m[pos],
            x=self.x[pos],
            y=self.y[pos],
            far=self.far[self.far.isin(self.ids[pos])],
        )


def snap_points(
    net: StreetNetwork, points, *, max_snap_m: float | None = None, name: str | None = None
) -> Snapped:
    """Snap points onto the nearest street segment of ``net``.

    Parameters
    ----------
    net
        The walk network.
    points
        GeoDataFrame of points (polygons are snapped by their representative point) with a unique index, in
        any CRS; it is reprojected to ``net.crs``.
    max_snap_m
        Points farther than this from every street are not snapped (kept with ``edge == -1``, listed in
        `Snapped.far`, and warned about). Default `planner.settings.DEFAULT_MAX_SNAP_M` (500 m).
    name
        What to call the layer in messages (``"sites"``, ``"demand"``); default ``"points"``.

    Returns
    -------
    Snapped
        One entry per input row, in input order. Ties between equally near segments go to the smallest segment
        position.

    Warns
    -----
    PlannerWarning
        When some points are farther than ``max_snap_m`` from every street (first ten ids and the count).
    """
    import shapely

    name = name or "points"
    check_points(points, name)
    max_snap_m = DEFAULT_MAX_SNAP_M if max_snap_m is None else float(max_snap_m)
    if not np.isfinite(max_snap_m) or max_snap_m < 0:
        raise InputError(f"`max_snap_m` must be a distance in metres >= 0, got {max_snap_m!r}")
    geom = points.geometry
    if not geom.crs.equals(net.crs):
        geom = geom.to_crs(net.crs)
    geoms = geom.to_numpy()
    not_point = shapely.get_type_id(geoms) != 0
    if not_point.any():
        geoms = geoms.copy()
        geoms[not_point] = shapely.point_on_surface(geoms[not_point])
    n = len(geoms)
    lines = net.edge_geometries()
    edge = np.full(n, -1, dtype=np.int64)
    access_m = np.full(n, np.nan)
    if n and len(lines):
        tree = shapely.STRtree(lines)
        (pt, ed), dist = tree.query_nearest(geoms, all_matches=True, return_distance=True)
        order = np.lexsort((ed, dist, pt))  # per point: nearest first, then smallest edge position
        pt, ed, dist = pt[order], ed[order], dist[order]
        first = np.ones(len(pt), dtype=bool)
        first[1:] = pt[1:] != pt[:-1]
        edge[pt[first]] = ed[first]
        access_m[pt[first]] = dist[first]
    far_mask = ~(access_m <= max_snap_m)
    edge[far_mask] = -1
    along_m = np.full(n, np.nan)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    ok = ~far_mask
    if ok.any():
        seg = lines[edge[ok]]
        frac = shapely.line_locate_point(seg, geoms[ok], normalized=True)
        on = shapely.line_interpolate_point(seg, frac, normalized=True)
        along_m[ok] = np.clip(frac, 0.0, 1.0) * net.length_m[edge[ok]]
        x[ok] = shapely.get_x(on)
        y[ok] = shapely.get_y(on)
    ids = points.index.copy()
    far = ids[far_mask]
    if len(far):
        warnings.warn(
            f"{len(far):,} of {n:,} `{name}` points are farther than max_snap_m={max_snap_m:g} m from any "
            f"walkable street and reach nothing: {first_ids(far)}; check their CRS/datum, "
            "or raise `max_snap_m`",
            PlannerWarning,
            stacklevel=2,
        )
    log.info(
        "snapped %s of %s points onto streets (median access %.0f m), %s too far",
        f"{int(ok.sum()):,}",
        f"{n:,}",
        float(np.nanmedian(access_m[ok])) if ok.any() else float("nan"),
        f"{len(far):,}",
    )
    return Snapped(
        ids=ids,
        edge=edge,
        along_m=along_m,
        access_m=access_m,
        x=x,
        y=y,
        far=far,
        provenance=net.provenance | provenance_of(points),
    )
