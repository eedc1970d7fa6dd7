"""Scenario files and whole runs: the minimal TOML form on real OSM data (Helsinki), validation, the CLI."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from planner import InputError
from planner.cli import main
from planner.locate import mclp
from planner.pipeline import STAGES, run
from planner.results import headline, write_outputs
from planner.scenario import DEFAULT_SCENARIO, parse_scenario, read_scenario

MINIMAL = textwrap.dedent(
    """\
    name = "example"
    [network]
    source = "file"            # "file" | "osm" (online, cached) | "synthetic"
    path = "city.osm.pbf"      # .osm.pbf, .osm, .osm.bz2 or .graphml
    speed_mps = 1.0            # or speed = "<preset name>"
    [demand]
    path = "demand.csv"        # CSV with id, lon, lat and weight columns, or any vector file
    id = "id"
    weight = "elderly"
    crs = "wgs84"              # "wgs84" | "gcj02" | "bd09" | "EPSG:<code>"
    [[tiers]]
    name = "centre"
    threshold_min = 15
    new = 5                    # open this many new sites among the candidates
    candidates = "candidates.csv"
    [[tiers]]
    name = "station"
    threshold_min = 10
    upgrade = 3                # choose this many of the existing sites
    existing = "stations.csv"
    [solver]
    method = "exact"           # "exact" | "heuristic" | "auto"
    time_limit_s = 60
    """
)


def _points_near_streets(net, n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Random points up to 60 m off random street segments, in WGS84."""
    import shapely

    edges = rng.integers(0, net.n_edges, n)
    lines = net.edge_geometries()[edges]
    pts = shapely.line_interpolate_point(lines, rng.random(n), normalized=True)
    xy = shapely.get_coordinates(pts) + rng.uniform(-60, 60, (n, 2))
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=net.crs).to_crs(4326)


@pytest.fixture(scope="module")
def example_dir(tmp_path_factory, helsinki_pbf) -> Path:
    """The minimal scenario of the issue, exactly as written, on the real Helsinki extract."""
    from planner.network import read_network

    folder = tmp_path_factory.mktemp("example")
    shutil.copy(helsinki_pbf, folder / "city.osm.pbf")
    net = read_network(helsinki_pbf)
    rng = np.random.default_rng(7)
    demand = _points_near_streets(net, 300, rng)
    pd.DataFrame(
        {
            "id": [f"d{i:03d}" for i in range(300)],
            "lon": demand.geometry.x,
            "lat": demand.geometry.y,
            "elderly": rng.integers(1, 60, 300),
        }
    ).to_csv(folder / "demand.csv", index=False)
    for name, n, prefix in (("candidates.csv", 40, "c"), ("stations.csv", 12, "s")):
        pts = _points_near_streets(net, n, rng)
        pd.DataFrame(
            {
                "id": [f"{prefix}{i:02d}" for i in range(n)],
                "lon": pts.geometry.x,
                "lat": pts.geometry.y,
                "places": np.random.default_rng(n).integers(10, 80, n),
            }
        ).to_csv(folder / name, index=False)
    (folder / "example.toml").write_text(MINIMAL, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def example_run(example_dir):
    out = example_dir / "out"
    code = main(["--quiet", "run", str(example_dir / "example.toml"), "--out", str(out)])
    assert code == 0
    return out


def test_minimal_form_runs_and_writes_every_output(example_run):
    for name in (
        "map.html",
        "sites.geojson",
        "sites.gpkg",
        "coverage.csv",
        "districts.csv",
        "gaps.csv",
        "metrics.json",
    ):
        assert (example_run / name).stat().st_size > 0, name
    metrics = json.loads((example_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["network"]["source"] == "osm-pbf"
    assert metrics["network"]["nodes"] > 1000
    assert metrics["demand"]["points"] == 300
    assert metrics["demand"]["source"] == "file"
    demand = pd.read_csv(example_run.parent / "demand.csv")
    assert metrics["demand"]["weight_total"] == pytest.approx(demand["elderly"].sum())
    assert metrics["stand_ins"] == []
    inputs = {r["input"]: r for r in metrics["inputs"]}
    assert all(r["real"] for r in inputs.values())
    assert inputs["streets"]["licence"].startswith("ODbL")
    assert inputs["demand"]["origin"].endswith("demand.csv")
    assert inputs["sites:station"]["origin"].endswith("stations.csv")
    tiers = {t["name"]: t for t in metrics["tiers"]}
    assert len(tiers["centre"]["selected_ids"]) == 5
    assert len(tiers["station"]["selected_ids"]) == 3
    assert set(tiers["station"]["selected_ids"]) <= {f"s{i:02d}" for i in range(12)}
    for tier in tiers.values():
        assert tier["status"] == "optimal"
        assert tier["gap"] <= 1e-4
        assert tier["objective"] == pytest.approx(tier["covered_weight"])
        assert tier["bound"] >= tier["objective"] - 1e-6
        assert 0 < tier["coverage_share"] <= 1
    # every stage timed, in order, then every solve: all timings in one place
    assert list(metrics["timings_s"]) == [*STAGES, "solve_centre", "solve_station"]
    assert metrics["stages"] == {
        "access": "ok",
        "curve": "ok",
        "service_areas": "ok",
        "map": "ok",
        "whatif": "ok",
    }


def test_coverage_csv_agrees_with_the_thresholds(example_run):
    cov = pd.read_csv(example_run / "coverage.csv")
    assert len(cov) == 300
    for tier, limit in (("centre", 15), ("station", 10)):
        walk = cov[f"walk_min_{tier}"]
        covered = cov[f"covered_{tier}"].astype(bool)
        assert (walk[covered] <= limit + 1e-6).all()
        assert (walk[~covered].isna() | (walk[~covered] > limit)).all()
    metrics = json.loads((example_run / "metrics.json").read_text(encoding="utf-8"))
    centre = next(t for t in metrics["tiers"] if t["name"] == "centre")
    covered_weight = cov.loc[cov["covered_centre"].astype(bool), "older_residents"].sum()
    assert covered_weight == pytest.approx(centre["covered_weight"])
    chosen = gpd.read_file(example_run / "sites.geojson")
    assert set(chosen["site_id"]) == set(centre["selected_ids"]) | set(
        next(t for t in metrics["tiers"] if t["name"] == "station")["selected_ids"]
    )
    assert set(cov["site_id_centre"].dropna()) <= set(centre["selected_ids"])


def test_run_is_deterministic(example_dir):
    scenario = read_scenario(example_dir / "example.toml")
    first = run(scenario)
    second = run(scenario)
    for a, b in zip(first.tiers, second.tiers, strict=True):
        assert a.result.selected == b.result.selected
        assert a.result.objective == b.result.objective


def test_slower_walking_covers_no_more(example_dir):
    scenario = read_scenario(example_dir / "example.toml")
    fast = run(scenario)
    slow = run(scenario.with_speed("frail"))
    for a, b in zip(fast.tiers, slow.tiers, strict=True):
        assert b.result.objective <= a.result.objective + 1e-9


def test_compare_reports_the_change(example_dir, example_run, capsys):
    slow = example_dir / "slow"
    scenario = example_dir / "example.toml"
    assert main(["--quiet", "run", str(scenario), "--out", str(slow), "--speed", "frail"]) == 0
    capsys.readouterr()
    assert main(["compare", str(example_run), str(slow)]) == 0
    text = capsys.readouterr().out
    assert "tier centre: coverage" in text
    assert "0.64 m/s" in text


def test_unknown_key_names_the_nearest_valid_one():
    data = {
        "name": "x",
        "network": {"source": "synthetic"},
        "demand": {"source": "estimated"},
        "tiers": [{"name": "centre", "thresold_min": 15, "new": 3, "generate_candidates": 10}],
    }
    with pytest.raises(InputError, match=r"unknown key 'thresold_min'.*did you mean 'threshold_min'"):
        parse_scenario(data)


def test_every_problem_is_reported_at_once(tmp_path):
    data = {
        "name": "x",
        "network": {"source": "file", "path": "missing.osm.pbf", "speed": "fast"},
        "demand": {"path": "nowhere.csv", "crs": "WGS-85"},
        "tiers": [{"name": "centre", "threshold_min": 15, "new": 3}],
        "solver": {"method": "best"},
    }
    with pytest.raises(InputError) as info:
        parse_scenario(data, base_dir=tmp_path)
    text = str(info.value)
    assert "missing.osm.pbf" in text
    assert "speed = 'fast' is not a preset" in text
    assert "nowhere.csv" in text
    assert 'crs = \'WGS-85\' must be "wgs84", "gcj02", "bd09" or "EPSG:<code>"' in text
    assert "needs candidates" in text
    assert "[solver] method = 'best'" in text


def test_cli_bad_input_exits_2_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[network]\nsource = "file"\npath = "no.osm.pbf"\n', encoding="utf-8")
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("planner: error:")
    assert "no.osm.pbf" in err
    assert "Traceback" not in err
    assert main(["--debug", "run", str(bad)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_default_scenario_is_valid():
    scenario = read_scenario(DEFAULT_SCENARIO)
    assert scenario.name == "shenyang"
    assert [(t.name, t.new, t.upgrade) for t in scenario.tiers] == [("centre", 100, 0), ("station", 0, 300)]


def _variant(
    example_dir: Path, name: str, extra_top: str = "", centre_extra: str = "", station_extra: str = ""
) -> Path:
    text = MINIMAL.replace('name = "example"', f'name = "{name}"\n{extra_top}')
    text = text.replace('candidates = "candidates.csv"\n', f'candidates = "candidates.csv"\n{centre_extra}')
    text = text.replace('existing = "stations.csv"\n', f'existing = "stations.csv"\n{station_extra}')
    path = example_dir / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unavailable_site_is_never_chosen(example_dir):
    base = run(read_scenario(example_dir / "example.toml"))
    centre = base.tiers[0].result
    gone = centre.selected[0]
    scenario = read_scenario(_variant(example_dir, "no_site", centre_extra=f'exclude = ["{gone}"]\n'))
    again = run(scenario)
    assert gone not in again.tiers[0].result.selected
    assert again.tiers[0].result.objective <= centre.objective + 1e-9
    sites = again.tiers[0].sites
    assert sites.loc[gone, "note"] == "excluded by the scenario"


def test_exclude_with_an_unknown_id_is_an_error(example_dir):
    scenario = read_scenario(_variant(example_dir, "bad_exclude", centre_extra='exclude = ["nope"]\n'))
    with pytest.raises(InputError, match="exclude names ids that are not sites of the tier: nope"):
        run(scenario)


def test_headline_names_the_upgraded_and_the_basic_service_apart(example_dir):
    result = run(read_scenario(example_dir / "example.toml"))
    text = headline(result)
    station = result.tiers[1]
    upgraded = float(result.coverage["covered_station"].mul(result.demand["weight"]).sum())
    basic = float(result.today["covered_station"].mul(result.demand["weight"]).sum())
    assert f"station: 3 sites chosen to upgrade, {upgraded:,.0f} (" in text
    assert "within 10 min walk of an upgraded one; optimal" in text
    n_existing = int(station.sites["status"].isin(["existing", "upgraded"]).sum())
    assert f"basic service at all {n_existing:,} existing sites: {basic:,.0f} (" in text
    assert basic >= upgraded  # every upgraded site is an existing one
    assert "centre: 5 sites chosen, " in text  # a tier of new sites says nothing of upgrades


def test_fixed_sites_stay_open_and_the_count_adds_to_them(example_dir):
    base = run(read_scenario(example_dir / "example.toml"))
    centre = base.tiers[0]
    unchosen = list(centre.sites.index[centre.sites["status"] == "candidate"])[:2]
    scenario = read_scenario(
        _variant(
            example_dir, "fixed", centre_extra=f"fixed = {[str(i) for i in unchosen]!r}\n".replace("'", '"')
        )
    )
    again = run(scenario).tiers[0]
    assert set(unchosen) <= set(again.result.fixed)
    assert len(again.result.selected) == 5  # new = 5 more besides the fixed ones
    assert not set(again.result.selected) & set(unchosen)
    assert (again.sites.loc[unchosen, "status"] == "new").all()
    # new = 0: evaluate exactly the fixed plan (what the what-if page's download writes)
    chosen = [str(i) for i in centre.result.selected]
    path = _variant(example_dir, "fixed_only", centre_extra=f"fixed = {chosen!r}\n".replace("'", '"'))
    path.write_text(path.read_text(encoding="utf-8").replace("new = 5 ", "new = 0 "), encoding="utf-8")
    only = read_scenario(path)
    same = run(only).tiers[0]
    assert same.result.selected == ()
    assert same.result.objective == pytest.approx(centre.result.objective)


def test_fixed_and_excluded_at_once_is_an_error(example_dir):
    path = _variant(example_dir, "fixed_bad", centre_extra='fixed = ["c001"]\nexclude = ["c001"]\n')
    with pytest.raises(InputError, match=r"both fixed and excluded"):
        read_scenario(path)
    path = _variant(example_dir, "fixed_unknown", centre_extra='fixed = ["nope"]\n')
    with pytest.raises(InputError, match="fixed names ids that are not sites of the tier: nope"):
        run(read_scenario(path))


def test_equity_floor_per_area_is_met(example_dir):
    import shapely

    demand = pd.read_csv(example_dir / "demand.csv")
    mid = float(demand["lon"].median())
    lo_lon, hi_lon = demand["lon"].min() - 0.01, demand["lon"].max() + 0.01
    lo_lat, hi_lat = demand["lat"].min() - 0.01, demand["lat"].max() + 0.01
    areas = gpd.GeoDataFrame(
        {"name": ["west", "east"]},
        geometry=[shapely.box(lo_lon, lo_lat, mid, hi_lat), shapely.box(mid, lo_lat, hi_lon, hi_lat)],
        crs=4326,
    )
    areas.to_file(example_dir / "areas.geojson", driver="GeoJSON")
    plain = run(read_scenario(_variant(example_dir, "areas_only", '[areas]\npath = "areas.geojson"\n')))

    def shares(result, table):
        covered = table["covered_station"].astype(float) * result.demand["weight"]
        by_area = result.demand["district_name"]
        return covered.groupby(by_area).sum() / result.demand["weight"].groupby(by_area).sum()

    before = shares(plain, plain.coverage)
    best = shares(plain, plain.today)  # all 12 existing stations open: the most any area can reach
    worst = before.idxmin()
    assert before[worst] < best[worst]  # the plan without a floor leaves that half below its best
    floor = float(before[worst] + best[worst]) / 2
    fair = run(
        read_scenario(
            _variant(
                example_dir,
                "fair",
                '[areas]\npath = "areas.geojson"\n',
                station_extra=f"equity_min_share = {floor}\n",
            )
        )
    )
    assert (shares(fair, fair.coverage) >= floor - 1e-9).all()
    assert fair.tiers[1].result.objective <= plain.tiers[1].result.objective + 1e-9


def test_curve_targets_can_be_chosen_or_skipped(example_dir):
    skip = run(read_scenario(_variant(example_dir, "no_targets", "[curve]\nmax_sites = 8\ntargets = []\n")))
    assert skip.curve.needed.empty
    assert skip.curve.table["p"].max() == 8
    some = run(read_scenario(_variant(example_dir, "one_target", "[curve]\ntargets = [0.9]\n")))
    assert some.curve.needed["target"].tolist() == [0.9]
    with pytest.raises(InputError, match=r"\[curve\] targets = \[1.5\] must be a list of shares"):
        read_scenario(_variant(example_dir, "bad_targets", "[curve]\ntargets = [1.5]\n"))


def test_result_map_is_a_folium_map_for_notebooks(example_dir):
    import folium

    from planner.results import result_map

    result = run(read_scenario(example_dir / "example.toml"))
    m = result_map(result)
    assert isinstance(m, folium.Map)
    html = m.get_root().render()
    assert "example: 5 new centres (15 min), 3 upgraded stations (10 min)" in html


def test_a_shared_budget_solves_both_tiers_together(example_dir):
    extra = "[joint]\nbudget = 10\n"
    path = _variant(example_dir, "budget", extra, centre_extra="cost = 3\n", station_extra="cost = 1\n")
    result = run(read_scenario(path))
    centre, station = (t.result for t in result.tiers)
    spent = 3 * len(centre.selected) + len(station.selected)
    assert spent <= 10
    assert len(centre.selected) <= 5 and len(station.selected) <= 3  # the counts become maxima
    assert result.joint.status == "optimal"
    assert result.joint.objective == pytest.approx(centre.objective + station.objective)
    # brute force over how the budget is split (each split solved exactly): none covers more
    best = 0.0
    for n_centre in range(4):
        counts = (n_centre, min(3, 10 - 3 * n_centre))
        covered = 0.0
        for tier, n in zip(result.tiers, counts, strict=True):
            if n:
                eligible = _ids(tier.sites, "existing" if tier.spec.upgrade else "candidate")
                weights = result.demand["weight"]
                threshold = tier.spec.threshold_min
                covered += mclp(
                    tier.times, weights, p=n, threshold_min=threshold, candidates=eligible
                ).objective
        best = max(best, covered)
    assert result.joint.objective == pytest.approx(best)
    out = example_dir / "budget_out"
    write_outputs(result, out)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["joint"]["budget"] == 10
    assert metrics["joint"]["cost"] == pytest.approx(spent)


def _ids(sites, status):
    return list(sites.index[sites["status"].isin([status, "new", "upgraded"])])


def test_joint_needs_costs_and_two_kinds_of_tier(example_dir):
    path = _variant(example_dir, "budget_bad", "[joint]\nbudget = 10\n")
    with pytest.raises(InputError, match="budget needs the cost of each site: give tier 'centre' cost"):
        read_scenario(path)


def test_capacities_give_crowding_scores(example_dir):
    path = _variant(example_dir, "crowding", station_extra='capacity_column = "places"\n')
    result = run(read_scenario(path))
    station = result.tiers[1]
    assert "access_station" in result.coverage
    assert "access_centre" not in result.coverage  # candidates have no places
    places = pd.read_csv(example_dir / "stations.csv").set_index("id")["places"]
    open_ids = list(station.result.selected)
    # 2SFCA sum rule: the older residents' access adds up to the places of open stations that reach anyone
    weights = result.demand["weight"]
    total_access = float((result.coverage["access_station"] * weights).sum())
    rows = station.times.site_ids.get_indexer(open_ids)
    reaching = station.times.within(10 * 60)[rows].sum(axis=1) > 0
    assert total_access == pytest.approx(float(places[open_ids][reaching].sum()))
    uncovered = ~result.coverage["covered_station"].astype(bool)
    assert (result.coverage.loc[uncovered, "access_station"] == 0).all()
    assert station.sites.loc[open_ids, "supply_ratio"].notna().any()


def test_package_hands_on_the_main_steps_lazily():
    import subprocess
    import sys

    import planner

    assert planner.read_network is __import__("planner.network", fromlist=["read_network"]).read_network
    assert planner.mclp is __import__("planner.locate", fromlist=["mclp"]).mclp
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = planner.nope
    code = "import sys, planner; print('geopandas' in sys.modules, 'osmnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]  # `import planner` stays light


def test_gaps_list_the_most_uncovered_first(example_dir):
    from planner.results import gap_table

    text = MINIMAL.replace("threshold_min = 15", "threshold_min = 3").replace(
        "threshold_min = 10", "threshold_min = 2"
    )
    path = example_dir / "short_walks.toml"
    path.write_text(text, encoding="utf-8")
    result = run(read_scenario(path))
    gaps = gap_table(result, n=5)
    uncovered = ~result.coverage["covered_any"].astype(bool)
    expected = result.demand["weight"][uncovered].sort_values(ascending=False, kind="stable")
    assert len(gaps) == 5
    assert gaps["uncovered_residents"].tolist() == pytest.approx(expected.iloc[:5].tolist())
    assert gaps["cumulative_share"].is_monotonic_increasing


def _tiny(**tier) -> dict:
    return {
        "name": "x",
        "network": {"source": "synthetic"},
        "demand": {"source": "estimated"},
        "tiers": [{"name": "centre", "threshold_min": 15, "new": 3, "generate_candidates": 10, **tier}],
    }


def test_keys_are_the_fields_of_the_specs_and_defaults_come_from_settings():
    from dataclasses import fields

    from planner import settings
    from planner.scenario import SECTIONS, keys

    for section, spec in SECTIONS.items():
        assert set(keys(section)) == {f.name for f in fields(spec) if f.metadata.get("toml", True)}
    assert "base_dir" not in keys()  # not a key of the file
    assert "existing_osm" not in keys("tiers")  # read from existing = "osm:<kinds>"
    scenario = parse_scenario(_tiny())
    assert scenario.solver.mip_gap == settings.DEFAULT_MIP_GAP
    assert scenario.solver.time_limit_s == settings.DEFAULT_TIME_LIMIT_S
    assert scenario.network.speed_mps == settings.DEFAULT_SPEED_MPS
    assert scenario.curve.targets == settings.DEFAULT_CURVE_TARGETS
    data = _tiny()
    del data["tiers"][0]["threshold_min"]
    assert parse_scenario(data).tiers[0].threshold_min == settings.DEFAULT_THRESHOLD_MIN


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("solver", "mip_gap", float("nan"), r"\[solver\] mip_gap = nan must be a finite number"),
        ("network", "speed_mps", float("inf"), r"\[network\] speed_mps = inf must be a finite number"),
        ("curve", "max_sites", 2.5, r"\[curve\] max_sites = 2.5 must be a whole number"),
        ("solver", "time_limit_s", "60", r"\[solver\] time_limit_s = '60' must be a number"),
        ("curve", "exact", "yes", r"\[curve\] exact = 'yes' must be true or false"),
        (
            "network",
            "bbox",
            [1, 2, 3],
            r"\[network\] bbox = \[1, 2, 3\] must be \[west, south, east, north\]",
        ),
    ],
)
def test_every_value_is_checked_under_its_key_path(section, key, value, message):
    data = {**_tiny(), section: {key: value}}
    if section == "network":
        data["network"]["source"] = "synthetic"
    with pytest.raises(InputError, match=message):
        parse_scenario(data)


def test_nan_threshold_is_named_by_its_key_not_an_internal_name():
    with pytest.raises(InputError, match=r"\[\[tiers\]\] #1 threshold_min = nan must be a finite number"):
        parse_scenario(_tiny(threshold_min=float("nan")))


def test_run_and_read_scenario_still_importable_from_scenario():
    import planner
    import planner.pipeline
    import planner.scenario

    assert planner.scenario.run is planner.pipeline.run is planner.run
    assert planner.scenario.RunResult is planner.pipeline.RunResult
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = planner.scenario.nope


def test_the_schema_imports_no_stage():
    import subprocess
    import sys

    stages = ["network", "demand", "sites", "snap", "costs", "coverage", "locate", "access", "isochrones"]
    code = (
        "import sys, planner.scenario as s; s.read_scenario(s.DEFAULT_SCENARIO); "
        f"print([m for m in {stages!r} if 'planner.' + m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


MODEL_TIERS = """
[[tiers]]
name = "{name}"
threshold_min = 10
candidates = "candidates.csv"
existing = "stations.csv"
{options}
"""

#: tier name -> (options in the file, the `planner.locate` call it must equal)
MODELS = {
    "cover": ('new = 4\nmodel = "mclp"', "mclp"),
    "fewest": ('model = "lscp"', "lscp"),
    "share": ('model = "lscp"\ntarget_share = 0.8', None),
    "median": ('new = 4\nmodel = "p_median"', "p_median"),
    "center": ('new = 4\nmodel = "p_center"', "p_center"),
    "capped": ('new = 4\nmodel = "capacitated"\ncapacity_column = "places"', "capacitated_mclp"),
    "twice": ('new = 4\nmodel = "backup"\nbackup_weight = 0.5', "mclp"),
    "fewest_twice": ('model = "lscp_backup"', "lscp_backup"),
    "capped_median": (
        'new = 4\nmodel = "capacitated_p_median"\ncapacity_column = "places"\nfar_min = 10',
        "capacitated_p_median",
    ),
}


@pytest.fixture(scope="module")
def model_run(example_dir):
    """One run with a tier per model, all on the same candidates and existing stations."""
    text = MINIMAL.split("[[tiers]]")[0] + "".join(
        MODEL_TIERS.format(name=name, options=options) for name, (options, _) in MODELS.items()
    )
    text += '[solver]\nmethod = "exact"\n[curve]\ntargets = []\n'
    path = example_dir / "models.toml"
    path.write_text(text, encoding="utf-8")
    result = run(read_scenario(path))
    from planner.results import metrics

    return result, json.loads(json.dumps(metrics(result)))  # as metrics.json holds it


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_runs_from_a_scenario_file(model_run, name):
    from planner import locate

    result, metrics = model_run
    outcome = next(t for t in result.tiers if t.spec.name == name)
    weights = result.demand["weight"]
    stations = [f"s{i:02d}" for i in range(12)]
    candidates = [f"c{i:02d}" for i in range(40)]
    common = {"fixed": stations, "candidates": candidates, "method": "exact"}
    options, function = MODELS[name]
    if function == "capacitated_mclp":
        places = outcome.sites["capacity"]
        expected = locate.capacitated_mclp(outcome.times, weights, places, p=4, threshold_min=10, **common)
    elif function == "capacitated_p_median":
        places = outcome.sites["capacity"]
        expected = locate.capacitated_p_median(outcome.times, weights, places, p=4, far_s=600, **common)
    elif function == "lscp_backup":
        expected = locate.lscp_backup(outcome.times, weights, threshold_min=10, **common)
    elif function in ("p_median", "p_center"):
        expected = getattr(locate, function)(outcome.times, weights, p=4, **common)
    elif function == "lscp":
        expected = locate.lscp(outcome.times, weights, threshold_min=10, **common)
    elif function == "mclp":
        backup = 0.5 if "backup" in options else None
        expected = locate.mclp(outcome.times, weights, p=4, threshold_min=10, backup_weight=backup, **common)
    else:  # the fewest sites reaching 80 % of the coverable weight
        curve = locate.coverage_curve(outcome.times, weights, threshold_min=10, targets=(0.8,), **common)
        needed = int(curve.needed["sites"].iloc[0])
        assert len(outcome.result.selected) == needed
        assert outcome.result.details["covered_weight"] >= 0.8 * curve.coverable_weight - 1e-6
        expected = None
    if expected is not None:
        assert outcome.result.model == expected.model
        assert outcome.result.selected == expected.selected
        assert outcome.result.objective == pytest.approx(expected.objective)
    chosen = outcome.sites.index[outcome.sites["status"] == "new"]
    assert sorted(chosen) == sorted(outcome.result.selected)
    tier = next(t for t in metrics["tiers"] if t["name"] == name)
    assert tier["model"] == outcome.result.model
    assert tier["selected_ids"] == [str(i) for i in outcome.result.selected]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('new = 3\nmodel = "mlcp"', r"model = 'mlcp' is not one of .*did you mean 'mclp'"),
        ('new = 3\nmodel = "backup"', r'model = "backup" needs backup_weight'),
        ('new = 3\nmodel = "capacitated"', r'model = "capacitated" needs capacity_column'),
        (
            'new = 3\nmodel = "p_median"\nbackup_weight = 0.5',
            r'backup_weight is an option of model = "backup"',
        ),
        ("new = 3\ntarget_share = 0.5", r'target_share is an option of model = "lscp"'),
        (
            'new = 3\nmodel = "backup"\nbackup_weight = 1.5',
            r"backup_weight = 1.5 must be at least 0 and at most 1",
        ),
        (
            'new = 3\nmodel = "p_center"\nequity_min_share = 0.5',
            r'equity_\* options work with model = "mclp"',
        ),
        ('model = "p_median"', r"give new = <count>"),
    ],
)
def test_model_options_are_validated(tmp_path, options, message):
    import tomllib

    tier = tomllib.loads(f'name = "centre"\ngenerate_candidates = 10\n{options}')
    data = _tiny()
    data["tiers"] = [tier]
    with pytest.raises(InputError, match=message):
        parse_scenario(data)


def test_capacitated_model_names_the_sites_without_places(example_dir):
    path = _variant(
        example_dir, "no_places", centre_extra='model = "capacitated"\ncapacity_column = "nope"\n'
    )
    with pytest.raises(InputError, match="nope"):
        run(read_scenario(path))


def test_readme_model_examples_are_valid_scenarios():
    import re
    import tomllib

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Models from a scenario file")[1].split("\n## ")[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    from planner.scenario import MODELS as NAMES

    seen = set()
    for block in blocks:
        data = tomllib.loads(block)
        base = _tiny()
        base["tiers"] = data["tiers"]
        scenario = parse_scenario(base, check_files=False)
        seen.update(t.model for t in scenario.tiers)
    assert set(NAMES) <= seen


# ------------------------------------------------- real inputs: OSM facilities, census over buildings

REAL_INPUTS = textwrap.dedent(
    """\
    name = "real inputs"
    [network]
    path = "city.osm.pbf"
    [demand]
    source = "buildings"         # each area's census total over its residential buildings
    path = "city.osm.pbf"
    untyped = true               # building=yes counts as a home
    share_60plus = 0.25
    [areas]
    path = "areas.geojson"
    population_column = "population"
    [[tiers]]
    name = "station"
    threshold_min = 10
    new = 2
    candidates = "osm:community_centre"
    """
)


@pytest.fixture(scope="module")
def real_inputs_dir(tmp_path_factory, helsinki_pbf) -> Path:
    import shapely

    folder = tmp_path_factory.mktemp("real_inputs")
    shutil.copy(helsinki_pbf, folder / "city.osm.pbf")
    gpd.GeoDataFrame(
        {"name": ["West", "East"], "population": [12_000, 20_000]},
        geometry=[shapely.box(24.930, 60.160, 24.944, 60.182), shapely.box(24.944, 60.160, 24.960, 60.182)],
        crs=4326,
    ).to_file(folder / "areas.geojson")
    (folder / "real.toml").write_text(REAL_INPUTS, encoding="utf-8")
    return folder


def test_fully_real_inputs_census_over_buildings_and_osm_sites(real_inputs_dir):
    scenario = read_scenario(real_inputs_dir / "real.toml")
    assert scenario.tiers[0].candidates_osm == ("community_centre",)
    result = run(scenario)
    demand = result.demand
    assert demand.groupby("district_name")["weight"].sum().to_dict() == pytest.approx(
        {"West": 3_000.0, "East": 5_000.0}
    )
    sites = result.tiers[0].sites
    assert sites.index.str.startswith("station-osm-").all() and len(sites) >= 3
    assert len(result.tiers[0].result.selected) == 2 and (sites["status"] == "new").sum() == 2
    out = real_inputs_dir / "out"
    write_outputs(result, out)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["stand_ins"] == []  # every input is real: no banner
    inputs = {r["input"]: r for r in metrics["inputs"]}
    assert inputs["sites:station"]["licence"].startswith("ODbL") and inputs["sites:station"]["real"]
    assert all(r["real"] for r in metrics["inputs"])
    assert 'id="planner-banner"' not in (out / "map.html").read_text(encoding="utf-8")


def test_osm_existing_sites_with_none_in_the_file_say_what_counts(real_inputs_dir):
    from planner import DataError

    text = REAL_INPUTS.replace(
        'new = 2\ncandidates = "osm:community_centre"', 'upgrade = 1\nexisting = "osm:elderly_care"'
    )
    (real_inputs_dir / "care.toml").write_text(text, encoding="utf-8")
    scenario = read_scenario(real_inputs_dir / "care.toml")
    assert scenario.tiers[0].existing_osm == ("elderly_care",) and scenario.tiers[0].kind == "upgrade"
    with pytest.raises(
        DataError, match=r"(?s)city.osm.pbf has no OpenStreetMap facility .*social_facility:for=senior"
    ):
        run(scenario)


def test_real_input_keys_need_their_sources(tmp_path):
    data = _tiny(candidates="osm:community_centre")
    del data["tiers"][0]["generate_candidates"]
    with pytest.raises(
        InputError, match=r'read sites from OpenStreetMap \("osm:..."\): give \[network\] path'
    ):
        parse_scenario(data)
    data = {**_tiny(), "demand": {"source": "buildings", "path": "x.osm.pbf"}}
    with pytest.raises(
        InputError, match=r"spreads each area's census total: give \[areas\] with population_column"
    ):
        parse_scenario(data, check_files=False)
    data["areas"] = {"path": "areas.geojson"}
    with pytest.raises(InputError, match=r'needs \[areas\] population_column = "<census column>"'):
        parse_scenario(data, check_files=False)
    with pytest.raises(InputError, match=r"existing = 'osm:' names no kind"):
        parse_scenario(_tiny(existing="osm:", upgrade=0))


def test_curve_exact_is_passed_to_the_coverage_curve(example_dir, monkeypatch):
    import planner.locate

    seen = []
    real = planner.locate.coverage_curve

    def spy(*args, **kwargs):
        seen.append(kwargs.get("exact"))
        return real(*args, **kwargs)

    monkeypatch.setattr(planner.locate, "coverage_curve", spy)
    path = _variant(example_dir, "exact_curve", "[curve]\nexact = true\ntargets = [0.9]\n")
    result = run(read_scenario(path))
    assert seen == [True]
    assert result.curve.needed["target"].tolist() == [0.9]
