"""Who is within a walk of which service today: nearest open site, coverage per demand point, per area, gaps.

Everything here reads a `planner.costs.TravelTimes` table (sparse walk seconds within ``times.limit_s``) and
never routes again. A demand point with no open site within the limit has no nearest site (``NaN`` walk time),
which is stated, not hidden: ``covered`` is then False and ``n_within`` is 0.

Coverage of demand point i by site j means ``walk_s[j, i] <= threshold_min * 60`` (DOMAIN.md, "Coverage"); the
15-minute life circle of GB 50180-2018 is the default planning threshold (`planner.settings.LIFE_CIRCLE_MIN`).

Tables carry the provenance of their inputs (``attrs["provenance"]``, `planner.provenance`); tables made from
stand-in data also get a ``note`` column, so that the label survives writing to CSV.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from planner._errors import InputError
from planner._validate import first_ids, raise_if, weight_problems
from planner.costs import THRESHOLD_TOL_S, TravelTimes
from planner.provenance import ATTR, Provenance, provenance_of

log = logging.getLogger(__name__)

#: Text of the ``note`` attribute and column of tables computed from stand-in data.
STAND_IN_NOTE = (
    "stand-in: walk times rest on stand-in data (synthetic streets or estimated positions), "
    "not on surveyed streets and residents"
)


def nearest_sites(times: TravelTimes, *, open_sites: Iterable | None = None) -> pd.DataFrame:
    """Nearest open site of each demand point, its walk time, and how many open sites are within the limit.

    Parameters
    ----------
    times
        Sparse walk seconds from sites to demand points within ``times.limit_s``.
    open_sites
        Ids of the sites that are open; None (default) means every site in `times`.

    Returns
    -------
    pd.DataFrame
        Indexed by ``demand_id`` in the order of ``times.demand_ids``, with columns ``site_id`` (nearest open
        site; ties go to the smallest site id; missing where none is within the limit), ``walk_s`` (NaN where
        none) and ``n_within`` (number of open sites within ``times.limit_s``).
    """
    open_mask = _open_mask(times, open_sites, "open_sites")
    pos, walk_s, n_within = times.nearest(open_mask)
    out = pd.DataFrame(
        {"site_id": _ids_at(times.site_ids, pos), "walk_s": walk_s, "n_within": n_within},
        index=times.demand_ids.rename("demand_id"),
    )
    log.info(
        "nearest sites: %s of %s demand points have one of %s open sites within %.1f min",
        f"{int((pos >= 0).sum()):,}",
        f"{len(pos):,}",
        f"{int(open_mask.sum()):,}",
        times.limit_s / 60,
    )
    return label_stand_in(out, times.provenance)


def coverage_table(
    times: TravelTimes,
    weights: pd.Series,
    *,
    threshold_min: float,
    open_sites: Iterable | None = None,
) -> pd.DataFrame:
    """Per demand point: the walk to the nearest open site, whether it is covered, and by how many sites.

    Parameters
    ----------
    times
        Sparse walk seconds from sites to demand points within ``times.limit_s``.
    weights
        Older residents per demand point, indexed by the same ids as ``times.demand_ids`` (any order).
    threshold_min
        Covering walk in minutes (e.g. 15 for the 15-minute life circle); at most ``times.limit_s / 60``.
    open_sites
        Ids of the sites that are open; None (default) means every site in `times`.

    Returns
    -------
    pd.DataFrame
        Indexed by ``demand_id`` in the order of ``times.demand_ids``, with columns ``older_residents``,
        ``site_id`` (nearest open site, ties to the smallest id), ``walk_min`` (NaN where no open site is
        within ``times.limit_s``), ``covered`` (walk within the threshold) and ``n_covering`` (open sites
        within the threshold: 2 or more is backup coverage). ``attrs`` holds ``threshold_min`` and
        ``limit_min``.
    """
    threshold_s = times.threshold_s(threshold_min)
    w = times.aligned_weights(weights)
    open_mask = _open_mask(times, open_sites, "open_sites")
    pos, walk_s, _ = times.nearest(open_mask)
    covered = walk_s <= threshold_s + THRESHOLD_TOL_S  # NaN compares False
    out = pd.DataFrame(
        {
            "older_residents": w.to_numpy(),
            "site_id": _ids_at(times.site_ids, pos),
            "walk_min": walk_s / 60.0,
            "covered": covered,
            "n_covering": times.nearest(open_mask, threshold_s=threshold_s)[2],
        },
        index=times.demand_ids.rename("demand_id"),
    )
    out.attrs["threshold_min"] = float(threshold_min)
    out.attrs["limit_min"] = times.limit_s / 60.0
    total = float(w.sum())
    got = float(w.to_numpy()[covered].sum())
    log.info(
        "coverage within %g min: %s of %s demand points, %s of %s older residents (%.1f %%), %s open sites",
        threshold_min,
        f"{int(covered.sum()):,}",
        f"{len(covered):,}",
        f"{got:,.0f}",
        f"{total:,.0f}",
        100.0 * got / total if total > 0 else 0.0,
        f"{int(open_mask.sum()):,}",
    )
    return label_stand_in(out, times.provenance)


def multi_tier_coverage(
    times_by_tier: Mapping[str, TravelTimes],
    weights: pd.Series,
    *,
    thresholds_min: Mapping[str, float],
    open_by_tier: Mapping[str, Iterable | None] | None = None,
) -> pd.DataFrame:
    """Coverage of each demand point by each tier of service (e.g. centres and stations), and by any.

    This is the table behind ``coverage.csv`` and the maps.

    Parameters
    ----------
    times_by_tier
        Tier name -> walk times of that tier's sites. All tiers must hold the same demand ids.
    weights
        Older residents per demand point, indexed by demand id.
    thresholds_min
        Tier name -> covering walk in minutes (e.g. ``{"centre": 15, "station": 5}``, GB 50180-2018 levels).
    open_by_tier
        Tier name -> ids of the open sites of that tier; a tier that is missing or maps to None has all its
        sites open. None (default): every site of every tier is open.

    Returns
    -------
    pd.DataFrame
        Indexed by ``demand_id`` in the order of the first tier, with ``older_residents``, then per tier
        ``site_id_<tier>``, ``walk_min_<tier>``, ``covered_<tier>``, ``n_covering_<tier>``, and last
        ``covered_any`` (covered by at least one tier).
    """
    tiers = list(times_by_tier) if isinstance(times_by_tier, Mapping) else []
    open_by_tier = {} if open_by_tier is None else open_by_tier
    problems: list[str] = []
    if not tiers:
        problems.append(
            "`times_by_tier` must be a non-empty dict of tier name -> TravelTimes, "
            f"got {type(times_by_tier).__name__} {times_by_tier!r:.80}"
        )
    if not isinstance(thresholds_min, Mapping):
        problems.append(
            f"`thresholds_min` must be a dict of tier name -> minutes, got {type(thresholds_min).__name__}"
        )
        thresholds_min = {}
    if not isinstance(open_by_tier, Mapping):
        problems.append(
            f"`open_by_tier` must be a dict of tier name -> site ids, got {type(open_by_tier).__name__}"
        )
        open_by_tier = {}
    missing = [t for t in tiers if t not in thresholds_min]
    if missing:
        problems.append(f"`thresholds_min` has no threshold for tiers {missing}; give minutes for every tier")
    extra = [t for t in list(thresholds_min) + list(open_by_tier) if t not in tiers]
    if extra:
        problems.append(f"`thresholds_min` / `open_by_tier` name unknown tiers {extra}; tiers are {tiers}")
    bad = [t for t in tiers if not isinstance(t, str) or not t]
    if bad:
        problems.append(f"tier names must be non-empty strings (they become column suffixes), got {bad}")
    for tier in tiers:
        if not isinstance(times_by_tier[tier], TravelTimes):
            problems.append(
                f"`times_by_tier[{tier!r}]` must be a TravelTimes, got {type(times_by_tier[tier]).__name__}"
            )
    raise_if(problems, "`multi_tier_coverage`")
    base = times_by_tier[tiers[0]].demand_ids
    for tier in tiers[1:]:
        ids = times_by_tier[tier].demand_ids
        lost, more = base.difference(ids), ids.difference(base)
        if len(lost) or len(more):
            raise InputError(
                f"`times_by_tier[{tier!r}]` covers other demand points than tier {tiers[0]!r}: "
                f"missing {first_ids(lost)}, extra {first_ids(more)}; "
                "compute every tier's times for the same demand points"
            )
    out = pd.DataFrame(index=base.rename("demand_id"))
    any_covered = np.zeros(len(base), dtype=bool)
    stand_in = Provenance()
    for tier in tiers:
        times = times_by_tier[tier]
        table = coverage_table(
            times, weights, threshold_min=thresholds_min[tier], open_sites=open_by_tier.get(tier)
        ).reindex(base)
        if "older_residents" not in out.columns:
            out["older_residents"] = table["older_residents"]
        for col in ("site_id", "walk_min", "covered", "n_covering"):
            out[f"{col}_{tier}"] = table[col]
        any_covered |= table["covered"].to_numpy(dtype=bool)
        stand_in = stand_in | times.provenance
    out["covered_any"] = any_covered
    out.attrs["thresholds_min"] = {t: float(thresholds_min[t]) for t in tiers}
    log.info(
        "multi-tier coverage (%s): %s of %s demand points covered by at least one tier",
        ", ".join(f"{t} {thresholds_min[t]:g} min" for t in tiers),
        f"{int(any_covered.sum()):,}",
        f"{len(base):,}",
    )
    return label_stand_in(out, stand_in)


def covered_weight(covered: pd.Series, weights: pd.Series) -> float:
    """Older residents (the sum of `weights`) at the demand points that `covered` marks True.

    The one place a covered-weight sum is made (headline, metrics, report); `coverage_by_area` gives the same
    sums per area.

    Parameters
    ----------
    covered
        True / False (or 1 / 0) per demand point, indexed by demand id.
    weights
        Older residents per demand point, indexed by demand id; every id must be in `covered`.

    Returns
    -------
    float
        The sum of the weights of the covered points (0.0 when none is covered).
    """
    mask = covered.reindex(weights.index)
    if mask.isna().any():
        missing = list(weights.index[mask.isna().to_numpy()])
        raise InputError(
            f"`covered` has no value for demand points of `weights`: {first_ids(missing)}; "
            "pass one True/False per demand point of `weights`"
        )
    return float(weights.astype(float)[mask.astype(bool).to_numpy()].sum())


def coverage_by_area(
    demand: pd.DataFrame,
    covered: pd.Series,
    weights: pd.Series | str,
    *,
    by: str | Sequence[str],
    total: bool = False,
) -> pd.DataFrame:
    """Older residents, covered and uncovered, per district / sub-district / community.

    Parameters
    ----------
    demand
        Demand table indexed by ``demand_id`` with the grouping columns (e.g. ``district``, ``subdistrict``,
        ``community``).
    covered
        Boolean per demand point (e.g. ``coverage_table(...)["covered"]``), indexed by the ids of `demand`.
    weights
        Older residents per demand point: a Series indexed like `demand`, or the name of a column of `demand`.
    by
        Grouping column, or columns from the coarsest to the finest (one row per combination).
    total
        Add a last row labelled ``"total"`` (default False).

    Returns
    -------
    pd.DataFrame
        Indexed by the grouping columns, sorted by code (points without a code form their own group, last),
        with columns ``points``, ``covered_points``, ``older_residents``, ``covered_residents``,
        ``uncovered_residents`` and ``covered_share`` (NaN for an area with no older residents).
    """
    by_cols = [by] if isinstance(by, str) else list(by)
    problems: list[str] = []
    if not isinstance(demand, pd.DataFrame):
        raise InputError(f"`demand` must be a DataFrame indexed by demand id, got {type(demand).__name__}")
    if demand.index.has_duplicates:
        problems.append(
            f"`demand` has duplicate ids: {first_ids(demand.index[demand.index.duplicated()].unique())}"
        )
    if not by_cols:
        problems.append("`by` names no column; give e.g. by='district' or by=['district', 'subdistrict']")
    absent = [c for c in by_cols if c not in demand.columns]
    if absent:
        problems.append(
            f"`by` names columns {absent} that `demand` lacks; its columns are {list(demand.columns)}"
        )
    if isinstance(weights, str):
        if weights not in demand.columns:
            problems.append(
                f"`weights` names column {weights!r} that `demand` lacks; columns {list(demand.columns)}"
            )
            weights = pd.Series(0.0, index=demand.index)
        else:
            weights = demand[weights]
    raise_if(problems, "`coverage_by_area`")
    w = _align(weights, demand.index, "weights", "`demand`")
    raise_if(weight_problems(w, "weights"), "`weights`")
    c = _align(covered, demand.index, "covered", "`demand`")
    if not (pd.api.types.is_bool_dtype(c) and not c.isna().any()):
        raise InputError(
            f"`covered` must be True/False for every demand point, got dtype {c.dtype} "
            f"with {int(c.isna().sum())} missing; pass coverage_table(...)['covered']"
        )
    w = w.astype(float)
    c = c.astype(bool)
    frame = demand[by_cols].copy()
    frame["points"] = 1
    frame["covered_points"] = c.astype(int)
    frame["older_residents"] = w
    frame["covered_residents"] = w.where(c, 0.0)
    out = frame.groupby(by_cols, dropna=False, sort=False).sum()
    out = _sort_by_code(out)
    if total:
        label = "total" if len(by_cols) == 1 else ("total",) + ("",) * (len(by_cols) - 1)
        out.loc[label, :] = out.sum()
        out.attrs["total_label"] = label
    out["points"] = out["points"].astype(int)
    out["covered_points"] = out["covered_points"].astype(int)
    out["uncovered_residents"] = out["older_residents"] - out["covered_residents"]
    older = out["older_residents"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["covered_share"] = np.where(older > 0, out["covered_residents"].to_numpy() / older, np.nan)
    stand_in = provenance_of(covered, demand)
    log.info(
        "coverage by %s: %s areas, %s demand points", "/".join(by_cols), f"{len(out):,}", f"{len(demand):,}"
    )
    return label_stand_in(out, stand_in)


def gaps(coverage: pd.DataFrame, *, n: int | None = None) -> pd.DataFrame:
    """The areas or demand points with the most uncovered older residents: where to look first.

    Parameters
    ----------
    coverage
        A table from `coverage_by_area` (uses ``uncovered_residents``), from `coverage_table` (uses
        ``older_residents`` where not ``covered``) or from `multi_tier_coverage` (where not ``covered_any``).
        A total row of `coverage_by_area` is left out.
    n
        How many rows to return at most (default 10).

    Returns
    -------
    pd.DataFrame
        The rows with uncovered older residents, largest first (ties by id / code), with
        ``uncovered_residents``, ``share_of_uncovered`` (of all uncovered older residents in `coverage`) and
        ``cumulative_share``.
    """
    n = 10 if n is None else n
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"`n` must be a whole number >= 1, got {n!r}")
    if not isinstance(coverage, pd.DataFrame):
        raise InputError(
            f"`coverage` must be a DataFrame from coverage_by_area or coverage_table, got {type(coverage)}"
        )
    table = coverage
    label = coverage.attrs.get("total_label")
    if label is not None and label in table.index:
        table = table.drop(index=[label])
    if "uncovered_residents" in table.columns:
        uncovered = table["uncovered_residents"].astype(float)
    elif "older_residents" in table.columns and ({"covered", "covered_any"} & set(table.columns)):
        flag = table["covered" if "covered" in table.columns else "covered_any"].astype(bool)
        uncovered = table["older_residents"].astype(float).where(~flag, 0.0)
    else:
        raise InputError(
            "`coverage` needs a column 'uncovered_residents' (from coverage_by_area) or 'older_residents' "
            "and 'covered' / 'covered_any' (from coverage_table / multi_tier_coverage); "
            f"its columns are {list(table.columns)}"
        )
    all_uncovered = float(uncovered.sum())
    keep = uncovered.to_numpy() > 0
    out = table.loc[keep].copy()
    out["uncovered_residents"] = uncovered[keep]
    out = _sort_by_code(out)
    out = out.sort_values("uncovered_residents", ascending=False, kind="stable").head(n)
    share = (
        out["uncovered_residents"] / all_uncovered if all_uncovered > 0 else out["uncovered_residents"] * 0.0
    )
    out["share_of_uncovered"] = share
    out["cumulative_share"] = share.cumsum()
    out.attrs.pop("total_label", None)
    log.info(
        "gaps: %s of %s rows leave older residents uncovered; top %s hold %.1f %% of them",
        f"{int(keep.sum()):,}",
        f"{len(table):,}",
        len(out),
        100.0 * float(share.sum()),
    )
    return out


# ------------------------------------------------------------------------------------------------------------
# helpers


def label_stand_in(obj, provenance: Provenance):
    """Give a table or Series this module made its inputs' provenance (a note if a stand-in); returns it."""
    obj.attrs[ATTR] = provenance
    if provenance.is_stand_in and isinstance(obj, pd.DataFrame):
        obj["note"] = STAND_IN_NOTE
    return obj


def _align(values, ids: pd.Index, name: str, ids_name: str) -> pd.Series:
    """`values` (a Series) reordered to `ids`; raise if its ids are not exactly those."""
    if not isinstance(values, pd.Series):
        raise InputError(f"`{name}` must be a pandas Series indexed by id, got {type(values).__name__}")
    problems: list[str] = []
    if values.index.has_duplicates:
        problems.append(f"duplicate ids {first_ids(values.index[values.index.duplicated()].unique())}")
    missing = ids.difference(values.index, sort=False)
    if len(missing):
        problems.append(f"no value for ids {first_ids(missing)} of {ids_name}")
    extra = values.index.difference(ids, sort=False)
    if len(extra):
        problems.append(f"ids {first_ids(extra)} that {ids_name} does not have")
    if problems:
        raise InputError(
            f"`{name}` is not aligned with {ids_name}: "
            + "; ".join(problems)
            + f"; index `{name}` by the same ids"
        )
    return values.reindex(ids)


def _open_mask(times: TravelTimes, open_sites, name: str) -> np.ndarray:
    """Boolean mask over ``times.site_ids`` of the open sites (all when `open_sites` is None)."""
    if open_sites is None:
        return np.ones(len(times.site_ids), dtype=bool)
    if isinstance(open_sites, str) or not isinstance(open_sites, Iterable):
        raise InputError(f"`{name}` must be a list of site ids, got {open_sites!r:.80}")
    wanted = pd.Index(list(open_sites))
    pos = times.site_ids.get_indexer_for(wanted) if len(wanted) else np.array([], dtype=int)
    if (pos < 0).any():
        raise InputError(
            f"`{name}` names sites that are not in the travel times: {first_ids(wanted[pos < 0].unique())}; "
            "use ids of `times.site_ids`"
        )
    mask = np.zeros(len(times.site_ids), dtype=bool)
    mask[pos] = True
    return mask


def _ids_at(ids: pd.Index, pos: np.ndarray):
    """Ids at positions `pos`, missing where ``pos == -1`` (nullable dtype, so integer ids stay integers)."""
    return pd.array(ids.to_numpy()).take(pos, allow_fill=True)


def _sort_by_code(table: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by index (codes), missing codes last; mixed types compared as text."""
    try:
        return table.sort_index(kind="stable", na_position="last")
    except TypeError:
        key = table.index.map(lambda v: tuple(map(str, v)) if isinstance(v, tuple) else str(v))
        return table.iloc[np.argsort(np.asarray(key, dtype=object), kind="stable")]
