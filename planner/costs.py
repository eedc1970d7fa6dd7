"""Sparse walk times from sites to demand points along the street network, within a time limit.

Unreachable pairs (beyond the limit, or in another part of the network) are absent, never a magic number.

A walk is ``(access leg of the site + network path + access leg of the demand point) / speed``: the path
leaves the site's snapped position along its street segment towards either end (or, for two points on the
same segment, directly along it), follows the streets, and enters the demand point's segment from either
end. The search is a bounded Dijkstra compiled with numba (`planner._dijkstra`), run for blocks of sites on
a thread pool; memory grows with the pairs found, never with sites x nodes.
"""

from __future__ import annotations

import logging
import numbers
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import InputError
from planner._validate import first_ids, raise_if, weight_problems
from planner.network import StreetNetwork
from planner.provenance import Provenance
from planner.settings import resolve_speed
from planner.snap import Snapped, snap_points

log = logging.getLogger(__name__)

#: Tolerance (seconds) of every "walk_s <= threshold" test in the package.
THRESHOLD_TOL_S = 1e-9


@dataclass(frozen=True, eq=False)
class TravelTimes:
    """Walk seconds from each site to each demand point reachable within `limit_s`.

    Attributes
    ----------
    site_ids, demand_ids
        Row and column labels (named ``site_id`` and ``demand_id``).
    matrix
        ``(n_sites, n_demand)`` CSR array of walk seconds, one stored entry per reachable pair; a pair at 0 s
        (a demand point on the site) is an explicit stored zero. Never call ``eliminate_zeros`` on it.
    limit_s
        The time limit the table was computed to; pairs beyond it are absent.
    speed_mps
        Walking speed used (metres per second).
    provenance
        What the streets, sites and demand behind the times are (`planner.provenance`).
    """

    site_ids: pd.Index
    demand_ids: pd.Index
    matrix: sp.csr_array
    limit_s: float
    speed_mps: float = 1.0
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def stand_in(self) -> bool:
        """True when the times rest on stand-in data (read from `provenance`)."""
        return self.provenance.is_stand_in

    def __post_init__(self) -> None:
        shape = (len(self.site_ids), len(self.demand_ids))
        if self.matrix.shape != shape:
            raise InputError(
                f"travel-time matrix has shape {self.matrix.shape}, expected {shape} (sites, demand)"
            )

    @classmethod
    def from_table(
        cls,
        table: pd.DataFrame,
        site_ids,
        demand_ids,
        *,
        limit_s: float | None = None,
        speed_mps: float = 1.0,
        provenance: Provenance | None = None,
    ) -> TravelTimes:
        """Build from a long table with columns ``site_id, demand_id, walk_s`` (pairs beyond `limit_s` go)."""
        missing = {"site_id", "demand_id", "walk_s"} - set(table.columns)
        if missing:
            raise InputError(
                f"travel-time table lacks columns {sorted(missing)}; it needs site_id, demand_id, walk_s"
            )
        site_ids = pd.Index(site_ids, name="site_id")
        demand_ids = pd.Index(demand_ids, name="demand_id")
        walk = table["walk_s"].to_numpy(dtype=float)
        if limit_s is None:
            limit_s = float(walk.max()) if len(walk) else 0.0
        keep = walk <= limit_s
        rows = site_ids.get_indexer(table["site_id"][keep])
        cols = demand_ids.get_indexer(table["demand_id"][keep])
        if (rows < 0).any() or (cols < 0).any():
            raise InputError(
                "travel-time table names site or demand ids that are not in site_ids / demand_ids"
            )
        if np.isnan(walk).any() or (walk < 0).any():
            raise InputError("travel-time table has NaN or negative walk_s; unreachable pairs must be absent")
        mat = sp.csr_array((walk[keep], (rows, cols)), shape=(len(site_ids), len(demand_ids)))
        mat.sum_duplicates()
        return cls(site_ids, demand_ids, mat, float(limit_s), speed_mps, provenance or Provenance())

    @cached_property
    def table(self) -> pd.DataFrame:
        """Long table ``site_id, demand_id, walk_s``, sorted by site then demand."""
        coo = self.matrix.tocoo()
        order = np.lexsort((coo.col, coo.row))
        return pd.DataFrame(
            {
                "site_id": self.site_ids.to_numpy()[coo.row[order]],
                "demand_id": self.demand_ids.to_numpy()[coo.col[order]],
                "walk_s": coo.data[order],
            }
        )

    def within(self, threshold_s: float) -> sp.csr_array:
        """Boolean ``(n_sites, n_demand)`` CSR array: True where the walk takes at most `threshold_s`."""
        if threshold_s > self.limit_s + THRESHOLD_TOL_S:
            raise InputError(
                f"threshold {threshold_s:g} s exceeds the limit {self.limit_s:g} s the travel times were "
                "computed to; recompute them with a larger limit"
            )
        return within(self.matrix, threshold_s)

    def threshold_s(self, threshold_min, name: str = "threshold_min") -> float:
        """`threshold_min` checked against `limit_s` (an `InputError` naming `name`), in seconds."""
        raise_if(threshold_problems(threshold_min, self.limit_s, name), f"`{name}`")
        return float(threshold_min) * 60.0

    def weight_problems(self, weights, name: str = "weights") -> list[str]:
        """Problems of `weights` as a Series aligned by label with `demand_ids` (see `aligned_weights`)."""
        if not isinstance(weights, pd.Series):
            return [
                f"`{name}` must be a pandas Series indexed by demand_id, got {type(weights).__name__}; "
                "use e.g. `demand['older']`"
            ]
        problems = weight_problems(weights, name)
        if weights.index.has_duplicates:
            dup = weights.index[weights.index.duplicated()].unique()
            problems.append(f"`{name}` has duplicate demand ids: {first_ids(dup)}; ids must be unique")
            return problems
        missing = self.demand_ids.difference(weights.index, sort=False)
        if len(missing):
            problems.append(
                f"`{name}` lacks the demand ids {first_ids(missing)} that the travel times hold; give "
                f"every one of the {len(self.demand_ids):,} demand points a weight (0 if none live there)"
            )
        extra = weights.index.difference(self.demand_ids, sort=False)
        if len(extra):
            problems.append(
                f"`{name}` has demand ids the travel times do not hold: {first_ids(extra)}; "
                "compute the travel times for the same demand points, or drop those rows"
            )
        return problems

    def aligned_weights(self, weights, name: str = "weights") -> pd.Series:
        """`weights` checked (numbers >= 0, one per demand id) and ordered like `demand_ids`, as floats."""
        raise_if(self.weight_problems(weights, name), f"`{name}`")
        return pd.to_numeric(weights).astype(float).reindex(self.demand_ids)

    def nearest(
        self, open_mask: np.ndarray | None = None, *, threshold_s: float | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per demand point: the nearest open site row, its walk seconds, and the open sites in reach.

        See `nearest_open`; `open_mask` (boolean over `site_ids`) defaults to every site, ties go to the
        smallest site id.
        """
        if open_mask is None:
            open_mask = np.ones(len(self.site_ids), dtype=bool)
        return nearest_open(self.matrix, open_mask, rank=id_rank(self.site_ids), threshold_s=threshold_s)

    def sites(self, ids) -> TravelTimes:
        """The rows of the given site ids, in that order."""
        rows = self.site_ids.get_indexer(ids)
        if (rows < 0).any():
            raise InputError(f"unknown site ids: {list(pd.Index(ids)[rows < 0][:10])}")
        return TravelTimes(
            pd.Index(ids, name="site_id"),
            self.demand_ids,
            self.matrix[rows],
            self.limit_s,
            self.speed_mps,
            self.provenance,
        )


def within(matrix: sp.csr_array, threshold_s: float) -> sp.csr_array:
    """Boolean CSR array of the pairs of `matrix` with ``walk_s <= threshold_s`` (stored zeros count)."""
    keep = matrix.data <= threshold_s + THRESHOLD_TOL_S
    cum = np.concatenate([[0], np.cumsum(keep)])
    out = sp.csr_array(
        (np.ones(int(keep.sum()), dtype=bool), matrix.indices[keep], cum[matrix.indptr]), shape=matrix.shape
    )
    out.has_sorted_indices = matrix.has_sorted_indices
    return out


def threshold_problems(threshold_min, limit_s: float, name: str = "threshold_min") -> list[str]:
    """Problems of a walk threshold in minutes: a positive number, within the travel times' `limit_s`."""
    if isinstance(threshold_min, bool) or not isinstance(threshold_min, numbers.Real):
        return [f"`{name}` must be a number of minutes, got {threshold_min!r}"]
    value = float(threshold_min)
    if not np.isfinite(value) or value <= 0:
        return [f"`{name}` must be a positive number of minutes (e.g. 15), got {threshold_min!r}"]
    if value * 60.0 > limit_s + THRESHOLD_TOL_S:
        return [
            f"`{name}` = {value:g} min is beyond the {limit_s / 60:g} min ({limit_s:g} s) the travel times "
            f"were computed to; recompute them with limit_s >= {value * 60:g} or lower `{name}`"
        ]
    return []


def id_order(ids: pd.Index) -> np.ndarray:
    """Positions that sort `ids` (by ``str`` when the ids do not compare, e.g. mixed types); stable."""
    try:
        return np.asarray(ids.argsort(kind="stable"))
    except TypeError:
        return np.argsort(np.array([str(v) for v in ids], dtype=object), kind="stable")


def id_rank(ids: pd.Index) -> np.ndarray:
    """Rank of each id in sorted order (see `id_order`): ties between sites go to the smallest rank."""
    rank = np.empty(len(ids), dtype=np.int64)
    rank[id_order(ids)] = np.arange(len(ids))
    return rank


def nearest_open(
    matrix: sp.csr_array,
    open_mask: np.ndarray,
    *,
    rank: np.ndarray | None = None,
    threshold_s: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per demand column of a sites x demand walk matrix: nearest open row, its walk, open rows in reach.

    Parameters
    ----------
    matrix
        ``(n_sites, n_demand)`` CSR walk seconds (absent: beyond the limit; stored zeros count).
    open_mask
        Boolean per site row: the open sites.
    rank
        Tie-break per site row (smallest wins); default the row position.
    threshold_s
        Only pairs within this walk count (default: every stored pair).

    Returns
    -------
    pos, walk_s, count
        Nearest open row (-1 where none), its walk seconds (NaN where none), and the number of open rows
        within reach of each column.
    """
    n_sites, n_demand = matrix.shape
    rank = np.arange(n_sites) if rank is None else rank
    csc = sp.csc_array(matrix)  # keeps the stored zeros (a demand point on a site)
    keep = np.asarray(open_mask, dtype=bool)[csc.indices]
    if threshold_s is not None:
        keep &= csc.data <= threshold_s + THRESHOLD_TOL_S
    rows = csc.indices[keep]
    walk = np.asarray(csc.data[keep], dtype=float)
    counts = np.diff(np.concatenate([[0], np.cumsum(keep)])[csc.indptr])
    pos = np.full(n_demand, -1, dtype=np.int64)
    walk_s = np.full(n_demand, np.nan)
    some = counts > 0
    if some.any():
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[some]
        walk_s[some] = np.minimum.reduceat(walk, starts)
        at_min = walk == np.repeat(walk_s, counts)
        best = np.minimum.reduceat(np.where(at_min, rank[rows], n_sites), starts)
        pos[some] = np.argsort(rank)[best]
    return pos, walk_s, counts


#: Sources per block handed to one worker thread of the compiled search.
_BLOCK = 256


def travel_times(
    net: StreetNetwork,
    sites,
    demand,
    *,
    limit_s: float,
    speed_mps: float | str | None = None,
    progress: bool = False,
) -> TravelTimes:
    """Walk seconds from every site to every demand point reachable within ``limit_s``.

    Parameters
    ----------
    net
        The walk network.
    sites, demand
        `Snapped` points on ``net``, or GeoDataFrames (snapped here with the default ``max_snap_m``). Points
        that are not snapped (too far from any street) reach nothing.
    limit_s
        Longest walk kept, in seconds (e.g. ``15 * 60``).
    speed_mps
        Walking speed in m/s or a preset name of `planner.settings.SPEED_PRESETS_MPS`; default 1.0 m/s
        (60 m/min, planning practice).
    progress
        Show a tqdm progress bar over the sites.

    Returns
    -------
    TravelTimes
        One stored entry per site -> demand pair with ``walk_s <= limit_s`` (a zero walk is an explicit zero).

    Examples
    --------
    >>> tt = travel_times(net, sites, demand, limit_s=900, speed_mps="older_winter")  # doctest: +SKIP
    >>> tt.table.head()  # doctest: +SKIP
    """
    limit_s = _check_limit(limit_s, "limit_s")
    speed = resolve_speed(speed_mps)
    site_pts = as_snapped(net, sites, "sites")
    dem_pts = as_snapped(net, demand, "demand")
    limit_m = limit_s * speed * (1.0 + 1e-12)
    found = run_searches(net, site_pts, limit_m, demand=dem_pts, progress=progress)
    rows, cols, walk_s = found.pair_src, found.pair_dem, found.pair_m / speed
    keep = walk_s <= limit_s
    rows, cols, walk_s = rows[keep], cols[keep], walk_s[keep]
    order = np.lexsort((cols, rows))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(site_pts)))])
    matrix = sp.csr_array((walk_s[order], cols[order], indptr), shape=(len(site_pts), len(dem_pts)))
    matrix.has_sorted_indices = True
    log.info(
        "travel times: %s sites x %s demand points, %s pairs within %.0f s at %.2f m/s",
        f"{len(site_pts):,}",
        f"{len(dem_pts):,}",
        f"{len(walk_s):,}",
        limit_s,
        speed,
    )
    return TravelTimes(
        pd.Index(site_pts.ids, name="site_id"),
        pd.Index(dem_pts.ids, name="demand_id"),
        matrix,
        limit_s,
        speed,
        net.provenance | site_pts.provenance | dem_pts.provenance,
    )


def _check_limit(value, name: str) -> float:
    """A positive, finite number of seconds, or an `InputError` naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"`{name}` must be a number of seconds > 0 (e.g. 900 for 15 minutes), got {value!r}"
        ) from None
    if not np.isfinite(out) or out <= 0:
        raise InputError(f"`{name}` must be a number of seconds > 0 (e.g. 900 for 15 minutes), got {value!r}")
    return out


def as_snapped(net: StreetNetwork, points, name: str) -> Snapped:
    """``points`` as `Snapped` on ``net``: snapped here if a GeoDataFrame, else checked against ``net``."""
    if not isinstance(points, Snapped):
        return snap_points(net, points, name=name)
    on = points.edge >= 0
    bad = np.zeros(len(points), dtype=bool)
    bad[on] = points.edge[on] >= net.n_edges
    ok = on & ~bad
    bad[ok] = ~(points.along_m[ok] <= net.length_m[points.edge[ok]] + 1e-6)
    if bad.any():
        raise InputError(
            f"`{name}` was snapped onto another network: points {first_ids(points.ids[bad])} name segments "
            f"or positions that this network ({net.n_edges:,} segments) does not have; snap them onto this "
            "network with planner.snap.snap_points(net, points)"
        )
    return points


@dataclass(frozen=True)
class _Found:
    """Concatenated outputs of `planner._dijkstra.bounded_searches` over all source blocks."""

    pair_src: np.ndarray
    pair_dem: np.ndarray
    pair_m: np.ndarray
    node_src: np.ndarray
    node_idx: np.ndarray
    node_m: np.ndarray


def _graph_arrays(net: StreetNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    adj = net.adjacency
    return (
        np.ascontiguousarray(adj.indptr, dtype=np.int64),
        np.ascontiguousarray(adj.indices, dtype=np.int64),
        np.ascontiguousarray(adj.data, dtype=np.float64),
    )


def _demand_arrays(net: StreetNetwork, demand: Snapped | None) -> tuple:
    """CSR node -> (demand point, metres to its door) and edge -> (demand point, along, access)."""
    n_nodes, n_edges = net.n_nodes, net.n_edges
    if demand is None:
        on = np.zeros(0, dtype=np.int64)
        edge = along = access = np.zeros(0)
    else:
        on = np.flatnonzero(demand.edge >= 0)
        edge = demand.edge[on]
        along = demand.along_m[on]
        access = demand.access_m[on]
    edge = edge.astype(np.int64)
    length = net.length_m[edge]
    # each point is reachable from both ends of its segment
    node = np.concatenate([net.edge_u[edge], net.edge_v[edge]]).astype(np.int64)
    pts = np.concatenate([on, on])
    metres = np.concatenate([access + along, access + (length - along)])
    order = np.lexsort((pts, node))
    node_ptr = np.concatenate([[0], np.cumsum(np.bincount(node, minlength=n_nodes))]).astype(np.int64)
    by_edge = np.lexsort((on, edge))
    edge_ptr = np.concatenate([[0], np.cumsum(np.bincount(edge, minlength=n_edges))]).astype(np.int64)
    return (
        node_ptr,
        pts[order],
        metres[order].astype(np.float64),
        edge_ptr,
        on[by_edge],
        along[by_edge].astype(np.float64),
        access[by_edge].astype(np.float64),
    )


def run_searches(
    net: StreetNetwork,
    sources: Snapped,
    limit_m: float,
    *,
    demand: Snapped | None = None,
    want_nodes: bool = False,
    progress: bool = False,
) -> _Found:
    """Bounded searches from every source in blocks on a thread pool; outputs grouped by source, in order."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from planner._dijkstra import bounded_searches

    graph = _graph_arrays(net)
    dem = _demand_arrays(net, demand)
    n_dem = 0 if demand is None else len(demand)
    edge = sources.edge.astype(np.int64)
    on = edge >= 0
    safe = np.where(on, edge, 0)
    length = net.length_m[safe]
    along = np.where(on, sources.along_m, 0.0)
    access = np.where(on, sources.access_m, 0.0)
    start_u = net.edge_u[safe].astype(np.int64)
    start_v = net.edge_v[safe].astype(np.int64)
    start_u_m = access + along
    start_v_m = access + (length - along)
    n = len(edge)
    blocks = [(lo, min(lo + _BLOCK, n)) for lo in range(0, n, _BLOCK)]

    def block(lo: int, hi: int) -> tuple:
        return bounded_searches(
            *graph,
            start_u[lo:hi],
            start_v[lo:hi],
            start_u_m[lo:hi],
            start_v_m[lo:hi],
            edge[lo:hi],
            along[lo:hi],
            access[lo:hi],
            float(limit_m),
            *dem,
            n_dem,
            want_nodes,
        )

    workers = max(
        1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, len(blocks))
    )
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, unit="site", desc="walk times")
    results = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(block, lo, hi) for lo, hi in blocks]
        for (lo, hi), fut in zip(blocks, futures, strict=True):
            out = fut.result()
            results.append((lo, out))
            if bar is not None:
                bar.update(hi - lo)
    if bar is not None:
        bar.close()
    if not results:
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0)
        return _Found(empty_i, empty_i, empty_f, empty_i, empty_i, empty_f)
    return _Found(
        np.concatenate([lo + out[0] for lo, out in results]),
        np.concatenate([out[1] for _, out in results]),
        np.concatenate([out[2] for _, out in results]),
        np.concatenate([lo + out[3] for lo, out in results]),
        np.concatenate([out[4] for _, out in results]),
        np.concatenate([out[5] for _, out in results]),
    )
