"""planner.maps: the folium object, the rendered page, bad inputs, and a real browser (headless Chromium)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _browser import CHROMEDRIVER, CHROMIUM, headless_chromium

from planner._errors import InputError, PlannerWarning
from planner.maps import (
    MINUTE_BREAKS,
    MINUTE_COLOURS,
    OSM_ATTRIBUTION,
    UNREACHED_COLOUR,
    _Attribution,
    _Banner,
    _Control,
    _DemandLayer,
    _GeoLayer,
    _SiteLayer,
    external_assets,
    osm_attribution,
    plan_map,
    save_map,
)
from planner.network.core import osm_streets
from planner.provenance import Source, with_provenance

UTM51 = 32651  # Shenyang lies in UTM zone 51N; x 500,000 is longitude 123 E
TIERS = [{"name": "centre", "threshold_min": 15}, {"name": "station", "threshold_min": 10}]
STAND_INS = ["SYNTHETIC STAND-IN street network - not real streets", "ESTIMATED demand positions"]
WALK_M_PER_MIN = 60.0 / 1.25  # test data: street detour 1.25 x the straight line at 60 m/min


STATION_STAND_IN = Source(
    "sites:station",
    real=False,
    what="STAND-IN station sites (no published list)",
    what_zh="替代的服务站（无公开名单）",
)


def _inputs(n: int = 600, seed: int = 1):
    """A coherent small plan in UTM 51N (metres): demand, sites of two tiers, service areas, four districts.

    Walk minutes are 1.25 x the straight-line distance at 60 m/min to the nearest open site of the tier
    (new or upgraded centres; upgraded or existing stations), NaN beyond 20 minutes.
    """
    rng = np.random.default_rng(seed)
    x0, y0, side = 500_000.0, 4_630_000.0, 6_000.0
    demand_xy = np.column_stack([x0 + rng.uniform(0, side, n), y0 + rng.uniform(0, side, n)])
    site_xy = np.column_stack([x0 + rng.uniform(0, side, 40), y0 + rng.uniform(0, side, 40)])
    tier = np.array(["centre"] * 12 + ["station"] * 28)
    status = np.array(["new"] * 4 + ["candidate"] * 8 + ["upgraded"] * 10 + ["existing"] * 18)
    names = [f"沈阳站点{i}" for i in range(40)]
    sites = gpd.GeoDataFrame(
        {"tier": tier, "status": status, "name": names},
        geometry=gpd.points_from_xy(site_xy[:, 0], site_xy[:, 1]),
        crs=UTM51,
        index=pd.Index([f"s{i:02d}" for i in range(40)], name="site_id"),
    )
    sites = with_provenance(sites, STATION_STAND_IN)  # the station tier stands in for a missing list
    columns = {"weight": rng.integers(1, 80, n)}
    for name, open_status in (("centre", ["new", "upgraded"]), ("station", ["upgraded", "existing"])):
        open_xy = site_xy[(tier == name) & np.isin(status, open_status)]
        dist = np.hypot(
            demand_xy[:, None, 0] - open_xy[None, :, 0], demand_xy[:, None, 1] - open_xy[None, :, 1]
        )
        minutes = dist.min(axis=1) / WALK_M_PER_MIN
        columns[f"walk_min_{name}"] = np.where(minutes <= 20, minutes, np.nan)
        threshold = 15 if name == "centre" else 10
        columns[f"covered_{name}"] = columns[f"walk_min_{name}"] <= threshold
    demand = gpd.GeoDataFrame(
        columns,
        geometry=gpd.points_from_xy(demand_xy[:, 0], demand_xy[:, 1]),
        crs=UTM51,
        index=pd.RangeIndex(n, name="demand_id"),
    )
    chosen = sites[sites["status"].isin(["new", "upgraded"])]
    areas = gpd.GeoDataFrame(
        {
            "site_id": chosen.index,
            "tier": chosen["tier"].to_numpy(),
            "threshold_min": np.where(chosen["tier"] == "centre", 15, 10),
        },
        geometry=chosen.geometry.buffer(np.where(chosen["tier"] == "centre", 15, 10) * WALK_M_PER_MIN).values,
        crs=UTM51,
    )
    half = side / 2
    boxes = [
        shapely.box(x0 + i * half, y0 + j * half, x0 + (i + 1) * half, y0 + (j + 1) * half)
        for j in (0, 1)
        for i in (0, 1)
    ]
    districts = gpd.GeoDataFrame(
        {"name": ["和平区", "沈河区", "皇姑区", "大东区"]}, geometry=boxes, crs=UTM51
    )
    which = gpd.sjoin(
        demand[["weight", "covered_centre", "covered_station", "geometry"]], districts, predicate="within"
    )
    grouped = which.groupby("index_right")
    districts["weight"] = grouped["weight"].sum()
    for name in ("centre", "station"):
        covered = which["weight"].where(which[f"covered_{name}"], 0)
        districts[f"share_{name}"] = covered.groupby(which["index_right"]).sum() / districts["weight"]
    return {"demand": demand, "sites": sites, "service_areas": areas, "districts": districts}


@pytest.fixture(scope="module")
def inputs():
    return _inputs()


@pytest.fixture(scope="module")
def plan(inputs):
    m = plan_map(
        **inputs,
        tiers=TIERS,
        stand_ins=STAND_INS,
        title="沈阳 scenario A",
        summary={"Older residents within 15 min of a centre": "62.4 %"},
    )
    return m, m.get_root().render()


def _children(m, cls):
    return [c for c in m._children.values() if isinstance(c, cls)]


def _store(page: str, store_name: str):
    """The JSON a `_JsData` element wrote into the page, parsed back."""
    match = re.search(rf"var {re.escape(store_name)} = (.*?);\n", page + "\n", flags=re.S)
    assert match, store_name
    return json.loads(match.group(1).replace("<\\/", "</"))


# ------------------------------------------------------------------------------------------------------------
# the folium object


def test_layers_are_present_with_the_right_visibility(plan):
    m, _ = plan
    layers = {c.layer_name: c.show for c in m._children.values() if isinstance(c, folium.map.Layer)}
    assert layers == {
        "Districts: share covered by a centre (15 min)": True,
        "Districts: share covered by a station (10 min)": False,
        "Service areas: centre (15 min walk)": True,
        "Service areas: station (10 min walk)": True,
        "Older residents: walk to nearest centre": True,
        "Older residents: walk to nearest station": False,
        "New sites (chosen)": True,
        "Upgraded sites (chosen)": True,
        "Existing sites (kept as they are)": True,
        "Candidate sites (not chosen)": False,
    }
    assert len(_children(m, folium.LayerControl)) == 1
    assert [c.tier_index for c in _children(m, _DemandLayer)] == [0, 1]
    assert not any(layer.cluster for layer in _children(m, _SiteLayer))  # 8 candidates: no clustering
    assert m.options["max_zoom"] == 19
    assert not any(isinstance(c, folium.TileLayer) for c in m._children.values())  # offline default: no tiles


def test_banner_lists_every_stand_in_and_the_flagged_sites(plan):
    m, page = plan
    (banner,) = _children(m, _Banner)
    assert banner.lines[:2] == STAND_INS
    assert banner.lines[2] == "STAND-IN station sites (no published list) / 替代的服务站（无公开名单）"
    assert len(banner.lines) == 3
    block = re.search(r'<div id="planner-banner" role="alert">(.*?)</div>', page, flags=re.S).group(1)
    assert "STAND-IN DATA" in block
    for line in STAND_INS:
        assert f"<li>{line}</li>" in block
    assert page.count("STAND-IN, not a real site") == 28  # and in the tooltips of the stand-in tier's sites


def test_no_banner_without_stand_ins(inputs):
    sites = inputs["sites"].copy()
    sites.attrs.clear()
    m = plan_map(demand=inputs["demand"], sites=sites, tiers=TIERS)
    assert _children(m, _Banner) == []
    assert 'planner-banner" role' not in m.get_root().render()


def test_banner_from_layer_attrs_and_a_single_string(inputs):
    demand = inputs["demand"].copy()
    demand = with_provenance(
        demand,
        Source("demand", real=False, what="STAND-IN demand: positions estimated from building footprints"),
    )
    sites = inputs["sites"].copy()
    sites.attrs.clear()
    m = plan_map(demand=demand, sites=sites, tiers=TIERS, stand_ins="SYNTHETIC streets")
    (banner,) = _children(m, _Banner)
    assert banner.lines == [
        "SYNTHETIC streets",
        "STAND-IN demand: positions estimated from building footprints",
    ]


def test_osm_data_are_credited_without_tiles(inputs):
    # walk times on real OpenStreetMap streets: the ODbL credit shows although no tile layer is drawn
    demand = with_provenance(inputs["demand"], osm_streets("shenyang.osm.pbf"))
    m = plan_map(demand=demand, sites=inputs["sites"], tiers=TIERS)
    assert not any(isinstance(c, folium.TileLayer) for c in m._children.values())
    (credit,) = _children(m, _Attribution)
    assert credit.text == OSM_ATTRIBUTION
    page = m.get_root().render()
    given = re.search(r"control\.addAttribution\((\".*?\")\);\n\}\)\(map_plan\);", page)
    assert given is not None
    assert json.loads(given.group(1)) == OSM_ATTRIBUTION  # Leaflet's control of this map shows it as it is


def test_no_osm_credit_without_osm_data(plan, inputs):
    m, page = plan
    assert osm_attribution(*inputs.values()) is None
    assert _children(m, _Attribution) == []
    assert "openstreetmap.org/copyright" not in page


def test_osm_credit_reads_origin_or_licence():
    roads = Source("roads", real=True, what="major roads", licence="ODbL 1.0, (c) OpenStreetMap contributors")
    download = Source("streets", real=True, what="streets", origin="OpenStreetMap (Overpass), 2026-01-01")
    census = Source("population", real=True, what="2020 census", origin="census bulletin")
    frame = pd.DataFrame({"x": [1]})
    assert osm_attribution(with_provenance(frame, roads)) == OSM_ATTRIBUTION
    assert osm_attribution(with_provenance(frame, download)) == OSM_ATTRIBUTION
    assert osm_attribution(with_provenance(frame, census)) is None
    assert osm_attribution(frame, None) is None


def test_legend_and_title(plan):
    m, _ = plan
    title, legend = _children(m, _Control)
    assert title.summary == "沈阳 scenario A"  # the heading the box folds to
    assert legend.summary == "Legend"
    assert "<td>Older residents within 15 min of a centre</td><td><b>62.4 %</b></td>" in title.html
    assert "STAND-IN" in title.html
    for colour in (*MINUTE_COLOURS, UNREACHED_COLOUR):
        assert colour in legend.html
    for text in ("0&ndash;5 min", "5&ndash;10 min", "10&ndash;15 min", "&gt; 15 min", "not reachable"):
        assert text in legend.html
    assert "<th>centre</th><th>station</th>" in legend.html
    for status in ("new", "upgraded", "existing", "candidate"):
        assert f"<tr><td>{status}</td>" in legend.html
    assert "15-minute walk to a centre" in legend.html and "10-minute walk to a station" in legend.html
    assert "80&ndash;100 %" in legend.html


def test_legend_lists_only_statuses_present(inputs):
    sites = inputs["sites"][inputs["sites"]["status"] == "new"]
    m = plan_map(demand=inputs["demand"], sites=sites, tiers=TIERS)
    legend = _children(m, _Control)[1].html
    new_row = r"<tr><td>new</td><td><div class=\"pl-sym\".*?</td><td></td></tr>"  # a centre, no station
    assert re.search(new_row, legend)
    assert "<td>existing</td>" not in legend and "<td>candidate</td>" not in legend
    assert "Service areas" not in legend and "District share" not in legend
    assert [c.layer_name for c in _children(m, _SiteLayer)] == ["New sites (chosen)"]


def test_inputs_are_not_changed(inputs):
    copies = {k: v.copy() for k, v in inputs.items()}
    plan_map(**inputs, tiers=TIERS)
    for key, gdf in inputs.items():
        pd.testing.assert_frame_equal(pd.DataFrame(gdf), pd.DataFrame(copies[key]))
        assert gdf.crs == copies[key].crs


def test_same_inputs_give_the_same_page(inputs):
    m = plan_map(**inputs, tiers=TIERS)
    first = m.get_root().render()
    assert m.get_root().render() == first  # rendering again (show, then save) adds nothing
    assert plan_map(**inputs, tiers=TIERS).get_root().render() == first


def test_tiers_default_to_walk_columns_and_service_area_thresholds(inputs):
    m = plan_map(**inputs)
    names = [c.layer_name for c in _children(m, _GeoLayer)]
    assert "Districts: share covered by a station (10 min)" in names  # threshold taken from the service areas


# ------------------------------------------------------------------------------------------------------------
# the rendered page


def test_offline_page_loads_nothing_from_the_network(plan):
    _, page = plan
    assert external_assets(page) == []
    assert not re.search(r"<(script|link)\b[^>]*(src|href)\s*=\s*[\"']?(https?:)?//", page, flags=re.I)
    assert 't.version="1.9.3"' in page  # Leaflet itself is inlined
    assert "L.markerClusterGroup=" in page or "MarkerClusterGroup" in page
    for cdn in ("jquery", "bootstrap", "awesome-markers", "fontawesome", "cdn.jsdelivr"):
        assert cdn not in page.lower()
    assert "L.tileLayer" not in page
    assert '"maxZoom": 19' in page


def test_online_page_uses_openstreetmap_and_cdn(inputs, monkeypatch):
    monkeypatch.delenv("PLANNER_OFFLINE", raising=False)
    page = plan_map(**inputs, tiers=TIERS, offline=False).get_root().render()
    assert "tile.openstreetmap.org" in page
    assert any("leaflet" in url for url in external_assets(page))


def test_offline_environment_variable_inlines_assets_with_tiles(inputs, monkeypatch):
    monkeypatch.setenv("PLANNER_OFFLINE", "1")
    page = plan_map(**inputs, tiers=TIERS, tiles="OpenStreetMap").get_root().render()
    assert external_assets(page) == []
    assert "tile.openstreetmap.org" in page


def test_coordinates_are_wgs84_latitude_first(plan, inputs):
    m, page = plan
    (demand_store,) = [c for c in m._children.values() if c.get_name().endswith("demand_data")]
    data = _store(page, demand_store.get_name())
    wgs = inputs["demand"].to_crs(4326)
    np.testing.assert_allclose(data["lat"], wgs.geometry.y, atol=1e-6)
    np.testing.assert_allclose(data["lon"], wgs.geometry.x, atol=1e-6)
    lat, lon = np.array(data["lat"]), np.array(data["lon"])
    assert ((lat > 41.7) & (lat < 41.9)).all()  # Shenyang, not swapped with longitude
    assert ((lon > 122.9) & (lon < 123.1)).all()
    sites = _store(page, "planner_data_sites_new_data")
    assert all(41.7 < v < 41.9 for v in sites["lat"]) and all(122.9 < v < 123.1 for v in sites["lon"])
    districts = _store(page, "planner_data_districts_data")
    xy = np.array([p for f in districts["features"] for p in f["geometry"]["coordinates"][0]])
    assert ((xy[:, 0] > 122.9) & (xy[:, 0] < 123.1) & (xy[:, 1] > 41.7) & (xy[:, 1] < 41.9)).all()  # lon, lat
    bounds = re.search(r"map_plan\.fitBounds\(\s*(\[\[.*?\]\])", page, flags=re.S).group(1)
    (south, west), (north, east) = json.loads(bounds)
    assert 41.7 < south < north < 41.9 and 122.9 < west < east < 123.1


def test_demand_data_matches_the_table(plan, inputs):
    _, page = plan
    data = _store(page, "planner_data_demand_data")
    demand = inputs["demand"]
    assert data["id"] == demand.index.tolist()
    assert data["w"] == demand["weight"].astype(float).tolist()
    for k, name in enumerate(("centre", "station")):
        minutes = demand[f"walk_min_{name}"]
        got = np.array([np.nan if v is None else v for v in data["tiers"][k]["m"]])
        np.testing.assert_allclose(got, minutes.round(1), equal_nan=True)
        assert data["tiers"][k]["c"] == demand[f"covered_{name}"].astype(int).tolist()


def test_covered_defaults_to_threshold(inputs):
    demand = inputs["demand"].drop(columns=["covered_centre", "covered_station"]).iloc[:3].copy()
    demand["walk_min_centre"] = [3.0, 15.0, np.nan]
    demand["walk_min_station"] = [10.5, 0.0, 7.0]
    m = plan_map(demand=demand, sites=inputs["sites"], tiers=TIERS)
    data = _store(m.get_root().render(), "planner_data_demand_data")
    assert data["tiers"][0]["c"] == [1, 1, 0]
    assert data["tiers"][1]["c"] == [0, 1, 1]
    assert data["tiers"][0]["m"] == [3.0, 15.0, None]


def test_chinese_names_survive(plan, tmp_path):
    m, page = plan
    for text in ("和平区", "沈河区", "沈阳站点0", "沈阳 scenario A"):
        assert text in page
    path = save_map(m, tmp_path / "plan.html")
    assert "沈阳站点0" in path.read_text(encoding="utf-8")


def test_text_is_escaped(inputs):
    sites = inputs["sites"].copy()
    sites["name"] = "<script>alert(1)</script>"
    page = plan_map(demand=inputs["demand"], sites=sites, tiers=TIERS, title="A & B").get_root().render()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "A &amp; B" in page


def test_many_candidates_are_clustered_and_online_links_the_plugin(inputs):
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 6000, (250, 2)) + np.array([500_000.0, 4_630_000.0])
    candidates = gpd.GeoDataFrame(
        {"tier": "centre", "status": "candidate"},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=UTM51,
        index=pd.Index([f"c{i}" for i in range(250)], name="site_id"),
    )
    sites = pd.concat([inputs["sites"], candidates])
    m = plan_map(demand=inputs["demand"], sites=sites, tiers=TIERS, offline=False)
    (layer,) = [c for c in _children(m, _SiteLayer) if c.layer_name.startswith("Candidate")]
    assert layer.cluster and not layer.show
    page = m.get_root().render()
    assert "L.markerClusterGroup({" in page
    assert any("leaflet.markercluster" in url for url in external_assets(page))


def test_thirty_thousand_points_save_small(tmp_path):
    big = _inputs(n=30_000, seed=2)
    m = plan_map(**big, tiers=TIERS, stand_ins=STAND_INS)
    path = save_map(m, tmp_path / "big.html")
    assert path.stat().st_size < 15e6


# ------------------------------------------------------------------------------------------------------------
# save_map


def test_save_map_writes_utf8_and_returns_the_path(plan, tmp_path):
    m, page = plan
    path = save_map(m, str(tmp_path / "plan.html"))
    assert path == tmp_path / "plan.html"
    assert path.read_bytes().decode("utf-8") == page


def test_save_map_missing_folder(plan, tmp_path):
    m, _ = plan
    with pytest.raises(InputError, match=r"`path` folder .* does not exist"):
        save_map(m, tmp_path / "nope" / "plan.html")


def test_save_map_warns_when_an_offline_map_gains_a_cdn_plugin(inputs, tmp_path):
    from folium.plugins import Fullscreen

    m = plan_map(**inputs, tiers=TIERS)
    Fullscreen().add_to(m)
    with pytest.warns(PlannerWarning, match=r"made offline but links .*Control\.FullScreen"):
        save_map(m, tmp_path / "plan.html")


# ------------------------------------------------------------------------------------------------------------
# bad inputs


def test_missing_weight_column(inputs):
    demand = inputs["demand"].drop(columns="weight")
    with pytest.raises(InputError, match=r"`demand` has no column 'weight' \(older residents per point\)"):
        plan_map(demand=demand, sites=inputs["sites"], tiers=TIERS)


def test_no_crs(inputs):
    demand = inputs["demand"].set_crs(None, allow_override=True)
    with pytest.raises(InputError, match=r"`demand` has no CRS; set it with `gdf.set_crs\(4326\)`"):
        plan_map(demand=demand, sites=inputs["sites"], tiers=TIERS)


def test_metres_labelled_as_degrees(inputs):
    demand = inputs["demand"].set_crs(4326, allow_override=True)
    with pytest.raises(InputError, match=r"`demand` lies outside longitude .* its CRS is probably wrong"):
        plan_map(demand=demand, sites=inputs["sites"], tiers=TIERS)


def test_every_problem_is_listed_at_once(inputs):
    sites = inputs["sites"].copy()
    sites.loc["s00", "status"] = "chosen"
    sites.loc["s01", "tier"] = "hospital"
    districts = inputs["districts"].copy()
    districts["share_centre"] = districts["share_centre"] * 100
    demand = inputs["demand"].drop(columns="walk_min_station")
    with pytest.raises(InputError, match=r"has 4 problems") as info:
        plan_map(demand=demand, sites=sites, districts=districts, tiers=TIERS)
    message = str(info.value)
    assert "`demand` has no column 'walk_min_station'" in message
    assert (
        "`sites['status']` must be one of ['new', 'upgraded', 'existing', 'candidate']; got chosen" in message
    )
    assert (
        "`sites['tier']` must be one of ['centre', 'station']; got hospital (1 in all) in rows s01" in message
    )
    assert "`districts['share_centre']` must be a share between 0 and 1 (not per cent)" in message


def test_polygons_as_demand(inputs):
    demand = inputs["demand"].copy()
    demand.geometry = demand.geometry.buffer(10)
    with pytest.raises(InputError, match=r"`demand` must hold Point geometries.*representative_point"):
        plan_map(demand=demand, sites=inputs["sites"], tiers=TIERS)


def test_tencent_and_baidu_tiles_are_refused(inputs):
    url = "https://rt1.map.gtimg.com/realtimerender?z={z}&x={x}&y={y}&type=vector"
    with pytest.raises(InputError, match=r"`tiles` look like Tencent or Baidu.*GCJ-02"):
        plan_map(**inputs, tiers=TIERS, tiles=url)


@pytest.mark.parametrize("tiles", ["gaode", "a Gaode URL"])
def test_gaode_tiles_draw_every_overlay_in_gcj02(inputs, tiles):
    from planner.coords import wgs84_to_gcj02

    if tiles != "gaode":
        url = "https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8"
        tiles = folium.TileLayer(url, attr="AutoNavi")
    page = plan_map(**inputs, tiers=TIERS, tiles=tiles).get_root().render()
    wgs = inputs["demand"].to_crs(4326)
    lon, lat = wgs84_to_gcj02(wgs.geometry.x.to_numpy(), wgs.geometry.y.to_numpy())
    data = _store(page, "planner_data_demand_data")
    np.testing.assert_allclose(data["lon"], lon, atol=1e-6)
    np.testing.assert_allclose(data["lat"], lat, atol=1e-6)
    assert np.abs(np.asarray(data["lon"]) - wgs.geometry.x.to_numpy()).min() > 1e-3  # shifted, ~400 m
    sites = _store(page, "planner_data_sites_new_data")
    new = inputs["sites"][inputs["sites"]["status"] == "new"].to_crs(4326)
    np.testing.assert_allclose(sites["lon"], wgs84_to_gcj02(new.geometry.x, new.geometry.y)[0], atol=1e-6)
    if tiles == "gaode":
        assert "webrd0{s}.is.autonavi.com" in page


def test_tianditu_tiles_need_a_key_and_carry_it(inputs, monkeypatch):
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    with pytest.raises(InputError, match=r"needs your Tianditu key: pass tiles_key="):
        plan_map(**inputs, tiers=TIERS, tiles="tianditu")
    page = plan_map(**inputs, tiers=TIERS, tiles="tianditu", tiles_key="abc123").get_root().render()
    page = page.replace("\\u0026", "&")  # folium writes "&" in JSON as \u0026
    assert "T=vec_w&x={x}&y={y}&l={z}&tk=abc123" in page
    assert "T=cva_w&x={x}&y={y}&l={z}&tk=abc123" in page  # the label layer
    data = _store(page, "planner_data_demand_data")
    wgs = inputs["demand"].to_crs(4326)
    np.testing.assert_allclose(data["lon"], wgs.geometry.x, atol=1e-6)  # CGCS2000 lines up with WGS84
    monkeypatch.setenv("TIANDITU_KEY", "fromenv")
    page = plan_map(**inputs, tiers=TIERS, tiles="tianditu-img").get_root().render().replace("\\u0026", "&")
    assert "T=img_w&x={x}&y={y}&l={z}&tk=fromenv" in page


@pytest.mark.parametrize(
    ("tiers", "match"),
    [
        ([{"name": "centre", "threshold": 15}], r"unknown key 'threshold'; did you mean 'threshold_min'\?"),
        (
            [{"name": "centre", "threshold_min": -1}],
            r"`tiers\[0\]\['threshold_min'\]` must be a positive number",
        ),
        ({"name": "centre", "threshold_min": 15}, r"`tiers` must be a non-empty list of dicts"),
        ([TIERS[0], TIERS[0]], r"names must be unique; repeated: centre"),
    ],
)
def test_bad_tiers(inputs, tiers, match):
    with pytest.raises(InputError, match=match):
        plan_map(**inputs, tiers=tiers)


def test_no_walk_columns_and_no_tiers(inputs):
    demand = inputs["demand"][["weight", "geometry"]]
    with pytest.raises(
        InputError, match=r"`demand` has no `walk_min_<tier>` columns and `tiers` was not given"
    ):
        plan_map(demand=demand, sites=inputs["sites"])


# ------------------------------------------------------------------------------------------------------------
# a real browser


@pytest.mark.browser
def test_page_renders_offline_in_headless_chromium(plan, inputs, tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(
            f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}); "
            "apt-get install chromium chromium-driver"
        )
    from selenium.webdriver.support.ui import WebDriverWait

    m, _ = plan
    page = save_map(m, tmp_path / "plan.html")
    driver = headless_chromium(tmp_path / "chromium-profile", console_log=True)
    try:
        driver.get(page.as_uri())
        WebDriverWait(driver, 20).until(
            lambda d: d.execute_script("return !!document.querySelector('.leaflet-overlay-pane canvas')")
        )
        time.sleep(0.5)
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
        loaded = driver.execute_script(
            "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
        )
        assert [url for url in loaded if not url.startswith(("file:", "data:"))] == []

        painted = driver.execute_script(
            """var c = document.querySelector('.leaflet-overlay-pane canvas');
            var px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, n = 0;
            for (var i = 3; i < px.length; i += 4) { if (px[i] > 0) { n++; } }
            return n;"""
        )
        assert painted > 10_000
        sites = inputs["sites"]
        shown = int((sites["status"] != "candidate").sum())
        assert (
            driver.execute_script("return document.querySelectorAll('.leaflet-marker-icon').length") == shown
        )

        demand = inputs["demand"]
        for layer, tier in zip(_children(m, _DemandLayer), ("centre", "station"), strict=True):
            name = layer.get_name()
            driver.execute_script(f"map_plan.addLayer({name})")  # the station layer is hidden at first
            colours = driver.execute_script(
                f"var l = {name}, out = [];"
                "for (var i = 0; i < l.pointCount(); i++) { out.push(l.pointColour(i)); } return out;"
            )
            minutes = demand[f"walk_min_{tier}"].round(1).to_numpy()
            classes = np.searchsorted(MINUTE_BREAKS, np.nan_to_num(minutes), side="left")
            expected = np.where(np.isnan(minutes), UNREACHED_COLOUR, np.array(MINUTE_COLOURS)[classes])
            assert colours == expected.tolist()  # per point, the page classes minutes as the legend says
        station = _children(m, _DemandLayer)[1].get_name()
        driver.execute_script(f"map_plan.removeLayer({station})")

        # hover a demand point that nothing covers: the tooltip names it; a click opens its popup
        centre = _children(m, _DemandLayer)[0].get_name()
        pick = driver.execute_script(
            f"""var l = {centre}, seq = l._seq, tol = l._clickTolerance(), found = [];
            for (var j = seq.length - 1; j >= 0 && found.length < 2; j--) {{
              var i = seq[j], c = map_plan.latLngToContainerPoint([l._d.lat[i], l._d.lon[i]]);
              var el = document.elementFromPoint(c.x, c.y);
              if (!el || el.tagName !== 'CANVAS') {{ continue; }}
              var free = true;
              for (var k = j + 1; k < seq.length; k++) {{
                var q = seq[k], dx = l._x[q] - l._x[i], dy = l._y[q] - l._y[i], rr = l._r[q] + tol;
                if (dx * dx + dy * dy <= rr * rr) {{ free = false; break; }}
              }}
              if (free) {{ found.push([i, Math.round(c.x), Math.round(c.y)]); }}
            }}
            return found;"""
        )
        assert len(pick) == 2
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.actions.action_builder import ActionBuilder

        for i, x, y in pick:
            actions = ActionBuilder(driver)
            actions.pointer_action.move_to_location(x, y)
            actions.perform()
            row = demand.iloc[i]
            head = f"demand_id {demand.index[i]}\nolder residents: {row['weight']}"
            WebDriverWait(driver, 5).until(
                lambda d, head=head: head in d.find_element("css selector", ".leaflet-tooltip").text
            )
            tip = driver.find_element("css selector", ".leaflet-tooltip").text
            walk = row["walk_min_centre"]
            shown = "not reachable" if np.isnan(walk) else f"{walk:.1f} min"
            covered = "covered" if row["covered_centre"] else "not covered"
            assert f"walk to nearest centre: {shown} ({covered})" in tip
        ActionChains(driver).click().perform()
        popup = WebDriverWait(driver, 5).until(
            lambda d: d.find_element("css selector", ".leaflet-popup-content").text
        )
        assert popup.startswith(f"demand_id {demand.index[pick[-1][0]]}")

        banner = driver.find_element("id", "planner-banner")
        assert banner.is_displayed()
        assert banner.location["y"] == 0 and banner.size["height"] > 40
        assert "SYNTHETIC STAND-IN street network" in banner.text
        title = driver.find_element("css selector", ".pl-title")
        assert title.location["y"] >= banner.size["height"]  # controls moved below the banner
        shot = tmp_path / "plan.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    finally:
        driver.quit()
