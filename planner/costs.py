"""Sparse walk times from sites to demand points along the street network, within a time limit.

Unreachable pairs (beyond the limit, or in another part of the network) are absent, never a magic number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from planner._errors import InputError

log = logging.getLogger(__name__)


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
    stand_in
        True when the times rest on stand-in data (synthetic streets or estimated positions).
    """

    site_ids: pd.Index
    demand_ids: pd.Index
    matrix: sp.csr_array
    limit_s: float
    speed_mps: float = 1.0
    stand_in: bool = False

    def __post_init__(self) -> None:
        shape = (len(self.site_ids), len(self.demand_ids))
        if self.matrix.shape != shape:
            raise InputError(f"travel-time matrix has shape {self.matrix.shape}, expected {shape} (sites, demand)")

    @classmethod
    def from_table(
        cls,
        table: pd.DataFrame,
        site_ids,
        demand_ids,
        *,
        limit_s: float | None = None,
        speed_mps: float = 1.0,
        stand_in: bool = False,
    ) -> TravelTimes:
        """Build from a long table with columns ``site_id, demand_id, walk_s`` (pairs beyond `limit_s` dropped)."""
        missing = {"site_id", "demand_id", "walk_s"} - set(table.columns)
        if missing:
            raise InputError(f"travel-time table lacks columns {sorted(missing)}; it needs site_id, demand_id, walk_s")
        site_ids = pd.Index(site_ids, name="site_id")
        demand_ids = pd.Index(demand_ids, name="demand_id")
        walk = table["walk_s"].to_numpy(dtype=float)
        if limit_s is None:
            limit_s = float(walk.max()) if len(walk) else 0.0
        keep = walk <= limit_s
        rows = site_ids.get_indexer(table["site_id"][keep])
        cols = demand_ids.get_indexer(table["demand_id"][keep])
        if (rows < 0).any() or (cols < 0).any():
            raise InputError("travel-time table names site or demand ids that are not in site_ids / demand_ids")
        if np.isnan(walk).any() or (walk < 0).any():
            raise InputError("travel-time table has NaN or negative walk_s; unreachable pairs must be absent")
        mat = sp.csr_array((walk[keep], (rows, cols)), shape=(len(site_ids), len(demand_ids)))
        mat.sum_duplicates()
        return cls(site_ids, demand_ids, mat, float(limit_s), speed_mps, stand_in)

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
        if threshold_s > self.limit_s + 1e-9:
            raise InputError(
                f"threshold {threshold_s:g} s exceeds the limit {self.limit_s:g} s the travel times were computed "
                "to; recompute them with a larger limit"
            )
        mat = self.matrix
        keep = mat.data <= threshold_s + 1e-9
        out = sp.csr_array(
            (np.ones(int(keep.sum()), dtype=bool), mat.indices[keep], _filtered_indptr(mat.indptr, keep)),
            shape=mat.shape,
        )
        return out

    def sites(self, ids) -> TravelTimes:
        """The rows of the given site ids, in that order."""
        rows = self.site_ids.get_indexer(ids)
        if (rows < 0).any():
            raise InputError(f"unknown site ids: {list(pd.Index(ids)[rows < 0][:10])}")
        return TravelTimes(
            pd.Index(ids, name="site_id"), self.demand_ids, self.matrix[rows], self.limit_s, self.speed_mps,
            self.stand_in,
        )


def _filtered_indptr(indptr: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Row pointers after keeping the entries marked in `keep`."""
    cum = np.concatenate([[0], np.cumsum(keep)])
    return cum[indptr]
