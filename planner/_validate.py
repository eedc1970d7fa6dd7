"""Validation shared by every entry point: collect every problem, then raise once.

Messages name the argument, what was expected, what came, and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from planner._errors import InputError


def first_ids(ids: Iterable, limit: int = 10) -> str:
    """Format up to ``limit`` ids and the count, for messages: ``'a, b, c (3 in all)'``."""
    ids = list(ids)
    shown = ", ".join(str(i) for i in ids[:limit])
    more = ", ..." if len(ids) > limit else ""
    return f"{shown}{more} ({len(ids):,} in all)"


def raise_if(problems: Sequence[str], what: str) -> None:
    """Raise one `InputError` listing every problem found in ``what``."""
    if problems:
        if len(problems) == 1:
            raise InputError(f"{what}: {problems[0]}")
        listed = "\n".join(f"  - {p}" for p in problems)
        raise InputError(f"{what} has {len(problems)} problems:\n{listed}")


def point_problems(gdf, name: str, *, need_crs: bool = True) -> list[str]:
    """Problems of a GeoDataFrame of points (or polygons) used as demand or sites."""
    import geopandas as gpd

    if not isinstance(gdf, gpd.GeoDataFrame):
        return [
            f"`{name}` must be a GeoDataFrame, got {type(gdf).__name__}; "
            "build one with geopandas.GeoDataFrame"
        ]
    problems: list[str] = []
    if need_crs and gdf.crs is None:
        problems.append(
            f"`{name}` has no CRS; set it with `gdf.set_crs(4326)` (WGS84) "
            "or the EPSG code of its coordinates"
        )
    if gdf.index.has_duplicates:
        dup = gdf.index[gdf.index.duplicated()].unique()
        problems.append(f"`{name}` has duplicate ids: {first_ids(dup)}; ids must be unique")
    if gdf.index.hasnans:
        problems.append(f"`{name}` has missing ids; give every row an id")
    geom = gdf.geometry
    missing = geom.isna() | geom.is_empty
    if missing.any():
        problems.append(f"`{name}` has rows without geometry: {first_ids(gdf.index[missing])}")
    rest = geom[~missing]
    if len(rest):
        import shapely

        coords = shapely.get_coordinates(rest.values)
        bad_rows = np.zeros(len(rest), dtype=bool)
        if np.isnan(coords).any() or np.isinf(coords).any():
            bad_rows = np.array(
                [not np.isfinite(shapely.get_coordinates(g)).all() for g in rest.values], dtype=bool
            )
        if bad_rows.any():
            problems.append(
                f"`{name}` has NaN or infinite coordinates in rows {first_ids(rest.index[bad_rows])}; "
                "fix or remove those rows"
            )
    return problems


def weight_problems(weights: pd.Series, name: str) -> list[str]:
    """Problems of a demand weight column: numbers, finite, not negative."""
    problems: list[str] = []
    try:
        values = pd.to_numeric(weights, errors="raise").astype(float)
    except (ValueError, TypeError):
        bad = weights[pd.to_numeric(weights, errors="coerce").isna() & weights.notna()]
        return [f"`{name}` must be numbers; rows {first_ids(bad.index)} are not (e.g. {bad.iloc[0]!r})"]
    nan = values.isna() | ~np.isfinite(values)
    if nan.any():
        problems.append(
            f"`{name}` is NaN or infinite in rows {first_ids(values.index[nan])}; fill or drop them"
        )
    neg = values < 0
    if neg.any():
        problems.append(
            f"`{name}` is negative in rows {first_ids(values.index[neg])} "
            f"(smallest {values[neg].min():g}); weights are counts of people and must be >= 0"
        )
    return problems


def check_points(gdf, name: str, *, weight: str | None = None) -> None:
    """Raise one `InputError` with every problem of a point layer (and its weight column)."""
    problems = point_problems(gdf, name)
    if weight is not None and not problems:
        if weight not in gdf.columns:
            problems.append(f"`{name}` has no weight column {weight!r}; columns are {list(gdf.columns)}")
        else:
            problems += weight_problems(gdf[weight], f"{name}[{weight!r}]")
    raise_if(problems, f"`{name}`")
