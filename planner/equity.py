"""Equity of coverage across areas: Gini coefficient, Palma ratio, worst-off decile, gap to the city share.

Each measure reads a value per area (here the covered share of its older residents) weighted by the area's
older residents, so that a district of 300,000 older residents counts 300,000 times, not once. Inside an
area every resident is taken to have the area's value (grouped data): the Lorenz curve is then piecewise
linear and every measure below is exact for it.

* **Gini** (Gini 1912): half the weighted mean absolute difference over the weighted mean,
  ``G = sum_ij w_i w_j |x_i - x_j| / (2 W^2 mu)``; 0 when every area has the same share, towards 1 when
  one area holds everything.
* **Palma ratio** (Palma 2011; Cobham & Sumner 2013): what the best-served 10 % of older residents hold
  divided by what the worst-served 40 % hold, of the covered total. 1 / 4 = 0.25 when all areas are equal;
  infinite when the worst-served 40 % have nothing.
* **Worst-off decile**: the mean covered share of the 10 % of older residents living in the least-covered
  areas.
* **Gap to the city share**: each area's covered share minus the whole city's, in share points.

>>> gini([0.5, 0.5], [10, 30])
0.0
>>> round(gini([0.0, 1.0], [1, 1]), 3)
0.5
>>> palma([0.2, 0.9], [40, 60])
1.125
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from planner._errors import InputError

log = logging.getLogger(__name__)

#: The Palma ratio's top and bottom shares of the population (Palma 2011).
PALMA_TOP = 0.10
PALMA_BOTTOM = 0.40
#: The share of older residents whose coverage the worst-off decile averages.
WORST_OFF = 0.10


def _arrays(values, weights) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(values, dtype=float).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    problems = []
    if len(x) != len(w):
        problems.append(f"`values` ({len(x)}) and `weights` ({len(w)}) differ in length")
    elif len(x) and (~np.isfinite(x)).any():
        problems.append("`values` holds NaN or infinite numbers; give every area its value")
    elif len(x) and ((~np.isfinite(w)) | (w < 0)).any():
        problems.append("`weights` must be finite and >= 0 (older residents per area)")
    elif len(x) and (x < 0).any():
        problems.append("`values` must be >= 0 (covered shares or counts)")
    if problems:
        raise InputError("equity: " + "; ".join(problems))
    keep = w > 0
    order = np.argsort(x[keep], kind="stable")
    return x[keep][order], w[keep][order]


def gini(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Weighted Gini coefficient of `values` (NaN when there is no weight or the mean is 0).

    Parameters
    ----------
    values
        One value per area, e.g. its covered share (>= 0).
    weights
        Older residents per area (>= 0); equal weights when None.
    """
    x, w = _arrays(values, weights)
    total_w = w.sum()
    if total_w <= 0 or (x * w).sum() <= 0:
        return math.nan
    mean = (x * w).sum() / total_w
    # sum_ij w_i w_j |x_i - x_j| = 2 sum_i w_i x_i (W_<i - W_>i) with x sorted ascending
    below = np.cumsum(w) - w
    above = total_w - below - w
    diff = 2.0 * float(np.sum(w * x * (below - above)))
    return float(diff / (2.0 * total_w**2 * mean))


def _lorenz_at(x: np.ndarray, w: np.ndarray, p: float) -> float:
    """The covered total held by the worst-served share `p` of the weight (a group may be split)."""
    cum_w = np.concatenate([[0.0], np.cumsum(w)]) / w.sum()
    cum_xw = np.concatenate([[0.0], np.cumsum(x * w)])
    return float(np.interp(p, cum_w, cum_xw))


def palma(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Palma ratio: the top 10 %'s share of the covered total over the bottom 40 %'s.

    NaN when nothing is covered; infinite when the bottom 40 % have nothing.
    """
    x, w = _arrays(values, weights)
    if w.sum() <= 0:
        return math.nan
    total = float((x * w).sum())
    if total <= 0:
        return math.nan
    bottom = _lorenz_at(x, w, PALMA_BOTTOM)
    top = total - _lorenz_at(x, w, 1.0 - PALMA_TOP)
    return math.inf if bottom <= 0 else top / bottom


def worst_off_decile(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Mean value of the 10 % of the weight in the worst-off areas (NaN without weight)."""
    x, w = _arrays(values, weights)
    if w.sum() <= 0:
        return math.nan
    return _lorenz_at(x, w, WORST_OFF) / (WORST_OFF * w.sum())


def area_equity(
    points: pd.DataFrame,
    *,
    by: str | Sequence[str],
    weight: str,
    covered: str,
    walk_min: str | None = None,
) -> pd.DataFrame:
    """Per area: older residents, covered share, mean walk minutes of those covered, gap to the city share.

    Parameters
    ----------
    points
        One row per demand point with the area column(s), the weight, a boolean covered column and
        optionally the walk minutes to the nearest open site (NaN when beyond reach).
    by
        Area column(s), e.g. ``"district_name"`` or ``["district_name", "street_name"]``.
    weight, covered, walk_min
        Column names in `points`.

    Returns
    -------
    DataFrame
        Indexed by the area column(s): ``older_residents``, ``covered_share``, ``mean_walk_min`` (weighted
        by older residents, over the covered ones; NaN where nobody is covered) and ``gap_to_city`` (the
        area's covered share minus the city's, in share points: -0.05 is 5 points below).
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by, weight, covered, *([walk_min] if walk_min else [])] if c not in points]
    if missing:
        raise InputError(f"area_equity: columns {missing} are not in `points`; columns are {list(points)}")
    w = points[weight].astype(float)
    cov = points[covered].astype(bool)
    frame = pd.DataFrame({"w": w, "cw": w.where(cov, 0.0)})
    for col in by:
        frame[col] = points[col].astype(str)
    if walk_min:
        inside = cov & points[walk_min].notna()
        frame["tw"] = (points[walk_min].astype(float) * w).where(inside, 0.0)
        frame["iw"] = w.where(inside, 0.0)
    sums = frame.groupby(by, sort=True).sum()
    out = pd.DataFrame(index=sums.index)
    out["older_residents"] = sums["w"]
    out["covered_share"] = (sums["cw"] / sums["w"]).where(sums["w"] > 0)
    if walk_min:
        out["mean_walk_min"] = (sums["tw"] / sums["iw"]).where(sums["iw"] > 0)
    city = float(sums["cw"].sum() / sums["w"].sum()) if sums["w"].sum() > 0 else math.nan
    out["gap_to_city"] = out["covered_share"] - city
    return out


def summary(table: pd.DataFrame) -> dict[str, float]:
    """Gini, Palma ratio and worst-off decile of an `area_equity` table's covered shares."""
    ok = table["covered_share"].notna()
    values, weights = table.loc[ok, "covered_share"], table.loc[ok, "older_residents"]
    return {
        "areas": int(ok.sum()),
        "gini": gini(values, weights),
        "palma": palma(values, weights),
        "worst_off_decile": worst_off_decile(values, weights),
    }
