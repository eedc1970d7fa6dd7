"""Tests of planner.demand and of the built-in Shenyang data (made by scripts/make_shenyang_data.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner._errors import DataError, InputError
from planner.demand import (
    BLOCK_RADIUS_M,
    SHENYANG_UTM,
    demand_from_buildings,
    demand_from_file,
    estimated_demand,
    shenyang_communities,
    shenyang_districts,
    shenyang_streets,
)
from planner.provenance import provenance_of

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SHARED = ROOT.parent / "shared" / "data" / "shenyang"  # the shared reference data beside the repository
CENSUS_TOTAL = 9_070_119


@pytest.fixture(scope="module")
def districts():
    return shenyang_districts()


@pytest.fixture(scope="module")
def communities():
    return shenyang_communities()


@pytest.fixture(scope="module")
def estimate(districts, communities):
    return estimated_demand(districts, communities)


# ------------------------------------------------------------------------------------------ built-in data
def test_shenyang_districts_consistent(districts):
    assert len(districts) == 13
    assert districts.crs.to_epsg() == 4326
    assert districts["pop_2020"].sum() == CENSUS_TOTAL
    assert districts.loc[210106, "name"] == "铁西区"
    assert districts.loc[210106, "pop_2020"] == 1_335_935
    assert districts.loc[210123, "name_en"] == "Kangping"
    expected_older = (districts["pop_2020"] * 0.2705).round().astype(int)
    assert (districts["older_2020"] == expected_older).all()
    assert districts["older_source"].str.startswith("estimate").all()
    assert districts.is_valid.all()
    # districts tile the city: their areas add up to the outline's (within 0.5 %)
    city = gpd.read_file(ROOT / "data" / "shenyang" / "city.geojson").to_crs(SHENYANG_UTM)
    assert districts.to_crs(SHENYANG_UTM).area.sum() == pytest.approx(city.area.sum(), rel=5e-3)


def test_shenyang_communities_and_streets(communities, districts):
    assert len(communities) == 2_703
    assert communities["code"].is_unique
    assert set(communities["district_code"]) == set(districts.index)
    assert (communities["kind"] == "village").sum() == 1_539
    assert (communities["kind"] == "community").sum() == 1_164
    assert communities["virtual"].sum() == 11
    # the kind rule, checked on names
    villages = communities.loc[communities["kind"] == "village", "name"]
    assert villages.str.contains("村民委员会|村委会|村$").all()
    assert not communities.loc[communities["kind"] == "community", "name"].str.contains("村民委员会").any()
    streets = shenyang_streets()
    assert len(streets) == 190
    assert set(communities["street_code"]) <= set(streets["street_code"])
    assert (streets.loc[streets["street_name"].str.endswith("街道"), "kind"] == "subdistrict").all()


@pytest.mark.skipif(not SHARED.exists(), reason="shared GCJ-02 source data not on this machine")
def test_boundaries_converted_back_from_gcj02(districts):
    from planner.coords import gcj02_to_wgs84

    for code in (210102, 210106, 210123):
        gcj = shapely.get_coordinates(
            shapely.from_geojson((SHARED / "boundaries_gcj02" / f"{code}.geojson").read_text())
        )
        ours = shapely.get_coordinates(districts.geometry.loc[code])
        expected = np.round(np.column_stack(gcj02_to_wgs84(gcj[:, 0], gcj[:, 1])), 7)
        np.testing.assert_array_equal(ours, expected)
        dx, dy = (ours - gcj).mean(axis=0)
        assert dx == pytest.approx(-0.0060, abs=4e-4)
        assert dy == pytest.approx(-0.0023, abs=2e-4)
        shift_m = np.hypot(dx * 111_320 * np.cos(np.radians(41.8)), dy * 110_950)
        assert 500 < shift_m < 600


@pytest.mark.skipif(not SHARED.exists(), reason="shared source data not on this machine")
def test_script_is_idempotent_and_reproduces_committed_files(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_shenyang_data", ROOT / "scripts" / "make_shenyang_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    counts = module.build(SHARED, tmp_path)
    assert counts == {
        "districts": 13,
        "streets": 190,
        "communities": 2_703,
        "villages": 1_539,
        "population": CENSUS_TOTAL,
        "motorway ways": 319,
        "trunk ways": 767,
        "primary ways": 632,
    }
    committed = ROOT / "data" / "shenyang"
    for name in (
        "districts.geojson",
        "city.geojson",
        "streets.csv",
        "communities.csv",
        "osm_major_roads.geojson",
    ):
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name
    fc = json.loads((tmp_path / "districts.geojson").read_text(encoding="utf-8"))
    assert fc["crs"]["properties"]["name"].endswith("CRS84")


def test_data_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANNER_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"districts\.geojson is missing; run `python scripts/make_shenyang"):
        shenyang_districts()


# ---------------------------------------------------------------------------------------------------- files
def test_demand_from_file():
    gdf = demand_from_file(DATA / "io_points_gcj02.csv", id="site", weight="older", crs="gcj02")
    assert gdf.index.name == "demand_id"
    assert list(gdf["weight"]) == [120.0, 80.5, 0.0]
    assert list(gdf["older"]) == [120.0, 80.5, 0.0]
    assert (gdf["source"] == "file").all()
    assert not provenance_of(gdf).is_stand_in
    blocks = demand_from_file(DATA / "io_blocks.geojson", id="block")
    assert (blocks.geom_type == "Point").all()  # polygons become points
    assert list(blocks["weight"]) == [1.0, 1.0, 1.0]


def test_demand_from_file_refuses_to_ignore_a_weight_column(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("id,lon,lat,weight\n1,123,41,5\n", encoding="utf-8")
    with pytest.raises(InputError, match="has a 'weight' column but `weight` was not given"):
        demand_from_file(path, id="id", crs="wgs84")
    assert demand_from_file(path, id="id", crs="wgs84", weight="weight")["weight"].iloc[0] == 5.0


# ------------------------------------------------------------------------------------------------ buildings
def test_demand_from_buildings_helsinki(helsinki_pbf):
    gdf = demand_from_buildings(helsinki_pbf, population=1_000)
    assert gdf.index.name == "demand_id"
    assert gdf.index.is_unique
    assert len(gdf) > 20
    assert gdf["weight"].sum() == pytest.approx(1_000, rel=1e-12)
    assert (gdf.geom_type == "Point").all()
    assert gdf["building"].isin(["apartments", "residential", "house"]).all()
    # people are proportional to floor area: more floor area -> more people, same people per m2
    has_floor = gdf["floor_area_m2"] > 0
    assert has_floor.sum() > 20
    assert (gdf.loc[~has_floor, "weight"] == 0).all()
    per_m2 = gdf.loc[has_floor, "weight"] / gdf.loc[has_floor, "floor_area_m2"]
    np.testing.assert_allclose(per_m2, per_m2.iloc[0], rtol=1e-9)
    order = gdf.sort_values("floor_area_m2")
    assert order["weight"].is_monotonic_increasing
    # tagged levels are used; floor area = footprint x levels (footprint checked by brute force for one)
    tagged = gdf[gdf["levels_source"] == "tag"]
    assert len(tagged) > 0
    assert (gdf.loc[gdf["levels_source"] == "default", "levels"] == 5.0).all()
    again = demand_from_buildings(helsinki_pbf, population=1_000)
    pd.testing.assert_frame_equal(gdf.drop(columns="geometry"), again.drop(columns="geometry"))


def test_demand_from_buildings_options(helsinki_pbf):
    base = demand_from_buildings(helsinki_pbf, population=500)
    flat = demand_from_buildings(helsinki_pbf, population=500, default_levels=1)
    untagged = base.index[base["levels_source"] == "default"]
    assert (flat.loc[untagged, "levels"] == 1.0).all()
    np.testing.assert_allclose(flat.loc[untagged, "floor_area_m2"] * 5, base.loc[untagged, "floor_area_m2"])
    more = demand_from_buildings(helsinki_pbf, population=500, untyped=True)
    assert len(more) > len(base)
    assert set(base.index) <= set(more.index)
    assert more["weight"].sum() == pytest.approx(500)


def test_demand_from_buildings_errors(helsinki_pbf, tmp_path):
    with pytest.raises(InputError, match="`population` must be a number of people > 0"):
        demand_from_buildings(helsinki_pbf, population=0)
    with pytest.raises(InputError, match="`population` must be a number"):
        demand_from_buildings(helsinki_pbf, population="many")
    with pytest.raises(InputError, match="does not exist"):
        demand_from_buildings(tmp_path / "none.osm.pbf", population=10)
    with pytest.raises(InputError, match="`default_levels` must be > 0"):
        demand_from_buildings(helsinki_pbf, population=10, default_levels=0)


# ------------------------------------------------------------------------------------- estimated stand-in
def test_estimated_demand_counts_population_and_labels(estimate, districts, communities):
    assert len(estimate) == 2_703 * 6
    assert estimate.index.name == "demand_id"
    assert estimate.index.is_unique
    assert estimate.index.is_monotonic_increasing
    assert estimate.crs.to_epsg() == 4326
    assert provenance_of(estimate).is_stand_in
    assert (estimate["position_source"] == "estimated").all()
    assert (estimate["source"] == "estimated").all()
    assert estimate["population"].sum() == CENSUS_TOTAL
    by_district = estimate.groupby("district_code")["population"].sum()
    pd.testing.assert_series_equal(
        by_district, districts["pop_2020"], check_names=False, check_index_type=False, check_dtype=False
    )
    np.testing.assert_allclose(estimate["weight"], estimate["population"] * 0.2705)
    assert estimate.groupby("community_code").size().eq(6).all()
    assert set(estimate["community_code"]) == set(communities["code"])
    # an urban community holds three times a village's people (same district, up to integer rounding)
    pop = estimate.groupby(["district_code", "community_kind", "community_code"])["population"].sum()
    xinmin = pop.loc[210181]
    ratio = xinmin.loc["community"].mean() / xinmin.loc["village"].mean()
    assert ratio == pytest.approx(3.0, rel=0.02)


def test_estimated_demand_points_inside_their_district(estimate, districts):
    joined = gpd.sjoin(
        estimate[["district_code", "geometry"]],
        districts[["geometry"]].reset_index(),
        predicate="within",
    )
    assert len(joined) == len(estimate)
    assert (joined["adcode"] == joined["district_code"]).all()


def test_estimated_blocks_near_their_community_and_urban_near_centre(estimate):
    pts = estimate.to_crs(SHENYANG_UTM)
    xy = pd.DataFrame({"x": pts.geometry.x, "y": pts.geometry.y, "c": estimate["community_code"]})
    spread = xy.groupby("c").agg(dx=("x", lambda v: v.max() - v.min()), dy=("y", lambda v: v.max() - v.min()))
    assert (spread["dx"] <= 2 * BLOCK_RADIUS_M + 1e-6).all()
    assert (spread["dy"] <= 2 * BLOCK_RADIUS_M + 1e-6).all()
    centre = gpd.GeoSeries.from_xy([123.43], [41.80], crs=4326).to_crs(SHENYANG_UTM).iloc[0]
    d = pts.distance(centre)
    for code in (210106, 210111, 210112, 210113, 210114):  # city districts with urban and rural parts
        in_d = estimate["district_code"] == code
        urban = d[in_d & (estimate["community_kind"] == "community")].median()
        rural = d[in_d & (estimate["community_kind"] == "village")].median()
        assert urban < rural


def test_estimated_demand_deterministic_and_seeded(estimate, districts, communities):
    again = estimated_demand(districts, communities)
    assert again.geom_equals_exact(estimate.geometry, tolerance=0).all()
    pd.testing.assert_frame_equal(again.drop(columns="geometry"), estimate.drop(columns="geometry"))
    other = estimated_demand(districts, communities, seed=1)
    assert not other.geom_equals_exact(estimate.geometry, tolerance=0).all()
    assert (other["population"] == estimate["population"]).all()


def test_estimated_demand_options(districts, communities):
    small = communities[communities["district_code"].isin([210102, 210103])]
    two = districts.loc[[210102, 210103]].reset_index()  # adcode as a column works too
    out = estimated_demand(two, small, share_60plus=0.3, points_per_community=1)
    assert "adcode" in two.columns  # the input is untouched
    assert len(out) == len(small)
    assert out["population"].sum() == two["pop_2020"].sum()
    np.testing.assert_allclose(out["weight"], out["population"] * 0.3)
    assert out.index[0].endswith("-01")


def test_estimated_demand_errors(districts, communities):
    with pytest.raises(InputError, match=r"`points_per_community` must be an integer 1-99, got 0"):
        estimated_demand(districts, communities, points_per_community=0)
    with pytest.raises(InputError, match=r"`share_60plus` must be a fraction in \(0, 1\], got 27\.05"):
        estimated_demand(districts, communities, share_60plus=27.05)
    with pytest.raises(InputError, match=r"`communities` lacks columns \['kind'\]"):
        estimated_demand(districts, communities.drop(columns="kind"))
    with pytest.raises(InputError, match=r"districts without any community .*: 210123"):
        estimated_demand(districts, communities[communities["district_code"] != 210123])
    with pytest.raises(InputError, match=r"communities name districts not in `districts`.*210181"):
        estimated_demand(districts.drop(index=[210181]), communities)
    with pytest.raises(InputError, match=r"`districts` must be a GeoDataFrame"):
        estimated_demand(pd.DataFrame(districts), communities)


# ------------------------------------------------------------------------------------------ census by area
def _helsinki_areas() -> gpd.GeoDataFrame:
    """Two halves of the Helsinki extract (west, east) and a box in the sea south of it (no buildings)."""
    return gpd.GeoDataFrame(
        {
            "name": ["west", "east", "harbour"],
            "population": [10_000, 30_000, 5_000],
            "share": [0.2, 0.25, 0.3],
        },
        geometry=[
            shapely.box(24.930, 60.160, 24.944, 60.182),
            shapely.box(24.944, 60.160, 24.960, 60.182),
            shapely.box(24.940, 60.150, 24.950, 60.155),
        ],
        crs=4326,
    )


def test_demand_by_area_gives_each_area_its_census_total(helsinki_pbf):
    from planner._errors import PlannerWarning
    from planner.demand import FALLBACK_POINTS_PER_AREA, demand_by_area
    from planner.provenance import provenance_of

    areas = _helsinki_areas()
    with pytest.warns(
        PlannerWarning, match=r"1 areas have no residential building .*: harbour \(1 in all\).*untyped=True"
    ):
        demand = demand_by_area(helsinki_pbf, areas, share_60plus="share", untyped=True)
    sums = demand.groupby("area_name")["weight"].sum()
    assert sums.to_dict() == pytest.approx({"west": 2_000.0, "east": 7_500.0, "harbour": 1_500.0}, rel=1e-12)
    # buildings by floor area inside their area; the sea box on estimated grid points, labelled
    homes = demand[demand["position_source"] == "building"]
    assert set(homes["area_name"]) == {"west", "east"} and (homes["position_source"] == "building").all()
    for area_name, box in zip(areas["name"][:2], areas.geometry[:2], strict=True):
        mine = homes[homes["area_name"] == area_name]
        assert mine.within(box).all()
        share = mine["floor_area_m2"] / mine["floor_area_m2"].sum()
        np.testing.assert_allclose(mine["weight"], sums[area_name] * share, rtol=1e-12)
    sea = demand[demand["area_name"] == "harbour"]
    assert 0.5 * FALLBACK_POINTS_PER_AREA < len(sea) < 1.5 * FALLBACK_POINTS_PER_AREA  # a grid inside
    assert np.allclose(sea["weight"], 1_500.0 / len(sea))
    assert (sea["position_source"] == "estimated").all() and sea.within(areas.geometry[2]).all()
    prov = provenance_of(demand)
    assert [s.real for s in prov.sources] == [True, False]
    assert "ESTIMATED" in prov.banner_lines()[0]
    assert demand.index.is_unique and demand.index.name == "demand_id"


def test_demand_by_area_census_by_name_and_bad_input(helsinki_pbf):
    from planner.demand import demand_by_area

    two = _helsinki_areas().iloc[:2]
    demand = demand_by_area(helsinki_pbf, two, population={"west": 100, "east": 300}, untyped=True)
    assert demand.groupby("area_name")["weight"].sum().to_dict() == pytest.approx({"west": 100, "east": 300})
    with pytest.raises(InputError, match=r"census totals for names that match no area: Kallio \(1 in all\)"):
        demand_by_area(helsinki_pbf, two, population={"west": 100, "east": 300, "Kallio": 5})
    with pytest.raises(InputError, match=r"areas without a census total: east \(1 in all\)"):
        demand_by_area(helsinki_pbf, two, population={"west": 100})
    with pytest.raises(InputError, match="`share_60plus` must be a share in"):
        demand_by_area(helsinki_pbf, two, share_60plus=1.5)
    with pytest.raises(DataError, match=r"none is residential .*pass untyped=True"):
        demand_by_area(helsinki_pbf, two.assign(geometry=shapely.box(24.951, 60.1770, 24.953, 60.1771)))
