"""National standards a plan is checked against, each figure with its source, and the per-area check.

Walking distance of the life-circle levels (network distance along streets, never a straight line):

======================  ===============  ==============  =========================================
level                   walk              residents       source
======================  ===============  ==============  =========================================
15-minute life circle   800-1,000 m       50,000-100,000  GB 50180-2018 (城市居住区规划设计标准), Table 3.0.4
10-minute life circle   500 m             15,000-25,000   GB 50180-2018, Table 3.0.4
5-minute life circle    300 m             5,000-12,000    GB 50180-2018, Table 3.0.4
15-minute level         800-1,000 m       --              TD/T 1062-2021 (社区生活圈规划技术指南)
5-10-minute level       300-500 m         --              TD/T 1062-2021
======================  ===============  ==============  =========================================

GB 50180-2018 places nursing homes (养老院, 老年养护院) at the 15-minute level and day care and elderly
service stations (老年人日间照料中心, 社区服务站) at the 5-minute level. GB 50437-2007
(城镇老年人设施规划规范) asks for at least 40 beds for older people per 1,000 older residents.

A tier of a plan is checked at the level its walking threshold names (15, 10 or 5 minutes): the share of
older residents whose nearest open site of the tier is within the level's longest walk. A run measures walks
only up to its threshold at its walking speed; when the standard's distance is longer than that, the share
found is a lower bound and is marked so (``bound = "at least"``).

>>> level_for(15).max_walk_m, level_for(10).max_walk_m
(1000.0, 500.0)
>>> beds_needed(2500)
100.0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner._errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Level:
    """A life-circle level of a standard: its walk in minutes and the longest walk it allows in metres."""

    minutes: float
    min_walk_m: float
    max_walk_m: float
    residents: tuple[int, int] | None
    source: str
    name_zh: str
    name_en: str


#: The life-circle levels, by their walking time in minutes (see the module docstring).
LEVELS: tuple[Level, ...] = (
    Level(
        15.0,
        800.0,
        1000.0,
        (50_000, 100_000),
        "GB 50180-2018, Table 3.0.4",
        "十五分钟生活圈",
        "15-minute life circle",
    ),
    Level(
        10.0,
        500.0,
        500.0,
        (15_000, 25_000),
        "GB 50180-2018, Table 3.0.4",
        "十分钟生活圈",
        "10-minute life circle",
    ),
    Level(
        5.0,
        300.0,
        300.0,
        (5_000, 12_000),
        "GB 50180-2018, Table 3.0.4",
        "五分钟生活圈",
        "5-minute life circle",
    ),
)

#: TD/T 1062-2021 keeps the same two walks: 15-minute 800-1,000 m, 5-10-minute 300-500 m.
TD_T_1062_LEVELS_M = {"15-minute": (800.0, 1000.0), "5-10-minute": (300.0, 500.0)}
TD_T_1062_SOURCE = "TD/T 1062-2021 (社区生活圈规划技术指南)"

#: Beds for older people per 1,000 older residents, at least (GB 50437-2007, 城镇老年人设施规划规范).
BEDS_PER_1000_OLDER = 40.0
BEDS_SOURCE = "GB 50437-2007 (城镇老年人设施规划规范)"


def level_for(threshold_min: float) -> Level:
    """The life-circle level a walking threshold names: the shortest level at least as long (else 15)."""
    for level in sorted(LEVELS, key=lambda lv: lv.minutes):
        if threshold_min <= level.minutes + 1e-9:
            return level
    return max(LEVELS, key=lambda lv: lv.minutes)


def beds_needed(older_residents: float) -> float:
    """Beds for older people that GB 50437-2007 asks for (40 per 1,000 older residents)."""
    return float(older_residents) * BEDS_PER_1000_OLDER / 1000.0


def walk_check(
    points: pd.DataFrame,
    *,
    by: str | list[str],
    weight: str,
    walk_min: str,
    threshold_min: float,
    speed_mps: float,
) -> pd.DataFrame:
    """Per area: the share of older residents within the standard's walk of a tier's nearest open site.

    Parameters
    ----------
    points
        One row per demand point with the area column(s), the weight and the walk minutes to the nearest
        open site of the tier (NaN when none is within the run's threshold).
    by
        Area column(s).
    weight, walk_min
        Column names.
    threshold_min, speed_mps
        The tier's threshold and the run's walking speed: they fix how far the run measured.

    Returns
    -------
    DataFrame
        Indexed by area: ``older_residents``, ``within_standard_share``, ``short_residents`` (older
        residents beyond the standard's walk), ``standard_walk_m``, ``bound`` (``"exact"`` or
        ``"at least"``) and ``meets`` (True when every older resident is within the walk; with ``"at
        least"``, False means "not shown by this run").
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by_cols, weight, walk_min] if c not in points]
    if missing:
        raise InputError(f"walk_check: columns {missing} are not in `points`; columns are {list(points)}")
    if not speed_mps or speed_mps <= 0:
        raise InputError(f"walk_check: `speed_mps` must be > 0, got {speed_mps!r}")
    level = level_for(threshold_min)
    measured_m = threshold_min * 60.0 * speed_mps
    limit_m = min(level.max_walk_m, measured_m)
    walk_m = points[walk_min].astype(float) * 60.0 * speed_mps
    w = points[weight].astype(float)
    within = walk_m.le(limit_m + 1e-6) & walk_m.notna()
    frame = pd.DataFrame({"w": w, "in": w.where(within, 0.0)})
    for col in by_cols:
        frame[col] = points[col].astype(str)
    sums = frame.groupby(by_cols, sort=True).sum()
    out = pd.DataFrame(index=sums.index)
    out["older_residents"] = sums["w"]
    out["within_standard_share"] = (sums["in"] / sums["w"]).where(sums["w"] > 0)
    out["short_residents"] = sums["w"] - sums["in"]
    out["standard_walk_m"] = level.max_walk_m
    out["bound"] = "exact" if level.max_walk_m <= measured_m + 1e-6 else "at least"
    out["meets"] = np.isclose(out["short_residents"], 0.0, atol=1e-6)
    out.attrs["level"] = level
    return out


def beds_check(older_residents: pd.Series, beds: pd.Series) -> pd.DataFrame:
    """Per area: beds for older people against GB 50437-2007's 40 per 1,000 older residents.

    Parameters
    ----------
    older_residents, beds
        Per area, on the same index (areas without beds count 0 beds).
    """
    beds = beds.reindex(older_residents.index).fillna(0.0).astype(float)
    need = older_residents.astype(float) * BEDS_PER_1000_OLDER / 1000.0
    return pd.DataFrame(
        {
            "older_residents": older_residents.astype(float),
            "beds": beds,
            "beds_needed": need,
            "beds_per_1000": (1000.0 * beds / older_residents.astype(float)).where(older_residents > 0),
            "meets": beds >= need - 1e-9,
        }
    )
