"""The what-if page: its data against the run's walk times, and in a real browser against planner.coverage."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
import shutil
import textwrap
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.coverage import coverage_by_area, multi_tier_coverage
from planner.maps import OSM_ATTRIBUTION, external_assets
from planner.provenance import Provenance
from planner.scenario import parse_scenario, run
from planner.whatif import plan_open_sites, scenario_template, whatif_data, whatif_page, write_whatif

log = logging.getLogger(__name__)

SCENARIO = textwrap.dedent(
    """\
    name = "whatif"
    [network]
    source = "file"
    path = "city.osm.pbf"
    [demand]
    path = "demand.csv"
    weight = "elderly"
    [[tiers]]
    name = "centre"
    threshold_min = 10
    new = 4
    candidates = "candidates.csv"
    existing = "centres.csv"
    exclude = ["c07"]
    [[tiers]]
    name = "station"
    threshold_min = 6
    upgrade = 3
    existing = "stations.csv"
    [curve]
    targets = []
    [solver]
    method = "exact"
    """
)


def _near_streets(net, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Random points up to 40 m off random street segments (lon, lat)."""
    import geopandas as gpd
    import shapely

    lines = net.edge_geometries()[rng.integers(0, net.n_edges, n)]
    xy = shapely.get_coordinates(shapely.line_interpolate_point(lines, rng.random(n), normalized=True))
    xy = xy + rng.uniform(-40, 40, (n, 2))
    pts = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=net.crs).to_crs(4326)
    return pd.DataFrame({"lon": pts.x, "lat": pts.y})


@pytest.fixture(scope="module")
def folder(tmp_path_factory, helsinki_pbf) -> Path:
    """A two-tier scenario on the real Helsinki extract: candidates and existing centres, stations."""
    from planner.network import read_network

    out = tmp_path_factory.mktemp("whatif")
    shutil.copy(helsinki_pbf, out / "city.osm.pbf")
    net = read_network(helsinki_pbf)
    rng = np.random.default_rng(12)
    demand = _near_streets(net, 400, rng)
    demand.insert(0, "id", [f"d{i:03d}" for i in range(len(demand))])
    demand["elderly"] = rng.integers(1, 80, len(demand)) + rng.random(len(demand)).round(2)
    demand["district_name"] = np.where(demand["lon"] < demand["lon"].median(), "west 西", "east 东")
    demand.to_csv(out / "demand.csv", index=False)
    for name, n, prefix in (("candidates.csv", 30, "c"), ("centres.csv", 3, "e"), ("stations.csv", 14, "s")):
        pts = _near_streets(net, n, rng)
        pts.insert(0, "id", [f"{prefix}{i:02d}" for i in range(n)])
        pts.to_csv(out / name, index=False)
    (out / "whatif.toml").write_text(SCENARIO, encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def result(folder):
    return run(parse_scenario(tomllib.loads(SCENARIO), base_dir=folder))


def _decode(text: str, kind: str) -> np.ndarray:
    dtype = {"u8": "<u1", "u16": "<u2", "u32": "<u4", "i32": "<i4", "f64": "<f8"}[kind]
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def _python_totals(result, open_by_tier: dict[str, list[str]]) -> dict[str, float]:
    """planner's own coverage of these open sites: covered older residents per tier."""
    cov = multi_tier_coverage(
        {t.spec.name: t.times for t in result.tiers},
        result.demand["weight"],
        thresholds_min={t.spec.name: t.spec.threshold_min for t in result.tiers},
        open_by_tier=open_by_tier,
    )
    w = result.demand["weight"].reindex(cov.index)
    return {t.spec.name: float(w[cov[f"covered_{t.spec.name}"]].sum()) for t in result.tiers}, cov


# ------------------------------------------------------------------------------------------------------------
# the data


def test_reach_lists_hold_exactly_the_pairs_within_each_threshold(result):
    data = whatif_data(result)
    demand_ids = [str(i) for i in result.demand.index]
    assert data["demand"]["ids"] == demand_ids
    w = _decode(data["demand"]["w"], "f64")
    np.testing.assert_array_equal(w, result.demand["weight"].to_numpy(dtype=float))
    lat = _decode(data["demand"]["lat"], "i32") / 1e6
    np.testing.assert_allclose(lat, result.demand.geometry.y, atol=6e-7)
    for tier, packed in zip(result.tiers, data["tiers"], strict=True):
        reach = packed["reach"]
        ptr = _decode(reach["indptr"], "u32")
        idx = _decode(reach["idx"], reach["idx_type"])
        walk_s = _decode(reach["walk_ds"], reach["walk_type"]) / 10.0
        got = {}
        for j, site in enumerate(packed["ids"]):
            for q in range(ptr[j], ptr[j + 1]):
                got[(site, demand_ids[idx[q]])] = walk_s[q]
        coo = tier.times.matrix.tocoo()
        limit = tier.spec.threshold_min * 60.0
        want = {
            (str(tier.times.site_ids[r]), str(tier.times.demand_ids[c])): s
            for r, c, s in zip(coo.row, coo.col, coo.data, strict=True)
            if s <= limit + 1e-9
        }
        assert got.keys() == want.keys()
        assert len(got) > 100
        assert max(abs(got[k] - want[k]) for k in want) <= 0.05  # deciseconds
        plan = _decode(packed["plan"], "u8").astype(bool)
        assert sorted(np.array(packed["ids"])[plan]) == sorted(plan_open_sites(result)[tier.spec.name])
    centre = data["tiers"][0]
    excluded = _decode(centre["excluded"], "u8").astype(bool)
    assert list(np.array(centre["ids"])[excluded]) == ["c07"]
    assert centre["kind"] == "new"
    assert data["tiers"][1]["kind"] == "upgrade"


def test_page_asks_nothing_of_the_network(result, tmp_path):
    path = write_whatif(result, tmp_path / "whatif.html")
    page = path.read_text(encoding="utf-8")
    assert external_assets(page) == []
    assert re.findall(r"<script[^>]*\bsrc=", page) == []
    assert "window.plannerWhatIf" in page
    # the data element ends where it should (no "</script>" inside) and holds the run's data
    block = re.search(r"<script id='wi-data' type='application/json'>(.*?)</script>", page, flags=re.S)
    assert json.loads(block.group(1)) == json.loads(json.dumps(whatif_data(result)))


def test_scenario_template_reads_back_as_the_same_scenario(result, folder):
    text = scenario_template(result.scenario)
    assert "#@whatif:centre@" in text
    assert "#@whatif:station@" in text
    filled = text.replace("#@whatif:centre@", "new = 4\nexclude = []").replace(
        "#@whatif:station@", "upgrade = 3"
    )
    again = parse_scenario(tomllib.loads(filled), base_dir=folder / "elsewhere", check_files=True)
    original = result.scenario
    assert again.name == "whatif_whatif"
    assert again.network == original.network
    assert again.demand == original.demand
    assert again.solver == original.solver
    assert [t.name for t in again.tiers] == ["centre", "station"]
    for a, b in zip(again.tiers, original.tiers, strict=True):
        assert a.candidates == b.candidates
        assert a.existing == b.existing
        assert a.threshold_min == b.threshold_min
    assert again.curve_targets == ()


def test_osm_streets_are_credited(result):
    data = whatif_data(result)  # walk times on the real Helsinki extract of OpenStreetMap
    assert data["osm_data"] is True
    assert data["osm_attribution"] == OSM_ATTRIBUTION
    assert whatif_data(dataclasses.replace(result, provenance=Provenance()))["osm_data"] is False


def test_page_title_is_escaped(result):
    page = whatif_page(result, title="<b>我的</b> plan")
    assert "<title>&lt;b&gt;我的&lt;/b&gt; plan</title>" in page


# ------------------------------------------------------------------------------------------------------------
# a real browser


@pytest.fixture(scope="module")
def browser(result, tmp_path_factory):
    from _browser import CHROMEDRIVER, CHROMIUM, headless_chromium

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER})")
    from selenium.webdriver.support.ui import WebDriverWait

    folder = tmp_path_factory.mktemp("page")
    page = write_whatif(result, folder / "whatif.html")
    driver = headless_chromium(folder / "profile", console_log=True)
    try:
        driver.get(page.as_uri())
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return !!window.plannerWhatIf"))
        yield driver
    finally:
        driver.quit()


def _js(driver, script: str, *args):
    return driver.execute_script(script, *args)


@pytest.mark.browser
def test_page_loads_without_errors_or_requests(browser):
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    loaded = _js(
        browser, "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
    )
    assert [url for url in loaded if not url.startswith(("file:", "data:", "blob:"))] == []
    credit = _js(browser, "return document.querySelector('.leaflet-control-attribution').textContent")
    assert "© OpenStreetMap contributors" in credit  # real OSM streets, no tiles shown


@pytest.mark.browser
def test_toggles_match_python_coverage_exactly(browser, result):
    """Random opens and closes in both tiers: after each, the page's totals equal planner.coverage's."""
    rng = np.random.default_rng(3)
    plan = plan_open_sites(result)
    expected_open = {k: set(v) for k, v in plan.items()}
    total = float(result.demand["weight"].sum())
    _js(browser, "plannerWhatIf.reset()")
    page = _js(browser, "return plannerWhatIf.totals()")
    want, _ = _python_totals(result, plan)
    for name, value in want.items():
        assert page[name]["covered_weight"] == pytest.approx(value, rel=1e-12, abs=1e-9)
        assert page[name]["plan_covered_weight"] == pytest.approx(value, rel=1e-12, abs=1e-9)
        assert page[name]["share"] == pytest.approx(value / total, rel=1e-12)
    changed = 0
    times_ms = []
    for step in range(40):
        tier = result.tiers[step % 2]
        name = tier.spec.name
        site = str(rng.choice([str(i) for i in tier.sites.index]))
        opening = site not in expected_open[name]
        start = time.perf_counter()
        page = _js(
            browser,
            f"return plannerWhatIf.{'open' if opening else 'close'}(arguments[0], arguments[1])",
            site,
            name,
        )
        times_ms.append(1000 * (time.perf_counter() - start))
        (expected_open[name].add if opening else expected_open[name].discard)(site)
        assert {
            k: set(v) for k, v in _js(browser, "return plannerWhatIf.openSites()").items()
        } == expected_open
        want, cov = _python_totals(result, {k: sorted(v) for k, v in expected_open.items()})
        for k, value in want.items():
            assert page[k]["covered_weight"] == pytest.approx(value, rel=1e-12, abs=1e-9)
            assert page[k]["open_sites"] == len(expected_open[k])
        changed += any(page[k]["covered_weight"] != page[k]["plan_covered_weight"] for k in want)
    assert changed > 10  # the toggles did move coverage
    log.info("what-if toggle round trip (selenium): median %.1f ms", float(np.median(times_ms)))

    # per district, the page's table equals coverage_by_area of the same open sites
    for tier in result.tiers:
        name = tier.spec.name
        rows = _js(browser, "return plannerWhatIf.districts(arguments[0])", name)
        table = coverage_by_area(result.demand, cov[f"covered_{name}"], "weight", by="district_name")
        got = {r["district"]: r["covered_weight"] for r in rows}
        assert got.keys() == set(table.index)
        for district, value in table["covered_residents"].items():
            assert got[district] == pytest.approx(value, rel=1e-12, abs=1e-9)

    back = _js(browser, "return plannerWhatIf.reset()")
    for name in plan:
        assert back[name]["covered_weight"] == back[name]["plan_covered_weight"]
    assert {k: sorted(v) for k, v in _js(browser, "return plannerWhatIf.openSites()").items()} == {
        k: sorted(v) for k, v in plan.items()
    }


@pytest.mark.browser
def test_point_colours_follow_coverage_and_change(browser, result):
    data = whatif_data(result)
    colours = data["colours"]
    _js(browser, "plannerWhatIf.reset(); plannerWhatIf.show('centre')")
    chosen = [str(i) for i in result.tiers[0].result.selected]
    for site in chosen[:2]:
        _js(browser, "plannerWhatIf.close(arguments[0], 'centre')", site)
    got = _js(browser, "return plannerWhatIf.pointColours()")
    plan = plan_open_sites(result)
    _, before = _python_totals(result, plan)
    now_open = dict(plan, centre=[s for s in plan["centre"] if s not in chosen[:2]])
    _, after = _python_totals(result, now_open)
    was = before["covered_centre"].to_numpy()
    now = after["covered_centre"].to_numpy()
    minutes = after["walk_min_centre"].to_numpy()
    assert (was & ~now).sum() > 0
    for k in range(len(got)):
        if was[k] and not now[k]:
            assert got[k] == colours["lost"]
        elif not was[k] and not now[k]:
            assert got[k] == colours["uncovered"]
        elif now[k] and was[k]:
            cls = int(np.searchsorted([5, 10, 15], round(minutes[k] * 600) / 600, side="left"))
            assert got[k] == colours["minutes"][cls]
    _js(browser, "plannerWhatIf.reset()")


@pytest.mark.browser
def test_unknown_and_ambiguous_ids_are_errors(browser):
    message = _js(browser, "try { plannerWhatIf.open('nope'); return ''; } catch (e) { return e.message; }")
    assert 'no site "nope" in any tier' in message
    message = _js(
        browser, "try { plannerWhatIf.open('c01', 'kiosk'); return ''; } catch (e) { return e.message; }"
    )
    assert 'unknown tier "kiosk"' in message


@pytest.mark.browser
def test_downloaded_scenario_reruns_to_the_same_coverage(browser, result, folder):
    """Close and open centres, upgrade a station: `planner run` of the download gives the page totals."""
    _js(browser, "plannerWhatIf.reset()")
    centre, station = result.tiers
    chosen = [str(i) for i in centre.result.selected]
    free = [str(i) for i in centre.sites.index[centre.sites["status"] == "candidate"] if str(i) != "c07"]
    other = [str(i) for i in station.sites.index[station.sites["status"] == "existing"]]
    _js(browser, "plannerWhatIf.close(arguments[0], 'centre')", chosen[0])
    _js(browser, "plannerWhatIf.close('e00', 'centre')")  # an existing centre
    _js(browser, "plannerWhatIf.open(arguments[0], 'centre')", free[0])
    _js(browser, "plannerWhatIf.open('c07', 'centre')")  # excluded by the scenario, opened here
    page = _js(browser, "return plannerWhatIf.open(arguments[0], 'station')", other[0])
    text = _js(browser, "return plannerWhatIf.scenarioSnippet()")
    csv = _js(browser, "return plannerWhatIf.csv()")
    (folder / "edited.toml").write_text(text, encoding="utf-8")
    again = run(parse_scenario(tomllib.loads(text), base_dir=folder / "elsewhere"))
    for tier in again.tiers:
        name = tier.spec.name
        covered = float(again.demand["weight"][again.coverage[f"covered_{name}"]].sum())
        assert covered == pytest.approx(page[name]["covered_weight"], rel=1e-12)
        opened = sorted(str(i) for i in list(tier.result.selected) + list(tier.result.fixed))
        assert opened == sorted(_js(browser, "return plannerWhatIf.openSites()[arguments[0]]", name))
    rows = pd.read_csv(__import__("io").StringIO(csv), dtype={"site_id": str})
    assert set(rows.loc[rows["change"] == "opened", "site_id"]) == {free[0], "c07", other[0]}
    assert set(rows.loc[rows["change"] == "closed", "site_id"]) == {chosen[0], "e00"}
    assert json.loads(json.dumps(page))  # plain JSON values
    _js(browser, "plannerWhatIf.reset()")
