"""Reading point (or polygon) layers from CSV and vector files, in any datum, into WGS84 GeoDataFrames.

Formats (by file suffix): CSV/TSV/TXT (``.csv``, ``.tsv``, ``.txt``; UTF-8, or GB18030 for files saved by
Chinese Excel), Excel workbooks (``.xlsx``, ``.xlsm``; one sheet, one header row), GeoJSON (``.geojson``,
``.json``), GeoPackage (``.gpkg``), Shapefile (``.shp``, or ``.zip`` holding one) and GeoParquet
(``.parquet``, ``.geoparquet``).
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from planner._errors import InputError
from planner._validate import first_ids, point_problems, raise_if, weight_problems
from planner.coords import LONLAT_DATUMS, datum_crs, parse_datum, to_wgs84

log = logging.getLogger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
PARQUET_SUFFIXES = (".parquet", ".geoparquet")

#: Column names recognised as longitude / latitude in CSV files (case-insensitive, in order of preference).
LON_NAMES = ("lon", "lng", "long", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")


def _nearest(name: str, columns) -> str:
    names = [str(c) for c in columns]
    same_case = [c for c in names if c.lower() == str(name).lower()]
    close = same_case or difflib.get_close_matches(str(name), names, n=1, cutoff=0.4)
    return f"; did you mean {close[0]!r}?" if close else ""


def _missing_column(arg: str, name: str, columns, path: Path) -> str:
    columns = [c for c in columns if c != "geometry"]
    return (
        f"`{arg}` column {name!r} is not in {path.name}; the columns are {list(map(str, columns))}"
        f"{_nearest(name, columns)}"
    )


def _read_csv(path: Path, text: tuple[str, ...] = ()) -> pd.DataFrame:
    """A CSV / TSV table (UTF-8 with or without BOM, or GB18030); the `text` columns (ids) read as text."""
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a CSV file; give the file inside it")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty (0 bytes); give the CSV file with its header and rows")
    if b"\x00" in path.read_bytes()[:4096]:
        raise InputError(f"{path.name} is binary, not a CSV text file; export the table as CSV")
    sep = "\t" if path.suffix.lower() == ".tsv" else None
    dtype = dict.fromkeys(text, str)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, sep=sep, engine="python", encoding=encoding, dtype=dtype)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise InputError(f"{path.name} is not a readable CSV table ({err}); check the file") from None
    raise InputError(f"{path.name} is neither UTF-8 nor GB18030 text; save it as UTF-8 CSV")


def _check_degrees(gdf, path: Path) -> None:
    """Coordinates in a geographic CRS must be longitudes in -180..180 and latitudes in -90..90; coordinates
    in a projected CRS (metres) that all look like degrees are refused too."""
    if gdf.crs is None or not len(gdf):
        return
    if gdf.crs.is_projected:
        west, south, east, north = (float(v) for v in gdf.total_bounds)
        if -180 <= west <= east <= 180 and -90 <= south <= north <= 90 and len(gdf) > 1:
            raise InputError(
                f"{path.name} is said to be in {gdf.crs.name} (metres) but its coordinates all look like "
                f"degrees ({west:g}..{east:g}, {south:g}..{north:g}); give crs='wgs84' (or 'gcj02', 'bd09')"
            )
        return
    if not gdf.crs.is_geographic:
        return
    bounds = gdf.geometry.bounds
    lon_bad = (bounds["minx"] < -180) | (bounds["maxx"] > 180)
    lat_bad = (bounds["miny"] < -90) | (bounds["maxy"] > 90)
    bad = lon_bad | lat_bad
    if not bad.any():
        return
    swapped = bool(((bounds["miny"] >= -180) & (bounds["maxy"] <= 180) & (bounds["minx"] >= -90)).all())
    hint = (
        "longitude and latitude look swapped (latitude goes in the lat column)"
        if swapped and lat_bad.any() and not lon_bad.any()
        else "the coordinates may be metres of a projected CRS: give crs='EPSG:<code>'"
    )
    raise InputError(
        f"{path.name} has coordinates outside longitude -180..180 / latitude -90..90 for its CRS "
        f"({gdf.crs.name}) in rows {first_ids(gdf.index[bad])}; {hint}"
    )


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    """One sheet of a workbook as a table; several sheets need `sheet`, merged header cells are refused."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as err:  # openpyxl raises zipfile / KeyError / InvalidFileException
        raise InputError(
            f"{path.name} could not be read as an Excel workbook ({err}); check the file"
        ) from err
    names = book.sheetnames
    if sheet is None:
        if len(names) > 1:
            raise InputError(
                f"{path.name} has {len(names)} sheets {names}; say which one holds the table with "
                f"layer={names[0]!r} (or its number, 0 for the first)"
            )
        sheet = names[0]
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(names):
            raise InputError(f"`layer` {sheet} is not a sheet number of {path.name}; it has sheets {names}")
        sheet = names[sheet]
    if sheet not in names:
        raise InputError(f"`layer` {sheet!r} is not a sheet of {path.name}; its sheets are {names}")
    ws = book[sheet]
    header_merges = sorted(str(r) for r in ws.merged_cells.ranges if r.min_row <= 2)  # a header over 2 rows
    if header_merges:
        raise InputError(
            f"{path.name} sheet {sheet!r} has merged header cells ({', '.join(header_merges)}); unmerge "
            "them so that the first row gives one name per column (e.g. lon, lat, name), then save again"
        )
    rows = list(ws.values)
    if not rows or not any(v is not None for v in rows[0]):
        raise InputError(f"{path.name} sheet {sheet!r} has no header row; put the column names in row 1")
    header = ["" if v is None else str(v).strip() for v in rows[0]]
    body = [r for r in rows[1:] if any(v is not None for v in r)]
    used = [i for i, h in enumerate(header) if h or any(r[i] is not None for r in body)]
    blank = [i for i in used if not header[i]]
    if blank:
        raise InputError(
            f"{path.name} sheet {sheet!r} has columns without a name in row 1 (column numbers "
            f"{[i + 1 for i in blank]}); give every column a name"
        )
    return pd.DataFrame([[r[i] for i in used] for r in body], columns=[header[i] for i in used])


def _find_xy(df: pd.DataFrame, lon: str | None, lat: str | None, path: Path) -> tuple[str, str]:
    lower = {str(c).lower(): c for c in df.columns}
    problems = []
    found = []
    for arg, given, names in (("lon", lon, LON_NAMES), ("lat", lat, LAT_NAMES)):
        if given is not None:
            if given not in df.columns:
                problems.append(_missing_column(arg, given, df.columns, path))
            found.append(given)
            continue
        hit = next((lower[n] for n in names if n in lower), None)
        if hit is None:
            problems.append(
                f"no {arg} column found in {path.name} (looked for {', '.join(names)}); the columns are "
                f"{list(map(str, df.columns))}; name it with `{arg}=`"
            )
        found.append(hit)
    raise_if(problems, f"reading {path.name}")
    return found[0], found[1]


def read_points(
    path,
    *,
    id: str | None = None,
    weight: str | None = None,
    crs=None,
    lon: str | None = None,
    lat: str | None = None,
    index_name: str | None = None,
    as_points: bool | None = None,
    layer: str | int | None = None,
):
    """Read points (or polygons) from a file into a GeoDataFrame in WGS84 (EPSG:4326).

    Parameters
    ----------
    path
        CSV/TSV/TXT, Excel (``.xlsx``), GeoJSON, GeoPackage, Shapefile (or a zip of one), or GeoParquet file.
    id
        Column holding unique ids; it becomes the index. None numbers the rows 0, 1, 2, ...
    weight
        Column that must hold non-negative numbers (checked; kept under its name). None: no check.
    crs
        What the coordinates are: ``"wgs84"``, ``"gcj02"`` (Gaode/AMap, Tencent), ``"bd09"`` (Baidu) or
        ``"EPSG:<code>"``. It overrides whatever the file says (GCJ-02 files usually claim WGS84). Required
        for CSV files; for vector files None uses the file's CRS.
    lon, lat
        CSV only: the coordinate columns; None looks for lon/lng/long/longitude/x and lat/latitude/y
        (case-insensitive). With a projected ``crs`` they hold metres (x/y).
    index_name
        Name of the index (e.g. ``"demand_id"``); None uses the id column's name (or ``"id"``).
    as_points
        True replaces polygons and lines by a representative point inside each (points stay as they are).
        None (the default) is False: geometries are kept.
    layer
        GeoPackage layer name or number; None reads the first layer. For an Excel workbook, the sheet name or
        number (0 = the first); None when it has one sheet.

    Returns
    -------
    GeoDataFrame in EPSG:4326, one row per row of the file (no row is dropped), index named ``index_name``.

    Raises
    ------
    InputError
        The file is missing or of an unknown format; the id, weight, lon or lat column is missing (the message
        lists the columns and the nearest name); duplicate or missing ids; NaN or missing coordinates; a
        negative or non-numeric weight; no CRS in the file and no ``crs=``.
    """
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        raise InputError(f"`path` {str(path)!r} does not exist; check the file name and folder")
    suffix = path.suffix.lower()
    datum = parse_datum(crs, name="crs") if crs is not None else None
    if suffix in CSV_SUFFIXES or suffix in EXCEL_SUFFIXES:
        text = (id,) if id is not None else ()
        df = _read_csv(path, text) if suffix in CSV_SUFFIXES else _read_excel(path, layer)
        if datum is None:
            raise InputError(
                f"`crs` is needed for {path.name}: a CSV file does not say what its coordinates are; pass "
                "crs='wgs84' (GPS, OpenStreetMap), 'gcj02' (Gaode/AMap, Tencent), 'bd09' (Baidu) "
                "or 'EPSG:<code>'"
            )
        xcol, ycol = _find_xy(df, lon, lat, path)
        x = pd.to_numeric(df[xcol], errors="coerce")
        y = pd.to_numeric(df[ycol], errors="coerce")
        gdf = gpd.GeoDataFrame(
            df.drop(columns=[xcol, ycol]), geometry=gpd.points_from_xy(x, y), crs=datum_crs(datum)
        )
        bad = x.isna() | y.isna()
        if bad.any():
            ids = df.loc[bad, id] if id is not None and id in df.columns else df.index[bad]
            raise InputError(
                f"{path.name} has missing or non-numeric coordinates ({xcol!r}/{ycol!r}) in rows with ids "
                f"{first_ids(ids)}; fix or remove those rows (none are dropped silently)"
            )
    elif suffix in VECTOR_SUFFIXES or suffix in PARQUET_SUFFIXES:
        try:
            if suffix in PARQUET_SUFFIXES:
                gdf = gpd.read_parquet(path)
            else:
                gdf = gpd.read_file(path, layer=layer) if layer is not None else gpd.read_file(path)
        except Exception as err:  # pyogrio / pyarrow raise many kinds
            raise InputError(
                f"{path.name} could not be read as a {suffix} file ({err}); check the file"
            ) from err
        if datum is None and gdf.crs is None:
            raise InputError(
                f"{path.name} has no CRS information; pass crs='wgs84', 'gcj02', 'bd09' or 'EPSG:<code>'"
            )
        if datum is not None:
            if gdf.crs is not None and datum not in LONLAT_DATUMS:
                log.info("%s: using crs=%s instead of the file's %s", path.name, datum, gdf.crs.to_string())
            gdf = gdf.set_crs(datum_crs(datum), allow_override=True)
    else:
        raise InputError(
            f"`path` {path.name!r} has an unknown format {suffix!r}; use one of "
            f"{', '.join(CSV_SUFFIXES + EXCEL_SUFFIXES + VECTOR_SUFFIXES + PARQUET_SUFFIXES)}"
        )

    problems = []
    for arg, col in (("id", id), ("weight", weight)):
        if col is not None and col not in gdf.columns:
            problems.append(_missing_column(arg, col, gdf.columns, path))
    raise_if(problems, f"reading {path.name}")
    if id is not None:  # ids are text, kept exactly as given ("0020" stays "0020")
        gdf[id] = gdf[id].where(gdf[id].isna(), gdf[id].astype(str))
    gdf = gdf.set_index(id, drop=True) if id is not None else gdf.reset_index(drop=True)
    gdf.index.name = index_name or id or "id"
    problems = point_problems(gdf, path.name)
    if weight is not None:
        problems += weight_problems(gdf[weight], f"{path.name}[{weight!r}]")
    raise_if(problems, f"reading {path.name}")
    if weight is not None:
        gdf[weight] = pd.to_numeric(gdf[weight]).astype(float)

    _check_degrees(gdf, path)
    gdf = to_wgs84(gdf, datum if datum in LONLAT_DATUMS else None)
    if as_points:
        types = gdf.geometry.geom_type
        not_point = ~types.isin(["Point"])
        if not_point.any():
            geom = gdf.geometry.copy()
            geom[not_point] = gdf.geometry[not_point].representative_point()
            gdf = gdf.set_geometry(geom)
            log.info("%s: %d polygons/lines replaced by a point inside each", path.name, int(not_point.sum()))
    if not np.isfinite(gdf.total_bounds).all():
        raise InputError(f"{path.name} has no usable coordinates; check the file")
    log.info(
        "read %s: %d rows, %s, from %s",
        path.name,
        len(gdf),
        ", ".join(sorted(gdf.geom_type.unique())),
        datum or "the file's CRS",
    )
    return gdf


#: Decimals kept in written tables, by a word in the column name (first match wins; a key starting with
#: ``_`` must end the name; see `round_table`).
#: Shares and ratios keep 4 decimals (0.01 percentage point), minutes 2 (about a second), coordinates 6
#: (about 0.1 m), money 0; people and other numbers keep `DEFAULT_DECIMALS` (census totals spread over
#: points are fractional, and sums of the rounded values stay within a resident of the run's totals).
ROUNDING = (
    (("lon", "lat", "longitude", "latitude"), 6),
    (("share", "ratio", "gini", "palma", "gap", "access", "decile", "speed_mps"), 4),
    (("walk_min", "minutes", "_min", "_s"), 2),
    (("cost", "budget"), 0),
)
#: Decimals of any other float column: enough for every count and score the project writes.
DEFAULT_DECIMALS = 3


def round_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` with every float column rounded to sensible units for people to read.

    The decimals follow `ROUNDING` by the column name (e.g. ``share_centre`` 4, ``walk_min_station`` 2,
    ``lon`` 6); other float columns keep `DEFAULT_DECIMALS`. Text, integers and booleans are unchanged.

    >>> round_table(pd.DataFrame({"older_residents": [197681.40000000002], "share": [0.123456789]}))
       older_residents   share
    0         197681.4  0.1235
    """
    out = table.copy()
    for col in out.columns:
        if not pd.api.types.is_float_dtype(out[col]):
            continue
        name = str(col).lower()
        decimals = next(
            (n for keys, n in ROUNDING if any(_matches(name, k) for k in keys)),
            DEFAULT_DECIMALS,
        )
        out[col] = out[col].round(decimals)
    return out


def _matches(name: str, key: str) -> bool:
    return name.endswith(key) if key.startswith("_") else key in name


def write_csv(table: pd.DataFrame, path: str | Path, *, index: bool = False) -> Path:
    """Write `table` as CSV for people: UTF-8 with a byte-order mark, floats rounded (`round_table`).

    The byte-order mark makes Excel on a Chinese Windows machine read the file as UTF-8, so Chinese area
    names show as written; pandas, `read_points` and most tools skip it (``encoding="utf-8-sig"``).
    """
    path = Path(path)
    round_table(table).to_csv(path, index=index, encoding="utf-8-sig", lineterminator="\n")
    return path
