"""Sweeps: the file, its expansion and checks, shared work on Dask, resuming, sanity rules, charts, CLI."""

from __future__ import annotations

import shutil
import socket
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from planner import InputError
from planner.cli import main
from planner.pipeline import run
from planner.sweep import MAX_VARIANTS, parse_sweep, read_sweep, run_sweep, sanity_checks, variant_key
from planner.synthetic import random_points

distributed = pytest.importorskip("distributed")

BASE = textwrap.dedent(
    """\
    name = "example"
    [network]
    source = "file"
    path = "city.osm.pbf"
    speed_mps = 1.0
    [demand]
    path = "demand.csv"
    weight = "elderly"
    [[tiers]]
    name = "centre"
    threshold_min = 10
    new = 4
    candidates = "candidates.csv"
    [[tiers]]
    name = "station"
    threshold_min = 5
    upgrade = 3
    existing = "stations.csv"
    [solver]
    method = "exact"
    """
)

GRID = textwrap.dedent(
    """\
    base = "base.toml"
    [axes]
    "network.speed_mps" = [0.76, 1.0]
    "tiers.centre.new" = [2, 5]
    "tiers.centre.threshold_min" = [5, 10]
    """
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, helsinki_pbf) -> Path:
    """A base scenario on the real Helsinki streets (200 demand points, 30 candidates, 10 stations)."""
    from planner.network import read_network

    folder = tmp_path_factory.mktemp("sweep")
    shutil.copy(helsinki_pbf, folder / "city.osm.pbf")
    net = read_network(helsinki_pbf)
    rng = np.random.default_rng(11)
    demand = random_points(net, 200, max_offset_m=60, seed=11).to_crs(4326)
    pd.DataFrame(
        {
            "id": [f"d{i:03d}" for i in range(200)],
            "lon": demand.geometry.x,
            "lat": demand.geometry.y,
            "elderly": rng.integers(1, 60, 200),
        }
    ).to_csv(folder / "demand.csv", index=False)
    for name, n, prefix, seed in (("candidates.csv", 30, "c", 12), ("stations.csv", 10, "s", 13)):
        pts = random_points(net, n, max_offset_m=60, seed=seed).to_crs(4326)
        pd.DataFrame(
            {"id": [f"{prefix}{i:02d}" for i in range(n)], "lon": pts.geometry.x, "lat": pts.geometry.y}
        ).to_csv(folder / name, index=False)
    (folder / "base.toml").write_text(BASE, encoding="utf-8")
    (folder / "grid.toml").write_text(GRID, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def client():
    """An in-process Dask cluster (threads): fast to start on a small machine."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def grid_run(folder, client, tmp_path_factory):
    out = tmp_path_factory.mktemp("grid_out")
    return run_sweep(read_sweep(folder / "grid.toml"), out, client=client)


def _sweep(folder: Path, text: str, *, yes: bool = False):
    import tomllib

    return parse_sweep(tomllib.loads(textwrap.dedent(text)), base_dir=folder, yes=yes)


# --------------------------------------------------------------------------------------------- the file


def test_grid_expands_every_combination_in_order(folder):
    sweep = read_sweep(folder / "grid.toml")
    assert len(sweep) == 8
    assert sweep.axes == ("network.speed_mps", "tiers.centre.new", "tiers.centre.threshold_min")
    assert [v.name for v in sweep.variants][:3] == ["v0001", "v0002", "v0003"]
    first, last = sweep.variants[0].scenario, sweep.variants[-1].scenario
    assert first.network.speed_mps == 0.76 and first.tiers[0].new == 2 and first.tiers[0].threshold_min == 5
    assert last.network.speed_mps == 1.0 and last.tiers[0].new == 5 and last.tiers[0].threshold_min == 10
    # the other tier keeps the base's values
    assert {v.scenario.tiers[1].upgrade for v in sweep.variants} == {3}


def test_speed_preset_axis_replaces_the_base_speed(folder):
    sweep = _sweep(folder, 'base = "base.toml"\n[axes]\n"network.speed" = ["planning", "frail"]\n')
    assert [v.scenario.network.speed_mps for v in sweep.variants] == [1.0, 0.64]
    assert [v.scenario.network.speed for v in sweep.variants] == ["planning", "frail"]


def test_an_explicit_list_of_variants(folder):
    sweep = _sweep(
        folder,
        """\
        base = "base.toml"
        [[variants]]
        "tiers.centre.new" = 3
        [[variants]]
        "tiers.centre.exclude" = ["c01", "c02"]
        "solver.method" = "heuristic"
        """,
    )
    assert sweep.axes == ("tiers.centre.new", "tiers.centre.exclude", "solver.method")
    a, b = (v.scenario for v in sweep.variants)
    assert (a.tiers[0].new, a.tiers[0].exclude, a.solver.method) == (3, (), "exact")
    assert (b.tiers[0].new, b.tiers[0].exclude, b.solver.method) == (4, ("c01", "c02"), "heuristic")


def test_unknown_axis_names_the_nearest_valid_one(folder):
    with pytest.raises(InputError, match=r"'tiers\.centre\.nwe'.*did you mean 'tiers\.centre\.new'"):
        _sweep(folder, 'base = "base.toml"\n[axes]\n"tiers.centre.nwe" = [1, 2]\n')
    with pytest.raises(InputError, match=r"'demand\.path' is not a key a sweep can vary"):
        _sweep(folder, 'base = "base.toml"\n[axes]\n"demand.path" = ["a.csv"]\n')


def test_every_problem_of_the_file_at_once(folder):
    with pytest.raises(InputError) as info:
        _sweep(
            folder,
            """\
            base = "base.toml"
            basse = 1
            [axes]
            "tiers.centre.new" = []
            "solver.method" = 3
            """,
        )
    text = str(info.value)
    assert "unknown key 'basse'" in text and "did you mean 'base'" in text
    assert "axis 'tiers.centre.new' has no values: the grid is empty" in text
    assert "axis 'solver.method' = 3 must be a list" in text


def test_an_empty_sweep_is_an_error(folder):
    with pytest.raises(InputError, match=r"give \[axes\].*or \[\[variants\]\].*neither"):
        _sweep(folder, 'base = "base.toml"\n')
    with pytest.raises(InputError, match="the grid is empty"):
        _sweep(folder, 'base = "base.toml"\n[axes]\n')
    with pytest.raises(InputError, match="names no base scenario"):
        _sweep(folder, '[axes]\n"tiers.centre.new" = [1]\n')


def test_bad_variants_are_named_and_nothing_runs(folder):
    with pytest.raises(InputError) as info:
        _sweep(
            folder,
            """\
            base = "base.toml"
            [axes]
            "tiers.centre.new" = [2, -1]
            "network.speed" = ["planning", "fast"]
            """,
        )
    text = str(info.value)
    assert "3 of 4 variants are not valid scenarios; nothing ran" in text
    assert "v0002 (tiers.centre.new = 2, network.speed = 'fast')" in text
    assert "is not a preset" in text
    assert "v0003 (tiers.centre.new = -1, network.speed = 'planning')" in text
    assert "v0001" not in text


def test_a_tier_the_base_lacks(folder):
    with pytest.raises(InputError, match=r"no tier named 'clinic' \(its tiers: \['centre', 'station'\]\)"):
        _sweep(folder, 'base = "base.toml"\n[[variants]]\n"tiers.clinic.new" = 3\n')


def test_over_ten_thousand_variants_need_yes(folder):
    values = list(range(1, 102))
    text = f'base = "base.toml"\n[axes]\n"tiers.centre.new" = {values}\n"solver.time_limit_s" = {values}\n'
    with pytest.raises(InputError, match=r"10,201 variants .* more than 10,000; .*--yes"):
        _sweep(folder, text)
    assert MAX_VARIANTS < 101 * 101


def test_sites_named_by_exclude_must_exist_before_anything_runs(folder, client, tmp_path):
    sweep = _sweep(folder, 'base = "base.toml"\n[axes]\n"tiers.centre.exclude" = [[], ["c01", "nope"]]\n')
    with pytest.raises(
        InputError, match=r"v0002: tier 'centre' exclude names ids that are not sites: \['nope'\]"
    ):
        run_sweep(sweep, tmp_path, client=client)
    assert not (tmp_path / "sweep.csv").exists()
    assert not list((tmp_path / "variants").glob("*.json"))


# --------------------------------------------------------------------------------------------- running


def test_sweep_table_names_axes_by_dotted_path(grid_run):
    table = pd.read_csv(grid_run.folder / "sweep.csv", index_col="variant")
    for col in (
        "base",
        "network.speed_mps",
        "tiers.centre.new",
        "tiers.centre.threshold_min",
        "covered_share_centre",
        "covered_share_station",
        "objective",
        "bound",
        "gap",
        "status",
        "seconds",
        "outcome",
        "sanity",
    ):
        assert col in table.columns, col
    assert list(table.index) == [f"v{i:04d}" for i in range(1, 9)]
    assert (table["outcome"] == "done").all()
    assert table["sanity"].isna().all()  # no rule broken (empty text)
    assert (table["status"] == "optimal").all()


def test_a_variant_equals_a_plain_run(grid_run):
    """Shared streets, snaps and walk times (filtered from a longer threshold) give the plain run's plan."""
    table = grid_run.table
    for variant in (grid_run.sweep.variants[0], grid_run.sweep.variants[5]):
        plain = run(variant.scenario)
        row = table.loc[variant.name]
        for outcome in plain.tiers:
            name = outcome.spec.name
            assert row[f"selected_{name}"] == ";".join(outcome.result.selected)
            assert row[f"objective_{name}"] == pytest.approx(outcome.result.objective, rel=1e-12)
            covered = float(plain.coverage[f"covered_{name}"].mul(plain.demand["weight"]).sum())
            share = covered / float(plain.demand["weight"].sum())
            assert row[f"covered_share_{name}"] == pytest.approx(share, rel=1e-12)


def test_the_sweep_moves_the_right_way(grid_run):
    t = grid_run.table
    # faster walking, more centres and a longer threshold each cover more here (and never less)
    slow, fast = t[t["network.speed_mps"] == 0.76], t[t["network.speed_mps"] == 1.0]
    assert (fast["covered_share_centre"].to_numpy() >= slow["covered_share_centre"].to_numpy()).all()
    assert fast["covered_share_centre"].sum() > slow["covered_share_centre"].sum()
    few, many = t[t["tiers.centre.new"] == 2], t[t["tiers.centre.new"] == 5]
    assert (many["objective_centre"].to_numpy() > few["objective_centre"].to_numpy()).all()
    # the station tier only moves with the speed
    assert t.groupby("network.speed_mps")["covered_share_station"].nunique().eq(1).all()


def test_sanity_flags_a_plan_that_covers_less_with_more_sites(grid_run):
    """Were a solve to return less with more sites (a bug), the table says so and names the pair."""
    table = grid_run.table.copy()
    sweep = grid_run.sweep
    more = next(v for v in sweep.variants if v.scenario.tiers[0].new == 5)
    fewer = next(
        v
        for v in sweep.variants
        if v.scenario.tiers[0].new == 2
        and v.scenario.network.speed_mps == more.scenario.network.speed_mps
        and v.scenario.tiers[0].threshold_min == more.scenario.tiers[0].threshold_min
    )
    cut = table.loc[fewer.name, "objective_centre"] - 1
    table.loc[more.name, ["objective_centre", "bound_centre"]] = cut
    notes = dict(zip(table.index, sanity_checks(sweep, table), strict=True))
    assert f"VIOLATION: centre at tiers.centre.new = 5 covers at most {cut:,.1f}" in notes[more.name]
    assert f"({fewer.name})" in notes[more.name]
    assert notes[fewer.name] == f"VIOLATION: see {more.name}"
    # a heuristic's weak plan with a bound above the other's cover is not a violation
    table.loc[more.name, "bound_centre"] = table.loc[fewer.name, "objective_centre"] + 1
    assert not any(sanity_checks(sweep, table))


def test_a_chart_per_axis(grid_run):
    names = sorted(p.name for p in grid_run.charts)
    assert names == [
        "chart_network_speed_mps.svg",
        "chart_tiers_centre_new.svg",
        "chart_tiers_centre_threshold_min.svg",
    ]
    ns = {"svg": "http://www.w3.org/2000/svg"}
    speed = ET.parse(grid_run.folder / "chart_network_speed_mps.svg").getroot()
    # one line per (new, threshold) of the centre tier, one for the station tier (moved by speed only)
    assert len(speed.findall("svg:polyline", ns)) == 5
    texts = [t.text for t in speed.iter("{http://www.w3.org/2000/svg}text")]
    assert "步行速度 walking speed (m/s)" in texts
    assert "centre · new 2 · 5 min" in texts
    count = ET.parse(grid_run.folder / "chart_tiers_centre_new.svg").getroot()
    assert len(count.findall("svg:polyline", ns)) == 4  # only the centre tier moves with its count


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(folder, client, grid_run, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(grid_run.folder, out)
    # nothing left to run: no scheduler is even contacted (this address answers nobody)
    again = run_sweep(
        read_sweep(folder / "grid.toml"), out, scheduler="tcp://127.0.0.1:9", connect_timeout_s=1
    )
    pd.testing.assert_frame_equal(again.table, grid_run.table)
    # a changed input file changes every key: all variants run again
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    demand = pd.read_csv(changed / "demand.csv")
    demand.loc[0, "elderly"] += 1000
    demand.to_csv(changed / "demand.csv", index=False)
    sweep = read_sweep(changed / "grid.toml")
    keys = [variant_key(v.scenario) for v in sweep.variants]
    assert not set(keys) & set(grid_run.table["key"])
    redone = run_sweep(sweep, out, client=client)
    assert (redone.table["outcome"] == "done").all()
    assert (redone.table["objective_centre"] >= grid_run.table["objective_centre"]).all()


def test_keep_runs_writes_each_variant_folder(folder, client, tmp_path):
    sweep = _sweep(folder, 'base = "base.toml"\n[[variants]]\n"tiers.centre.exclude" = ["c00", "c01"]\n')
    result = run_sweep(sweep, tmp_path, client=client, keep_runs=True)
    run_dir = tmp_path / "runs" / "v0001"
    for name in ("metrics.json", "sites.geojson", "coverage.csv", "map.html"):
        assert (run_dir / name).stat().st_size > 0, name
    sites = gpd.read_file(run_dir / "sites.geojson")
    assert not set(sites.loc[sites["status"] == "new", "site_id"]) & {"c00", "c01"}
    assert result.table.loc["v0001", "outcome"] == "done"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_a_clear_error(folder, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(
        InputError, match=r"--scheduler tcp://127\.0\.0\.1:\d+: no Dask scheduler answered within 2 s"
    ):
        run_sweep(read_sweep(folder / "grid.toml"), tmp_path, scheduler=address, connect_timeout_s=2)


def test_cli_sweep(folder, tmp_path, capsys):
    (folder / "two.toml").write_text(
        'base = "base.toml"\n[axes]\n"tiers.station.upgrade" = [1, 3]\n', encoding="utf-8"
    )
    code = main(["--quiet", "sweep", str(folder / "two.toml"), "--out", str(tmp_path), "--workers", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "2 variants: 2 done, 0 failed" in out
    table = pd.read_csv(tmp_path / "sweep.csv", index_col="variant")
    assert table.loc["v0002", "covered_share_station"] > table.loc["v0001", "covered_share_station"]
    (folder / "bad.toml").write_text(
        'base = "base.toml"\n[axes]\n"tiers.centre.nwe" = [1]\n', encoding="utf-8"
    )
    assert main(["sweep", str(folder / "bad.toml"), "--out", str(tmp_path)]) == 2
    assert "did you mean 'tiers.centre.new'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_worker_dying_mid_sweep_loses_nothing(folder, grid_run, tmp_path):
    """A worker process killed while variants run: its work is redone elsewhere; every variant is saved."""
    import os
    import signal
    import threading
    import time

    from distributed import Client, LocalCluster

    sweep = read_sweep(folder / "grid.toml")
    out = tmp_path / "dying"
    result: dict = {}
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        before = c.run(os.getpid)
        thread = threading.Thread(target=lambda: result.update(r=run_sweep(sweep, out, client=c)))
        thread.start()
        while thread.is_alive() and not list((out / "variants").glob("*.json")):
            time.sleep(0.05)
        finished_at_kill = len(list((out / "variants").glob("*.json")))
        os.kill(next(iter(before.values())), signal.SIGKILL)
        thread.join()
        after = c.run(os.getpid)
    assert 0 < finished_at_kill < len(sweep)  # the kill came mid-sweep
    assert set(before.values()) != set(after.values())  # a worker died (and its nanny started another)
    table = result["r"].table
    done = table["outcome"] == "done"
    # what a dying worker could not finish is reported, never dropped; what finished is right
    assert done.sum() + (table["error"].str.contains("KilledWorker")).sum() == len(sweep)
    assert done.sum() >= len(sweep) - 1
    pd.testing.assert_series_equal(
        table.loc[done, "objective"], grid_run.table.loc[done, "objective"], check_exact=True
    )


def test_several_bases(folder, client, grid_run, tmp_path):
    """Each base is prepared on its own; a variant's key ignores the names, not the parameters."""
    slow = BASE.replace('name = "example"', 'name = "slow"').replace("speed_mps = 1.0", "speed_mps = 0.76")
    (folder / "slow.toml").write_text(slow, encoding="utf-8")
    sweep = _sweep(
        folder,
        """\
        bases = ["base.toml", "slow.toml"]
        [[variants]]
        "tiers.centre.new" = 2
        "tiers.centre.threshold_min" = 5
        """,
    )
    result = run_sweep(sweep, tmp_path, client=client)
    table = result.table
    assert list(table["base"]) == ["example", "slow"]
    # the same parameters as the grid's first variant (0.76 m/s, 2 centres, 5 min): the same key and plan
    assert table.loc["v0002", "key"] == grid_run.table.loc["v0001", "key"]
    assert table.loc["v0002", "objective"] == grid_run.table.loc["v0001", "objective"]
    assert table.loc["v0001", "key"] == grid_run.table.loc["v0005", "key"]  # 1.0 m/s, 2 centres, 5 min
    assert table.loc["v0001", "objective"] > table.loc["v0002", "objective"]


def test_fixed_sites_as_an_axis(folder, client, tmp_path):
    """Sites fixed open by a variant open whatever the solver picks; the count of new sites adds to them."""
    sweep = _sweep(folder, 'base = "base.toml"\n[axes]\n"tiers.centre.fixed" = [[], ["c07", "c19"]]\n')
    table = run_sweep(sweep, tmp_path, client=client).table
    assert table["outcome"].eq("done").all()
    assert list(table["tiers.centre.fixed"]) == ["", "c07;c19"]
    chosen = table.loc["v0002", "selected_centre"].split(";")
    assert len(chosen) == 4 and not {"c07", "c19"} & set(chosen)
    fixed_plan = run(sweep.variants[1].scenario)
    assert chosen == list(fixed_plan.tiers[0].result.selected)
    assert table.loc["v0002", "objective_centre"] == pytest.approx(fixed_plan.tiers[0].result.objective)
    assert table.loc["v0002", "objective_centre"] >= table.loc["v0001", "objective_centre"]


def test_a_budget_axis_with_both_tiers_solved_together(folder, client, tmp_path):
    joint = BASE.replace('name = "example"', 'name = "joint"')
    joint = joint.replace("new = 4\n", "new = 4\ncost = 2.0\n").replace(
        "upgrade = 3\n", "upgrade = 3\ncost = 1.0\n"
    )
    (folder / "joint.toml").write_text(joint + "[joint]\nbudget = 4.0\n", encoding="utf-8")
    sweep = _sweep(folder, 'base = "joint.toml"\n[axes]\n"joint.budget" = [3.0, 7.0]\n')
    table = run_sweep(sweep, tmp_path, client=client).table
    assert table["outcome"].eq("done").all() and not table["sanity"].any()
    assert table.loc["v0002", "objective"] >= table.loc["v0001", "objective"]
    plain = run(sweep.variants[0].scenario)
    assert table.loc["v0001", "objective"] == pytest.approx(plain.joint.objective, rel=1e-12)
    assert table.loc["v0001", "selected_centre"] == ";".join(plain.tiers[0].result.selected)
