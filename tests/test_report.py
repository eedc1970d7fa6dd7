"""`planner report`: a run folder turned into report.html, report.xlsx and CSV tables for an official."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.cli import main
from planner.report import read_run, report_tables

SCENARIO = textwrap.dedent(
    """\
    name = "helsinki-report"
    [network]
    source = "file"
    path = "city.osm.pbf"
    speed_mps = 1.0
    [demand]
    path = "demand.csv"
    weight = "elderly"
    [[tiers]]
    name = "centre"
    threshold_min = 8
    new = 4
    candidates = "candidates.csv"
    [[tiers]]
    name = "station"
    threshold_min = 5
    upgrade = 3
    existing = "stations.csv"
    [areas]
    path = "districts.geojson"
    [curve]
    max_sites = 10
    targets = [0.5]
    [solver]
    method = "exact"
    """
)


def _points_at_nodes(net, n: int, rng, prefix: str) -> pd.DataFrame:
    nodes = rng.choice(net.n_nodes, n, replace=False)
    pts = gpd.GeoSeries(gpd.points_from_xy(net.x[nodes], net.y[nodes]), crs=net.crs).to_crs(4326)
    return pd.DataFrame({"id": [f"{prefix}{i:03d}" for i in range(n)], "lon": pts.x, "lat": pts.y})


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory, helsinki_pbf) -> Path:
    """Real Helsinki streets, random older residents at street nodes, two districts split east/west."""
    from planner.network import read_network

    folder = tmp_path_factory.mktemp("report")
    shutil.copy(helsinki_pbf, folder / "city.osm.pbf")
    net = read_network(helsinki_pbf)
    rng = np.random.default_rng(11)
    demand = _points_at_nodes(net, 240, rng, "d").assign(elderly=rng.integers(1, 80, 240))
    demand.to_csv(folder / "demand.csv", index=False)
    _points_at_nodes(net, 30, rng, "c").to_csv(folder / "candidates.csv", index=False)
    _points_at_nodes(net, 10, rng, "s").to_csv(folder / "stations.csv", index=False)
    west, south, east, north = gpd.points_from_xy(demand["lon"], demand["lat"]).total_bounds
    mid = float(demand["lon"].median())
    pad = 0.01
    gpd.GeoDataFrame(
        {"name": ["West", "East"]},
        geometry=[
            shapely.box(west - pad, south - pad, mid, north + pad),
            shapely.box(mid, south - pad, east + pad, north + pad),
        ],
        crs=4326,
    ).to_file(folder / "districts.geojson", driver="GeoJSON")
    (folder / "report.toml").write_text(SCENARIO, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run_dir(scenario_dir) -> Path:
    out = scenario_dir / "run"
    assert main(["--quiet", "run", str(scenario_dir / "report.toml"), "--out", str(out)]) == 0
    return out


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_report_writes_html_xlsx_and_csv_and_nothing_else(run_dir, tmp_path, capsys):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    before = _digests(folder)
    assert main(["report", str(folder)]) == 0
    assert str((folder / "report.html").resolve()) in capsys.readouterr().out
    after = _digests(folder)
    new = set(after) - set(before)
    assert {"report.html", "report.xlsx"} <= new
    assert all(n in ("report.html", "report.xlsx") or re.fullmatch(r"report_\w+\.csv", n) for n in new)
    assert {k: after[k] for k in before} == before  # the run's own files are untouched

    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 3  # one map per service with sites + the curve
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing to fetch: opens offline
    assert '<html lang="en">' in page  # English for a scenario that is not the Shenyang default
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    for tier in metrics["tiers"]:
        assert f"{tier['coverage_share']:.1%}" in page  # the headline repeats the run's own figures
    # in the order the issue asks for
    order = ["headline", "maps", "districts", "gaps", "curve", "equity", "standards", "solves"]
    positions = [page.index(f'id="{key}"') for key in order]
    assert positions == sorted(positions)

    from openpyxl import load_workbook

    book = load_workbook(folder / "report.xlsx")
    assert "Headline" in book.sheetnames and "Coverage by district" in book.sheetnames
    sheet = book["Coverage by district"]
    headers = [c.value for c in sheet[1]]
    assert "District" in headers and "station, upgraded: share with the plan" in headers
    raw = (folder / "report_districts.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")


def test_services_are_named_honestly(run_dir):
    run = read_run(run_dir)
    head = report_tables(run)["headline"].set_index("service")
    assert list(head.index) == ["centre:new", "station:basic", "station:upgraded"]
    cov = pd.read_csv(run_dir / "coverage.csv", encoding="utf-8-sig")
    w = cov["older_residents"]
    basic = w[cov["covered_today_station"]].sum()
    upgraded = w[cov["covered_station"]].sum()
    # the basic service of every existing station is the same today and with the plan
    assert head.loc["station:basic", "covered_today"] == pytest.approx(basic)
    assert head.loc["station:basic", "covered_plan"] == pytest.approx(basic)
    assert head.loc["station:basic", "sites_plan"] == 10
    # the upgraded service: nobody today, the 3 upgraded stations with the plan
    assert head.loc["station:upgraded", "covered_today"] == 0
    assert head.loc["station:upgraded", "covered_plan"] == pytest.approx(upgraded)
    assert head.loc["station:upgraded", "sites_plan"] == 3
    assert upgraded <= basic

    # the run itself names the two services apart: metrics.json, districts.csv and the map summary
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    services = {t["name"]: t["services"] for t in metrics["tiers"]}
    assert set(services["station"]) == {"basic", "upgraded"}
    assert services["station"]["basic"]["covered_weight_plan"] == pytest.approx(basic, abs=1e-3)
    assert services["station"]["basic"]["covered_weight_today"] == pytest.approx(basic, abs=1e-3)
    assert services["station"]["upgraded"]["covered_weight_today"] == 0
    assert services["station"]["upgraded"]["covered_weight_plan"] == pytest.approx(upgraded, abs=1e-3)
    assert set(services["centre"]) == {"new"}
    districts = pd.read_csv(run_dir / "districts.csv", encoding="utf-8-sig").set_index("district_name")
    assert (
        districts.loc["total", "basic_share_station"] == districts.loc["total", "basic_today_share_station"]
    )
    assert districts.loc["total", "upgraded_today_share_station"] == 0
    assert districts.loc["total", "upgraded_share_station"] == pytest.approx(upgraded / w.sum(), abs=1e-4)
    assert "share_station" not in districts.columns  # no column mixing the two services
    page = (run_dir / "map.html").read_text(encoding="utf-8")
    assert "station, basic service (all 10 existing)" in page
    assert "station, upgraded service (3 upgraded)" in page


def test_tables_agree_with_the_run(run_dir):
    run = read_run(run_dir)
    tables = report_tables(run)
    districts = tables["districts"].set_index("district_name")
    assert list(districts.index) == ["East", "West", "total"]
    cov = run.coverage
    for name in ("East", "West"):
        part = cov[cov["district_name"] == name]
        share = part["older_residents"][part["covered_centre"]].sum() / part["older_residents"].sum()
        assert districts.loc[name, "share_plan:centre:new"] == pytest.approx(share)
    curve = tables["curve"]
    assert curve["gain"].iloc[1:].ge(-1e-9).all()  # each added site adds coverage
    assert curve["covered_weight"].diff().iloc[1:].to_numpy() == pytest.approx(
        curve["gain"].iloc[1:].to_numpy()
    )
    solves = tables["solves"].set_index("solve")
    assert solves.loc["centre", "status"] == "optimal"
    assert solves[["objective", "bound", "gap", "solve_s"]].loc[["centre", "station"]].notna().all().all()
    summary = tables["equity_summary"].set_index(["service", "when"])
    # nobody has a service that does not exist today: its inequality is undefined, not 0
    nothing = [("centre:new", "today"), ("station:upgraded", "today")]
    assert summary.loc[nothing, "gini"].isna().all()
    assert summary.drop(nothing)["gini"].between(0, 1).all()


def test_chinese_report(run_dir, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    assert main(["report", str(folder), "--lang", "zh"]) == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in page
    for words in (
        "概要",
        "各层级服务覆盖图",
        "分区（县）覆盖情况",
        "国家标准核查",
        "十分钟生活圈",
        "基尼系数",
    ):
        assert words in page
    from openpyxl import load_workbook

    assert "概要" in load_workbook(folder / "report.xlsx").sheetnames


def test_a_run_without_areas_reports_the_whole_city(scenario_dir, tmp_path):
    text = SCENARIO.replace('[areas]\npath = "districts.geojson"\n', "")
    assert "[areas]" not in text
    (scenario_dir / "no_areas.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["--quiet", "run", str(scenario_dir / "no_areas.toml"), "--out", str(out)]) == 0
    assert main(["report", str(out)]) == 0
    districts = pd.read_csv(out / "report_districts.csv", encoding="utf-8-sig")
    assert districts["district_name"].tolist() == ["all", "total"]
    shares = districts["share_plan:centre:new"]
    assert shares.iloc[0] == shares.iloc[1]  # the one area is the whole city
    assert "<svg" in (out / "report.html").read_text(encoding="utf-8")


def test_the_shenyang_default_reads_chinese_by_default(run_dir, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    metrics["scenario"] = "shenyang"  # the scenario name tells which city a run is of
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    assert main(["report", str(folder)]) == 0
    assert '<html lang="zh-CN">' in (folder / "report.html").read_text(encoding="utf-8")
    assert main(["report", str(folder), "--lang", "en"]) == 0
    assert '<html lang="en">' in (folder / "report.html").read_text(encoding="utf-8")


def test_compare_shows_both_runs_and_the_sites_changed(scenario_dir, run_dir, tmp_path):
    slow = tmp_path / "slow"
    assert (
        main(["--quiet", "run", str(scenario_dir / "report.toml"), "--out", str(slow), "--speed", "frail"])
        == 0
    )
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    assert main(["report", str(folder), "--compare", str(slow)]) == 0
    districts = pd.read_csv(folder / "report_districts.csv", encoding="utf-8-sig").set_index("district_name")
    col = "share_plan:centre:new"
    assert (
        districts[f"{col}|change"] == (districts[col] - districts[f"{col}|other"]).round(4)
    ).all() or np.allclose(districts[f"{col}|change"], districts[col] - districts[f"{col}|other"], atol=2e-4)
    sites = pd.read_csv(folder / "report_sites_changed.csv", encoding="utf-8-sig", keep_default_na=False)
    mine = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    theirs = json.loads((slow / "metrics.json").read_text(encoding="utf-8"))
    for tier_a, tier_b in zip(mine["tiers"], theirs["tiers"], strict=True):
        a, b = set(tier_a["selected_ids"]), set(tier_b["selected_ids"])
        got = sites[sites["tier"] == tier_a["name"]].set_index("change")
        assert got.loc["added", "count"] == len(a - b)
        assert got.loc["dropped", "count"] == len(b - a)
        assert set(got.loc["kept", "site_ids"].split()) == a & b
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="comparison"' in page


def _exit_2(argv, capsys, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def test_bad_input_exits_2_naming_the_folder(run_dir, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    _exit_2(["report", str(empty)], capsys, str(empty), "metrics.json", "coverage.csv", "missing")
    _exit_2(["report", str(tmp_path / "nowhere")], capsys, "does not exist")

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    metrics = json.loads((old / "metrics.json").read_text(encoding="utf-8"))
    del metrics["run_format"]
    (old / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    before = _digests(old)
    _exit_2(["report", str(old)], capsys, str(old), "older version", "run_format")
    assert _digests(old) == before  # nothing written

    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    metrics = json.loads((other / "metrics.json").read_text(encoding="utf-8"))
    metrics["scenario"] = "another"
    (other / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    before = _digests(folder)
    _exit_2(
        ["report", str(folder), "--compare", str(other)], capsys, str(other), "'another'", "same scenario"
    )
    assert _digests(folder) == before


@pytest.mark.browser
def test_report_opens_and_prints_in_chromium(run_dir, tmp_path):
    from tests._browser import CHROMIUM, headless_chromium

    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    assert main(["report", str(folder), "--lang", "zh"]) == 0
    page = folder / "report.html"
    driver = headless_chromium(tmp_path / "profile")
    try:
        driver.get(page.resolve().as_uri())
        assert "概要" in driver.find_element("id", "headline").text
        svg = driver.find_elements("css selector", "svg.map")
        assert len(svg) >= 2 and svg[0].size["height"] > 100
        assert driver.find_elements("css selector", "svg.map text")  # map labels kept as text
    finally:
        driver.quit()
    pdf = tmp_path / "report.pdf"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'p2'}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") >= 3


def test_sensitivity_in_the_run_and_the_report(scenario_dir, tmp_path):
    text = SCENARIO + '[sensitivity]\nspeeds = ["planning", "frail"]\nresolve = true\n'
    (scenario_dir / "speeds.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["--quiet", "run", str(scenario_dir / "speeds.toml"), "--out", str(out)]) == 0
    sens = pd.read_csv(out / "sensitivity.csv", encoding="utf-8-sig", dtype={"speed": str})
    districts = pd.read_csv(out / "districts.csv", encoding="utf-8-sig").set_index("district_name")
    at = sens.set_index(["speed", "resolved", "tier", "kind", "district_name"])["covered_share"]
    # at the run's own speed the plan covers what the run says it covers
    for name in ("East", "West", "total"):
        assert at["planning", False, "centre", "new", name] == pytest.approx(
            districts.loc[name, "share_centre"], abs=1e-4
        )
        assert at["planning", False, "station", "upgraded", name] == pytest.approx(
            districts.loc[name, "upgraded_share_station"], abs=1e-4
        )
        assert at["planning", False, "station", "basic", name] == pytest.approx(
            districts.loc[name, "basic_share_station"], abs=1e-4
        )
        # frail walkers (0.64 m/s) reach no more, and re-choosing the sites for them wins some back
        for tier, kind in (("centre", "new"), ("station", "basic"), ("station", "upgraded")):
            assert at["frail", False, tier, kind, name] <= at["planning", False, tier, kind, name] + 1e-9
    for tier, kind in (("centre", "new"), ("station", "upgraded")):
        assert at["frail", True, tier, kind, "total"] >= at["frail", False, tier, kind, "total"] - 1e-4
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["sensitivity"]["speeds"] == ["planning", "frail"]
    assert "sensitivity" in metrics["timings_s"]

    assert main(["report", str(out), "--lang", "en"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="sensitivity"' in page and "frail adults (0.64 m/s)" in page
    table = pd.read_csv(out / "report_sensitivity.csv", encoding="utf-8-sig").set_index("district_name")
    assert table.loc["total", "covered_share:centre:new|frail"] == pytest.approx(
        at["frail", False, "centre", "new", "total"], abs=1e-4
    )
    assert table.loc["total", "resolved_share:centre:new|frail"] == pytest.approx(
        at["frail", True, "centre", "new", "total"], abs=1e-4
    )


def test_beds_are_checked_where_the_sites_have_places(scenario_dir, tmp_path):
    stations = pd.read_csv(scenario_dir / "stations.csv")
    stations.assign(places=np.arange(len(stations)) * 7 + 5).to_csv(tmp_path / "stations.csv", index=False)
    for name in ("city.osm.pbf", "demand.csv", "candidates.csv", "districts.geojson"):
        shutil.copy(scenario_dir / name, tmp_path / name)
    text = SCENARIO.replace(
        'existing = "stations.csv"\n', 'existing = "stations.csv"\ncapacity_column = "places"\n'
    )
    (tmp_path / "beds.toml").write_text(text, encoding="utf-8")
    out = tmp_path / "run"
    assert main(["--quiet", "run", str(tmp_path / "beds.toml"), "--out", str(out)]) == 0
    run = read_run(out)
    beds = report_tables(run)["standards_beds"].set_index("district_name")
    # every station is open (existing or upgraded): its places count in the district it lies in
    sites = gpd.GeoDataFrame(
        stations.assign(places=np.arange(len(stations)) * 7 + 5),
        geometry=gpd.points_from_xy(stations["lon"], stations["lat"]),
        crs=4326,
    )
    areas = gpd.read_file(tmp_path / "districts.geojson")
    expected = gpd.sjoin(sites, areas, predicate="within").groupby("name")["places"].sum()
    assert beds["beds"].to_dict() == pytest.approx(expected.reindex(beds.index).fillna(0).to_dict())
    older = pd.read_csv(tmp_path / "demand.csv").merge(
        gpd.sjoin(
            gpd.GeoDataFrame(
                pd.read_csv(tmp_path / "demand.csv"),
                geometry=gpd.points_from_xy(*pd.read_csv(tmp_path / "demand.csv")[["lon", "lat"]].T.values),
                crs=4326,
            ),
            areas,
            predicate="within",
        )[["id", "name"]],
        on="id",
    )
    need = older.groupby("name")["elderly"].sum() * 40 / 1000
    assert beds["beds_needed"].to_dict() == pytest.approx(need.reindex(beds.index).to_dict())
    assert (beds["meets"] == (beds["beds"] >= beds["beds_needed"])).all()
    assert main(["--quiet", "report", str(out), "--lang", "zh"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "养老床位核查" in page and "本次运行未提供" not in page
