"""The notebooks run from top to bottom and show the numbers a planner reads.

Each notebook is executed with nbclient in a temporary copy of ``notebooks/`` (so that the maps it saves under
``../maps/`` land in the temporary folder), with ``PLANNER_CACHE`` pointing at a temporary folder so that no
cached download or prepared network of the developer's machine is used.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT_S = 300


def _execute(name: str, tmp_path: Path, monkeypatch) -> nbformat.NotebookNode:
    """Run notebook `name` in a copy under `tmp_path` and return the executed notebook."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    shutil.copy(NOTEBOOKS / name, folder / name)
    cache = tmp_path / "cache"
    cache.mkdir()
    # the kernel inherits this process' environment
    monkeypatch.setenv("PLANNER_CACHE", str(cache))
    monkeypatch.delenv("PLANNER_OFFLINE", raising=False)
    nb = nbformat.read(folder / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    # the kernel imports the package of this checkout, not whichever copy is installed
    root = str(NOTEBOOKS.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    client.execute(cwd=str(folder), env={**os.environ, "PYTHONPATH": path})
    return nb


def _texts(nb) -> list[str]:
    """Printed text and plain / HTML representations of every code cell's outputs, one string a cell."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for o in cell.get("outputs", []):
            if o.output_type == "stream":
                parts.append(o.text)
            elif o.output_type == "error":
                parts.append(f"{o.ename}: {o.evalue}")
            else:
                data = o.get("data", {})
                parts.extend(str(data[k]) for k in ("text/plain", "text/html") if k in data)
        out.append("\n".join(parts))
    return out


def _no_errors(nb) -> None:
    errors = [
        f"cell {i}: {o.ename}: {o.evalue}"
        for i, cell in enumerate(nb.cells)
        for o in cell.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors, errors


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} keep outputs; clear them before committing"
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_walk_times_on_real_streets(tmp_path: Path, monkeypatch) -> None:
    nb = _execute("01_walk_times_on_real_streets.ipynb", tmp_path, monkeypatch)
    _no_errors(nb)
    text = "\n".join(_texts(nb))
    # the real Helsinki network: thousands of nodes, from the .pbf, not a stand-in
    assert re.search(r"walk network: [\d,]{5,} nodes", text)
    assert "source: osm-pbf; stand-in: False" in text
    # the synthetic layers say so
    assert "older residents (synthetic), stand-in: True" in text
    # the MCLP table: proven optimal, gap zero, three fixed existing stations
    assert "existing-1, existing-2, existing-3" in text
    assert re.search(r"gap\s+0\.00%", text)
    # all four speeds compared; the coverage curve answers every target
    for speed in ("planning", "older_winter", "older_at_risk", "frail"):
        assert speed in text
    assert "fewest new sites" in text
    assert "p-median (shortest mean walk)" in text
    assert "p-center (shortest worst walk)" in text
    # the map was saved next to the notebooks' folder and shown inline as the cell's result
    map_file = tmp_path / "maps" / "helsinki_notebook" / "map.html"
    assert map_file.stat().st_size > 10_000
    assert "SYNTHETIC older residents" in map_file.read_text(encoding="utf-8")
    map_cell = next(c for c in nb.cells if c.cell_type == "code" and "plan_map(" in c.source)
    result = [o for o in map_cell.outputs if o.output_type == "execute_result"]
    assert result, "the map cell must end with the Map object"
    assert "folium" in result[0]["data"]["text/plain"]
    assert "iframe" in result[0]["data"]["text/html"]
    # the closing check finds the synthetic points placed along service tunnels
    assert re.search(r"\d+ synthetic demand points .* have no open station within 15 min on foot", text)


@pytest.mark.slow
def test_shenyang_default(tmp_path: Path, monkeypatch) -> None:
    nb = _execute("02_shenyang_default.ipynb", tmp_path, monkeypatch)
    _no_errors(nb)
    texts = _texts(nb)
    text = "\n".join(texts)
    # the headline of both runs, with the stand-ins named
    assert re.search(r"shenyang: [\d,]+ older residents at [\d,]+ demand points", text)
    assert re.search(r"centre: 100 sites chosen, [\d,]+ \([\d.]+%\) within 15 min walk", text)
    assert re.search(r"station: 300 sites chosen", text)
    assert "real major roads from OpenStreetMap, ODbL; SYNTHETIC local streets" in text
    assert "ESTIMATED demand positions" in text
    # district table, curve, winter comparison and equity all produced their output
    assert "和平区" in text
    assert "fewest new centres" in text
    assert "centre, winter 1.08 m/s" in text
    assert "with at least 10 % per district" in text
    assert "InfeasibleError: `equity.min_share` cannot be met" in text
    # the run folder was written next to the notebooks' folder and the map shown
    out = tmp_path / "maps" / "shenyang_notebook"
    for name in ("map.html", "districts.csv", "metrics.json", "sites.geojson"):
        assert (out / name).stat().st_size > 0, name
    assert "iframe" in texts[-1]


def test_bring_your_own_data(tmp_path: Path, monkeypatch) -> None:
    nb = _execute("04_bring_your_own_data.ipynb", tmp_path, monkeypatch)
    _no_errors(nb)
    text = "\n".join(_texts(nb))
    # the example files were written, and the workbook's two sheets asked for a choice
    assert "['communities.csv', 'districts.geojson', 'stations.xlsx']" in text
    assert "stations.xlsx has 2 sheets ['notes', 'stations']; say which one" in text
    assert "40 communities" in text and "3 stations" in text
    # real streets from the extract, clipped; OSM has no elderly care in Helsinki: the message lists the tags
    assert re.search(r"walk network: [\d,]{4,} nodes", text)
    assert "streets: OpenStreetMap streets (Helsinki.osm.pbf), real: True" in text
    assert "DataError: Helsinki.osm.pbf has no OpenStreetMap facility of the kinds ['elderly_care']" in text
    assert "social_facility:for=senior" in text
    # census totals spread over buildings match the districts exactly
    check = next(c for c in nb.cells if c.cell_type == "code" and "demand_by_area(" in c.source)
    table = check.outputs[-1]["data"]["text/plain"]
    assert re.search(r"West\s+3,960\.00\s+3,960\.00", table) and re.search(
        r"East\s+6,240\.00\s+6,240\.00", table
    )
    # a proven plan, the map saved with its stand-ins listed
    assert re.search(
        r"new stations: [\w-]+, [\w-]+, [\w-]+; covered [\d,]+ of [\d,]+ older residents; optimal", text
    )
    # the same plan from a scenario file: the same older residents covered, the run folder written
    covered = re.search(r"new stations: .*; covered ([\d,]+) of ([\d,]+) older residents", text).groups()
    assert f"my_city: {covered[1]} older residents at 40 demand points" in text
    assert re.search(rf"station: 3 sites chosen, {covered[0]} \([\d.]+%\) within 10 min walk; optimal", text)
    assert (tmp_path / "maps" / "byod_run" / "metrics.json").stat().st_size > 0
    html = (tmp_path / "maps" / "byod_notebook" / "map.html").read_text(encoding="utf-8")
    assert "EXAMPLE communities, districts and stations invented for this notebook" in html
    assert "STAND-IN candidate sites generated on the street network" in html
