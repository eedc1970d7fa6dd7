"""WGS84 <-> GCJ-02 <-> BD-09 conversions, vectorised, and a GeoDataFrame helper `to_wgs84`.

Chinese map data are rarely in WGS84 (the datum of GPS and OpenStreetMap):

* **GCJ-02** ("Mars coordinates") is what Gaode/AMap, Tencent and most Chinese open data use. It is WGS84
  plus a published, closed-form, non-linear offset computed on the Krasovsky 1940 ellipsoid; at Shenyang the
  offset is about +0.0061 deg longitude and +0.0024 deg latitude (about 575 m).
* **BD-09** is Baidu's datum: GCJ-02 plus a second closed-form offset (about another 700 m; about 1.2 km from
  WGS84 in Shenyang).

WGS84 -> GCJ-02 and GCJ-02 <-> BD-09 are computed from the published formulas. GCJ-02 -> WGS84 has no closed
form: it is solved by fixed-point iteration of the forward formula until the step is below `TOLERANCE_DEG`
(1e-9 deg, about 0.1 mm), so round trips agree to well under a millimetre. BD-09 -> GCJ-02 starts from the
published approximate inverse and is refined the same way.

Outside China
-------------
The offsets are only applied inside mainland China. As the public implementations do, "inside" is the
rectangle longitude 72.004-137.8347 E, latitude 0.8293-55.8271 N (`CHINA_BBOX`), tested on the coordinates
*given* to each function; points outside it (and NaN) are returned unchanged. The rectangle also contains
parts of neighbouring countries (Mongolia, Korea, parts of South-East Asia), where the offsets are applied
too: the formulas are meant for Chinese data only. Points within a few hundred metres of the rectangle's edge
may be classified differently in the two directions.
"""

from __future__ import annotations

import logging

import numpy as np

from planner._errors import InputError

log = logging.getLogger(__name__)

#: Krasovsky 1940 ellipsoid used by the GCJ-02 formula: semi-major axis (m) and first eccentricity squared.
KRASOVSKY_A_M = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323

#: Rectangle (lon_min, lat_min, lon_max, lat_max) inside which the offsets apply; see the module docstring.
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

#: Step size (degrees) at which the iterated inverses stop; 1e-9 deg is about 0.1 mm.
TOLERANCE_DEG = 1e-9
MAX_ITERATIONS = 50

_X_PI = np.pi * 3000.0 / 180.0

#: Names accepted for the datum of input coordinates (case-insensitive), mapped to the canonical name.
DATUM_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "mars": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd_09": "bd09",
    "baidu": "bd09",
}


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    if lon_a.shape != lat_a.shape:
        raise InputError(
            f"`lon` and `lat` must have the same shape, got {lon_a.shape} and {lat_a.shape}; "
            "pass one longitude per latitude"
        )
    return lon_a, lat_a


def in_china(lon, lat) -> np.ndarray:
    """True where a point lies in `CHINA_BBOX`, where the Chinese datums apply (NaN -> False)."""
    lon_a, lat_a = _arrays(lon, lat)
    lon_min, lat_min, lon_max, lat_max = CHINA_BBOX
    with np.errstate(invalid="ignore"):
        return (lon_a >= lon_min) & (lon_a <= lon_max) & (lat_a >= lat_min) & (lat_a <= lat_max)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (degrees) at WGS84 points, from the published closed-form formula."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    periodic = (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += periodic
    d_lat += (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += periodic
    d_lon += (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    # metres of the Krasovsky ellipsoid -> degrees at this latitude
    rad_lat = np.radians(lat)
    w = 1.0 - KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_w = np.sqrt(w)
    d_lat = d_lat * 180.0 / ((KRASOVSKY_A_M * (1.0 - KRASOVSKY_EE)) / (w * sqrt_w) * np.pi)
    d_lon = d_lon * 180.0 / (KRASOVSKY_A_M / sqrt_w * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 longitude/latitude (degrees) to GCJ-02 with the published closed-form formula.

    Parameters
    ----------
    lon, lat
        Scalars or arrays of the same shape, in degrees.

    Returns
    -------
    GCJ-02 longitude and latitude arrays; points outside `CHINA_BBOX` (and NaN) unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.377817, 39.911954)  # Beijing
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.384047, 39.913345)
    """
    lon_a, lat_a = _arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    d_lon, d_lat = _gcj_offset(lon_a, lat_a)
    return np.where(inside, lon_a + d_lon, lon_a), np.where(inside, lat_a + d_lat, lat_a)


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 longitude/latitude to WGS84 by iterating the forward formula to `TOLERANCE_DEG`.

    Starting from the GCJ-02 point, each step moves the WGS84 estimate by the residual
    ``gcj - wgs84_to_gcj02(estimate)``; the offset changes slowly with position, so a handful of steps
    reach 1e-9 deg.

    Parameters
    ----------
    lon, lat
        Scalars or arrays of the same shape, in degrees (GCJ-02).

    Returns
    -------
    WGS84 longitude and latitude arrays; points outside `CHINA_BBOX` (and NaN) unchanged.
    """
    lon_a, lat_a = _arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    w_lon = np.where(inside, lon_a, np.nan)
    w_lat = np.where(inside, lat_a, np.nan)
    for _ in range(MAX_ITERATIONS):
        d_lon, d_lat = _gcj_offset(w_lon, w_lat)
        r_lon = lon_a - (w_lon + d_lon)
        r_lat = lat_a - (w_lat + d_lat)
        w_lon = w_lon + r_lon
        w_lat = w_lat + r_lat
        step = np.nanmax(np.abs(np.concatenate([r_lon.ravel(), r_lat.ravel()])), initial=0.0)
        if step < TOLERANCE_DEG:
            break
    return np.where(inside, w_lon, lon_a), np.where(inside, w_lat, lat_a)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 longitude/latitude to Baidu BD-09 with the published closed-form formula.

    Points outside `CHINA_BBOX` (and NaN) are returned unchanged.
    """
    lon_a, lat_a = _arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    b_lon, b_lat = _gcj_to_bd(lon_a, lat_a)
    return np.where(inside, b_lon, lon_a), np.where(inside, b_lat, lat_a)


def _gcj_to_bd(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 longitude/latitude to GCJ-02.

    Starts from the published approximate inverse formula and refines it by fixed-point iteration of
    `gcj02_to_bd09` to `TOLERANCE_DEG`. Points outside `CHINA_BBOX` (and NaN) are returned unchanged.
    """
    lon_a, lat_a = _arrays(lon, lat)
    inside = in_china(lon_a, lat_a)
    x = np.where(inside, lon_a, np.nan) - 0.0065
    y = np.where(inside, lat_a, np.nan) - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    g_lon, g_lat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(MAX_ITERATIONS):
        b_lon, b_lat = _gcj_to_bd(g_lon, g_lat)
        r_lon, r_lat = lon_a - b_lon, lat_a - b_lat
        g_lon, g_lat = g_lon + r_lon, g_lat + r_lat
        step = np.nanmax(np.abs(np.concatenate([r_lon.ravel(), r_lat.ravel()])), initial=0.0)
        if step < TOLERANCE_DEG:
            break
    return np.where(inside, g_lon, lon_a), np.where(inside, g_lat, lat_a)


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 to Baidu BD-09 (through GCJ-02). Points outside `CHINA_BBOX` are returned unchanged."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 to WGS84 (through GCJ-02). Points outside `CHINA_BBOX` are returned unchanged."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}


def parse_datum(datum, *, name: str = "datum") -> str:
    """Normalise a datum name: ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"EPSG:<code>"``.

    Accepts the aliases in `DATUM_ALIASES` (case-insensitive, e.g. ``"GCJ-02"``, ``"baidu"``),
    ``"EPSG:<code>"``, a bare integer EPSG code, or a `pyproj.CRS`; raises `InputError` naming ``name``
    otherwise.
    """
    import pyproj

    if isinstance(datum, pyproj.CRS):
        epsg = datum.to_epsg()
        if epsg is None:
            raise InputError(
                f"`{name}` is a CRS without an EPSG code ({datum.name}); pass 'EPSG:<code>' or one of "
                "'wgs84', 'gcj02', 'bd09'"
            )
        datum = f"EPSG:{epsg}"
    if isinstance(datum, int | np.integer) and not isinstance(datum, bool):
        datum = f"EPSG:{int(datum)}"
    if isinstance(datum, str):
        key = datum.strip().lower()
        if key in DATUM_ALIASES:
            return DATUM_ALIASES[key]
        if key.startswith("epsg:") and key[5:].isdigit():
            code = int(key[5:])
            try:
                pyproj.CRS.from_epsg(code)
            except pyproj.exceptions.CRSError:
                raise InputError(
                    f"`{name}` {datum!r} is not a known EPSG code; check the code at https://epsg.io"
                ) from None
            return "wgs84" if code == 4326 else f"EPSG:{code}"
    raise InputError(
        f"`{name}` must be 'wgs84', 'gcj02' (Gaode/AMap, Tencent), 'bd09' (Baidu) or 'EPSG:<code>', "
        f"got {datum!r}"
    )


#: The longitude/latitude datums `parse_datum` names (every other datum is ``"EPSG:<code>"``).
LONLAT_DATUMS = ("wgs84", "gcj02", "bd09")


def datum_crs(datum) -> str:
    """The CRS a datum's coordinates are stored in: ``"EPSG:4326"`` for the longitude/latitude datums
    (GCJ-02 and BD-09 are degrees too, only shifted), else the ``"EPSG:<code>"`` itself.

    `datum` is anything `parse_datum` accepts.
    """
    key = parse_datum(datum)
    return "EPSG:4326" if key in LONLAT_DATUMS else key


def to_wgs84(gdf, datum=None):
    """Return a copy of a GeoDataFrame or GeoSeries in WGS84 (EPSG:4326), converting from ``datum``.

    Every coordinate of every geometry type is converted (points, lines, polygons, multi-parts).

    Parameters
    ----------
    gdf
        GeoDataFrame or GeoSeries; not modified.
    datum
        What the coordinates really are: ``"wgs84"``, ``"gcj02"``, ``"bd09"`` (longitude/latitude degrees
        in the Chinese datums, whatever CRS the data claim: files in GCJ-02 usually say, wrongly, WGS84) or
        ``"EPSG:<code>"``. None uses the CRS of ``gdf``. For ``"EPSG:<code>"`` the data must have no CRS or
        that CRS.

    Returns
    -------
    A new GeoDataFrame/GeoSeries with CRS EPSG:4326.

    Raises
    ------
    InputError
        Unknown datum; no datum and no CRS; a Chinese datum on data in a projected CRS; an EPSG code that
        contradicts the CRS of the data.
    """
    import geopandas as gpd
    import pyproj
    import shapely

    if not isinstance(gdf, gpd.GeoDataFrame | gpd.GeoSeries):
        raise InputError(f"`gdf` must be a GeoDataFrame or GeoSeries, got {type(gdf).__name__}")
    wgs84 = pyproj.CRS.from_epsg(4326)
    if datum is None:
        if gdf.crs is None:
            raise InputError(
                "`gdf` has no CRS and no `datum` was given; "
                "pass datum='wgs84', 'gcj02', 'bd09' or 'EPSG:<code>'"
            )
        return gdf.to_crs(wgs84)
    key = parse_datum(datum)
    if key.startswith("EPSG:"):
        target = pyproj.CRS.from_user_input(key)
        if gdf.crs is None:
            return gdf.set_crs(target).to_crs(wgs84)
        if not pyproj.CRS.from_user_input(gdf.crs).equals(target):
            raise InputError(
                f"`datum` {key} contradicts the CRS of the data ({gdf.crs.to_string()}); drop `datum` to use "
                f"the data's CRS, or fix it with `gdf.set_crs({key!r}, allow_override=True)`"
            )
        return gdf.to_crs(wgs84)
    if gdf.crs is not None and not pyproj.CRS.from_user_input(gdf.crs).is_geographic:
        raise InputError(
            f"`datum` {key!r} means longitude/latitude degrees, but the data are in the projected CRS "
            f"{gdf.crs.to_string()}; pass datum='EPSG:<code>' instead, or give the data in degrees"
        )
    out = gdf.copy()
    if key != "wgs84":
        convert = _TO_WGS84[key]

        def _convert(xy: np.ndarray) -> np.ndarray:
            lon, lat = convert(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        geoms = shapely.transform(np.asarray(out.geometry.values, dtype=object), _convert)
        if isinstance(out, gpd.GeoDataFrame):
            out[out.geometry.name] = gpd.GeoSeries(geoms, index=out.index)
        else:
            out = gpd.GeoSeries(geoms, index=out.index, name=out.name)
        log.debug("converted %d geometries from %s to WGS84", len(out), key)
    return out.set_crs(wgs84, allow_override=True)


def utm_crs(lon: float, lat: float):
    """The WGS84 UTM zone of a point: the one choice of a metric CRS everywhere in `planner`.

    The zone is chosen as geopandas' ``estimate_utm_crs`` chooses it: pyproj's UTM zones (datum WGS 84) whose
    area holds the point, the first one listed. Give the centre of the data's lon/lat bounds, as geopandas
    does (`utm_crs_of` does it for a GeoDataFrame or GeoSeries).

    Parameters
    ----------
    lon, lat
        WGS84 degrees.

    Returns
    -------
    pyproj.CRS
        EPSG:326xx north of the equator, EPSG:327xx south of it.

    Examples
    --------
    >>> utm_crs(123.43, 41.80).to_epsg()  # Shenyang: UTM 51N
    32651
    >>> utm_crs(24.94, 60.17).to_epsg()  # Helsinki: UTM 35N
    32635
    """
    import pyproj
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    lon, lat = float(lon), float(lat)
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -80 <= lat <= 84):
        raise InputError(
            f"no UTM zone for lon {lon!r}, lat {lat!r}: give WGS84 degrees inside -180..180 E and "
            "-80..84 N (UTM's range); data in a projected CRS must be converted with gdf.to_crs(4326) first"
        )
    zones = query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=AreaOfInterest(
            west_lon_degree=lon, south_lat_degree=lat, east_lon_degree=lon, north_lat_degree=lat
        ),
    )
    return pyproj.CRS.from_epsg(zones[0].code)


def utm_crs_of(data):
    """The UTM zone (`utm_crs`) at the centre of the lon/lat bounds of a GeoDataFrame or GeoSeries.

    Parameters
    ----------
    data
        Geometries with a CRS (any; they are converted to WGS84 to take the bounds).
    """
    if getattr(data, "crs", None) is None:
        raise InputError(
            "`data` has no CRS; set it with `gdf.set_crs(4326)` (WGS84) before choosing a UTM zone"
        )
    west, south, east, north = data.to_crs(4326).total_bounds
    return utm_crs((west + east) / 2.0, (south + north) / 2.0)
