"""Fast coverage heuristics: lazy greedy, swap (interchange) local search, greedy set cover.

They work on a 0/1 coverage matrix ``a`` (demand rows x site columns, CSC) with a weight per row and,
optionally,
a per-row count of coverage already given by fixed sites. The value of a plan is

.. math::

    f(S) = \\sum_i w_i \\left( [c_i(S) \\ge 1] + b \\, [c_i(S) \\ge 2] \\right),
    \\qquad c_i(S) = \\ell_i + |\\{j \\in S : a_{ij} = 1\\}|

with ``b = 0`` for the plain maximal covering problem and ``0 < b <= 1`` for backup coverage. `f` is monotone
and
submodular, so greedy is within ``1 - 1/e`` of the optimum; the models in `planner.locate.covering` pair these
plans with an LP-relaxation bound so the gap is always known. Ties go to the smaller column (= smaller site
id).
"""

from __future__ import annotations

import heapq
import logging
import time

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

_EPS = 1e-9
#: Decimal digits of the lazy-greedy heap keys (people are counted well above 1e-6).
_KEY_DIGITS = 6


def plan_value(counts: np.ndarray, weight: np.ndarray, *, backup_weight: float = 0.0) -> float:
    """``f`` of the module docstring from per-row coverage counts."""
    return float(weight @ ((counts >= 1) + backup_weight * (counts >= 2)))


def _marginal(counts: np.ndarray, weight: np.ndarray, backup_weight: float) -> np.ndarray:
    """Per row: what one more covering site adds."""
    return weight * ((counts == 0) + backup_weight * (counts == 1))


def greedy(
    a: sp.csc_array,
    weight: np.ndarray,
    p: int,
    *,
    level: np.ndarray | None = None,
    backup_weight: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lazy greedy: open `p` columns one by one, each with the largest marginal gain (ties: smaller column).

    Parameters
    ----------
    a
        Demand rows x site columns, 0/1.
    weight
        Row weights.
    p
        Columns to open (at most ``a.shape[1]``).
    level
        Coverage already present per row (fixed sites); default 0.
    backup_weight
        Extra weight of a second covering site (0 or None for plain coverage).

    Returns
    -------
    chosen, gains
        Columns in the order opened, and the marginal gain of each when it was opened.
    """
    b = float(backup_weight or 0.0)
    a = sp.csc_array(a)
    counts = (
        np.zeros(a.shape[0], dtype=np.int64) if level is None else np.asarray(level, dtype=np.int64).copy()
    )
    marg = _marginal(counts, weight, b)
    stale = a.T @ marg
    # keys are gains rounded to _KEY_DIGITS, so that gains equal up to float noise tie and the smaller
    # column wins; comparing the popped key with the heap's top by the heap's own order always terminates
    heap = [(-round(float(g), _KEY_DIGITS), j) for j, g in enumerate(stale)]
    heapq.heapify(heap)
    chosen, gains = [], []
    indptr, indices = a.indptr, a.indices
    while len(chosen) < p and heap:
        _, j = heapq.heappop(heap)
        rows = indices[indptr[j] : indptr[j + 1]]
        gain = float(marg[rows].sum())
        key = (-round(gain, _KEY_DIGITS), j)
        if heap and heap[0] < key:
            heapq.heappush(heap, key)
            continue
        chosen.append(j)
        gains.append(gain)
        counts[rows] += 1
        marg[rows] = weight[rows] * ((counts[rows] == 0) + b * (counts[rows] == 1))
    return np.asarray(chosen, dtype=np.int64), np.asarray(gains)


def interchange(
    a: sp.csc_array,
    weight: np.ndarray,
    chosen: np.ndarray,
    *,
    level: np.ndarray | None = None,
    backup_weight: float | None = None,
    max_passes: int | None = None,
    time_limit_s: float | None = None,
) -> tuple[np.ndarray, int]:
    """Swap local search (Teitz-Bart style): replace an open column by a closed one while the value grows.

    Each pass tries every open column in order; for it, one sparse product gives the gain of every closed
    column,
    and the best one (ties: smaller column) is swapped in when it beats the loss by more than a tolerance.
    Stops after a pass without improvement, after `max_passes` (default 50) or `time_limit_s` (default 30).

    Returns
    -------
    chosen, swaps
        The improved columns (sorted) and the number of swaps made.
    """
    b = float(backup_weight or 0.0)
    a = sp.csc_array(a)
    at = sp.csr_array(a.T)
    max_passes = 50 if max_passes is None else max_passes
    deadline = time.perf_counter() + (30.0 if time_limit_s is None else time_limit_s)
    is_open = np.zeros(a.shape[1], dtype=bool)
    is_open[chosen] = True
    counts = (
        np.zeros(a.shape[0], dtype=np.int64) if level is None else np.asarray(level, dtype=np.int64).copy()
    )
    counts += np.asarray(a[:, np.flatnonzero(is_open)].sum(axis=1)).ravel().astype(np.int64)
    indptr, indices = a.indptr, a.indices
    swaps = 0
    for _ in range(max_passes):
        improved = False
        for j in np.flatnonzero(is_open):
            if not is_open[j]:
                continue
            rows = indices[indptr[j] : indptr[j + 1]]
            base = counts.copy()
            base[rows] -= 1
            loss = float(
                weight[rows]
                @ (((counts[rows] >= 1) & (base[rows] < 1)) + b * ((counts[rows] >= 2) & (base[rows] < 2)))
            )
            gain = at @ _marginal(base, weight, b)
            gain[is_open] = -np.inf
            k = int(np.argmax(gain))
            if gain[k] > loss + _EPS * max(1.0, loss):
                is_open[j], is_open[k] = False, True
                krows = indices[indptr[k] : indptr[k + 1]]
                counts = base
                counts[krows] += 1
                swaps += 1
                improved = True
            if time.perf_counter() > deadline:
                break
        if not improved or time.perf_counter() > deadline:
            break
    log.debug("interchange: %d swaps", swaps)
    return np.flatnonzero(is_open), swaps


def greedy_cover(a: sp.csc_array, max_cols: int | None = None) -> np.ndarray | None:
    """Greedy set cover: columns that together cover every row with a nonzero entry (ties: smaller column).

    Each step picks the column covering the most uncovered rows; a redundant-column pass then drops any
    column whose rows are all covered by others (last picked first). With `max_cols`, returns None when
    that many columns do not cover every such row. Returns the kept columns in the order picked.
    """
    a = sp.csc_array(a)
    rows_left = np.zeros(a.shape[0], dtype=np.float64)
    rows_left[np.unique(a.indices)] = 1.0
    at = sp.csr_array(a.T)
    chosen = []
    while rows_left.any():
        if max_cols is not None and len(chosen) >= max_cols:
            return None
        gain = at @ rows_left
        j = int(np.argmax(gain))
        chosen.append(j)
        rows_left[a.indices[a.indptr[j] : a.indptr[j + 1]]] = 0.0
    counts = np.asarray(a[:, chosen].sum(axis=1)).ravel() if chosen else np.zeros(a.shape[0])
    kept = list(chosen)
    for j in reversed(chosen):
        rows = a.indices[a.indptr[j] : a.indptr[j + 1]]
        if (counts[rows] >= 2).all():
            counts[rows] -= 1
            kept.remove(j)
    return np.asarray(kept, dtype=np.int64)


def submodular_bound(value: float, gains: np.ndarray, p: int) -> float:
    """Upper bound on a p-site optimum from any plan of value `value` (Nemhauser, Wolsey and Fisher 1978).

    ``OPT(p) <= f(S) + sum of the p largest marginal gains with respect to S``.
    """
    top = np.sort(np.maximum(np.asarray(gains, dtype=float), 0.0))[::-1][:p]
    return float(value + top.sum())
