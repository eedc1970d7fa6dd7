"""The what-if page: open or close sites on the map and see coverage change at once, in the browser, offline.

`write_whatif` writes ``whatif.html`` beside a run's ``map.html``: one file with no server and no internet
(Leaflet is inlined from the ``xstatic-leaflet`` package, as `planner.maps` does). A click on a candidate site
opens it; a click on a chosen, upgraded or existing site closes it. The page recomputes, from the run's own
reach lists, the older residents covered per tier and per district (table and choropleth), colours every
demand point, and shows the change against the solved plan. "Download" saves the open sites as CSV and as a
scenario snippet (``fixed`` / ``exclude`` per tier) that ``planner run`` evaluates exactly.

What the page holds
-------------------
For every site of every tier, its *reach list*: the demand points within the tier's threshold (a pair is in
reach when ``walk_s <= threshold_min * 60``, the test `planner.coverage.coverage_table` makes) and their walk
times. They travel as typed arrays in base64 (CSR: ``indptr`` per site, demand positions, walk deciseconds),
never as one JSON object per pair; demand positions as integer micro-degrees, weights as float64.

A demand point is covered by a tier when at least one open site of that tier has it in its reach list, so
the page's covered weight of any open set equals `planner.coverage.multi_tier_coverage` of the same set (the
page sums the weights of covered points in table order in float64; the browser test compares both).

When the run's provenance names OpenStreetMap, the page credits "© OpenStreetMap contributors" (ODbL) in
Leaflet's attribution control, with the background tiles shown or not (`planner.maps.osm_attribution`).

Taking the plan home
--------------------
"Download scenario" saves the run's scenario (absolute paths) with, per tier, ``exclude`` (the closed
sites) and, once scenarios take a tier's ``fixed`` list, ``fixed`` (the open sites among those the tier
chooses from) with ``new`` / ``upgrade`` = 0: `planner run` evaluates it exactly and, with a higher count,
re-optimises around it. Without ``fixed`` the count is the number of open sites and every other site is
excluded: the same evaluation, with nothing left to add.

The JavaScript interface
------------------------
The page sets ``window.plannerWhatIf`` for tests and users' scripts (site ids are text, exactly as in the
run; ``tier`` may be left out when the id belongs to one tier only):

``open(id[, tier])``, ``close(id[, tier])``
    Open or close a site; return the new `totals()`. An unknown id, or one in several tiers without
    ``tier``, throws an ``Error`` naming it.
``toggle(id[, tier])``
    Open a closed site or close an open one.
``reset()``
    Back to the solved plan.
``totals()``
    ``{<tier name>: {covered_weight, share, plan_covered_weight, plan_share, open_sites}}``: older
    residents within the tier's threshold of an open site, their share of all older residents, the same for
    the solved plan, and the number of open sites.
``districts([tier])``
    Per district: ``[{district, older_residents, covered_weight, share, plan_share}]`` of a tier (default:
    the tier shown).
``openSites()``
    ``{<tier name>: [site ids open now]}``.
``csv()``, ``scenarioSnippet()``
    The texts that the download buttons save.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from planner._errors import InputError
from planner.costs import THRESHOLD_TOL_S
from planner.maps import OSM_ATTRIBUTION, SHARE_BREAKS, SHARE_COLOURS, TIER_COLOURS, osm_attribution

log = logging.getLogger(__name__)

#: Site status codes in the page (order matters: the JavaScript names them by position).
STATUS_CODES = ("candidate", "new", "existing", "upgraded")
#: Colours of the page: minute classes of covered points (as `planner.maps.MINUTE_COLOURS`), not covered,
#: newly covered against the plan, no longer covered against the plan.
COLOURS = {
    "minutes": ("#1a9641", "#a6d96a", "#fdae61", "#f46d43"),
    "uncovered": "#6a3d9a",
    "gained": "#00a6a6",
    "lost": "#d7191c",
}


def _b64(values, dtype: str) -> str:
    """Little-endian typed array of ``values`` as base64 text."""
    return base64.b64encode(np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))).decode(
        "ascii"
    )


def _micro_degrees(values) -> str:
    return _b64(np.round(np.asarray(values, dtype=float) * 1e6), "<i4")


def plan_open_sites(result) -> dict[str, list[str]]:
    """Tier name -> ids (text) of the sites open in the solved plan: the chosen and the fixed ones."""
    return {
        t.spec.name: [str(i) for i in list(t.result.selected) + list(t.result.fixed)] for t in result.tiers
    }


def _reach(times, demand_ids: pd.Index, site_ids: pd.Index, threshold_min: float) -> dict:
    """CSR reach lists of every site in `site_ids` (rows) over the demand points in `demand_ids` (columns)."""
    matrix = times.matrix.tocsr()
    rows = times.site_ids.get_indexer_for(site_ids)
    if (rows < 0).any():
        raise InputError(f"sites {list(site_ids[rows < 0][:10])} have no walk times; rerun the scenario")
    cols = demand_ids.get_indexer_for(times.demand_ids)
    if (cols < 0).any():
        raise InputError("the walk times name demand points that the run's demand does not hold")
    threshold_s = float(threshold_min) * 60.0
    indptr = [0]
    idx, walk = [], []
    for r in rows:
        lo, hi = matrix.indptr[r], matrix.indptr[r + 1]
        w = np.asarray(matrix.data[lo:hi], dtype=float)
        keep = w <= threshold_s + THRESHOLD_TOL_S  # the test planner.coverage makes
        c = cols[matrix.indices[lo:hi][keep]]
        order = np.argsort(c, kind="stable")
        idx.append(c[order])
        walk.append(w[keep][order])
        indptr.append(indptr[-1] + int(keep.sum()))
    idx_all = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
    walk_all = np.concatenate(walk) if walk else np.zeros(0)
    idx_type = "<u2" if len(demand_ids) <= 1 << 16 else "<u4"
    walk_ds = np.round(walk_all * 10.0)
    walk_type = "<u2" if threshold_s * 10.0 < (1 << 16) - 1 else "<u4"
    return {
        "pairs": len(idx_all),
        "indptr": _b64(indptr, "<u4"),
        "idx": _b64(idx_all, idx_type),
        "idx_type": "u16" if idx_type == "<u2" else "u32",
        "walk_ds": _b64(walk_ds, walk_type),
        "walk_type": "u16" if walk_type == "<u2" else "u32",
    }


def _area_column(demand) -> str | None:
    for col in ("district_name", "district"):
        if col in demand.columns:
            return col
    return None


def _district_shapes(result) -> dict | None:
    """The report areas as a GeoJSON dict (simplified, WGS84) with property ``name``, or None."""
    areas = getattr(result, "areas", None)
    if areas is None or "name" not in areas.columns:
        return None
    shapes = areas[["name", "geometry"]].to_crs(4326).copy()
    shapes["name"] = shapes["name"].astype(str)
    shapes["geometry"] = shapes.geometry.simplify(2e-4, preserve_topology=True)  # about 20 m
    return json.loads(shapes.reset_index(drop=True).to_json(drop_id=True))


def whatif_data(result) -> dict:
    """The page's data: demand, districts, and per tier its sites, plan, today and reach lists.

    Parameters
    ----------
    result
        A `planner.scenario.RunResult`.

    Returns
    -------
    dict
        JSON-ready; typed arrays as base64 text (see the module docstring).
    """
    demand = result.demand.to_crs(4326)
    demand_ids = pd.Index(demand.index)
    weights = demand["weight"].to_numpy(dtype=float)
    col = _area_column(demand)
    areas = demand[col].astype(str) if col else pd.Series("all", index=demand.index)
    names = sorted(areas.unique())
    area_code = pd.Categorical(areas, categories=names).codes
    plan = plan_open_sites(result)
    tiers = []
    for tier in result.tiers:
        spec = tier.spec
        sites = tier.sites.to_crs(4326)
        site_ids = pd.Index(sites.index)
        status = sites["status"].astype(str)
        unknown = sorted(set(status) - set(STATUS_CODES))
        if unknown:
            raise InputError(f"tier {spec.name!r}: unknown site statuses {unknown}; expected {STATUS_CODES}")
        text_ids = [str(i) for i in site_ids]
        open_plan = np.isin(text_ids, plan[spec.name])
        today = status.isin(["existing", "upgraded"]).to_numpy()
        excluded = (
            sites["note"].astype(str).ne("").to_numpy()
            if "note" in sites
            else np.zeros(len(sites), dtype=bool)
        )
        reach = _reach(tier.times, demand_ids, site_ids, spec.threshold_min)
        tiers.append(
            {
                "name": spec.name,
                "threshold_min": float(spec.threshold_min),
                "kind": _kind(spec),
                "ids": text_ids,
                "names": [str(v) for v in sites["name"]] if "name" in sites else None,
                "lat": _micro_degrees(sites.geometry.y),
                "lon": _micro_degrees(sites.geometry.x),
                "status": _b64([STATUS_CODES.index(s) for s in status], "<u1"),
                "plan": _b64(open_plan, "<u1"),
                "today": _b64(today, "<u1"),
                "excluded": _b64(excluded, "<u1"),
                "reach": reach,
            }
        )
        log.info(
            "what-if %s: %s sites (%s open in the plan), %s pairs within %g min",
            spec.name,
            f"{len(sites):,}",
            f"{int(open_plan.sum()):,}",
            f"{reach['pairs']:,}",
            spec.threshold_min,
        )
    return {
        "version": 1,
        "scenario": result.scenario.name,
        "stand_ins": list(result.stand_ins),
        "osm_attribution": OSM_ATTRIBUTION,
        "osm_data": osm_attribution(result) is not None,
        "demand": {
            "n": len(demand),
            "ids": [str(i) for i in demand_ids],
            "lat": _micro_degrees(demand.geometry.y),
            "lon": _micro_degrees(demand.geometry.x),
            "w": _b64(weights, "<f8"),
            "area": _b64(area_code, "<u2"),
        },
        "areas": names,
        "shapes": _district_shapes(result),
        "tiers": tiers,
        "colours": COLOURS,
        "tier_colours": list(TIER_COLOURS),
        "share_breaks": list(SHARE_BREAKS),
        "share_colours": list(SHARE_COLOURS),
        "scenario_toml": scenario_template(result.scenario),
        "has_fixed": _has_fixed(),
    }


def _kind(spec) -> str:
    """ "upgrade" for a tier that chooses among existing sites, else "new" (it opens candidates)."""
    kind = getattr(spec, "kind", None)
    if kind is not None:
        return str(kind)
    return "upgrade" if spec.upgrade else "new"


def _has_fixed() -> bool:
    """Whether scenarios take a tier's ``fixed`` list (sites opened whatever the solver chooses).

    Until they do, the page's scenario download names the open sites with the keys that exist: ``new`` /
    ``upgrade`` = the number of open sites and every other site of the tier in ``exclude``.
    """
    from dataclasses import fields

    from planner.scenario import TierSpec

    return "fixed" in {f.name for f in fields(TierSpec)}


def _toml(value) -> str:
    """A TOML value of text, a number, a truth value, a path or a list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not np.isfinite(value):
            raise InputError(f"cannot write {value!r} into a scenario file; give a finite number")
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value.resolve()), ensure_ascii=False)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise InputError(f"cannot write a {type(value).__name__} into a scenario file")


def _toml_table(header: str, spec, skip: tuple[str, ...] = ()) -> list[str]:
    from dataclasses import fields

    lines = [header]
    for f in fields(spec):
        value = getattr(spec, f.name)
        if (
            f.name in skip
            or value is None
            or (isinstance(value, tuple) and not value and f.name != "targets")
        ):
            continue
        lines.append(f"{f.name} = {_toml(value)}")
    return lines


def scenario_template(scenario) -> str:
    """The scenario as TOML (absolute paths), each tier's site keys left to the page (``#@whatif:<tier>@``).

    The page replaces each placeholder line with ``new`` / ``upgrade``, ``fixed`` and ``exclude`` of the open
    and closed sites, so that the saved file runs with ``planner run`` (see the module docstring).
    """
    lines = [
        f"# {scenario.name}, with the sites opened and closed on its what-if page (whatif.html).",
        "# `planner run <this file>` evaluates exactly these open sites; raise a tier's new / upgrade",
        "# count to choose that many more sites around them (closed sites stay excluded).",
        f"name = {_toml(scenario.name + '_whatif')}",
    ]
    if scenario.description:
        lines.append(f"description = {_toml(scenario.description)}")
    skip_speed = ("speed_mps",) if scenario.network.speed else ("speed",)
    lines += ["", *_toml_table("[network]", scenario.network, skip_speed)]
    lines += ["", *_toml_table("[demand]", scenario.demand)]
    for tier in scenario.tiers:
        lines += ["", *_toml_table("[[tiers]]", tier, ("new", "upgrade", "exclude", "fixed", "kind"))]
        lines.append(f"#@whatif:{tier.name}@")
    lines += ["", *_toml_table("[solver]", scenario.solver)]
    if scenario.areas is not None:
        lines += ["", *_toml_table("[areas]", scenario.areas)]
    lines += ["", "[curve]"]
    if scenario.curve_max_sites is not None:
        lines.append(f"max_sites = {scenario.curve_max_sites}")
    lines.append(f"targets = {_toml(list(scenario.curve_targets))}")
    if scenario.joint is not None:
        lines += ["", *_toml_table("[joint]", scenario.joint)]
    return "\n".join(lines) + "\n"


def _static(name: str) -> str:
    return resources.files("planner").joinpath("_static", name).read_text(encoding="utf-8")


def whatif_page(result, *, title: str | None = None) -> str:
    """The what-if page of a run as one HTML text (offline: Leaflet inlined).

    Parameters
    ----------
    result
        A `planner.scenario.RunResult`.
    title
        Heading of the page (default: ``"What if: <scenario name>"``).
    """
    from planner._assets import offline_head

    data = whatif_data(result)
    heading = title or f"What if: {result.scenario.name}"
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    payload = payload.replace("</", "<\\/")  # no "</script>" inside the data
    banner = ""
    if data["stand_ins"]:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in data["stand_ins"])
        banner = (
            "<div id='wi-banner' role='alert'><b>&#9888; STAND-IN DATA &mdash; not for decisions:</b>"
            f"<ul>{items}</ul></div>"
        )
    script = _static("whatif.js").replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{html.escape(heading)}</title>\n"
        f"{offline_head(cluster=False)}\n<style>\n{_static('whatif.css')}\n</style>\n</head>\n<body>\n"
        f"{banner}<div id='wi-map'></div>\n"
        f"<script id='wi-data' type='application/json'>{payload}</script>\n"
        f"<script>window.PLANNER_WHATIF_TITLE = {json.dumps(heading, ensure_ascii=False)};</script>\n"
        f"<script>\n{script}\n</script>\n</body>\n</html>\n"
    )


def write_whatif(result, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write the what-if page of a run (see `whatif_page`) and return its path."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(
            f"`path` folder {str(path.parent)!r} does not exist; create it first "
            "(Path(...).mkdir(parents=True))"
        )
    path.write_text(whatif_page(result, title=title), encoding="utf-8")
    log.info("what-if page saved: %s, %.1f MB", path, path.stat().st_size / 1e6)
    return path
