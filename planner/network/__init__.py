"""Walk networks: the `StreetNetwork` type, the walk rule, OSM file readers, networkx in and out, downloads.

The package is laid out by concern, as osmnx lays out its modules:

* `planner.network.core`: the `StreetNetwork` type and its operations (assembly from arrays, projection,
  `largest_part`, `clip_network`);
* `planner.network.walk`: the walk rule `WALK_RULE` and its filter `walkable`;
* `planner.network.read`: `read_network` of ``.osm.pbf`` / OSM XML / GraphML files;
* `planner.network.convert`: `from_networkx` and `to_networkx`;
* `planner.network.download`: `network_from_place`, `network_from_polygon`, `network_from_bbox`;
* `planner.network._cache`: the cache of prepared networks.

Every reader ends in the same steps: the walk filter, projection to a metric CRS (local UTM by default),
segment lengths from the projected geometry, and the largest connected part. This module only hands the
names on.
"""

from planner.network.convert import from_networkx, to_networkx
from planner.network.core import SOURCES, StreetNetwork, clip_network, largest_part
from planner.network.download import network_from_bbox, network_from_place, network_from_polygon
from planner.network.read import CACHE_MIN_BYTES, read_network
from planner.network.walk import OVERPASS_FILTERS, WALK_RULE, WALK_TAGS, walkable

__all__ = [
    "CACHE_MIN_BYTES",
    "OVERPASS_FILTERS",
    "SOURCES",
    "WALK_RULE",
    "WALK_TAGS",
    "StreetNetwork",
    "clip_network",
    "from_networkx",
    "largest_part",
    "network_from_bbox",
    "network_from_place",
    "network_from_polygon",
    "read_network",
    "to_networkx",
    "walkable",
]
