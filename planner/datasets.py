"""Built-in data of the Shenyang default, in one place (as momepy bundles its example data).

Made by ``scripts/make_shenyang_data.py`` from the shared reference data into ``data/shenyang/`` (see
``data/README.md``); ``$PLANNER_DATA`` points elsewhere. Each function reads one file and returns a fresh
frame carrying its provenance (real, with its source):

>>> districts = shenyang_districts()  # doctest: +SKIP
>>> len(districts), districts.crs.to_epsg()  # doctest: +SKIP
(13, 4326)
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from planner._errors import DataError
from planner.provenance import Source, with_provenance

#: Share of registered residents aged 60 and over, Shenyang 2020: 27.05 % (Liaoshen Evening News, 2020-05-15).
SHENYANG_SHARE_60PLUS = 0.2705

#: Centre of Shenyang (WGS84 lon, lat), near the old city and Zhongjie; urban density decays from here.
SHENYANG_CENTRE = (123.43, 41.80)

#: Metric CRS used to place estimated points (UTM zone 51N covers 120-126 E).
SHENYANG_UTM = "EPSG:32651"

#: Where the built-in data come from (for `planner.provenance` records).
DISTRICTS_SOURCE = Source(
    "areas",
    real=True,
    what="Shenyang district boundaries and 2020 census population (7th census)",
    what_zh="沈阳市区县边界与2020年第七次人口普查人口",
    origin="data/shenyang/districts.geojson (boundaries converted from GCJ-02)",
    date="2020",
)
COMMUNITIES_SOURCE = Source(
    "communities",
    real=True,
    what="Shenyang communities and villages (names and codes, no coordinates)",
    what_zh="沈阳市社区与村（名称与代码，无坐标）",
    origin="data/shenyang/communities.csv",
)


def data_dir() -> Path:
    """Folder of the built-in data: ``$PLANNER_DATA`` or the repository's ``data/`` folder."""
    env = os.environ.get("PLANNER_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


def _shenyang_file(name: str) -> Path:
    path = data_dir() / "shenyang" / name
    if not path.exists():
        raise DataError(
            f"built-in Shenyang data file {path} is missing; run `python scripts/make_shenyang_data.py` "
            "in the repository, or set PLANNER_DATA to a folder holding shenyang/"
        )
    return path


def shenyang_districts():
    """The 13 districts/counties of Shenyang: GeoDataFrame in WGS84 indexed by ``adcode``.

    Columns: name (Chinese), name_en, pop_2020 (7th census), share_60plus, older_2020 (an estimate; see
    ``older_source``), geometry (boundaries converted from GCJ-02). See ``data/README.md``.
    """
    import geopandas as gpd

    gdf = gpd.read_file(_shenyang_file("districts.geojson"))
    gdf["adcode"] = gdf["adcode"].astype("int64")
    return with_provenance(gdf.set_index("adcode").sort_index(), DISTRICTS_SOURCE)


def shenyang_communities() -> pd.DataFrame:
    """The 2,703 communities (社区) and villages (村) of Shenyang, with codes, names, street and district.

    Columns: code (12 digits), name, street_code, street_name, district_code, district_name, kind
    ("community" or "village"), virtual, street_kind. No coordinates exist for them.
    """
    return with_provenance(
        pd.read_csv(_shenyang_file("communities.csv"), encoding="utf-8"), COMMUNITIES_SOURCE
    )


def shenyang_streets() -> pd.DataFrame:
    """The 190 sub-districts (街道) and towns (镇/乡) of Shenyang with their kind."""
    return pd.read_csv(_shenyang_file("streets.csv"), encoding="utf-8")


#: The real major roads of central Shenyang (see ``data/README.md``): OpenStreetMap, ODbL.
MAJOR_ROADS_SOURCE = Source(
    "roads",
    real=True,
    what="real major roads of central Shenyang from OpenStreetMap (motorway, trunk, primary)",
    what_zh="沈阳中心城区 OpenStreetMap 真实主干道（高速、快速路、主干路）",
    origin="data/shenyang/osm_major_roads.geojson (Overpass API)",
    licence="ODbL 1.0, (c) OpenStreetMap contributors",
    date="2026-09-12",
)


def shenyang_major_roads():
    """The 1,718 motorway, trunk and primary roads of central Shenyang from OpenStreetMap (ODbL).

    GeoDataFrame in WGS84 indexed by ``osm_way_id`` (one LineString per OSM way), column ``highway``. The
    stand-in street network of the default is built on them (`planner.synthetic.streets_on_roads`).
    """
    import geopandas as gpd

    gdf = gpd.read_file(_shenyang_file("osm_major_roads.geojson"))
    gdf["osm_way_id"] = gdf["osm_way_id"].astype("int64")
    return with_provenance(gdf.set_index("osm_way_id").sort_index(), MAJOR_ROADS_SOURCE)
