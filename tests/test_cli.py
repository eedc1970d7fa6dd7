"""The README's first command: `planner demo` on the built-in Shenyang default, as a new user runs it."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planner.cli import main


@pytest.mark.slow
def test_demo_writes_a_labelled_plan_for_shenyang(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PLANNER_CACHE", str(tmp_path / "cache"))  # no cached download: the stand-in network
    out = tmp_path / "demo"
    assert main(["--quiet", "demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"map: {(out / 'map.html').resolve()}" in printed
    assert "STAND-IN DATA" in printed

    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["network"]["source"] == "synthetic"
    assert metrics["network"]["stand_in"] is True
    assert metrics["demand"]["source"] == "estimated"
    assert metrics["demand"]["weight_total"] == pytest.approx(9_070_119 * 0.2705, rel=1e-3)
    assert metrics["demand"]["far_from_street"] == 0
    tiers = {t["name"]: t for t in metrics["tiers"]}
    assert len(tiers["centre"]["selected_ids"]) == 100
    assert len(tiers["station"]["selected_ids"]) == 300
    for tier in tiers.values():
        assert tier["gap"] is not None and tier["gap"] <= 0.01  # solved to a stated gap
        assert tier["bound"] >= tier["objective"] - 1e-6
    # upgrading 300 of the existing stations covers fewer people than all of them do today
    assert tiers["station"]["coverage_share"] <= tiers["station"]["coverage_share_today"]
    needed = metrics["curve"]["sites_needed"]
    assert needed["0.8"]["sites"] <= needed["0.9"]["sites"] <= needed["1"]["sites"]

    raw = (out / "districts.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel on Chinese Windows reads the names
    assert "和平区".encode() in raw
    assert b"00000000" not in raw and b"99999999" not in raw  # rounded, no float noise
    districts = pd.read_csv(out / "districts.csv", encoding="utf-8-sig")
    assert "total" in districts["district_name"].tolist()
    assert districts["stand_in"].all()  # a short flag; which inputs are stand-ins: metrics.json
    page = (out / "map.html").read_text(encoding="utf-8")
    # the stand-in streets are built on the real major roads, labelled exactly, with the ODbL attribution
    label = "real major roads from OpenStreetMap, ODbL; SYNTHETIC local streets"
    assert label in page and "© OpenStreetMap 贡献者" in page
    assert metrics["network"]["description"] == label
    assert "ESTIMATED demand positions" in page
    coverage = pd.read_csv(out / "coverage.csv")
    assert len(coverage) == metrics["demand"]["points"]
    assert coverage["stand_in"].all()
    # one provenance: every input listed, real or not, and the stand-ins are the banner's lines
    inputs = {(r["input"], r["real"]) for r in metrics["inputs"]}
    assert {("streets", False), ("demand", False), ("areas", True)} <= inputs
    assert {("sites:centre", False), ("sites:station", False)} <= inputs
    stand_ins = [r["what"] for r in metrics["inputs"] if not r["real"]]
    assert metrics["stand_ins"] == stand_ins
    for line in stand_ins:
        assert line in page


def test_network_fetch_caches_and_auto_then_uses_real_streets(tmp_path, monkeypatch, capsys):
    """`planner network fetch` downloads once (a recorded small OSM file here); source = "auto" uses it."""
    from pathlib import Path

    import osmnx as ox

    from planner.inputs import load_network
    from planner.scenario import DemandSpec, NetworkSpec, Scenario

    small = Path(__file__).parent / "data" / "net_small.osm"
    calls = []

    def download(query, **kwargs):
        calls.append(query)
        return ox.graph_from_xml(small, simplify=False, retain_all=True)

    monkeypatch.setattr(ox, "graph_from_place", download)
    monkeypatch.setenv("PLANNER_CACHE", str(tmp_path / "cache"))
    assert main(["network", "fetch", "--place", "Heping District, Shenyang, China"]) == 0
    printed = capsys.readouterr().out
    cached = Path(printed.split("walk network cached: ")[1].strip())
    assert cached.exists() and cached.is_relative_to(tmp_path / "cache")
    assert calls == ["Heping District, Shenyang, China"]

    spec = NetworkSpec(
        source="auto", path=tmp_path / "absent.osm.pbf", place="Heping District, Shenyang, China"
    )
    net = load_network(Scenario(name="t", network=spec, demand=DemandSpec(), tiers=()), None, None)
    assert net.source == "osm-online"
    assert not net.stand_in
    assert calls == ["Heping District, Shenyang, China"]  # read from the cache, not downloaded again
