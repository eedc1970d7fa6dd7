"""Tests of planner.sites: sites from files, candidates on a network, stand-in stations."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from planner._errors import InputError, PlannerWarning
from planner.demand import SHENYANG_UTM, estimated_demand, shenyang_communities, shenyang_districts
from planner.network import StreetNetwork
from planner.provenance import provenance_of
from planner.sites import (
    DEMAND_RADIUS_M,
    GENERATED_CANDIDATES,
    STAND_IN_STATIONS,
    VILLAGES_PER_STATION_FACTOR,
    candidates_on_network,
    sites_from_file,
    stand_in_stations,
)

DATA = Path(__file__).parent / "data"


def grid_net(n: int = 30, step_m: float = 50.0) -> StreetNetwork:
    """An n x n street grid with ``step_m`` blocks in UTM 51N, node ``k`` at column k % n, row k // n."""
    k = np.arange(n * n)
    x = 500_000.0 + step_m * (k % n)
    y = 4_600_000.0 + step_m * (k // n)
    right = k[k % n < n - 1]
    up = k[k // n < n - 1]
    u = np.concatenate([right, up])
    v = np.concatenate([right + 1, up + n])
    return StreetNetwork(
        node_id=k.astype(np.int64) + 1000,
        x=x,
        y=y,
        edge_u=u,
        edge_v=v,
        length_m=np.full(len(u), step_m),
        crs=pyproj.CRS.from_epsg(32651),
    )


@pytest.fixture(scope="module")
def estimate():
    return estimated_demand(shenyang_districts(), shenyang_communities())


# ---------------------------------------------------------------------------------------------------- files
def test_sites_from_file_with_capacity_and_cost(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("code,lng,lat,beds,price\nA,123.40,41.80,30,1.5\nB,123.41,41.81,0,2\n", encoding="utf-8")
    gdf = sites_from_file(path, id="code", crs="wgs84", capacity="beds", cost="price")
    assert gdf.index.name == "site_id"
    assert list(gdf.index) == ["A", "B"]
    assert list(gdf["capacity"]) == [30.0, 0.0]
    assert list(gdf["cost"]) == [1.5, 2.0]
    assert (gdf["site_source"] == "file").all()
    assert not provenance_of(gdf).is_stand_in
    assert [(s.real, s.origin) for s in provenance_of(gdf).sources] == [(True, "s.csv")]
    blocks = sites_from_file(DATA / "io_blocks.geojson", id="block")
    assert (blocks.geom_type == "Point").all()


def test_sites_from_file_errors(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("code,lng,lat,beds\nA,123.40,41.80,-3\nA,123.41,41.81,5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"duplicate ids: A"):
        sites_from_file(path, id="code", crs="wgs84")
    path.write_text("code,lng,lat,beds\nA,123.40,41.80,-3\nB,123.41,41.81,5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"capacity column 'beds'.* is negative in rows A"):
        sites_from_file(path, id="code", crs="wgs84", capacity="beds")
    with pytest.raises(InputError, match=r"`cost` column 'price' is not in the file"):
        sites_from_file(path, id="code", crs="wgs84", cost="price")


# ------------------------------------------------------------------------------------------------ candidates
def _pairwise_min_m(gdf) -> float:
    pts = gdf.to_crs(32651)
    xy = np.column_stack([pts.geometry.x, pts.geometry.y])
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    d[np.diag_indices(len(xy))] = np.inf
    return float(d.min())


def test_candidates_count_spacing_labels_and_nodes():
    net = grid_net()
    cands = candidates_on_network(net, 25, min_spacing_m=200)
    assert len(cands) == 25
    assert cands.index.name == "site_id"
    assert list(cands.index[:2]) == ["cand-0001", "cand-0002"]
    assert cands.crs.to_epsg() == 4326
    assert provenance_of(cands).is_stand_in
    assert (cands["site_source"] == "generated").all()
    assert provenance_of(cands).banner_lines() == [GENERATED_CANDIDATES.what]
    assert cands["node"].is_unique
    assert (cands["node_id"] == net.node_id[cands["node"]]).all()
    assert _pairwise_min_m(cands) >= 200 - 1e-6
    # each candidate sits on its street node
    back = cands.to_crs(32651)
    np.testing.assert_allclose(back.geometry.x, net.x[cands["node"]], atol=1e-6)
    np.testing.assert_allclose(back.geometry.y, net.y[cands["node"]], atol=1e-6)


def test_candidates_deterministic_and_seeded():
    net = grid_net()
    a = candidates_on_network(net, 10, seed=3)
    b = candidates_on_network(net, 10, seed=3)
    c = candidates_on_network(net, 10, seed=4)
    assert list(a["node"]) == list(b["node"])
    assert list(a["node"]) != list(c["node"])
    centres = candidates_on_network(net, 3, seed=3, prefix="centre")
    assert list(centres.index) == ["centre-0001", "centre-0002", "centre-0003"]
    assert list(centres["node"]) == list(a["node"][:3])


def test_candidates_follow_demand():
    net = grid_net()
    # all demand in the south-west corner: nodes within 500 m of it are the only eligible ones
    demand = gpd.GeoDataFrame(
        {"weight": [100.0, 50.0]},
        geometry=[shapely.Point(500_000, 4_600_000), shapely.Point(500_100, 4_600_050)],
        crs=32651,
    ).to_crs(4326)
    cands = candidates_on_network(net, 8, weights_gdf=demand, min_spacing_m=100)
    assert len(cands) == 8
    d0 = np.hypot(net.x[cands["node"]] - 500_000, net.y[cands["node"]] - 4_600_000)
    d1 = np.hypot(net.x[cands["node"]] - 500_100, net.y[cands["node"]] - 4_600_050)
    assert (np.minimum(d0, d1) <= DEMAND_RADIUS_M + 1e-6).all()
    # demand_nearby is the weight within 500 m, checked by brute force
    for node, near in zip(cands["node"], cands["demand_nearby"], strict=True):
        expected = 100.0 * (np.hypot(net.x[node] - 500_000, net.y[node] - 4_600_000) <= 500)
        expected += 50.0 * (np.hypot(net.x[node] - 500_100, net.y[node] - 4_600_050) <= 500)
        assert near == pytest.approx(expected)


def test_candidates_too_many_warns_and_returns_what_fits():
    net = grid_net(n=5, step_m=100)
    with pytest.warns(
        PlannerWarning, match=r"only \d of the 30 candidates requested fit \(25 eligible nodes"
    ):
        cands = candidates_on_network(net, 30, min_spacing_m=200)
    assert 4 <= len(cands) <= 9  # a 5 x 5 grid of 100 m holds at most 3 x 3 points 200 m apart
    assert _pairwise_min_m(cands) >= 200 - 1e-6
    # the thinning is maximal: every other node is closer than 200 m to a chosen one (brute force)
    chosen = cands["node"].to_numpy()
    d = np.hypot(net.x[:, None] - net.x[chosen][None, :], net.y[:, None] - net.y[chosen][None, :])
    assert (d.min(axis=1) < 200).all()


def test_candidates_bad_inputs():
    net = grid_net(n=4)
    with pytest.raises(InputError, match=r"`net` must be a planner.network.StreetNetwork"):
        candidates_on_network("streets.osm", 3)
    with pytest.raises(InputError, match=r"`n` must be a whole number of candidate sites >= 1, got 0"):
        candidates_on_network(net, 0)
    with pytest.raises(InputError, match=r"`min_spacing_m` must be a distance >= 0"):
        candidates_on_network(net, 2, min_spacing_m=-5)
    no_crs = gpd.GeoDataFrame({"weight": [1.0]}, geometry=[shapely.Point(0, 0)])
    with pytest.raises(InputError, match=r"`weights_gdf` has no CRS"):
        candidates_on_network(net, 2, weights_gdf=no_crs)


# ------------------------------------------------------------------------------------------ stand-in stations
def test_stand_in_stations_follow_the_rule(estimate):
    stations = stand_in_stations(estimate)
    assert STAND_IN_STATIONS in provenance_of(stations).stand_ins
    comm = estimate.groupby("community_code").first()
    expected = 0
    for (_street, kind), group in comm.groupby(["street_code", "community_kind"]):
        n = len(group)
        expected += n // (VILLAGES_PER_STATION_FACTOR * 2) if kind == "village" else math.ceil(n / 2)
    assert len(stations) == expected
    assert len(stations) >= 300  # enough to upgrade 300 of them
    assert stations.index.name == "site_id"
    assert stations.index.is_unique
    assert provenance_of(stations).is_stand_in
    assert (stations["site_source"] == "stand-in").all()
    assert (stations["capacity"] > 0).all()
    assert (stations["capacity"] % 100 == 0).all()
    # each station sits exactly at a block point of its own community
    blocks = estimate.loc[stations["demand_id"]]
    assert (blocks["community_code"].to_numpy() == stations["community_code"].to_numpy()).all()
    assert blocks.geometry.geom_equals_exact(
        gpd.GeoSeries(stations.geometry.values, index=blocks.index), 0
    ).all()
    assert (stations["district_code"].to_numpy() == blocks["district_code"].to_numpy()).all()


def test_stand_in_stations_inside_districts_and_deterministic(estimate):
    stations = stand_in_stations(estimate, per_communities=3)
    districts = shenyang_districts()
    joined = gpd.sjoin(stations[["district_code", "geometry"]], districts[["geometry"]].reset_index())
    assert (joined["adcode"] == joined["district_code"]).all()
    assert len(joined) == len(stations)
    again = stand_in_stations(estimate, per_communities=3)
    pd.testing.assert_frame_equal(pd.DataFrame(stations), pd.DataFrame(again))
    fewer = stand_in_stations(estimate, per_communities=6)
    assert len(fewer) < len(stations)


def test_stand_in_stations_spread_over_a_street(estimate):
    """Farthest-point choice: every community of a street is nearer to some station's community than the
    closest two stations' communities are to each other (the defining property of that greedy choice)."""
    stations = stand_in_stations(estimate, per_communities=4)
    pts = estimate.to_crs(SHENYANG_UTM)
    comm = pd.DataFrame(
        {
            "x": pts.geometry.x,
            "y": pts.geometry.y,
            "c": estimate["community_code"],
            "k": estimate["community_kind"],
        }
    )
    centres = comm.groupby("c").agg(x=("x", "mean"), y=("y", "mean"), k=("k", "first"))
    centres["street"] = estimate.groupby("community_code")["street_code"].first()
    checked = 0
    for (street, kind), chosen in stations.groupby(["street_code", "community_kind"]):
        if len(chosen) < 3:
            continue
        members = centres[(centres["street"] == street) & (centres["k"] == kind)]
        sel = centres.loc[chosen["community_code"]]
        d_sel = np.hypot(
            sel["x"].to_numpy()[:, None] - sel["x"].to_numpy(),
            sel["y"].to_numpy()[:, None] - sel["y"].to_numpy(),
        )
        np.fill_diagonal(d_sel, np.inf)
        d_all = np.hypot(
            members["x"].to_numpy()[:, None] - sel["x"].to_numpy(),
            members["y"].to_numpy()[:, None] - sel["y"].to_numpy(),
        )
        assert d_all.min(axis=1).max() <= d_sel.min() + 1e-6
        checked += 1
    assert checked > 20


def test_stand_in_stations_bad_inputs(estimate):
    with pytest.raises(InputError, match=r"`per_communities` must be a whole number >= 1, got 0"):
        stand_in_stations(estimate, per_communities=0)
    with pytest.raises(InputError, match=r"`demand` lacks columns \['community_kind'\]"):
        stand_in_stations(estimate.drop(columns="community_kind"))
    with pytest.raises(InputError, match=r"`demand` must be a GeoDataFrame"):
        stand_in_stations(pd.DataFrame(estimate.drop(columns="geometry")))


# ------------------------------------------------------------ facilities from OpenStreetMap

FACILITIES_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="41.8000" lon="123.4000">
    <tag k="amenity" v="social_facility"/><tag k="social_facility" v="nursing_home"/>
    <tag k="social_facility:for" v="senior"/><tag k="name" v="松鹤养老院"/>
  </node>
  <node id="2" lat="41.8010" lon="123.4000">
    <tag k="amenity" v="social_facility"/><tag k="social_facility" v="group_home"/>
    <tag k="social_facility:for" v="child"/><tag k="name" v="儿童福利院"/>
  </node>
  <node id="3" lat="41.8020" lon="123.4000"><tag k="amenity" v="nursing_home"/></node>
  <node id="4" lat="41.8030" lon="123.4000">
    <tag k="amenity" v="community_centre"/><tag k="name" v="社区活动中心"/>
  </node>
  <node id="5" lat="41.8040" lon="123.4000">
    <tag k="healthcare" v="nursing_home"/><tag k="social_facility:for" v="disabled"/>
  </node>
  <node id="6" lat="41.8050" lon="123.4000">
    <tag k="amenity" v="social_facility"/><tag k="social_facility" v="outreach"/>
    <tag k="social_facility:for" v="homeless;diseased"/>
  </node>
  <node id="7" lat="41.8060" lon="123.4000"><tag k="healthcare" v="clinic"/></node>
  <node id="8" lat="41.8070" lon="123.4000">
    <tag k="healthcare" v="clinic"/><tag k="healthcare:speciality" v="geriatrics"/>
  </node>
  <node id="101" lat="41.8100" lon="123.4100"/><node id="102" lat="41.8100" lon="123.4120"/>
  <node id="103" lat="41.8120" lon="123.4120"/><node id="104" lat="41.8120" lon="123.4100"/>
  <node id="201" lat="41.8200" lon="123.4200"/><node id="202" lat="41.8200" lon="123.4240"/>
  <node id="203" lat="41.8240" lon="123.4240"/><node id="204" lat="41.8240" lon="123.4200"/>
  <way id="10">
    <nd ref="101"/><nd ref="102"/><nd ref="103"/><nd ref="104"/><nd ref="101"/>
    <tag k="building" v="yes"/><tag k="amenity" v="social_facility"/>
    <tag k="social_facility" v="day_care"/><tag k="social_facility:for" v="senior;disabled"/>
    <tag k="name" v="日间照料中心"/>
  </way>
  <way id="11">
    <nd ref="201"/><nd ref="202"/><nd ref="203"/><nd ref="204"/><nd ref="201"/>
  </way>
  <relation id="20">
    <member type="way" ref="11" role="outer"/>
    <tag k="type" v="multipolygon"/><tag k="social_facility" v="assisted_living"/>
    <tag k="name" v="颐养公寓"/>
  </relation>
</osm>
"""


@pytest.fixture
def facilities_osm(tmp_path) -> Path:
    path = tmp_path / "facilities.osm"
    path.write_text(FACILITIES_OSM, encoding="utf-8")
    return path


def test_sites_from_osm_finds_elderly_care_and_not_look_alikes(facilities_osm):
    import json

    from planner.sites import sites_from_osm

    sites = sites_from_osm(facilities_osm)
    assert sites.index.tolist() == [
        "osm-node-1",
        "osm-node-3",
        "osm-node-8",
        "osm-relation-20",
        "osm-way-10",
    ]
    assert sites.index.name == "site_id" and sites.crs.to_epsg() == 4326
    assert sites.loc["osm-node-1", "name"] == "松鹤养老院"
    assert sites.loc["osm-way-10", "name"] == "日间照料中心"
    assert sites.loc["osm-relation-20", "osm_type"] == "relation"
    assert sites["osm_id"].tolist() == [1, 3, 8, 20, 10]
    assert (sites["kind"] == "elderly_care").all() and not provenance_of(sites).is_stand_in
    # one point per facility: the centroid of the building and of the relation's outline
    way = sites.loc["osm-way-10", "geometry"]
    assert (way.x, way.y) == pytest.approx((123.411, 41.811), abs=1e-6)
    rel = sites.loc["osm-relation-20", "geometry"]
    assert (rel.x, rel.y) == pytest.approx((123.422, 41.822), abs=1e-6)
    assert json.loads(sites.loc["osm-way-10", "tags"])["social_facility:for"] == "senior;disabled"
    (source,) = provenance_of(sites).sources
    assert source.real and "ODbL" in source.licence and source.origin == "facilities.osm"
    # community centres only when asked, as candidate plots
    both = sites_from_osm(facilities_osm, kinds=("elderly_care", "community_centre"), prefix="plot")
    assert both.index.tolist() == sorted(["plot-" + i[4:] for i in sites.index] + ["plot-node-4"])
    assert both.loc["plot-node-4", "kind"] == "community_centre"


def test_sites_from_osm_none_found_says_what_counts(facilities_osm, helsinki_pbf):
    from planner._errors import DataError
    from planner.sites import sites_from_osm

    # the Helsinki extract's only social facilities are not for seniors
    with pytest.raises(
        DataError,
        match=r"(?s)has no OpenStreetMap facility of the kinds \['elderly_care'\].*"
        r"elderly_care: amenity=social_facility \+ social_facility:for=senior",
    ):
        sites_from_osm(helsinki_pbf)
    centres = sites_from_osm(helsinki_pbf, kinds="community_centre")
    assert len(centres) >= 1 and centres.index.str.startswith("osm-").all()
    assert set(centres["osm_type"]) <= {"node", "way", "relation"}
    with pytest.raises(
        InputError, match=r"`kinds` \['shops'\] must be among \['elderly_care', 'community_centre'\]"
    ):
        sites_from_osm(facilities_osm, kinds=("shops",))
    with pytest.raises(InputError, match="is not a file"):
        sites_from_osm(facilities_osm.with_name("missing.osm.pbf"))


def test_osm_site_kind_rules():
    from planner.sites import osm_site_kind

    tags = pd.DataFrame(
        {
            "amenity": ["social_facility", None, None, None, "social_facility"],
            "social_facility": ["day_care", "assisted_living", "assisted_living", None, None],
            "social_facility:for": [None, None, "juvenile", None, "Senior"],
            "healthcare": [None, None, None, "hospice", None],
            "healthcare:for": [None, None, None, "senior", None],
        }
    )
    # day care without saying for whom is not counted; assisted living is (unless for another group)
    assert osm_site_kind(tags).tolist() == ["", "elderly_care", "", "elderly_care", "elderly_care"]
