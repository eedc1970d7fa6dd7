"""Map of 50,000 demand points + 400 sites + 400 service areas: planner's `plan_map` against plain folium.

The peer baseline is what a folium user writes (BASELINE.md): one ``folium.CircleMarker`` with a tooltip per
demand point and per site, and the service areas as one ``folium.GeoJson`` with a style function, on folium's
defaults (SVG rendering). Both maps are built from the same synthetic, stand-in city (labelled in the
planner page's banner) and saved; then each page is opened from ``file://`` in headless Chromium and timed
until Leaflet has drawn. folium's page loads Leaflet from CDNs, which this machine cannot reach: for the
browser timing only, its CDN ``<script>``/``<link>`` tags are replaced by the inlined Leaflet that the
planner page carries.

Run: ``python benchmarks/bench_maps.py [--points 50000] [--no-browser]``. The last line reads
``maps: planner <s> s <mb> MB, folium_circles <s> s <mb> MB, speedup <x>`` (speedup of the save time).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from planner._assets import offline_head
from planner.maps import plan_map, save_map

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _browser import CHROMIUM, headless_chromium

UTM51 = 32651
SIDE_M = 12_000.0
DETOUR = 1.3  # network / straight-line distance
WALK_M_PER_MIN = 60.0  # 1.0 m/s, planning practice
TIERS = [{"name": "centre", "threshold_min": 15}, {"name": "station", "threshold_min": 10}]
STAND_INS = ["SYNTHETIC STAND-IN city for a benchmark - not real streets, people or sites"]


def synthetic_city(n_points: int, seed: int = 0) -> dict:
    """Clustered demand, 100 new centres and 300 stations (half upgraded), street-like service areas."""
    rng = np.random.default_rng(seed)
    origin = np.array([500_000.0, 4_630_000.0])
    hubs = rng.uniform(0.1, 0.9, (60, 2)) * SIDE_M
    which = rng.integers(0, len(hubs), n_points)
    demand_xy = np.clip(hubs[which] + rng.normal(0, 700, (n_points, 2)), 0, SIDE_M) + origin
    site_xy = demand_xy[rng.choice(n_points, 400, replace=False)] + rng.normal(0, 80, (400, 2))
    tier = np.array(["centre"] * 100 + ["station"] * 300)
    status = np.array(["new"] * 100 + ["upgraded"] * 150 + ["existing"] * 150)
    sites = gpd.GeoDataFrame(
        {"tier": tier, "status": status, "name": [f"站点 {i}" for i in range(400)], "stand_in": True},
        geometry=gpd.points_from_xy(site_xy[:, 0], site_xy[:, 1]),
        crs=UTM51,
        index=pd.Index([f"s{i:03d}" for i in range(400)], name="site_id"),
    )
    columns = {"weight": np.maximum(1, np.round(rng.lognormal(np.log(60), 0.7, n_points)))}
    for name, limit in (("centre", 15), ("station", 10)):
        dist_m, _ = cKDTree(site_xy[tier == name]).query(demand_xy)
        minutes = dist_m * DETOUR / WALK_M_PER_MIN
        columns[f"walk_min_{name}"] = np.where(minutes <= 20, minutes, np.nan)
        columns[f"covered_{name}"] = columns[f"walk_min_{name}"] <= limit
    demand = gpd.GeoDataFrame(
        columns,
        geometry=gpd.points_from_xy(demand_xy[:, 0], demand_xy[:, 1]),
        crs=UTM51,
        index=pd.RangeIndex(n_points, name="demand_id"),
    )
    reach_m = np.where(tier == "centre", 15, 10) * WALK_M_PER_MIN / DETOUR
    areas = []
    for (x, y), reach in zip(site_xy, reach_m, strict=True):
        angles = rng.uniform(0, 2 * np.pi, 10)
        lengths = rng.uniform(0.4, 1.0, 10) * reach
        ends = np.column_stack([x + np.cos(angles) * lengths, y + np.sin(angles) * lengths])
        rays = [[(x, y), (float(ex), float(ey))] for ex, ey in ends]
        areas.append(shapely.MultiLineString(rays).buffer(60, quad_segs=4))
    service_areas = gpd.GeoDataFrame(
        {"site_id": sites.index, "tier": tier, "threshold_min": np.where(tier == "centre", 15, 10)},
        geometry=areas,
        crs=UTM51,
    )
    return {"demand": demand, "sites": sites, "service_areas": service_areas}


def folium_circles(city: dict) -> folium.Map:
    """The peer baseline: one CircleMarker (with tooltip) per demand point and site, GeoJson service areas."""
    demand = city["demand"].to_crs(4326)
    sites = city["sites"].to_crs(4326)
    areas = city["service_areas"].to_crs(4326)
    centre = [demand.geometry.y.mean(), demand.geometry.x.mean()]
    m = folium.Map(location=centre, zoom_start=13, tiles=None, max_zoom=19)
    colours = {"centre": "#c2185b", "station": "#1f78b4"}
    folium.GeoJson(
        areas,
        name="service areas",
        style_function=lambda f: {"color": colours[f["properties"]["tier"]], "weight": 1, "fillOpacity": 0.1},
    ).add_to(m)
    layer = folium.FeatureGroup(name="older residents").add_to(m)
    for (lat, lon), weight, minutes in zip(
        zip(demand.geometry.y, demand.geometry.x, strict=True),
        demand["weight"],
        demand["walk_min_centre"],
        strict=True,
    ):
        colour = "#6a3d9a" if np.isnan(minutes) else ("#1a9641" if minutes <= 10 else "#d7191c")
        folium.CircleMarker(
            [lat, lon],
            radius=2 + 6 * min(weight / 200, 1) ** 0.5,
            color=colour,
            fill=True,
            fill_opacity=0.7,
            tooltip=f"older residents {weight:g}, walk to centre {minutes:.1f} min",
        ).add_to(layer)
    for site_id, row in sites.iterrows():
        folium.CircleMarker(
            [row.geometry.y, row.geometry.x],
            radius=8,
            color=colours[row["tier"]],
            fill=True,
            tooltip=f"{site_id} {row['name']} ({row['status']})",
        ).add_to(m)
    folium.LayerControl().add_to(m)
    return m


def offline_copy(path: Path) -> Path:
    """folium's page with its CDN assets replaced by inlined Leaflet, so that it renders without internet."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"<script src=\"https?://[^\"]+\"></script>", "", text)
    text = re.sub(r"<link rel=\"stylesheet\" href=\"https?://[^\"]+\"/>", "", text)
    text = text.replace("<head>", "<head>\n" + offline_head(cluster=False), 1)
    out = path.with_name(path.stem + "_offline.html")
    out.write_text(text, encoding="utf-8")
    return out


def browser_load_s(path: Path) -> float:
    """Seconds from opening ``file://path`` in headless Chromium until Leaflet has drawn the overlays."""
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp(prefix="bench-maps-chromium-")
    driver = headless_chromium(profile)
    driver.set_page_load_timeout(300)
    driver.set_script_timeout(300)
    try:
        start = time.perf_counter()
        driver.get(path.as_uri())
        WebDriverWait(driver, 300).until(
            lambda d: d.execute_script(
                "return !!document.querySelector('.leaflet-overlay-pane canvas, .leaflet-overlay-pane svg')"
            )
        )
        driver.execute_async_script(
            "var done = arguments[0]; requestAnimationFrame(function () { requestAnimationFrame(done); });"
        )
        return time.perf_counter() - start
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--no-browser", action="store_true", help="skip the headless Chromium timings")
    args = parser.parse_args()
    browser = not args.no_browser and Path(CHROMIUM).exists()

    city = synthetic_city(args.points)
    out = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    print(f"{args.points:,} demand points, 400 sites, 400 service areas; pages in {out}")

    start = time.perf_counter()
    m = plan_map(**city, tiers=TIERS, stand_ins=STAND_INS, title="benchmark")
    ours = save_map(m, out / "planner.html")
    ours_s = time.perf_counter() - start
    ours_mb = ours.stat().st_size / 1e6
    print(f"planner  plan_map + save_map {ours_s:6.2f} s  {ours_mb:6.1f} MB")

    start = time.perf_counter()
    peer_map = folium_circles(city)
    peer = out / "folium_circles.html"
    peer_map.save(str(peer))
    peer_s = time.perf_counter() - start
    peer_mb = peer.stat().st_size / 1e6
    print(f"folium   CircleMarkers + save {peer_s:6.2f} s  {peer_mb:6.1f} MB")

    if browser:
        ours_load = browser_load_s(ours)
        peer_load = browser_load_s(offline_copy(peer))
        print(f"browser load (headless Chromium): planner {ours_load:.2f} s, folium {peer_load:.2f} s")
    print(
        f"maps: planner {ours_s:.2f} s {ours_mb:.1f} MB, folium_circles {peer_s:.2f} s {peer_mb:.1f} MB, "
        f"speedup {peer_s / ours_s:.1f}x"
    )


if __name__ == "__main__":
    main()
