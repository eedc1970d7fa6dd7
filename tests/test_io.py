"""Tests of planner.io.read_points: formats, datums, auto-detected columns, and every input error."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from planner._errors import InputError
from planner.coords import gcj02_to_wgs84
from planner.io import read_points

DATA = Path(__file__).parent / "data"
CSV = DATA / "io_points_gcj02.csv"
BLOCKS = DATA / "io_blocks.geojson"


def test_csv_gcj02_autodetects_columns_and_converts():
    gdf = read_points(CSV, id="site", weight="older", crs="gcj02", index_name="demand_id")
    assert gdf.crs.to_epsg() == 4326
    assert gdf.index.name == "demand_id"
    assert list(gdf.index) == ["a1", "a2", "a3"]
    assert list(gdf["name"]) == ["中街", "南湖", "铁西"]
    assert gdf["older"].dtype == float
    assert list(gdf["older"]) == [120.0, 80.5, 0.0]
    lon, lat = gcj02_to_wgs84([123.4361368, 123.45, 123.39], [41.8024298, 41.78, 41.82])
    np.testing.assert_allclose(gdf.geometry.x, lon, atol=1e-12)
    np.testing.assert_allclose(gdf.geometry.y, lat, atol=1e-12)
    # the first point is the GCJ-02 image of (123.43, 41.80): it comes back there
    assert gdf.geometry.iloc[0].x == pytest.approx(123.43, abs=1e-6)
    assert gdf.geometry.iloc[0].y == pytest.approx(41.80, abs=1e-6)
    assert not {"Lng", "Lat"} & set(gdf.columns)


def test_csv_wgs84_unchanged_explicit_columns_and_row_numbers(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("E,N,w\n123.1,41.5,1\n123.2,41.6,2\n", encoding="utf-8")
    gdf = read_points(path, crs="wgs84", lon="E", lat="N", index_name="site_id")
    assert list(gdf.index) == [0, 1]
    assert gdf.index.name == "site_id"
    assert gdf.geometry.iloc[1].coords[0] == (123.2, 41.6)


def test_csv_projected_metres(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,x,y\n1,500000,4600000\n", encoding="utf-8")
    gdf = read_points(path, id="id", crs="EPSG:32651")
    assert gdf.geometry.iloc[0].x == pytest.approx(123.0, abs=1e-6)


def test_csv_in_gb18030_is_read(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("编号,lon,lat\n社区一,123.4,41.8\n".encode("gb18030"))
    gdf = read_points(path, id="编号", crs="wgs84")
    assert list(gdf.index) == ["社区一"]


def test_geojson_polygons_kept_or_as_points():
    kept = read_points(BLOCKS, id="block", weight="pop")
    assert list(kept.geom_type) == ["Polygon", "Polygon", "Point"]
    pts = read_points(BLOCKS, id="block", weight="pop", as_points=True)
    assert (pts.geom_type == "Point").all()
    assert len(pts) == 3
    assert pts.geometry.iloc[:2].within(kept.geometry.iloc[:2]).all()
    assert pts.geometry.iloc[2].equals(kept.geometry.iloc[2])


def test_geojson_crs_override_gcj02():
    as_is = read_points(BLOCKS, id="block")
    fixed = read_points(BLOCKS, id="block", crs="gcj02")
    dx = fixed.geometry.iloc[2].x - as_is.geometry.iloc[2].x
    dy = fixed.geometry.iloc[2].y - as_is.geometry.iloc[2].y
    assert dx == pytest.approx(-0.0061, abs=3e-4)
    assert dy == pytest.approx(-0.0024, abs=3e-4)


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".parquet"])
def test_other_formats_projected_to_wgs84(tmp_path, suffix):
    gdf = gpd.GeoDataFrame(
        {"code": ["s1", "s2"], "cap": [10, 20]},
        geometry=[shapely.Point(500000, 4600000), shapely.Point(501000, 4600000)],
        crs=32651,
    )
    path = tmp_path / f"sites{suffix}"
    if suffix == ".parquet":
        gdf.to_parquet(path)
    else:
        gdf.to_file(path)
    out = read_points(path, id="code", weight="cap")
    assert out.crs.to_epsg() == 4326
    assert list(out.index) == ["s1", "s2"]
    assert out.geometry.iloc[0].x == pytest.approx(123.0, abs=1e-6)
    assert list(out["cap"]) == [10.0, 20.0]


def test_file_without_crs_needs_crs(tmp_path):
    gdf = gpd.GeoDataFrame({"code": ["s1"]}, geometry=[shapely.Point(123.4, 41.8)])
    path = tmp_path / "nocrs.parquet"
    gdf.to_parquet(path)
    with pytest.raises(InputError, match="no CRS information; pass crs="):
        read_points(path, id="code")
    assert read_points(path, id="code", crs="wgs84").crs.to_epsg() == 4326


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_points(tmp_path / "nope.csv", crs="wgs84")
    bad = tmp_path / "table.ods"
    bad.write_bytes(b"PK")
    with pytest.raises(InputError, match=r"unknown format '\.ods'; use one of \.csv"):
        read_points(bad, crs="wgs84")
    with pytest.raises(InputError, match=r"table.xlsx could not be read as an Excel workbook"):
        read_points(bad.rename(tmp_path / "table.xlsx"), crs="wgs84")


def test_csv_needs_crs():
    with pytest.raises(InputError, match=r"`crs` is needed for io_points_gcj02\.csv"):
        read_points(CSV, id="site")


def test_unknown_crs():
    with pytest.raises(InputError, match="`crs` must be 'wgs84'"):
        read_points(CSV, id="site", crs="mars-ish")


def test_missing_id_and_weight_columns_list_columns_and_nearest():
    with pytest.raises(InputError, match=r"`id` column 'sites'.*columns are \['site'.*did you mean 'site'"):
        read_points(CSV, id="sites", crs="gcj02")
    with pytest.raises(InputError, match=r"columns are \['site', 'older', 'name'\]; did you mean 'site'"):
        read_points(CSV, id="SITE", crs="gcj02")
    both = r"(?s)2 problems.*`id` column 'ID'.*`weight` column 'olders'.*'older'"
    with pytest.raises(InputError, match=both):
        read_points(CSV, id="ID", weight="olders", crs="gcj02")


def test_missing_coordinate_columns(tmp_path):
    path = tmp_path / "nocoords.csv"
    path.write_text("id,east,north\n1,123,41\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"no lon column found .*looked for lon, lng"):
        read_points(path, id="id", crs="wgs84")
    with pytest.raises(InputError, match=r"`lat` column 'nord' is not in nocoords.csv.*did you mean 'north'"):
        read_points(path, id="id", crs="wgs84", lon="east", lat="nord")


def test_duplicate_ids_listed(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,lon,lat\nx,123,41\ny,123,41\nx,124,41\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"duplicate ids: x \(1 in all\)"):
        read_points(path, id="id", crs="wgs84")


def test_nan_coordinates_listed_not_dropped(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("id,lon,lat\np1,123,41\np2,,41\np3,123,abc\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing or non-numeric coordinates .* p2, p3 \(2 in all\)"):
        read_points(path, id="id", crs="wgs84")


def test_bad_weights(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("id,lon,lat,w\np1,123,41,5\np2,123,41,-3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"negative in rows p2"):
        read_points(path, id="id", weight="w", crs="wgs84")
    path.write_text("id,lon,lat,w\np1,123,41,5\np2,123,41,many\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"must be numbers; rows p2"):
        read_points(path, id="id", weight="w", crs="wgs84")


def test_input_file_not_modified():
    before = CSV.read_bytes()
    read_points(CSV, id="site", crs="gcj02")
    assert CSV.read_bytes() == before


def _workbook(path: Path, sheets: dict[str, list[list]], merge: str | None = None) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        ws = book.create_sheet(name)
        for row in rows:
            ws.append(row)
        if merge:
            ws.merge_cells(merge)
    book.save(path)
    return path


STATIONS = [
    ["站点编号", "名称", "lng", "lat", "床位"],
    ["S01", "和平站", 123.41, 41.79, 30],
    ["S02", "沈河站", 123.45, 41.80, 20],
]


def test_excel_sheet_is_read_in_gcj02(tmp_path):
    path = _workbook(tmp_path / "stations.xlsx", {"站点": STATIONS})
    gdf = read_points(path, id="站点编号", crs="gcj02", weight="床位")
    assert gdf.index.tolist() == ["S01", "S02"] and gdf["名称"].tolist() == ["和平站", "沈河站"]
    lon, lat = gcj02_to_wgs84(np.array([123.41, 123.45]), np.array([41.79, 41.80]))
    np.testing.assert_allclose(gdf.geometry.x, lon, atol=1e-12)
    np.testing.assert_allclose(gdf.geometry.y, lat, atol=1e-12)
    assert gdf["床位"].tolist() == [30.0, 20.0]


def test_excel_several_sheets_or_merged_header_ask_for_a_fix(tmp_path):
    two = _workbook(tmp_path / "two.xlsx", {"说明": [["本表为站点清单"]], "站点": STATIONS})
    with pytest.raises(InputError, match=r"two.xlsx has 2 sheets \['说明', '站点'\]; say which one .*layer="):
        read_points(two, crs="gcj02")
    assert read_points(two, crs="gcj02", layer="站点", id="站点编号").index.tolist() == ["S01", "S02"]
    assert len(read_points(two, crs="gcj02", layer=1)) == 2
    with pytest.raises(InputError, match=r"`layer` '站' is not a sheet of two.xlsx"):
        read_points(two, crs="gcj02", layer="站")
    merged = [["站点", None, "位置", None], ["编号", "名称", "lng", "lat"], ["S01", "和平站", 123.41, 41.79]]
    path = _workbook(tmp_path / "merged.xlsx", {"站点": merged}, merge="A1:B1")
    with pytest.raises(InputError, match=r"merged header cells \(A1:B1\); unmerge them"):
        read_points(path, crs="gcj02")


def test_swapped_degrees_are_caught_on_load(tmp_path):
    """Shenyang's latitude (41.8) and longitude (123.4) swapped: a latitude of 123 cannot be, said at once."""
    from planner.io import read_points

    path = tmp_path / "swapped.csv"
    path.write_text("id,lon,lat\n0020,41.80,123.43\n0021,41.81,123.44\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"rows 0020, 0021 .*longitude and latitude look swapped"):
        read_points(path, id="id", crs="wgs84")


def test_ids_are_read_as_text(tmp_path):
    from planner.io import read_points

    path = tmp_path / "ids.csv"
    path.write_text("id,lon,lat\n0020,123.4,41.8\n007,123.5,41.8\n7,123.6,41.8\n", encoding="utf-8")
    assert list(read_points(path, id="id", crs="wgs84").index) == ["0020", "007", "7"]


def test_degrees_given_as_metres_are_caught_on_load(tmp_path):
    path = tmp_path / "degrees.csv"
    path.write_text("id,lon,lat\na,123.43,41.80\nb,123.44,41.81\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"coordinates all look like degrees .*give crs='wgs84'"):
        read_points(path, id="id", crs="EPSG:32651")
