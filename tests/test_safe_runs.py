"""Issue 8 on real streets (Helsinki): nothing lost, nothing silently wrong, ids kept, repeatable runs.

Every case runs through the CLI (exit status and message, never a traceback) and, where it applies, the API.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_scenario import MINIMAL, _points_near_streets

from planner import InputError
from planner.cli import main
from planner.pipeline import run
from planner.results import write_outputs
from planner.scenario import read_scenario


@pytest.fixture(scope="module")
def example(tmp_path_factory, helsinki_pbf) -> Path:
    """The minimal scenario with ids like numbers: candidates "0000".."0039", stations "007", "7"."""
    from planner.network import read_network

    folder = tmp_path_factory.mktemp("safe")
    shutil.copy(helsinki_pbf, folder / "city.osm.pbf")
    net = read_network(helsinki_pbf)
    rng = np.random.default_rng(11)
    demand = _points_near_streets(net, 200, rng)
    pd.DataFrame(
        {
            "id": [f"{i:04d}" for i in range(200)],
            "lon": demand.geometry.x,
            "lat": demand.geometry.y,
            "elderly": rng.integers(1, 60, 200),
        }
    ).to_csv(folder / "demand.csv", index=False)
    station_ids = ["007", "7", *(f"s{i:02d}" for i in range(10))]
    for name, ids in (("candidates.csv", [f"{i:04d}" for i in range(40)]), ("stations.csv", station_ids)):
        pts = _points_near_streets(net, len(ids), rng)
        pd.DataFrame({"id": ids, "lon": pts.geometry.x, "lat": pts.geometry.y}).to_csv(
            folder / name, index=False
        )
    (folder / "example.toml").write_text(MINIMAL, encoding="utf-8")
    return folder


def _variant(example: Path, name: str, text: str | None = None, **files: pd.DataFrame) -> Path:
    """A copy of the example (its own folder) with another scenario text and/or input tables."""
    folder = example.parent / f"{example.name}_{name}"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns("out*"))
    for file, table in files.items():
        table.to_csv(folder / f"{file}.csv", index=False)
    if text is not None:
        (folder / "example.toml").write_text(text, encoding="utf-8")
    return folder / "example.toml"


def _cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def first_run(example) -> Path:
    out = example / "out1"
    assert main(["--quiet", "run", str(example / "example.toml"), "--out", str(out)]) == 0
    return out


def test_ids_are_kept_as_given(first_run, example):
    metrics = json.loads((first_run / "metrics.json").read_text(encoding="utf-8"))
    tiers = {t["name"]: t for t in metrics["tiers"]}
    assert all(len(i) == 4 and i.isdigit() for i in tiers["centre"]["selected_ids"])
    coverage = pd.read_csv(first_run / "coverage.csv", dtype=str)
    assert coverage["demand_id"].tolist() == [f"{i:04d}" for i in range(200)]
    import geopandas as gpd

    every = gpd.read_file(first_run / "sites.gpkg", layer="all_sites")
    assert {"007", "7", "0000", "0039"} <= set(every["site_id"])  # "007" and "7" are two sites
    scenario = read_scenario(
        _variant(example, "exclude", MINIMAL.replace("new = 5 ", 'exclude = ["0020"]\nnew = 5 '))
    )
    assert scenario.tiers[0].exclude == ("0020",)
    result = run(scenario)
    assert "0020" not in result.tiers[0].result.selected
    assert result.tiers[0].sites.loc["0020", "note"] == "excluded by the scenario"


def test_the_same_scenario_gives_the_same_bytes(first_run, example):
    again = example / "out2"
    assert main(["--quiet", "run", str(example / "example.toml"), "--out", str(again)]) == 0
    a, b = _snapshot(first_run), _snapshot(again)
    assert sorted(a) == sorted(b)
    ma, mb = (json.loads(x["metrics.json"]) for x in (a, b))
    assert set(ma["timings_s"]) == set(mb["timings_s"])
    ma.pop("timings_s"), mb.pop("timings_s")
    assert ma == mb  # every timing, per-solve ones included, is under timings_s
    for name in sorted(a):
        if name != "metrics.json":
            assert a[name] == b[name], name  # map.html, whatif.html and sites.gpkg included


def test_output_into_the_inputs_folder_is_refused_before_computing(example, capsys):
    before = _snapshot(example)
    code, _, err = _cli(["run", str(example / "example.toml"), "--out", str(example)], capsys)
    assert code == 2
    assert "holds the input" in err
    assert "stage " not in err  # refused before any stage ran
    assert {k: v for k, v in _snapshot(example).items() if not k.startswith("out")} == {
        k: v for k, v in before.items() if not k.startswith("out")
    }
    with pytest.raises(InputError, match="holds the input"):
        write_outputs(run(read_scenario(example / "example.toml")), example)
    assert (example / "candidates.csv").read_bytes() == before["candidates.csv"]


def test_an_output_path_that_is_a_file_is_refused_before_computing(example, capsys):
    code, _, err = _cli(["run", str(example / "example.toml"), "--out", str(example / "demand.csv")], capsys)
    assert code == 2 and "is a file" in err and "stage " not in err


@pytest.mark.parametrize("name", ["/some/folder", "../../x"])
def test_a_scenario_name_is_not_a_path(example, capsys, name):
    path = _variant(example, "named", MINIMAL.replace('name = "example"', f"name = {json.dumps(name)}"))
    code, _, err = _cli(["run", str(path)], capsys)
    assert code == 2 and "cannot be used as a folder name" in err


def test_a_failed_write_keeps_the_previous_results(first_run, example, capsys, monkeypatch):
    import planner.results

    out = example / "out_keep"
    shutil.copytree(first_run, out)
    before = _snapshot(out)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(planner.results, "gap_table", full_disk)
    code, _, err = _cli(["--quiet", "run", str(example / "example.toml"), "--out", str(out)], capsys)
    assert code == 2
    assert "the disk is full; the previous results there are unchanged" in err
    assert _snapshot(out) == before
    assert not [p for p in example.iterdir() if p.name.startswith(".out_keep")]  # no staging left
    from planner.runfolder import OutputError

    with pytest.raises(OutputError, match="the disk is full"):  # the same through the API
        write_outputs(run(read_scenario(example / "example.toml")), out)
    assert _snapshot(out) == before


def test_a_failed_map_is_a_warning_a_status_and_exit_3(example, capsys, monkeypatch):
    import planner.maps

    def broken(*args, **kwargs):
        raise RuntimeError("no browser assets")

    monkeypatch.setattr(planner.maps, "save_map", broken)
    out = example / "out_nomap"
    code, stdout, err = _cli(["--quiet", "run", str(example / "example.toml"), "--out", str(out)], capsys)
    assert code == 3
    assert "optional stage map failed: RuntimeError: no browser assets" in err
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["stages"]["map"] == "failed: RuntimeError: no browser assets"
    assert not (out / "map.html").exists()
    assert (out / "coverage.csv").exists() and (out / "sites.geojson").exists()
    assert "centre: 5 sites chosen" in stdout


def test_a_failed_curve_keeps_the_plan(example, caplog, monkeypatch):
    import planner.locate
    from planner import InfeasibleError

    def infeasible(*args, **kwargs):
        raise InfeasibleError("fewest sites for a target is infeasible")

    monkeypatch.setattr(planner.locate, "coverage_curve", infeasible)
    result = run(read_scenario(example / "example.toml"))
    assert result.curve is None
    assert result.stages["curve"] == "failed: InfeasibleError: fewest sites for a target is infeasible"
    assert len(result.tiers[0].result.selected) == 5
    assert "optional stage curve failed" in caplog.text
    paths = write_outputs(result, example / "out_nocurve")
    assert "curve" not in paths
    metrics = json.loads(paths["metrics"].read_text(encoding="utf-8"))
    assert metrics["stages"]["curve"].startswith("failed")


def test_stale_files_do_not_survive_a_later_run(first_run, example, capsys):
    out = example / "out_stale"
    shutil.copytree(first_run, out)
    assert (out / "curve.csv").exists()
    upgrade_only = MINIMAL.split("[[tiers]]")[0] + "[[tiers]]" + MINIMAL.split("[[tiers]]")[2]
    path = _variant(example, "upgrade_only", upgrade_only)
    code, _, _ = _cli(["--quiet", "run", str(path), "--out", str(out)], capsys)
    assert code == 0
    assert not (out / "curve.csv").exists()
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["curve"] is None and metrics["stages"]["curve"].startswith("skipped")


def _demand(example: Path) -> pd.DataFrame:
    return pd.read_csv(example / "demand.csv", dtype={"id": str})


def test_swapped_coordinates_stop_the_run_with_the_cause_and_both_boxes(example, capsys):
    demand = _demand(example).rename(columns={"lon": "lat", "lat": "lon"})
    path = _variant(example, "swapped", demand=demand)
    code, _, err = _cli(["--quiet", "run", str(path)], capsys)
    assert code == 2
    assert "100 % of the older residents" in err
    assert "longitude and latitude look swapped" in err
    assert "Demand bounding box [60." in err and "street network bounding box [24." in err
    with pytest.raises(InputError, match="look swapped"):
        run(read_scenario(path))


def test_points_in_another_place_stop_the_run(example, capsys):
    demand = _demand(example).assign(lon=lambda d: d["lon"] + 5.0)
    code, _, err = _cli(["--quiet", "run", str(_variant(example, "elsewhere", demand=demand))], capsys)
    assert code == 2 and "the demand and the streets are in different places" in err


def test_some_far_demand_continues_and_every_output_says_how_much(example, capsys):
    demand = _demand(example)
    demand.loc[:9, "lon"] += 1.0  # ten points far out of town
    path = _variant(example, "some_far", demand=demand)
    out = path.parent / "out"
    code, stdout, _ = _cli(["--quiet", "run", str(path), "--out", str(out)], capsys)
    assert code == 0
    far_weight = float(demand.loc[:9, "elderly"].sum())
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["demand"]["far_from_street"] == 10
    assert metrics["demand"]["far_from_street_weight"] == pytest.approx(far_weight)
    assert f"10 demand points ({far_weight:,.0f} older residents" in stdout


def test_all_zero_weights_stop_the_run(example, capsys):
    demand = _demand(example).assign(elderly=0)
    code, _, err = _cli(["--quiet", "run", str(_variant(example, "zero", demand=demand))], capsys)
    assert code == 2 and "every demand point weighs 0" in err


def test_too_large_a_table_is_refused_before_travel_times(example, capsys, monkeypatch):
    from planner import settings

    monkeypatch.setattr(settings, "MAX_TRAVEL_PAIRS", 100)
    code, _, err = _cli(
        ["--quiet", "run", str(example / "example.toml"), "--out", str(example / "o")], capsys
    )
    assert code == 2
    assert "the travel-time table would hold about" in err and "lower threshold_min" in err
    assert not (example / "o").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "is a folder"),
        (b"", "is empty"),
        (b"\x00\x01binary", "is binary"),
        (b"\xff\xfename = 1", "is not UTF-8"),
        (b"name = 'x'\n[solver]\nmip_gap = nan\n", "[solver] mip_gap = nan must be a finite number"),
        (b"name = 'x'\n[[tiers]]\nname = 't'\nthreshold_min = inf\n", "threshold_min = inf must be a finite"),
    ],
)
def test_scenario_file_problems_are_named(tmp_path, capsys, content, message):
    path = tmp_path / "scenario.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    code, _, err = _cli(["run", str(path)], capsys)
    assert code == 2 and message in err


def test_a_byte_order_mark_is_read(example):
    path = _variant(example, "bom")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_scenario(path).name == "example"


def test_an_empty_demand_file_is_named(example, capsys):
    path = _variant(example, "empty_csv")
    (path.parent / "demand.csv").write_bytes(b"")
    code, _, err = _cli(["--quiet", "run", str(path)], capsys)
    assert code == 2 and "demand.csv is empty (0 bytes)" in err


def test_compare_names_a_damaged_metrics_file(first_run, example, capsys):
    damaged = example / "out_damaged"
    shutil.copytree(first_run, damaged)
    (damaged / "metrics.json").write_text('{"scenario": ', encoding="utf-8")
    code, _, err = _cli(["compare", str(first_run), str(damaged)], capsys)
    assert code == 2 and "metrics.json is not valid JSON" in err


def test_a_second_run_into_a_folder_being_written_is_refused(example, capsys):
    import os
    import subprocess
    import sys

    out = example / "out_busy"
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock = example / ".out_busy.lock"
        lock.write_text(json.dumps({"pid": first.pid, "host": os.uname().nodename, "started": "08:00"}))
        code, _, err = _cli(["run", str(example / "example.toml"), "--out", str(out)], capsys)
        assert code == 2
        assert f"being written by another planner run (process {first.pid}, started 08:00)" in err
        assert "stage " not in err  # refused before any computation
        assert not out.exists()
    finally:
        first.kill()
        first.wait()
        lock.unlink(missing_ok=True)
