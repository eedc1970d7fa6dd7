"""The walk rule: which OpenStreetMap ways people may walk on, one rule for every format and download."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import MappingProxyType

import numpy as np
import pandas as pd

from planner._errors import DataError, InputError

#: The walk filter, one rule for every format (applied by `walkable` to a table of OSM way tags).
#:
#: A way is walkable when all of these hold:
#:
#: * its ``highway`` value is in ``highway_walkable``, or it is in ``highway_if_foot_allowed`` (motorways
#:   and trunk roads: in Chinese OSM data ``trunk`` is mostly the urban expressway, 快速路, closed to people
#:   on foot) and its ``foot`` tag is in ``foot_allows``. Every other value is dropped (construction,
#:   proposed, abandoned, raceway, bus_guideway, busway, platform, ...), and so is a way without ``highway``
#:   (buildings, land use);
#: * its ``foot`` tag is not in ``foot_forbids`` (``use_sidepath``: the sidewalk is mapped as its own way);
#: * it is not an area (``area=yes``: a square's outline is not a walked line);
#: * its ``access`` tag is not in ``access_forbids`` and its ``service`` tag not in ``service_forbids``,
#:   unless its ``foot`` tag is in ``foot_allows`` (``access=private`` + ``foot=yes`` is walkable).
#:
#: Multi-value tags (``foot=yes;no``, ``access=private;delivery``) forbid when any value forbids and allow
#: when any value allows; a merged ``highway`` (a list, from a simplified osmnx graph) is walkable when every
#: value is. Cycleways are walkable unless ``foot=no``. Streets whose sidewalk is mapped as a separate way
#: (``sidewalk=separate``) are kept, unlike osmnx's and pyrosm's walk filters: a parallel street adds edges of
#: about the same length and cannot shorten a walk noticeably, while dropping it disconnects places where the
#: separate sidewalk is only partly mapped. ``oneway`` is ignored: people walk both ways.
WALK_RULE = MappingProxyType(
    {
        "highway_walkable": frozenset(
            {
                "footway",
                "path",
                "pedestrian",
                "steps",
                "living_street",
                "residential",
                "service",
                "unclassified",
                "tertiary",
                "tertiary_link",
                "secondary",
                "secondary_link",
                "primary",
                "primary_link",
                "track",
                "corridor",
                "elevator",
                "bridleway",
                "cycleway",
                "road",
                "trail",
            }
        ),
        "highway_if_foot_allowed": frozenset({"motorway", "motorway_link", "trunk", "trunk_link"}),
        "foot_allows": frozenset({"yes", "designated", "permissive"}),
        "foot_forbids": frozenset({"no", "private", "use_sidepath"}),
        "access_forbids": frozenset({"no", "private"}),
        "service_forbids": frozenset({"private"}),
        "area_excludes": frozenset({"yes"}),
    }
)

#: OSM way tags the walk filter reads.
WALK_TAGS = ("highway", "foot", "access", "service", "area")


def walkable(tags: pd.DataFrame) -> np.ndarray:
    """Which ways are walkable under `WALK_RULE`.

    Parameters
    ----------
    tags
        One row per way (or per segment of a way), columns named after OSM tags: ``highway``, ``foot``,
        ``access``, ``service``, ``area`` (others are ignored). A missing column, None, NaN or "" means that
        the way lacks the tag. A value may be a ``;``-separated multi-value or a list (merged ways of a
        simplified osmnx graph).

    Returns
    -------
    numpy.ndarray
        One bool per row, True where people may walk.

    Examples
    --------
    >>> walkable(pd.DataFrame({"highway": ["footway", "motorway", "motorway", "cycleway"],
    ...                        "foot": [None, None, "yes", "no"]}))
    array([ True, False,  True, False])
    """
    if not isinstance(tags, pd.DataFrame):
        raise InputError(f"`tags` must be a pandas DataFrame of OSM tags, got {type(tags).__name__}")
    rule = WALK_RULE
    highway_ok = rule["highway_walkable"]
    highway_if_foot = rule["highway_if_foot_allowed"]
    highway_all = highway_ok | highway_if_foot

    def test(key, predicate) -> np.ndarray:
        if key not in tags.columns:
            return np.full(len(tags), predicate(()), dtype=bool)
        codes, values = _tag_values(tags[key])
        lookup = np.array([predicate(v) for v in values] + [predicate(())], dtype=bool)
        return lookup[codes]  # code -1 (tag missing) picks the last entry

    street = test("highway", lambda v: bool(v) and all(p in highway_ok for p in v))
    foot_only = test(
        "highway",
        lambda v: bool(v) and all(p in highway_all for p in v) and any(p in highway_if_foot for p in v),
    )
    foot_allows = test("foot", lambda v: any(p in rule["foot_allows"] for p in v))
    foot_forbids = test("foot", lambda v: any(p in rule["foot_forbids"] for p in v))
    area = test("area", lambda v: any(p in rule["area_excludes"] for p in v))
    closed = test("access", lambda v: any(p in rule["access_forbids"] for p in v)) | test(
        "service", lambda v: any(p in rule["service_forbids"] for p in v)
    )
    return (street | (foot_only & foot_allows)) & ~foot_forbids & ~area & (foot_allows | ~closed)


def _tag_values(column: pd.Series) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Codes of a tag column (-1 = missing) and the parsed values of each distinct entry."""
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # unhashable entries (lists from simplified osmnx graphs)
        codes, uniques = pd.factorize(column.map(lambda v: ";".join(_tag_parts(v)) or None))
    return codes, [_tag_parts(u) for u in uniques]


def _tag_parts(value) -> tuple[str, ...]:
    """The values of one tag entry: ``"private;delivery"`` and ``["a", "b"]`` give two, None none."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):  # a list written as text (GraphML)
            text = text[1:-1].replace(",", ";").replace("'", "").replace('"', "")
        return tuple(p.strip() for p in text.split(";") if p.strip())
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return tuple(p for item in value for p in _tag_parts(item))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    return _tag_parts(str(value))


#: Overpass filters of the downloads: a superset of `WALK_RULE` (union of the two), which is then applied in
#: full.
OVERPASS_FILTERS = (
    '["highway"~"^(' + "|".join(sorted(WALK_RULE["highway_walkable"])) + ')$"]["area"!~"^yes$"]',
    '["highway"~"^(' + "|".join(sorted(WALK_RULE["highway_if_foot_allowed"])) + ')$"]'
    '["foot"~"^(' + "|".join(sorted(WALK_RULE["foot_allows"])) + ')$"]',
)


@contextlib.contextmanager
def osmnx_walk_tags() -> Iterator:
    """osmnx, with the tags of the walk filter kept on edges (restored afterwards)."""
    import osmnx as ox

    old = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = list(dict.fromkeys([*old, *WALK_TAGS]))
    try:
        yield ox
    finally:
        ox.settings.useful_tags_way = old


def no_walkable_error(what: str, n_ways: int) -> DataError:
    """The `DataError` of a file or graph none of whose ways passes `WALK_RULE`."""
    return DataError(
        f"{what!r} has no walkable ways ({n_ways:,} street segments read, none passes the walk filter "
        "planner.network.WALK_RULE, e.g. only motorways or trunk roads without foot=yes); give an extract "
        "that covers streets and footpaths"
    )
