"""Size reductions for coverage models that keep the optimum.

* drop demand with zero weight, demand already fully served by fixed sites, and demand no site in the model
reaches
  (each counted as a constant, or reported, by the model);
* merge demand points with the same coverage set (and the same fixed-site level and equity group), summing
weights;
* drop candidates that cover no remaining demand;
* drop dominated candidates (coverage set a subset of another's; equal sets keep the smallest id) while at
least
  `p` candidates remain. Valid for plain and equity MCLP and for set covering (a dominated site can always be
  swapped for its dominator, or, if that one is open already, for any other unopened candidate); not valid for
  backup or capacitated coverage, whose callers leave it off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True, eq=False)
class Reduced:
    """A coverage model after reduction.

    Attributes
    ----------
    a
        ``(n_rows, n_cols)`` CSC array of 0/1 floats: merged demand row i is covered by kept site column j.
    weight
        Summed weight per merged row.
    level
        Per merged row: the fixed-site coverage count (capped), shared by all its members.
    group
        Per merged row: the group code (-1 without groups).
    cols
        Site row positions (in the `Instance`) of the kept columns, sorted.
    row_of
        Per original demand column: its merged row, or -1 when dropped.
    sizes
        Sizes before and after, and what each step dropped (for ``details``).
    """

    a: sp.csc_array
    weight: np.ndarray
    level: np.ndarray
    group: np.ndarray
    cols: np.ndarray
    row_of: np.ndarray
    sizes: dict = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of merged demand rows."""
        return self.a.shape[0]

    @property
    def n_cols(self) -> int:
        """Number of kept site columns."""
        return self.a.shape[1]


def merge_rows(a: sp.csr_array, keys: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Class label per row of the sparse `a`: rows with the same set of columns (and equal `keys`) share one.

    Labels are numbered in order of first appearance, so the result is deterministic; rows are compared by
    their exact column positions (no hashing).
    """
    a = sp.csr_array(a)
    a.sort_indices()
    keys = np.zeros(a.shape[0], dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64)
    indptr, indices = a.indptr, a.indices
    seen: dict = {}
    label = np.empty(a.shape[0], dtype=np.int64)
    for i in range(a.shape[0]):
        key = (int(keys[i]), indices[indptr[i] : indptr[i + 1]].tobytes())
        label[i] = seen.setdefault(key, len(seen))
    return label, len(seen)


def dominated(a: sp.csc_array) -> np.ndarray:
    """Columns of the 0/1 matrix `a` whose row set is a subset of another column's (equal sets: all but the
    first).

    Returns a boolean mask; the undominated columns are never flagged, so every dropped column has a kept
    dominator (domination is a strict order once ties go to the smaller column index).
    """
    a = sp.csc_array(a, dtype=np.float64)
    size = np.asarray(a.sum(axis=0)).ravel()
    overlap = sp.coo_array(a.T @ a)
    j, k, both = overlap.row, overlap.col, overlap.data
    sub = (j != k) & (np.abs(both - size[j]) < 0.5) & ((size[k] > size[j]) | ((size[k] == size[j]) & (k < j)))
    mask = np.zeros(a.shape[1], dtype=bool)
    mask[j[sub]] = True
    return mask


def reduce_coverage(
    cover: sp.csr_array,
    weight: np.ndarray,
    cols: np.ndarray,
    *,
    level: np.ndarray | None = None,
    full_level: int = 1,
    group: np.ndarray | None = None,
    p: int | None = None,
    dominance: bool = False,
) -> Reduced:
    """Reduce a coverage model over the site rows `cols` of `cover` (sites x demand, boolean CSR).

    Parameters
    ----------
    cover
        Boolean coverage of every site row over every demand column.
    weight
        Weight per demand column.
    cols
        Site rows the model may open (candidates; for capacitated coverage also the fixed sites).
    level
        Per demand column: coverage already provided by fixed sites (default 0). Demand at `full_level` or
        more
        is fully served and dropped.
    full_level
        The level at which a demand point gains nothing more (1 for MCLP and LSCP, 2 for backup coverage).
    group
        Integer group code per demand column (equity); members of one merged row share a group.
    p
        Number of sites to open; dominated columns are dropped only while at least `p` remain (None: all).
    dominance
        Whether to drop dominated columns.
    """
    n_demand = cover.shape[1]
    level = np.zeros(n_demand, dtype=np.int64) if level is None else np.minimum(level, full_level)
    group = np.full(n_demand, -1, dtype=np.int64) if group is None else np.asarray(group, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    sub = sp.csc_array(cover[cols].astype(np.float64))  # sites x demand
    reach = np.diff(sub.indptr)
    zero = weight <= 0
    served = (level >= full_level) & ~zero
    unreached = (reach == 0) & ~zero & ~served
    keep = ~zero & ~served & ~unreached
    sizes = {
        "demand_in": int(n_demand),
        "candidates_in": len(cols),
        "demand_zero_weight": int(zero.sum()),
        "demand_served_by_fixed": int(served.sum()),
        "demand_unreached": int(unreached.sum()),
    }
    kept_demand = np.flatnonzero(keep)
    sub = sub[:, kept_demand]
    keys = level[kept_demand] * 1_000_003 + group[kept_demand]
    label, n_rows = merge_rows(sp.csr_array(sp.csc_array(sub).T), keys)
    row_of = np.full(n_demand, -1, dtype=np.int64)
    row_of[kept_demand] = label
    merged_w = np.bincount(label, weights=weight[kept_demand], minlength=n_rows)
    first = np.full(n_rows, -1, dtype=np.int64)
    first[label[::-1]] = np.arange(len(label))[::-1]
    a = sp.csc_array(sub[:, first].T)  # rows x site columns
    merged_level = level[kept_demand][first]
    merged_group = group[kept_demand][first]

    col_keep = np.diff(a.indptr) > 0
    sizes["candidates_useless"] = int((~col_keep).sum())
    n_dominated = 0
    if dominance and col_keep.any():
        idx = np.flatnonzero(col_keep)
        dom = dominated(a[:, idx])
        if p is not None:
            allowed = max(0, len(idx) - int(p))
            dom_idx = np.flatnonzero(dom)
            if len(dom_idx) > allowed:
                size = np.diff(a[:, idx].indptr)[dom_idx]
                order = np.lexsort((-dom_idx, size))  # smallest sets first, then larger ids first
                dom = np.zeros_like(dom)
                dom[dom_idx[order[:allowed]]] = True
        col_keep[idx[dom]] = False
        n_dominated = int(dom.sum())
    sizes["candidates_dominated"] = n_dominated
    a = sp.csc_array(a[:, np.flatnonzero(col_keep)])
    kept_cols = cols[col_keep]
    if n_dominated:  # rows may have become equal once dominated columns left
        label2, n2 = merge_rows(sp.csr_array(a), merged_level * 1_000_003 + merged_group)
        if n2 < n_rows:
            first2 = np.full(n2, -1, dtype=np.int64)
            first2[label2[::-1]] = np.arange(len(label2))[::-1]
            merged_w = np.bincount(label2, weights=merged_w, minlength=n2)
            merged_level, merged_group = merged_level[first2], merged_group[first2]
            a = sp.csc_array(a[first2])
            row_of = np.where(row_of >= 0, label2[np.maximum(row_of, 0)], -1)
            n_rows = n2
    a.sort_indices()
    sizes["demand_out"] = int(n_rows)
    sizes["candidates_out"] = len(kept_cols)
    return Reduced(a, merged_w, merged_level, merged_group, kept_cols, row_of, sizes)
