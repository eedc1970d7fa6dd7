"""Tests of planner.coords against published reference points, round trips and the shift at Shenyang."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from planner._errors import InputError
from planner.coords import (
    CHINA_BBOX,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    parse_datum,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def _dist_m(lon1, lat1, lon2, lat2):
    """Equirectangular distance in metres (exact enough for metre-scale differences)."""
    r = 6371008.8
    x = np.radians(np.asarray(lon2) - lon1) * np.cos(np.radians((np.asarray(lat1) + lat2) / 2))
    y = np.radians(np.asarray(lat2) - lat1)
    return r * np.hypot(x, y)


# (wgs_lon, wgs_lat, gcj_lon, gcj_lat) quoted in googollee/eviltransform python/test.py (TESTS: Shanghai,
# Shenzhen, Beijing); that test checks wgs2gcj to 6 decimals and its exact inverse to 0.5 m.
EVILTRANSFORM = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_eviltransform(wlon, wlat, glon, glat):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-6)
    assert lat == pytest.approx(glat, abs=1e-6)


@pytest.mark.parametrize(("wlon", "wlat", "glon", "glat"), EVILTRANSFORM)
def test_gcj02_to_wgs84_matches_eviltransform_within_half_a_metre(wlon, wlat, glon, glat):
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert _dist_m(lon, lat, wlon, wlat) < 0.5


def test_gcoord_reference_values():
    """Values from hujiulong/gcoord test/unit/crs/GCJ02.spec.js and BD09.spec.ts (checked to 5 decimals)."""
    cases = [
        (gcj02_to_wgs84, (123, 45), (122.99395597, 44.99804071)),
        (gcj02_to_bd09, (123, 45), (123.00636499, 45.00636899)),
        (bd09_to_gcj02, (123, 45), (122.99363304, 44.99365430)),
        (bd09_to_wgs84, (123, 45), (122.98762210, 44.99171540)),
    ]
    for func, (lon, lat), (elon, elat) in cases:
        olon, olat = func(lon, lat)
        assert olon == pytest.approx(elon, abs=5e-6), func.__name__
        assert olat == pytest.approx(elat, abs=5e-6), func.__name__
    # gcoord: "not in China" is returned unchanged
    assert tuple(map(float, gcj02_to_wgs84(183, 45))) == (183.0, 45.0)


def test_r_package_reference_beijing():
    """Value quoted in a public R package's test ('wgs 2 gcj').

    (lat, lon) 39.90734, 116.39089 -> 39.90874107, 116.39713094.
    """
    lon, lat = wgs84_to_gcj02(116.39089, 39.90734)
    assert lon == pytest.approx(116.39713094, abs=1e-7)
    assert lat == pytest.approx(39.90874107, abs=1e-7)


def test_shift_at_shenyang_is_about_575_m():
    lon, lat = wgs84_to_gcj02(123.43, 41.80)
    assert float(lon) - 123.43 == pytest.approx(0.0061, abs=0.0003)
    assert float(lat) - 41.80 == pytest.approx(0.0024, abs=0.0003)
    assert _dist_m(123.43, 41.80, lon, lat) == pytest.approx(575, abs=40)
    blon, blat = wgs84_to_bd09(123.43, 41.80)
    assert 1000 < _dist_m(123.43, 41.80, blon, blat) < 1400  # "about 1.2 km" (shared README)


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(73.5, 134.5, allow_nan=False),
    lat=st.floats(18.0, 53.5, allow_nan=False),
)
def test_round_trips_over_china_below_half_a_metre(lon, lat):
    g = wgs84_to_gcj02(lon, lat)
    back = gcj02_to_wgs84(*g)
    assert _dist_m(lon, lat, *back) < 0.5
    b = wgs84_to_bd09(lon, lat)
    assert _dist_m(lon, lat, *bd09_to_wgs84(*b)) < 0.5
    assert _dist_m(*g, *bd09_to_gcj02(*gcj02_to_bd09(*g))) < 0.5
    # the shift is real everywhere in China (tens of metres in the far west, ~575 m at Shenyang), never > 1 km
    assert 10 < _dist_m(lon, lat, *g) < 1000


def test_vectorised_matches_scalar_and_keeps_shape():
    rng = np.random.default_rng(1)
    lon = rng.uniform(100, 130, size=(4, 5))
    lat = rng.uniform(20, 50, size=(4, 5))
    vlon, vlat = gcj02_to_wgs84(lon, lat)
    assert vlon.shape == (4, 5)
    for i, j in [(0, 0), (3, 4), (2, 1)]:
        slon, slat = gcj02_to_wgs84(lon[i, j], lat[i, j])
        assert vlon[i, j] == pytest.approx(float(slon), abs=1e-10)
        assert vlat[i, j] == pytest.approx(float(slat), abs=1e-10)


def test_outside_china_and_nan_unchanged():
    lon = np.array([2.35, -74.0, 139.69, 72.0, np.nan, 123.43])
    lat = np.array([48.85, 40.7, 35.69, 30.0, 41.8, np.nan])
    assert not in_china(lon, lat).any()
    for func in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84):
        olon, olat = func(lon, lat)
        np.testing.assert_array_equal(olon, lon)
        np.testing.assert_array_equal(olat, lat)
    # the bbox edges are inclusive
    lon_min, lat_min, _, _ = CHINA_BBOX
    assert bool(in_china(lon_min, lat_min))


def test_mismatched_shapes_raise():
    with pytest.raises(InputError, match="same shape"):
        wgs84_to_gcj02([1.0, 2.0], [1.0])


def test_parse_datum_aliases_and_errors():
    assert parse_datum("GCJ-02") == "gcj02"
    assert parse_datum("Baidu") == "bd09"
    assert parse_datum("EPSG:4326") == "wgs84"
    assert parse_datum(32651) == "EPSG:32651"
    with pytest.raises(InputError, match="'wgs84', 'gcj02'"):
        parse_datum("mercator")
    with pytest.raises(InputError, match="not a known EPSG code"):
        parse_datum("EPSG:999999")


def test_to_wgs84_converts_every_geometry_type_and_keeps_input():
    pt = shapely.Point(123.4361, 41.8024)
    line = shapely.LineString([(123.40, 41.78), (123.45, 41.82)])
    poly = shapely.Polygon([(123.40, 41.78), (123.45, 41.78), (123.45, 41.82), (123.40, 41.78)])
    multi = shapely.MultiPolygon([poly, shapely.affinity.translate(poly, 0.1, 0)])
    gdf = gpd.GeoDataFrame({"v": [1, 2, 3, 4]}, geometry=[pt, line, poly, multi], crs=4326)
    before = gdf.copy()
    out = to_wgs84(gdf, "gcj02")
    assert out.crs.to_epsg() == 4326
    assert gdf.geom_equals_exact(before.geometry, 0).all()  # input untouched
    assert list(out["v"]) == [1, 2, 3, 4]
    for g_in, g_out in zip(gdf.geometry, out.geometry, strict=True):
        xy_in = shapely.get_coordinates(g_in)
        xy_out = shapely.get_coordinates(g_out)
        assert xy_in.shape == xy_out.shape
        elon, elat = gcj02_to_wgs84(xy_in[:, 0], xy_in[:, 1])
        np.testing.assert_allclose(xy_out[:, 0], elon, atol=1e-12)
        np.testing.assert_allclose(xy_out[:, 1], elat, atol=1e-12)
    # a GeoSeries works too, and bd09 lands ~1.2 km away from the gcj02 result
    s = to_wgs84(gdf.geometry.iloc[:1], "bd09")
    assert isinstance(s, gpd.GeoSeries)
    d = _dist_m(s.iloc[0].x, s.iloc[0].y, out.geometry.iloc[0].x, out.geometry.iloc[0].y)
    assert 600 < d < 900


def test_to_wgs84_epsg_and_errors():
    gdf = gpd.GeoDataFrame(geometry=[shapely.Point(500000, 4600000)])
    out = to_wgs84(gdf, "EPSG:32651")
    assert out.crs.to_epsg() == 4326
    assert out.geometry.iloc[0].x == pytest.approx(123.0, abs=1e-6)
    with pytest.raises(InputError, match="no CRS and no `datum`"):
        to_wgs84(gdf)
    projected = gdf.set_crs(32651)
    with pytest.raises(InputError, match="contradicts the CRS"):
        to_wgs84(projected, "EPSG:32650")
    with pytest.raises(InputError, match="projected CRS"):
        to_wgs84(projected, "gcj02")
    with pytest.raises(InputError, match="GeoDataFrame or GeoSeries"):
        to_wgs84([1, 2], "gcj02")
    assert to_wgs84(projected).geometry.iloc[0].x == pytest.approx(123.0, abs=1e-6)


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(123.43, 41.80, 32651), (24.94, 60.17, 32635), (-58.38, -34.60, 32721), (0.5, 0.1, 32631)],
)
def test_utm_crs_is_geopandas_choice(lon, lat, epsg):
    from planner.coords import utm_crs, utm_crs_of

    assert utm_crs(lon, lat).to_epsg() == epsg
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy([lon - 0.01, lon + 0.01], [lat, lat]), crs=4326)
    assert utm_crs_of(points) == points.estimate_utm_crs() == utm_crs(lon, lat)
    assert utm_crs_of(points.to_crs(3857)).to_epsg() == epsg  # any CRS: bounds are taken in WGS84


def test_utm_crs_rejects_what_is_not_lon_lat():
    from planner.coords import utm_crs, utm_crs_of

    with pytest.raises(InputError, match=r"no UTM zone for lon 535723.0, lat 4627660.0.*gdf.to_crs\(4326\)"):
        utm_crs(535_723.0, 4_627_660.0)
    with pytest.raises(InputError, match="`data` has no CRS"):
        utm_crs_of(gpd.GeoDataFrame(geometry=[shapely.Point(1, 2)]))
