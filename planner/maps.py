"""Folium maps of a plan that a district official can open in a browser, with or without internet.

`plan_map` draws, from bottom to top: districts coloured by the covered share of their older residents,
the street-following service areas of the chosen sites, every demand point coloured by its walk to the
nearest chosen site of a tier, and the sites (new, upgraded, existing; candidates hidden at first). A layer
control, a legend, a title box with headline numbers and, whenever any input is a stand-in, a banner that
cannot be missed complete it.

Drawing many points
-------------------
folium's one-``CircleMarker``-per-point pages take 34 s to save and weigh 36.7 MB for 50,000 points
(BASELINE.md). Here the demand points travel as one compact JavaScript array (coordinates rounded to 1e-6
degrees, about 0.1 m) and are drawn as circles on the map's canvas (``prefer_canvas``) by one Leaflet path,
``L.PlannerPoints``, that also answers hit tests: one tooltip and one popup per layer serve every point, their
text built when a point is hovered. Sites and polygons travel as compact arrays too.

Offline pages
-------------
With ``offline=True`` Leaflet and Leaflet.markercluster are inlined into the page from the PyPI packages
``xstatic-leaflet`` and ``xstatic-leaflet-markercluster``, and folium's other CDN assets (jQuery,
Bootstrap, Font Awesome, awesome-markers) are left out: the page uses none of them (sites are ``DivIcon``
symbols). The page then asks nothing of the network; without tiles it has a plain background, a set
``maxZoom``, and shows every layer.

Tiles
-----
Online, the default background is OpenStreetMap, whose Web Mercator tiles match the WGS84 overlays. For
mainland China two more are built in: ``tiles="tianditu"`` (or ``"tianditu-img"``, imagery), the national
Tianditu map in CGCS2000, which lines up with WGS84 within centimetres to a metre, with labels; it needs the
user's own key (``tiles_key=`` or the environment variable ``TIANDITU_KEY``; register at
https://console.tianditu.gov.cn). And ``tiles="gaode"`` (or any Gaode/AMap tile URL): those tiles are drawn in
GCJ-02, so every overlay is converted from WGS84 to GCJ-02 for display (`planner.coords.wgs84_to_gcj02`), and
the data files stay WGS84. Tencent (GCJ-02, flipped rows) and Baidu (BD-09, its own projection) tiles are
refused: WGS84 overlays on them would be shifted by hundreds of metres.

Whenever a layer's provenance names OpenStreetMap (real streets, facilities or roads from it), the map credits
"© OpenStreetMap contributors" (ODbL) in its attribution control, with any background or none.

Controls
--------
The title box, the layer list and the legend fold away (click their heading, or the layer icon); on a small
screen (under 900 x 700 pixels) they start folded, and a layer list taller than the map starts folded. The
scale bar sits at the bottom right, above the zoom buttons, clear of the layer list.
"""

from __future__ import annotations

import difflib
import html
import json
import logging
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import folium
import numpy as np
import pandas as pd
from branca.element import CssLink, Element, JavascriptLink
from folium.elements import MacroElement
from folium.map import Layer
from folium.template import Template

from planner._errors import InputError, PlannerWarning
from planner._validate import first_ids, point_problems, raise_if, weight_problems
from planner.provenance import provenance_of
from planner.settings import LIFE_CIRCLE_MIN

log = logging.getLogger(__name__)

#: Upper ends (minutes) of the walk-time classes of demand points; then "more than"; NaN: not reachable.
MINUTE_BREAKS = (5.0, 10.0, 15.0)
#: Colours of the walk-time classes, one more than `MINUTE_BREAKS` (the last is "more than 15 min").
MINUTE_COLOURS = ("#1a9641", "#a6d96a", "#fdae61", "#d7191c")
#: Colour of demand points with no chosen site of the tier within the walk limit.
UNREACHED_COLOUR = "#6a3d9a"
#: Default colours of tiers, in the order of ``tiers`` (sites, service areas).
TIER_COLOURS = ("#c2185b", "#1f78b4", "#ff7f00", "#33a02c", "#6a3d9a")
#: Upper ends of the classes of a district's covered share (fractions), and their colours (one more).
SHARE_BREAKS = (0.2, 0.4, 0.6, 0.8)
SHARE_COLOURS = ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d")
#: Site statuses: chosen new sites, chosen upgrades of existing ones, existing ones kept, candidates left.
STATUSES = ("new", "upgraded", "existing", "candidate")
#: Set this environment variable to 1 to make every map offline (inlined assets) unless ``offline=False``.
OFFLINE_ENV = "PLANNER_OFFLINE"
#: Deepest zoom of the map (OpenStreetMap's tiles reach 19).
MAX_ZOOM = 19
#: Candidate sites are clustered (Leaflet.markercluster) when there are more than this many.
CLUSTER_MIN = 200
#: Polygons are simplified with this tolerance (degrees, about 1 m) before they are written into the page.
SIMPLIFY_DEG = 1e-5
#: Coordinates are rounded to this many decimals of a degree (about 0.1 m).
COORD_DECIMALS = 6

_TIER_KEYS = ("name", "threshold_min", "colour")
_SHIFTED_TILES = ("map.qq.com", "gtimg", "baidu", "bdimg", "bdstatic")
_GCJ_TILES = ("autonavi", "amap", "gaode")
#: Built-in background tiles for mainland China (see the module docstring); ``{key}`` is the user's key.
CHINA_TILES = {
    "tianditu": {
        "url": "https://t{s}.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk={key}",
        "labels": "https://t{s}.tianditu.gov.cn/DataServer?T=cva_w&x={x}&y={y}&l={z}&tk={key}",
        "subdomains": "01234567",
        "attr": "&copy; 天地图 Tianditu (国家地理信息公共服务平台)",
        "max_zoom": 18,
    },
    "tianditu-img": {
        "url": "https://t{s}.tianditu.gov.cn/DataServer?T=img_w&x={x}&y={y}&l={z}&tk={key}",
        "labels": "https://t{s}.tianditu.gov.cn/DataServer?T=cia_w&x={x}&y={y}&l={z}&tk={key}",
        "subdomains": "01234567",
        "attr": "&copy; 天地图 Tianditu (国家地理信息公共服务平台)",
        "max_zoom": 18,
    },
    "gaode": {
        "url": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "labels": None,
        "subdomains": "1234",
        "attr": "&copy; 高德地图 AutoNavi (GCJ-02; overlays converted for display)",
        "max_zoom": 18,
    },
}
#: Environment variable holding the user's Tianditu key.
TIANDITU_KEY_ENV = "TIANDITU_KEY"
_STATUS_LABEL = {
    "new": "New sites (chosen)",
    "upgraded": "Upgraded sites (chosen)",
    "existing": "Existing sites (kept as they are)",
    "candidate": "Candidate sites (not chosen)",
}
_SYMBOL_PX = {"new": 20, "upgraded": 18, "existing": 12, "candidate": 9}
_Z_OFFSET = {"new": 1000, "upgraded": 900, "existing": 500, "candidate": 0}


@dataclass(frozen=True)
class _Tier:
    name: str
    threshold_min: float
    colour: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.threshold_min:g} min)"


#: The attribution OpenStreetMap asks of any map made from its data (ODbL), as its own tiles credit it.
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def osm_attribution(*objs) -> str | None:
    """`OSM_ATTRIBUTION` when the provenance of `objs` names OpenStreetMap (a source's origin or licence).

    The ODbL asks for the credit on any map drawn from OpenStreetMap data (streets behind the walk times,
    facilities, roads), with or without OpenStreetMap's background tiles. `objs` are anything
    `planner.provenance.provenance_of` reads (layers, a run result).
    """
    for source in provenance_of(*objs).sources:
        if "openstreetmap" in f"{source.origin} {source.licence}".lower():
            return OSM_ATTRIBUTION
    return None


def plan_map(
    *,
    demand,
    sites,
    service_areas=None,
    districts=None,
    tiers: Sequence[Mapping] | None = None,
    stand_ins: Sequence[str] | str = (),
    title: str | None = None,
    summary: Mapping[str, str] | None = None,
    offline: bool | None = None,
    tiles=None,
    tiles_key: str | None = None,
):
    """Draw a plan on a folium map: demand by walk time, sites, service areas, districts, legend and banner.

    Every layer may come in any CRS and is reprojected to WGS84; no input is changed.

    Parameters
    ----------
    demand
        Points (GeoDataFrame with a unique index, e.g. ``demand_id``) with columns ``weight`` (older
        residents) and per tier ``walk_min_<tier>`` (walk minutes to the nearest chosen site of that tier,
        NaN if none within the limit) and optionally ``covered_<tier>`` (bool; default
        ``walk_min_<tier> <= threshold_min``). Drawn as canvas circles coloured by walk minutes
        (`MINUTE_BREAKS`) and sized by weight, one layer per tier (the first shown), with a tooltip and a
        popup giving id, weight and minutes.
    sites
        Points with columns ``tier`` (a tier name) and ``status`` (one of `STATUSES`), optional ``name``
        (its provenance, `planner.provenance`, marks stand-in tiers). Each tier has its own shape and colour,
        each status its own fill and size; the candidates' layer is hidden at first (and clustered above
        `CLUSTER_MIN` sites).
    service_areas
        Polygons with columns ``site_id``, ``tier`` and ``threshold_min`` (street-following service areas),
        drawn semi-transparent, one layer per tier.
    districts
        Polygons with column ``name``, optional ``weight`` (older residents) and per tier ``share_<tier>``
        (covered share of older residents, 0-1): a choropleth per tier (the first shown) whose tooltip gives
        the district, its older residents and every tier's share.
    tiers
        ``[{"name": "centre", "threshold_min": 15, "colour": "#c2185b"}, ...]``; ``colour`` is optional
        (`TIER_COLOURS`). Default: one tier per ``walk_min_<tier>`` column of ``demand``, with the threshold
        of its service areas, else 15 minutes (the 15-minute life circle of GB 50180-2018).
    stand_ins
        Descriptions of stand-in inputs, e.g. ``"SYNTHETIC STAND-IN street network - not real streets"``.
        Any given, or any stand-in in a layer's ``attrs["provenance"]`` (`planner.provenance`), puts a red
        banner listing them across the top of the page.
    title
        Scenario name shown in the title box (default ``"Elderly-care siting plan"``).
    summary
        Headline numbers for the title box, e.g. ``{"Older residents within 15 min of a centre": "62.4 %"}``.
    offline
        Inline Leaflet (and Leaflet.markercluster) into the page so that it renders with no internet, and
        leave out folium's other CDN assets. Default: True when ``tiles`` is None or the environment
        variable ``PLANNER_OFFLINE`` is ``1``.
    tiles
        Background tiles as folium takes them (a name, URL template, ``folium.TileLayer`` or xyzservices
        provider), or one of `CHINA_TILES`: ``"tianditu"``, ``"tianditu-img"`` (need ``tiles_key``),
        ``"gaode"``. Default: none offline (a plain background), OpenStreetMap online. On Gaode/AMap tiles
        (by name or URL) every overlay is drawn converted to GCJ-02; Tencent and Baidu tiles are refused
        (see the module docstring).
    tiles_key
        The user's Tianditu key for ``tiles="tianditu"`` / ``"tianditu-img"`` (default: the environment
        variable ``TIANDITU_KEY``).

    Returns
    -------
    folium.Map
        Save it with `save_map`.

    Raises
    ------
    InputError
        Listing every problem of the inputs (missing columns, no CRS, wrong geometry types, unknown tiers or
        statuses, shares outside 0-1, shifted tiles).

    Notes
    -----
    When the provenance of a layer names OpenStreetMap, the map credits it (`osm_attribution`).
    """
    offline = _resolve_offline(offline, tiles)
    problems: list[str] = []
    problems += _layer_problems(demand, "demand", geom="point")
    problems += _layer_problems(sites, "sites", geom="point")
    if service_areas is not None:
        problems += _layer_problems(service_areas, "service_areas", geom="polygon")
    if districts is not None:
        problems += _layer_problems(districts, "districts", geom="polygon")
    problems += _tile_problems(tiles)
    tiles, labels, gcj02 = _china_tiles(tiles, tiles_key, problems)
    raise_if(problems, "`plan_map` inputs")

    tier_list = _resolve_tiers(tiers, demand, service_areas)
    names = [t.name for t in tier_list]
    problems = _demand_problems(demand, tier_list)
    problems += _column_problems(sites, "sites", {"tier": names, "status": STATUSES})
    if service_areas is not None:
        problems += _column_problems(service_areas, "service_areas", {"tier": names, "site_id": None})
        problems += _minutes_problems(service_areas, "threshold_min", "service_areas", required=True)
    if districts is not None:
        problems += _column_problems(districts, "districts", {"name": None})
        problems += _district_problems(districts, tier_list)
    if summary is not None and not isinstance(summary, Mapping):
        problems.append(
            f"`summary` must be a dict of headline -> value, got {type(summary).__name__}; "
            "e.g. {'Older residents within 15 min of a centre': '62.4 %'}"
        )
    raise_if(problems, "`plan_map` inputs")

    layers = {"demand": demand, "sites": sites, "service_areas": service_areas, "districts": districts}
    wgs = {key: None if gdf is None else gdf.to_crs(4326) for key, gdf in layers.items()}
    raise_if(
        [p for key, gdf in wgs.items() if gdf is not None for p in _range_problems(gdf, key)], "`plan_map`"
    )
    if gcj02:  # drawn on GCJ-02 tiles: every overlay shifted as those tiles are (display only)
        wgs = {key: None if gdf is None else _to_gcj02(gdf) for key, gdf in wgs.items()}

    banner_lines = _banner_lines(stand_ins, layers)
    bounds = _bounds([gdf for gdf in wgs.values() if gdf is not None])
    centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]

    if tiles is None and not offline:
        tiles = "OpenStreetMap"
    m = folium.Map(
        location=centre,
        zoom_start=13,
        tiles=tiles,
        max_zoom=MAX_ZOOM,
        prefer_canvas=True,
        control_scale=False,
        zoom_control="bottomright",
        zoom_snap=0.25,
    )
    m._id = "plan"
    m.options["max_zoom"] = MAX_ZOOM
    m._planner_offline = offline
    root = m.get_root()
    if offline:
        from planner._assets import offline_head

        m.default_js = []
        m.default_css = []
        _add(root.header, _Raw(offline_head(cluster=True)), "planner_offline_assets")
    if labels is not None:
        _add(m, labels, "tile_labels")
    _add(m, _PageStyle(plain_background=tiles is None), "style")
    # the view is set before any layer is added, so that no layer is projected twice
    top_px = 20 + (30 + 21 * len(banner_lines) if banner_lines else 0)
    _add(m, folium.FitBounds(bounds, padding_top_left=(20, top_px), padding_bottom_right=(20, 20)), "fit")

    if wgs["districts"] is not None:
        _add_districts(m, wgs["districts"], tier_list)
    if wgs["service_areas"] is not None:
        _add_service_areas(m, wgs["service_areas"], tier_list)
    _add_demand(m, wgs["demand"], demand, tier_list)
    statuses = _add_sites(m, wgs["sites"], tier_list, offline=offline)

    heading = html.escape(title or "Elderly-care siting plan")
    _add(m, _Control(_title_html(summary, bool(banner_lines)), "topleft", "pl-title", heading), "title")
    layer_control = _add(m, folium.LayerControl(collapsed=False, position="topleft"), "layers")
    legend = _legend_html(
        tier_list, statuses, wgs["service_areas"] is not None, _has_shares(districts, tier_list)
    )
    _add(m, _Control(legend, "topright", "pl-legend", "Legend"), "legend")
    _add(m, _Fold(layer_control), "fold")
    if banner_lines:
        _add(m, _Banner(banner_lines), "banner")
    credit = osm_attribution(*layers.values())
    if credit is not None:
        _add(m, _Attribution(credit), "attribution")

    log.info(
        "map: %s demand points in %d tier(s), %s sites (%s), %s service areas, %s districts, %s, "
        "%d stand-in note(s)",
        f"{len(demand):,}",
        len(tier_list),
        f"{len(sites):,}",
        ", ".join(f"{sum(n.values())} {s}" for s, n in statuses.items()) or "none",
        "no" if service_areas is None else f"{len(service_areas):,}",
        "no" if districts is None else f"{len(districts):,}",
        "offline (assets inlined)" if offline else "online (CDN assets)",
        len(banner_lines),
    )
    return m


def save_map(m, path: str | os.PathLike) -> Path:
    """Write a map as one UTF-8 HTML file and return its path.

    Warns (`PlannerWarning`) when a map made with ``offline=True`` links scripts or styles from the internet,
    e.g. because a folium plugin was added to it afterwards.
    """
    path = Path(path)
    if not path.parent.exists():
        raise InputError(
            f"`path` folder {str(path.parent)!r} does not exist; create it first "
            "(Path(...).mkdir(parents=True))"
        )
    text = stable_ids(m.get_root().render())
    if getattr(m, "_planner_offline", False):
        links = external_assets(text)
        if links:
            warnings.warn(
                f"map was made offline but links {first_ids(links)} from the internet; it will not render "
                "fully without a connection. Remove the element that added them, or make the map with "
                "offline=False",
                PlannerWarning,
                stacklevel=2,
            )
    path.write_text(text, encoding="utf-8")
    log.info("map saved: %s, %.1f MB", path, path.stat().st_size / 1e6)
    return path


def stable_ids(page_html: str) -> str:
    """The page with folium's random element ids (``name_<32 hex>``) numbered in order of appearance.

    The same map then gives the same bytes (run folders are repeatable).
    """
    numbers: dict[str, str] = {}

    def number(match: re.Match) -> str:
        return numbers.setdefault(match.group(0), format(len(numbers) + 1, "032x"))

    return re.sub(r"(?<=_)[0-9a-f]{32}\b", number, page_html)


def external_assets(page_html: str) -> list[str]:
    """Addresses of scripts, style sheets and CSS ``url()`` images that a page loads from the network."""
    found = re.findall(r"<script\b[^>]*\bsrc\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", page_html, flags=re.I)
    found += re.findall(r"<link\b[^>]*\bhref\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)", page_html, flags=re.I)
    found += re.findall(r"url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)", page_html, flags=re.I)
    found += re.findall(r"@import\s+[\"']((?:https?:)?//[^\"']+)", page_html, flags=re.I)
    return list(dict.fromkeys(found))


# ------------------------------------------------------------------------------------------------------------
# validation


def _resolve_offline(offline: bool | None, tiles) -> bool:
    if offline is not None:
        return bool(offline)
    return tiles is None or os.environ.get(OFFLINE_ENV, "") == "1"


def _layer_problems(gdf, name: str, *, geom: str) -> list[str]:
    problems = point_problems(gdf, name)
    if problems and not hasattr(gdf, "geometry"):
        return problems
    kinds = {"point": ("Point",), "polygon": ("Polygon", "MultiPolygon")}[geom]
    types = gdf.geometry.geom_type
    bad = types.notna() & ~types.isin(kinds)
    if bad.any():
        fix = (
            "use `gdf.representative_point()` for polygons"
            if geom == "point"
            else "give service areas / district boundaries as polygons"
        )
        problems.append(
            f"`{name}` must hold {' or '.join(kinds)} geometries; rows {first_ids(gdf.index[bad])} are "
            f"{', '.join(sorted(set(types[bad])))}; {fix}"
        )
    return problems


def _tile_problems(tiles) -> list[str]:
    if tiles is None:
        return []
    text = " ".join(
        str(x)
        for x in (tiles, getattr(tiles, "tiles", ""), getattr(tiles, "url", ""), getattr(tiles, "name", ""))
    ).lower()
    hit = [key for key in _SHIFTED_TILES if key in text]
    if hit:
        return [
            f"`tiles` look like Tencent or Baidu tiles ({hit[0]!r}); those are drawn in GCJ-02 / BD-09 "
            "and every WGS84 layer would be shifted by hundreds of metres. Use tiles=None (offline), "
            "'OpenStreetMap', 'tianditu' (with your key) or 'gaode' (overlays are converted to GCJ-02)"
        ]
    return []


def _china_tiles(tiles, key: str | None, problems: list[str]):
    """The base tiles, a label layer (Tianditu) or None, and whether overlays must be drawn in GCJ-02."""
    name = tiles.lower() if isinstance(tiles, str) else None
    if name in CHINA_TILES:
        spec = CHINA_TILES[name]
        url, labels_url = spec["url"], spec["labels"]
        if "{key}" in url:
            key = key or os.environ.get(TIANDITU_KEY_ENV, "")
            if not key:
                problems.append(
                    f"`tiles` = {tiles!r} needs your Tianditu key: pass tiles_key='<key>' or set the "
                    f"environment variable {TIANDITU_KEY_ENV} (a free key: https://console.tianditu.gov.cn)"
                )
                return None, None, False
            url, labels_url = url.replace("{key}", key), labels_url.replace("{key}", key)
        options = {"attr": spec["attr"], "subdomains": spec["subdomains"], "max_zoom": MAX_ZOOM}
        options["max_native_zoom"] = spec["max_zoom"]
        base = folium.TileLayer(url, name=name, **options)
        labels = None
        if labels_url:
            labels = folium.TileLayer(
                labels_url, name=f"{name} labels", overlay=True, control=False, **options
            )
        return base, labels, name == "gaode"
    if key is not None:
        problems.append(
            f"`tiles_key` is only used with tiles='tianditu' or 'tianditu-img', got tiles={tiles!r}"
        )
    text = " ".join(
        str(x) for x in (tiles, getattr(tiles, "tiles", ""), getattr(tiles, "url", "")) if x is not None
    ).lower()
    return tiles, None, any(k in text for k in _GCJ_TILES)


def _to_gcj02(gdf):
    """A copy of a WGS84 layer with every coordinate moved to GCJ-02 (for display on Gaode tiles)."""
    import shapely

    from planner.coords import wgs84_to_gcj02

    def move(xy: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    out = gdf.copy()
    out.geometry = shapely.transform(gdf.geometry.values, move)
    return out


def _resolve_tiers(tiers, demand, service_areas) -> list[_Tier]:
    if tiers is None:
        names = [c[len("walk_min_") :] for c in demand.columns if str(c).startswith("walk_min_")]
        if not names:
            raise InputError(
                "`demand` has no `walk_min_<tier>` columns and `tiers` was not given; add a column of walk "
                "minutes "
                "per tier (e.g. `walk_min_centre`) or pass tiers=[{'name': 'centre', 'threshold_min': 15}]"
            )
        tiers = [{"name": n, "threshold_min": _default_threshold(n, service_areas)} for n in names]
    if isinstance(tiers, (Mapping, str)) or not isinstance(tiers, Sequence) or not tiers:
        raise InputError(
            f"`tiers` must be a non-empty list of dicts, got {tiers!r}; "
            "e.g. [{'name': 'centre', 'threshold_min': 15}, {'name': 'station', 'threshold_min': 10}]"
        )
    problems: list[str] = []
    out: list[_Tier] = []
    for k, spec in enumerate(tiers):
        if not isinstance(spec, Mapping):
            problems.append(f"`tiers[{k}]` must be a dict with keys {_TIER_KEYS}, got {spec!r}")
            continue
        for key in spec:
            if key not in _TIER_KEYS:
                near = difflib.get_close_matches(str(key), _TIER_KEYS, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                problems.append(
                    f"`tiers[{k}]` has unknown key {key!r}{hint} (keys are {', '.join(_TIER_KEYS)})"
                )
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"`tiers[{k}]['name']` must be a non-empty string, got {name!r}")
            continue
        threshold = spec.get("threshold_min")
        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            threshold = math.nan
        if not (math.isfinite(threshold) and threshold > 0):
            problems.append(
                f"`tiers[{k}]['threshold_min']` must be a positive number of minutes, "
                f"got {spec.get('threshold_min')!r}"
            )
            continue
        colour = spec.get("colour") or TIER_COLOURS[k % len(TIER_COLOURS)]
        out.append(_Tier(name, threshold, str(colour)))
    names = [t.name for t in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f"`tiers` names must be unique; repeated: {first_ids(dup)}")
    raise_if(problems, "`tiers`")
    return out


def _default_threshold(name: str, service_areas) -> float:
    if service_areas is not None and {"tier", "threshold_min"} <= set(service_areas.columns):
        values = pd.to_numeric(
            service_areas.loc[service_areas["tier"] == name, "threshold_min"], errors="coerce"
        )
        values = values.dropna()
        if len(values):
            return float(values.min())
    return LIFE_CIRCLE_MIN["15-minute"]


def _column_problems(gdf, name: str, columns: Mapping[str, Sequence | None]) -> list[str]:
    problems = []
    for column, allowed in columns.items():
        if column not in gdf.columns:
            problems.append(f"`{name}` has no column {column!r}; columns are {list(gdf.columns)}")
        elif allowed is not None:
            bad = ~gdf[column].isin(allowed)
            if bad.any():
                values = sorted({str(v) for v in gdf.loc[bad, column]})
                problems.append(
                    f"`{name}[{column!r}]` must be one of {list(allowed)}; got {first_ids(values)} "
                    f"in rows {first_ids(gdf.index[bad])}"
                )
    return problems


def _minutes_problems(gdf, column: str, name: str, *, required: bool) -> list[str]:
    if column not in gdf.columns:
        return [f"`{name}` has no column {column!r}; columns are {list(gdf.columns)}"] if required else []
    values = pd.to_numeric(gdf[column], errors="coerce")
    text = gdf[column].notna() & values.isna()
    if text.any():
        return [f"`{name}[{column!r}]` must be minutes (numbers); rows {first_ids(gdf.index[text])} are not"]
    bad = (values < 0) | np.isinf(values)
    if required:
        bad |= values.isna()
    if bad.any():
        return [
            f"`{name}[{column!r}]` must be minutes >= 0{'' if required else ' or NaN (not reachable)'}; "
            f"rows {first_ids(gdf.index[bad])} are not"
        ]
    return []


def _demand_problems(demand, tiers: list[_Tier]) -> list[str]:
    if "weight" not in demand.columns:
        problems = [
            f"`demand` has no column 'weight' (older residents per point); columns are "
            f"{list(demand.columns)}; "
            "rename your count column to 'weight'"
        ]
    else:
        problems = weight_problems(demand["weight"], "demand['weight']")
    for tier in tiers:
        column = f"walk_min_{tier.name}"
        if column not in demand.columns:
            problems.append(
                f"`demand` has no column {column!r} (tier {tier.name!r}: walk minutes to its nearest chosen "
                f"site, NaN if none); columns are {list(demand.columns)}"
            )
        problems += _minutes_problems(demand, column, "demand", required=False)
        column = f"covered_{tier.name}"
        if column in demand.columns:
            values = demand[column]
            bad = ~values.isin([True, False]) | values.isna()
            if bad.any():
                problems.append(
                    f"`demand[{column!r}]` must be True/False; rows {first_ids(demand.index[bad])} are not"
                )
    return problems


def _district_problems(districts, tiers: list[_Tier]) -> list[str]:
    problems = []
    if "weight" in districts.columns:
        problems += weight_problems(districts["weight"], "districts['weight']")
    for tier in tiers:
        column = f"share_{tier.name}"
        if column not in districts.columns:
            continue
        values = pd.to_numeric(districts[column], errors="coerce")
        bad = (districts[column].notna() & values.isna()) | (values < 0) | (values > 1)
        if bad.any():
            problems.append(
                f"`districts[{column!r}]` must be a share between 0 and 1 (not per cent); rows "
                f"{first_ids(districts.index[bad])} are not (largest {values[bad].max():g})"
            )
    return problems


def _range_problems(gdf, name: str) -> list[str]:
    import shapely

    xy = shapely.get_coordinates(gdf.geometry.values)
    if len(xy) and not (np.all(np.abs(xy[:, 0]) <= 180) and np.all(np.abs(xy[:, 1]) <= 90)):
        return [
            f"`{name}` lies outside longitude -180..180 / latitude -90..90 after reprojection to WGS84; "
            "its CRS "
            "is probably wrong (e.g. metres labelled EPSG:4326): set the right one with `gdf.set_crs(..., "
            "allow_override=True)`"
        ]
    return []


def _has_shares(districts, tiers: list[_Tier]) -> bool:
    return districts is not None and any(f"share_{t.name}" in districts.columns for t in tiers)


def _banner_lines(stand_ins, layers: Mapping) -> list[str]:
    """The lines given, then every stand-in source of the layers' provenance (English / Chinese)."""
    lines = [stand_ins] if isinstance(stand_ins, str) else [str(s) for s in (stand_ins or ())]
    for source in provenance_of(*layers.values()).stand_ins:
        zh = source.label("zh")
        lines.append(source.what if zh == source.what else f"{source.what} / {zh}")
    return list(dict.fromkeys(line for line in lines if line.strip()))


def _stand_in_tiers(sites) -> set[str] | None:
    """Tiers whose sites are stand-ins (provenance input ``sites:<tier>``); None when every site is one."""
    tiers: set[str] = set()
    for source in provenance_of(sites).stand_ins:
        kind, _, tier = source.input.partition(":")
        if kind == "sites" and not tier:
            return None
        if kind == "sites":
            tiers.add(tier)
    return tiers


def _bounds(gdfs) -> list[list[float]]:
    boxes = np.array([g.total_bounds for g in gdfs if len(g)])
    if not len(boxes) or not np.isfinite(boxes).all():
        raise InputError("`demand`, `sites`, `service_areas` and `districts` are all empty; nothing to draw")
    return [
        [float(boxes[:, 1].min()), float(boxes[:, 0].min())],
        [float(boxes[:, 3].max()), float(boxes[:, 2].max())],
    ]


# ------------------------------------------------------------------------------------------------------------
# layers


def _add_demand(m, wgs, demand, tiers: list[_Tier]) -> None:
    import shapely

    xy = np.round(shapely.get_coordinates(wgs.geometry.values), COORD_DECIMALS)
    weight = pd.to_numeric(demand["weight"]).to_numpy(dtype=float)
    positive = weight[weight > 0]
    weight_ref = float(np.quantile(positive, 0.99)) if len(positive) else 1.0
    data = {
        "lat": xy[:, 1].tolist(),
        "lon": xy[:, 0].tolist(),
        "w": np.round(weight, 2).tolist(),
        "wref": weight_ref,
        "id": _ids(demand.index),
        "idName": html.escape(str(demand.index.name or "id")),
        "breaks": list(MINUTE_BREAKS),
        "colours": list(MINUTE_COLOURS),
        "none": UNREACHED_COLOUR,
        "tiers": [],
    }
    for tier in tiers:
        minutes = pd.to_numeric(demand[f"walk_min_{tier.name}"]).to_numpy(dtype=float)
        column = f"covered_{tier.name}"
        if column in demand.columns:
            covered = demand[column].astype(bool).to_numpy()
        else:
            covered = np.nan_to_num(minutes, nan=np.inf) <= tier.threshold_min
        rounded = np.round(minutes, 1)
        data["tiers"].append(
            {
                "label": html.escape(f"walk to nearest {tier.name}"),
                "m": [None if math.isnan(x) else x for x in rounded.tolist()],
                "c": covered.astype(int).tolist(),
            }
        )
    store = _add(m, _JsData(data), "demand_data")
    _add(m, _PointsClass(), "points_class")
    for k, tier in enumerate(tiers):
        name = html.escape(f"Older residents: walk to nearest {tier.name}")
        _add(m, _DemandLayer(store, tier_index=k, name=name, show=k == 0), f"demand_{k}")


def _add_sites(m, wgs, tiers: list[_Tier], *, offline: bool) -> dict[str, dict[int, int]]:
    """Add a layer per status present; return ``{status: {tier index: number of sites}}``."""
    import shapely

    index = {t.name: k for k, t in enumerate(tiers)}
    stand_in_tiers = _stand_in_tiers(wgs)
    counts: dict[str, dict[int, int]] = {}
    for status in STATUSES:
        part = wgs[wgs["status"] == status]
        if not len(part):
            continue
        tier_k = part["tier"].map(index).to_numpy()
        counts[status] = {int(k): int(n) for k, n in zip(*np.unique(tier_k, return_counts=True), strict=True)}
        order = np.lexsort((np.arange(len(part)), tier_k))
        part = part.iloc[order]
        tier_k = tier_k[order]
        icons = sorted(set(tier_k.tolist()))
        xy = np.round(shapely.get_coordinates(part.geometry.values), COORD_DECIMALS)
        data = {
            "lat": xy[:, 1].tolist(),
            "lon": xy[:, 0].tolist(),
            "icon": [icons.index(k) for k in tier_k.tolist()],
            "icons": [{"html": _symbol_html(tiers[k], k, status), "size": _SYMBOL_PX[status]} for k in icons],
            "tip": [_site_tip(site_id, row, status, stand_in_tiers) for site_id, row in part.iterrows()],
            "z": _Z_OFFSET[status],
        }
        cluster = status == "candidate" and len(part) > CLUSTER_MIN
        if cluster and not offline:
            _add(m, _ClusterAssets(), "cluster_assets")
        store = _add(m, _JsData(data), f"sites_{status}_data")
        layer = _SiteLayer(store, cluster=cluster, name=_STATUS_LABEL[status], show=status != "candidate")
        _add(m, layer, f"sites_{status}")
    return counts


def _site_tip(site_id, row, status: str, stand_in_tiers: set[str] | None) -> str:
    name = row.get("name") if "name" in row.index else None
    head = f"<b>{html.escape(str(name))}</b><br>" if name is not None and not pd.isna(name) else ""
    text = f"{head}site {html.escape(str(site_id))}<br>{html.escape(str(row['tier']))}, {status}"
    if stand_in_tiers is None or str(row["tier"]) in stand_in_tiers:
        text += "<br><b style='color:#b00020'>STAND-IN, not a real site</b>"
    return text


def _add_service_areas(m, wgs, tiers: list[_Tier]) -> None:
    for k, tier in enumerate(tiers):
        part = wgs[wgs["tier"] == tier.name]
        if not len(part):
            continue
        style = {
            "color": tier.colour,
            "weight": 1,
            "opacity": 0.7,
            "fillColor": tier.colour,
            "fillOpacity": 0.1,
        }
        tips = [
            html.escape(f"site {site_id}: {tier.name}, {float(minutes):g}-minute walk along streets")
            for site_id, minutes in zip(part["site_id"], part["threshold_min"], strict=True)
        ]
        store = _add(
            m, _JsData(_feature_collection(part.geometry.values, tips, [[style]] * len(part))), f"sa_{k}"
        )
        thresholds = "/".join(f"{x:g}" for x in sorted(pd.to_numeric(part["threshold_min"]).unique()))
        name = html.escape(f"Service areas: {tier.name} ({thresholds} min walk)")
        _add(m, _GeoLayer(store, style_index=0, name=name, show=True), f"service_areas_{k}")


def _add_districts(m, wgs, tiers: list[_Tier]) -> None:
    shared = [t for t in tiers if f"share_{t.name}" in wgs.columns]
    tips, styles = [], []
    for _, row in wgs.iterrows():
        lines = [f"<b>{html.escape(str(row['name']))}</b>"]
        if "weight" in wgs.columns:
            lines.append(f"older residents: {float(row['weight']):,.0f}")
        row_styles = []
        for tier in shared:
            share = pd.to_numeric(row[f"share_{tier.name}"], errors="coerce")
            shown = "no data" if pd.isna(share) else f"{100 * float(share):.1f} %"
            lines.append(html.escape(f"covered within {tier.threshold_min:g} min of a {tier.name}: {shown}"))
            fill = "#cccccc" if pd.isna(share) else _share_colour(float(share))
            row_styles.append({"color": "#444444", "weight": 1.5, "fillColor": fill, "fillOpacity": 0.45})
        if not shared:
            row_styles.append({"color": "#444444", "weight": 1.5, "fillOpacity": 0})
        tips.append("<br>".join(lines))
        styles.append(row_styles)
    store = _add(m, _JsData(_feature_collection(wgs.geometry.values, tips, styles)), "districts_data")
    if not shared:
        _add(m, _GeoLayer(store, style_index=0, name="Districts", show=True), "districts")
    for k, tier in enumerate(shared):
        name = html.escape(f"Districts: share covered by a {tier.name} ({tier.threshold_min:g} min)")
        _add(m, _GeoLayer(store, style_index=k, name=name, show=k == 0), f"districts_{k}")


def _share_colour(share: float) -> str:
    return SHARE_COLOURS[int(np.searchsorted(SHARE_BREAKS, share, side="left"))]


def _feature_collection(geoms, tips: list[str], styles: list) -> str:
    """GeoJSON text of polygons (simplified, rounded) with a tooltip and a list of styles per feature."""
    import shapely

    geoms = shapely.simplify(np.asarray(geoms), SIMPLIFY_DEG, preserve_topology=True)
    geoms = shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))
    texts = shapely.to_geojson(geoms)
    features = [
        '{"type":"Feature","geometry":' + g + ',"properties":' + _json({"tip": t, "s": s}) + "}"
        for g, t, s in zip(texts, tips, styles, strict=True)
    ]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


def _ids(index: pd.Index) -> list:
    if pd.api.types.is_integer_dtype(index) and np.abs(index.to_numpy()).max(initial=0) < 2**53:
        return index.astype("int64").tolist()
    return [html.escape(str(i)) for i in index]


def _json(obj) -> str:
    """JSON for a ``<script>``: UTF-8 kept (Chinese stays readable), ``</`` and line separators escaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# ------------------------------------------------------------------------------------------------------------
# legend, title, banner


def _symbol_html(tier: _Tier, k: int, status: str) -> str:
    """A site symbol: the tier sets shape (square, circle, diamond) and colour; the status fill and size."""
    size = _SYMBOL_PX[status]
    shape = k % 3
    radius = "50%" if shape == 1 else "3px"
    turn = 45 if shape == 2 else 0
    fill, border, glyph, shadow = {
        "new": (tier.colour, "2px solid #111", "+", ""),
        "upgraded": (tier.colour, "2px solid #fff", "&#8593;", "box-shadow:0 0 0 1.5px #111;"),
        "existing": ("#fff", f"2.5px solid {tier.colour}", "", ""),
        "candidate": ("#d9d9d9", "1.5px solid #666", "", ""),
    }[status]
    return (
        f'<div class="pl-sym" style="width:{size}px;height:{size}px;background:{fill};border:{border};'
        f'border-radius:{radius};transform:rotate({turn}deg);{shadow}">'
        f'<span style="transform:rotate({-turn}deg)">{glyph}</span></div>'
    )


def _legend_html(tiers: list[_Tier], statuses: Mapping[str, Mapping], areas: bool, shares: bool) -> str:
    rows = ["<div class='pl-h'>Walk to nearest site of the tier</div>"]
    edges = [0.0, *MINUTE_BREAKS]
    for k, colour in enumerate(MINUTE_COLOURS):
        text = (
            f"&gt; {edges[k]:g} min"
            if k == len(MINUTE_BREAKS)
            else f"{edges[k]:g}&ndash;{edges[k + 1]:g} min"
        )
        rows.append(f"<div><i class='pl-dot' style='background:{colour}'></i>{text}</div>")
    rows.append(
        f"<div><i class='pl-dot' style='background:{UNREACHED_COLOUR}'></i>not reachable within limit</div>"
    )
    rows.append("<div class='pl-note'>circle size: older residents</div>")
    if statuses:
        head = "".join(f"<th>{html.escape(t.name)}</th>" for t in tiers)
        body = "".join(
            f"<tr><td>{status}</td>"
            + "".join(
                f"<td>{_symbol_html(t, k, status) if k in present else ''}</td>" for k, t in enumerate(tiers)
            )
            + "</tr>"
            for status, present in statuses.items()
        )
        rows.append(
            f"<div class='pl-h'>Sites</div><table class='pl-sites'><tr><th></th>{head}</tr>{body}</table>"
        )
    if areas:
        rows.append("<div class='pl-h'>Service areas (along streets)</div>")
        for tier in tiers:
            rows.append(
                f"<div><i class='pl-box' style='border-color:{tier.colour}'>"
                f"<i style='background:{tier.colour}'></i></i>"
                f"{tier.threshold_min:g}-minute walk to a {html.escape(tier.name)}</div>"
            )
    if shares:
        rows.append("<div class='pl-h'>District share covered</div>")
        edges = [0.0, *SHARE_BREAKS, 1.0]
        for k, colour in enumerate(SHARE_COLOURS):
            rows.append(
                f"<div><i class='pl-box' style='background:{colour}'></i>"
                f"{100 * edges[k]:.0f}&ndash;{100 * edges[k + 1]:.0f} %</div>"
            )
    return "".join(rows)


def _title_html(summary: Mapping[str, str] | None, stand_in: bool) -> str:
    parts = []
    if stand_in:
        parts.append("<div class='pl-warn'>uses STAND-IN data, see the red banner</div>")
    if summary:
        cells = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td><b>{html.escape(str(v))}</b></td></tr>"
            for k, v in summary.items()
        )
        parts.append(f"<table>{cells}</table>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------------------------
# folium elements (templates of a few lines of JavaScript each)


def _add(parent, element, key: str):
    """Add ``element`` under a fixed id, so that the same inputs give the same page byte for byte."""
    element._id = key
    parent.add_child(element, name=element.get_name())
    return element


class _Raw(Element):
    """Text put into the page as it is (no template: minified JavaScript may contain ``{{``)."""

    def __init__(self, text: str):
        super().__init__()
        self._name = "Raw"
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class _JsData(MacroElement):
    """``var <name> = <JSON>;`` holding the data of one or more layers."""

    _template = Template(
        "{% macro script(this, kwargs) %}var {{ this.get_name() }} = {{ this.json }};{% endmacro %}"
    )

    def __init__(self, data):
        super().__init__()
        self._name = "planner_data"
        self.json = data if isinstance(data, str) else _json(data)


class _StoreLayer(Layer):
    """A layer in the layer control drawn from a `_JsData` store; ``options`` become template attributes."""

    def __init__(self, store, *, name: str, show: bool, **options):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = type(self).__name__.strip("_").lower()
        self.store = store
        for key, value in options.items():
            setattr(self, key, value)

    def render(self, **kwargs):
        # folium's Layer.render adds a child with a random id that calls addTo on every render, so a page
        # rendered twice (shown, then saved) grew; the templates below add the layer themselves instead.
        MacroElement.render(self, **kwargs)


class _PointsClass(MacroElement):
    """Defines ``L.PlannerPoints``: many circles drawn as ONE path of the map's canvas renderer.

    50,000 ``L.circleMarker`` objects cost about a second and a half to add to a map; this path keeps the
    points in typed arrays, draws one canvas path per colour class, and answers the renderer's hit test
    (``_containsPoint``) by remembering which point is under the mouse (``_hit``), so one tooltip and one
    popup serve every point. It uses the documented extension points of ``L.Path`` in Leaflet 1.9
    (``_project``, ``_update``, ``_updatePath``, ``_containsPoint``) as Leaflet's own ``L.CircleMarker`` does,
    and needs the canvas renderer (``prefer_canvas``).
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
L.PlannerPoints = L.Path.extend({
  options: {weight: 1, fillOpacity: 0.7, opacity: 0.9, bubblingMouseEvents: false},
  initialize: function (d, t, options) {
    L.setOptions(this, options);
    var m = d.tiers[t].m, n = d.lat.length, nb = d.breaks.length;
    var cls = new Array(n), seq = new Array(n), r = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      // class 0.. for the minute classes, nb for "more than", nb + 1 for not reachable
      var k = nb + 1;
      if (m[i] !== null) { k = 0; while (k < nb && m[i] > d.breaks[k]) { k++; } }
      cls[i] = k; seq[i] = i;
      r[i] = 2.5 + 5.5 * Math.sqrt(Math.min(d.w[i] / d.wref, 1));
    }
    // worse classes are drawn last (on top); in a class, big circles first; ties by position in the table
    seq.sort(function (a, b) { return cls[a] - cls[b] || d.w[b] - d.w[a] || a - b; });
    this._d = d; this._cls = cls; this._seq = seq; this._r = r; this._hit = -1;
    this._colours = d.colours.concat([d.none]);
    this._x = new Float64Array(n); this._y = new Float64Array(n);
  },
  pointCount: function () { return this._seq.length; },
  pointColour: function (i) { return this._colours[this._cls[i]]; },
  describe: function (i) {
    var d = this._d;
    var s = '<b>' + d.idName + ' ' + d.id[i] + '</b><br>older residents: ' + d.w[i];
    for (var u = 0; u < d.tiers.length; u++) {
      var x = d.tiers[u].m[i];
      s += '<br>' + d.tiers[u].label + ': ' + (x === null ? 'not reachable' : x.toFixed(1) + ' min')
        + (d.tiers[u].c[i] ? ' (covered)' : ' (not covered)');
    }
    return s;
  },
  _project: function () {
    var d = this._d, n = this._seq.length, pad = 9 + this.options.weight;
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (var i = 0; i < n; i++) {
      var p = this._map.latLngToLayerPoint([d.lat[i], d.lon[i]]);
      this._x[i] = p.x; this._y[i] = p.y;
      if (p.x < x0) { x0 = p.x; } if (p.x > x1) { x1 = p.x; }
      if (p.y < y0) { y0 = p.y; } if (p.y > y1) { y1 = p.y; }
    }
    this._pxBounds = n ? L.bounds([x0 - pad, y0 - pad], [x1 + pad, y1 + pad]) : undefined;
  },
  _update: function () { if (this._map) { this._updatePath(); } },
  _empty: function () { return !this._seq.length; },
  _updatePath: function () {
    var rd = this._renderer;
    if (!rd._drawing) { return; }
    var ctx = rd._ctx, b = rd._redrawBounds || rd._bounds, x = this._x, y = this._y, r = this._r;
    var seq = this._seq, cls = this._cls, n = seq.length, j = 0;
    ctx.lineWidth = this.options.weight;
    while (j < n) {
      var k = cls[seq[j]];
      ctx.beginPath();
      for (; j < n && cls[seq[j]] === k; j++) {
        var i = seq[j], ri = r[i];
        if (b && (x[i] + ri < b.min.x || x[i] - ri > b.max.x || y[i] + ri < b.min.y || y[i] - ri > b.max.y)) {
          continue;
        }
        ctx.moveTo(x[i] + ri, y[i]);
        ctx.arc(x[i], y[i], ri, 0, Math.PI * 2, false);
      }
      ctx.globalAlpha = this.options.fillOpacity; ctx.fillStyle = this._colours[k]; ctx.fill();
      ctx.globalAlpha = this.options.opacity; ctx.strokeStyle = this._colours[k]; ctx.stroke();
    }
    ctx.globalAlpha = 1;
  },
  _containsPoint: function (p) {
    var x = this._x, y = this._y, r = this._r, seq = this._seq, tol = this._clickTolerance();
    for (var j = seq.length - 1; j >= 0; j--) {  // topmost first
      var i = seq[j], dx = p.x - x[i], dy = p.y - y[i], rr = r[i] + tol;
      if (dx * dx + dy * dy <= rr * rr) { this._hit = i; return true; }
    }
    this._hit = -1;
    return false;
  }
});
{% endmacro %}"""
    )

    def __init__(self):
        super().__init__()
        self._name = "planner_points_class"


class _DemandLayer(_StoreLayer):
    """Demand points of one tier, coloured by walk minutes, as one `L.PlannerPoints` canvas path."""

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = new L.PlannerPoints({{ this.store.get_name() }}, {{ this.tier_index }});
(function (layer) {
  function text(l) { return l._hit < 0 ? '' : l.describe(l._hit); }
  // moving from one point to the next stays inside this one layer: refresh the tooltip's text
  layer.on('mousemove', function () {
    if (layer._hit !== layer._shown) {
      layer._shown = layer._hit;
      if (layer.isTooltipOpen()) { layer.getTooltip().update(); }
    }
  });
  layer.on('mouseout', function () { layer._shown = -1; });
  layer.bindTooltip(text, {sticky: true});
  layer.bindPopup(text);
})({{ this.get_name() }});
{% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
{% endmacro %}"""
    )


class _SiteLayer(_StoreLayer):
    """Sites of one status as ``DivIcon`` symbols (clustered when many), each with a tooltip."""

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = {% if this.cluster %}L.markerClusterGroup({disableClusteringAtZoom: 16,
  showCoverageOnHover: false, chunkedLoading: true}){% else %}L.featureGroup(){% endif %};
(function (group, d) {
  var icons = d.icons.map(function (s) {
    return L.divIcon({className: 'pl-site', html: s.html, iconSize: [s.size, s.size]});
  });
  for (var i = 0; i < d.lat.length; i++) {
    var marker = L.marker([d.lat[i], d.lon[i]], {icon: icons[d.icon[i]], zIndexOffset: d.z, keyboard: false});
    group.addLayer(marker.bindTooltip(d.tip[i]));
  }
})({{ this.get_name() }}, {{ this.store.get_name() }});
{% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
{% endmacro %}"""
    )


class _GeoLayer(_StoreLayer):
    """Polygons from a GeoJSON store, styled by the ``k``-th entry of each feature's style list."""

    _template = Template(
        """{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON({{ this.store.get_name() }}, {
  style: function (f) { return f.properties.s[{{ this.style_index }}]; },
  onEachFeature: function (f, layer) { layer.bindTooltip(f.properties.tip, {sticky: true}); }
});
{% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
{% endmacro %}"""
    )


class _Control(MacroElement):
    """A box of HTML as a Leaflet control (title box, legend) that folds to its heading (``<details>``)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function () {
  var box = L.control({position: {{ this.position|tojson }}});
  box.onAdd = function () {
    var div = L.DomUtil.create('details', {{ this.css_class|tojson }} + ' pl-fold');
    div.open = true;
    div.innerHTML = '<summary>' + {{ this.summary_json }} + '</summary>' + {{ this.html_json }};
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  box.addTo({{ this._parent.get_name() }});
})();
{% endmacro %}"""
    )

    def __init__(self, inner_html: str, position: str, css_class: str, summary_html: str):
        super().__init__()
        self._name = "box"
        self.html = inner_html
        self.html_json = _json(inner_html)
        self.summary = summary_html
        self.summary_json = _json(summary_html)
        self.position = position
        self.css_class = css_class


class _Fold(MacroElement):
    """Scale bar at the bottom right; the layer list folds (a link in it, the layer icon opens it again).

    On a small screen (under 900 x 700 pixels) the title box, legend and layer list start folded; a layer list
    that runs past the bottom of the map starts folded too.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}
(function (map, layers) {
  L.control.scale({position: 'bottomright', imperial: false, maxWidth: 150}).addTo(map);
  var box = layers.getContainer();
  var fold = L.DomUtil.create('a', 'pl-fold-layers');
  layers._section.insertBefore(fold, layers._section.firstChild);
  fold.href = '#'; fold.textContent = '\u25b2 hide layers'; fold.setAttribute('role', 'button');
  L.DomEvent.on(fold, 'click', function (e) { L.DomEvent.stop(e); layers.collapse(); });
  L.DomEvent.on(layers._layersLink, 'click', function (e) { L.DomEvent.stop(e); layers.expand(); });
  var small = window.innerWidth < 900 || window.innerHeight < 700;
  if (small) {
    var boxes = document.querySelectorAll('details.pl-fold');
    Array.prototype.forEach.call(boxes, function (d) { d.open = false; });
  }
  // a layer list that runs past the bottom of the map starts folded (measured once the banner is placed)
  setTimeout(function () {
    var bottom = map.getContainer().getBoundingClientRect().bottom;
    if (small || layers.getContainer().getBoundingClientRect().bottom > bottom - 10) { layers.collapse(); }
  }, 0);
})({{ this._parent.get_name() }}, {{ this.layers.get_name() }});
{% endmacro %}"""
    )

    def __init__(self, layers):
        super().__init__()
        self._name = "fold"
        self.layers = layers


class _Banner(MacroElement):
    """A red band across the top of the page listing every stand-in input; map controls move below it."""

    _template = Template(
        """{% macro html(this, kwargs) %}
<div id="planner-banner" role="alert"><b>&#9888; STAND-IN DATA &mdash; not for decisions:</b>
<ul>{% for line in this.lines %}<li>{{ line|e }}</li>{% endfor %}</ul></div>
{% endmacro %}
{% macro script(this, kwargs) %}
(function () {
  var b = document.getElementById('planner-banner');
  function place() { document.documentElement.style.setProperty('--pl-banner-h', b.offsetHeight + 'px'); }
  place(); window.addEventListener('resize', place);
})();
{% endmacro %}"""
    )

    def __init__(self, lines: Sequence[str]):
        super().__init__()
        self._name = "banner"
        self.lines = list(lines)


class _Attribution(MacroElement):
    """A data credit in Leaflet's attribution control (the same text as a tile layer's is shown once)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function (map) {
  var control = map.attributionControl || L.control.attribution().addTo(map);
  control.addAttribution({{ this.text|tojson }});
})({{ this._parent.get_name() }});
{% endmacro %}"""
    )

    def __init__(self, text: str):
        super().__init__()
        self._name = "attribution"
        self.text = text


class _PageStyle(MacroElement):
    """CSS of the banner, title box, legend and site symbols; a plain background when there are no tiles."""

    _template = Template(
        """{% macro header(this, kwargs) %}
<style>
:root { --pl-font: system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC",
  sans-serif; }
{% if this.plain_background %}.leaflet-container { background: #f4f3ef; }{% endif %}
#planner-banner { position: fixed; top: 0; left: 0; right: 0; z-index: 10000; margin: 0; padding: 6px 14px;
  background: #b00020; color: #fff; font: 15px/1.35 var(--pl-font); border-bottom: 4px solid #ffd400; }
#planner-banner ul { margin: 2px 0 0 0; padding-left: 22px; }
.folium-map .leaflet-top { top: var(--pl-banner-h, 0px); }
.pl-title, .pl-legend { background: rgba(255,255,255,0.93); padding: 8px 10px; border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0,0,0,0.4); font: 13px/1.35 var(--pl-font); color: #222; }
.pl-title { max-width: 340px; }
.pl-fold > summary { cursor: pointer; font-weight: 700; }
.pl-title > summary { font-size: 17px; margin-bottom: 4px; }
.pl-fold:not([open]) > summary { margin-bottom: 0; }
.pl-fold-layers { display: block; margin-bottom: 4px; font: 12px var(--pl-font); color: #555; }
.leaflet-bottom.leaflet-right .leaflet-control-scale { margin-bottom: 4px; }
.pl-title .pl-warn { color: #b00020; font-weight: 700; margin-bottom: 4px; }
.pl-title td { padding: 1px 6px 1px 0; vertical-align: top; }
.pl-legend { max-height: calc(100vh - var(--pl-banner-h, 0px) - 40px); overflow-y: auto; }
.pl-legend .pl-h { font-weight: 700; margin: 6px 0 2px; }
.pl-legend .pl-h:first-child { margin-top: 0; }
.pl-legend .pl-note { color: #555; font-style: italic; }
.pl-dot { display: inline-block; width: 11px; height: 11px; border-radius: 50%; margin-right: 6px;
  vertical-align: -1px; }
.pl-box { display: inline-block; width: 14px; height: 10px; border: 1.5px solid #444; margin-right: 6px;
  vertical-align: -1px; }
.pl-box i { display: block; height: 100%; opacity: 0.3; }
.pl-sites th { font-weight: 600; padding: 0 6px; text-align: center; }
.pl-sites td { padding: 1px 6px 1px 0; }
.pl-sites td .pl-sym { margin: 0 auto; }
.pl-site { background: none; border: none; }
.pl-sym { box-sizing: border-box; display: flex; align-items: center; justify-content: center; color: #fff;
  font: bold 13px/1 var(--pl-font); }
</style>
{% endmacro %}"""
    )

    def __init__(self, *, plain_background: bool):
        super().__init__()
        self._name = "page_style"
        self.plain_background = bool(plain_background)


class _ClusterAssets(MacroElement):
    """CDN links of Leaflet.markercluster for online pages (offline pages inline it)."""

    def __init__(self):
        super().__init__()
        self._name = "cluster_assets"

    def render(self, **kwargs):
        from planner._assets import MARKERCLUSTER_CDN_CSS, MARKERCLUSTER_CDN_JS

        figure = self.get_root()
        figure.header.add_child(JavascriptLink(MARKERCLUSTER_CDN_JS), name="planner_markercluster_js")
        for k, url in enumerate(MARKERCLUSTER_CDN_CSS):
            figure.header.add_child(CssLink(url), name=f"planner_markercluster_css_{k}")
        super().render(**kwargs)
