"""Tables, metrics and files of a run: what a planner puts in a report.

`write_outputs` writes a run folder::

    map.html            the plan on a folium map (opens offline; stand-ins in a red banner)
    whatif.html         open or close sites and see coverage change, offline (`planner.whatif`)
    sites.geojson       the chosen sites (new centres, upgraded stations), WGS84
    sites.gpkg          layers ``chosen`` and ``all_sites`` (candidates and existing sites with their status)
    service_areas.geojson  street-following service areas of the chosen sites
    coverage.csv        per demand point: nearest chosen site of each tier and the walk minutes
    districts.csv       per district: older residents and covered share per tier, today and with the plan
    gaps.csv            the communities with the most older residents out of reach of every tier's plan
    curve.csv           coverage against the number of new sites (first tier with new sites)
    sensitivity.csv     covered share by service and district at each [sensitivity] speed
    metrics.json        network, demand, timings and per-tier results (objective, bound, gap, status)
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from planner._errors import InputError
from planner.provenance import provenance_of, with_provenance

log = logging.getLogger(__name__)

#: Version of the run folder's layout (``metrics.json`` "run_format"); `planner report` reads this one.
#: 2: CSV files in UTF-8 with a BOM, a ``stand_in`` column instead of a note on every row, today's
#: coverage per demand point in ``coverage.csv``, the report areas in ``areas.geojson``.
RUN_FORMAT = 2


def _area_column(demand) -> str | None:
    for col in ("district_name", "district"):
        if col in demand.columns:
            return col
    return None


def covered_weight(result, tier: str, *, today: bool = False) -> float:
    """Older residents within the walk of a tier's open sites, with the plan (or today, before it)."""
    from planner.coverage import covered_weight as weight_of

    frame = result.today if today else result.coverage
    return weight_of(frame[f"covered_{tier}"], result.demand["weight"])


def solve_state(res) -> str:
    """How a solve ended, for the headline: proven optimal, stopped at the time limit (with the certified gap
    it reached), or a heuristic plan within its certified gap."""
    if res.status == "optimal":
        return "optimal"
    heuristic = res.details.get("heuristic") if isinstance(res.details, dict) else None
    stopped = res.status == "time_limit" or bool((heuristic or {}).get("stopped_at_time_limit"))
    if stopped:
        return f"stopped at the time limit after {res.solve_s:.0f} s, certified gap {res.gap:.2%}"
    return f"{res.status}, certified gap {res.gap:.2%}"


def headline(result) -> str:
    """One line per tier: how many older residents the plan puts within the walk."""
    total = float(result.demand["weight"].sum())
    lines = [f"{result.scenario.name}: {total:,.0f} older residents at {len(result.demand):,} demand points"]
    for tier in result.tiers:
        res = tier.result
        covered = covered_weight(result, tier.spec.name)
        share = f"{covered / total:.1%}" if total else "n/a"
        upgrade = tier.spec.kind == "upgrade"
        line = (
            f"  {tier.spec.name}: {len(res.selected)} sites chosen{' to upgrade' if upgrade else ''}, "
            f"{covered:,.0f} ({share}) within {tier.spec.threshold_min:g} min walk"
            + (" of an upgraded one" if upgrade else "")
            + ("" if result.joint is not None else f"; {solve_state(res)}")
        )
        if upgrade and result.today is not None:  # the basic service stays at every existing site
            basic = covered_weight(result, tier.spec.name, today=True)
            n_existing = int((tier.sites["status"].isin(["existing", "upgraded"])).sum())
            line += f"; basic service at all {n_existing:,} existing sites: {basic:,.0f}" + (
                f" ({basic / total:.1%})" if total else ""
            )
        lines.append(line)
    if result.joint is not None:
        spent = result.joint.details.get("cost")
        lines.append(
            f"  both tiers solved together ({result.scenario.joint.objective}): objective "
            f"{result.joint.objective:,.0f}, {solve_state(result.joint)}"
            + (
                f", cost {spent:,.0f} of budget {result.scenario.joint.budget:,.0f}"
                if spent is not None
                else ""
            )
        )
    far = result.network_summary.get("demand_far_count", 0)
    if far:
        far_w = float(result.network_summary.get("demand_far_weight", 0.0))
        lines.append(
            f"  {far:,} demand points ({far_w:,.0f} older residents, {far_w / total:.1%}) are too far "
            "from every street to reach: counted as not covered"
        )
    if stand_ins := provenance_of(result).banner_lines():
        lines.append("  STAND-IN DATA: " + "; ".join(stand_ins))
    return "\n".join(lines)


def _noted(table: pd.DataFrame, result) -> pd.DataFrame:
    """The table with a short ``stand_in`` flag when it rests on stand-in data (which ones: ``metrics.json``
    ``stand_ins``), not a long note repeated on every row."""
    if provenance_of(result).is_stand_in:
        table["stand_in"] = True
    return table


def district_table(result) -> pd.DataFrame:
    """Per district: older residents and covered share of each tier, today and with the plan."""
    from planner.coverage import coverage_by_area

    demand = result.demand
    col = _area_column(demand)
    if col is None:
        demand = demand.assign(district_name="all")
        col = "district_name"
    by = [c for c in ("district_code", col) if c in demand.columns]
    out = None
    for tier in result.tiers:
        name = tier.spec.name
        for prefix, covered in service_coverage(result, tier).items():
            table = coverage_by_area(demand, covered, "weight", by=by, total=True)
            part = table[["covered_residents", "covered_share"]].rename(
                columns={
                    "covered_residents": f"{prefix}covered_{name}",
                    "covered_share": f"{prefix}share_{name}",
                }
            )
            out = table[["points", "older_residents"]].join(part) if out is None else out.join(part)
    out = out.reset_index()
    total = out[by[0]].astype(str).eq("total")
    for col in by[1:]:
        out[col] = out[col].astype(object).where(~total, "total")
    return _noted(out, result)


def service_coverage(result, tier) -> dict[str, pd.Series]:
    """Who has each service of a tier, today and with the plan, by column prefix (per demand point).

    A tier of new sites offers one service: ``""`` (with the plan) and ``"today_"`` (existing sites only).
    A tier of upgrades offers two, named apart so that the plan never seems to lower coverage:
    ``"basic_"`` / ``"basic_today_"``, the basic service of every existing site (the same today and with
    the plan: upgrading closes none), and ``"upgraded_"`` / ``"upgraded_today_"``, the upgraded service of
    the upgraded sites (nobody has it today).
    """
    name = tier.spec.name
    plan = result.coverage[f"covered_{name}"].astype(bool)
    today = None if result.today is None else result.today[f"covered_{name}"].astype(bool)
    if tier.spec.kind != "upgrade":
        return {"": plan} if today is None else {"": plan, "today_": today}
    out = {} if today is None else {"basic_today_": today, "basic_": today}
    out["upgraded_today_"] = pd.Series(False, index=plan.index)
    out["upgraded_"] = plan
    return out


def plan_share_column(tier) -> str:
    """The `district_table` column of a tier's own service with the plan (the upgraded one for upgrades)."""
    return f"{'upgraded_' if tier.spec.kind == 'upgrade' else ''}share_{tier.spec.name}"


def gap_table(result, *, n: int = 50) -> pd.DataFrame:
    """The communities (or demand points) with the most older residents out of reach of every tier's plan.

    Groups by the finest area columns the demand has (district, sub-district, community); without them, by
    demand point. Largest first, with each row's share of all uncovered older residents.
    """
    from planner.coverage import coverage_by_area, gaps

    demand = result.demand
    by = [c for c in ("district_name", "street_name", "community_name") if c in demand.columns]
    covered = result.coverage["covered_any"].astype(bool)
    if by:
        table = coverage_by_area(demand, covered, "weight", by=by)
    else:
        table = pd.DataFrame({"older_residents": demand["weight"], "covered": covered}, index=demand.index)
    return _noted(gaps(table, n=n).reset_index(), result)


def coverage_csv_table(result) -> pd.DataFrame:
    """Per demand point: position, area, older residents, nearest chosen site of each tier, walk minutes."""
    demand = result.demand
    keep = [c for c in ("district_code", "district_name", "street_name", "community_name") if c in demand]
    table = pd.DataFrame(
        {"lon": demand.geometry.x.round(6), "lat": demand.geometry.y.round(6)}, index=demand.index
    )
    table = table.join(demand[keep]).assign(older_residents=demand["weight"])
    cov = result.coverage.drop(columns=[c for c in ("older_residents", "note") if c in result.coverage])
    table = table.join(cov)
    if result.today is not None:
        # today: the existing sites only (for a tier of upgrades, the basic service of every existing site)
        for tier in result.tiers:
            name = tier.spec.name
            table[f"covered_today_{name}"] = result.today[f"covered_{name}"].astype(bool)
            table[f"walk_min_today_{name}"] = result.today[f"walk_min_{name}"]
    if provenance_of(result).is_stand_in:
        table["stand_in"] = True
    table.index.name = "demand_id"
    return table


def metrics(result, *, stages: dict[str, str] | None = None) -> dict:
    """The run's numbers as JSON-ready dict (see ``metrics.json``).

    Everything but ``timings_s`` (stage and solve seconds) is the same for the same scenario. ``stages`` says
    of each optional stage (access, curve, service areas, map, what-if page) "ok", "skipped" or why it failed.
    """
    demand = result.demand
    total = float(demand["weight"].sum())
    tiers = []
    for tier in result.tiers:
        res = tier.result
        name = tier.spec.name
        covered = covered_weight(result, name)
        today = None if result.today is None else covered_weight(result, name, today=True)
        tiers.append(
            {
                "name": name,
                "threshold_min": tier.spec.threshold_min,
                "new": tier.spec.new,
                "upgrade": tier.spec.upgrade,
                "kind": tier.spec.kind,
                "model": res.model,
                "method": res.method,
                "selected_ids": [str(i) for i in res.selected],
                "fixed_ids_count": len(res.fixed),
                "candidates": int((tier.sites["status"].isin(["candidate", "new"])).sum()),
                "existing": int((tier.sites["status"].isin(["existing", "upgraded"])).sum()),
                "covered_weight": round(covered, 3),
                "coverage_share": round(covered / total, 6) if total else None,
                "covered_weight_today": None if today is None else round(today, 3),
                "coverage_share_today": None if today is None or not total else round(today / total, 6),
                "objective": _finite(res.objective),
                "bound": _finite(res.bound),
                "gap": _finite(res.gap),
                "status": res.status,
                "stand_in_sites": provenance_of(tier.sites).is_stand_in,
                "services": _service_metrics(result, tier, total),
            }
        )
    curve = None
    if result.curve is not None:
        curve = {
            "tier": next(t.spec.name for t in result.tiers if t.spec.new),
            "sites_needed": {str(k): v for k, v in _sites_needed(result.curve).items()},
        }
    joint = None
    if result.joint is not None:
        joint = {
            "objective_kind": result.scenario.joint.objective,
            "budget": result.scenario.joint.budget,
            "cost": result.joint.details.get("cost"),
            "objective": _finite(result.joint.objective),
            "bound": _finite(result.joint.bound),
            "gap": _finite(result.joint.gap),
            "status": result.joint.status,
            "method": result.joint.method,
        }
    net = dict(result.network_summary)
    return {
        "run_format": RUN_FORMAT,
        "scenario": result.scenario.name,
        "description": result.scenario.description,
        "stand_ins": provenance_of(result).banner_lines(),
        "inputs": provenance_of(result).to_records(),
        "network": net,
        "demand": {
            "points": len(demand),
            "weight_total": round(total, 3),
            "source": result.demand_source,
            "stand_in": provenance_of(result.demand).is_stand_in,
            "far_from_street": net.pop("demand_far_count", 0),
            "far_from_street_weight": net.pop("demand_far_weight", 0.0),
        },
        "stages": dict(result.stages if stages is None else stages),
        "speed_mps": result.scenario.network.speed_mps,
        "tiers": tiers,
        "joint": joint,
        "curve": curve,
        "sensitivity": _sensitivity_metrics(result),
        "timings_s": {
            **result.timings_s,
            **{f"solve_{t.spec.name}": round(t.result.solve_s, 3) for t in result.tiers},
            **({"solve_joint": round(result.joint.solve_s, 3)} if result.joint is not None else {}),
        },
    }


def _service_metrics(result, tier, total: float) -> dict:
    """Per service of a tier (see `service_coverage`): sites, covered older residents and share, today and
    with the plan."""
    from planner.coverage import covered_weight as weight_of

    weights = result.demand["weight"].astype(float)
    status = tier.sites["status"]
    existing = int(status.isin(["existing", "upgraded"]).sum())
    chosen = len(tier.result.selected)
    if tier.spec.kind == "upgrade":
        sites = {"basic": (existing, existing), "upgraded": (0, chosen)}
    else:
        sites = {"new": (existing, existing + chosen)}
    cover = service_coverage(result, tier)
    out = {}
    for kind, (today_sites, plan_sites) in sites.items():
        prefix = "" if kind == "new" else f"{kind}_"
        entry = {"sites_today": today_sites, "sites_plan": plan_sites}
        for when, key in (("today", f"{prefix}today_"), ("plan", prefix)):
            covered = None if key not in cover else weight_of(cover[key], weights)
            entry[f"covered_weight_{when}"] = None if covered is None else round(covered, 3)
            entry[f"coverage_share_{when}"] = (
                None if covered is None or not total else round(covered / total, 6)
            )
        out[kind] = entry
    return out


def _sensitivity_metrics(result) -> dict | None:
    """The city-wide covered share of each service at each ``[sensitivity]`` speed, or None."""
    table = getattr(result, "sensitivity", None)
    if table is None:
        return None
    spec = result.scenario.sensitivity
    total = table[table["district_name"] == "total"]
    rows = [
        {
            "speed": row.speed,
            "speed_mps": float(row.speed_mps),
            "resolved": bool(row.resolved),
            "service": f"{row.tier}:{row.kind}",
            "coverage_share": round(float(row.covered_share), 6),
        }
        for row in total.itertuples(index=False)
    ]
    return {"speeds": [str(v) for v in spec.speeds], "resolve": spec.resolve, "total": rows}


def _sites_needed(curve) -> dict:
    """Target share of the coverable weight -> fewest new sites reaching it (with its proven lower bound)."""
    out = {}
    for row in curve.needed.itertuples(index=False):
        sites = None if row.sites is None or pd.isna(row.sites) else int(row.sites)
        lower = None if row.lower_bound is None or pd.isna(row.lower_bound) else int(row.lower_bound)
        out[f"{row.target:g}"] = {"sites": sites, "lower_bound": lower, "status": row.status}
    return out


def _finite(value) -> float | None:
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None


def all_sites(result):
    """Every site of every tier (WGS84, index site_id) with ``tier`` and ``status``."""
    import geopandas as gpd

    sites = gpd.GeoDataFrame(pd.concat([t.sites for t in result.tiers]), crs=4326)
    sites.index.name = "site_id"
    return with_provenance(sites, provenance_of(*(t.sites for t in result.tiers)))


def service_area_layer(result):
    """The chosen sites' service areas of every tier in one GeoDataFrame (WGS84), or None."""
    import geopandas as gpd

    areas = [t.service_areas for t in result.tiers if t.service_areas is not None]
    if not areas:
        return None
    return with_provenance(
        gpd.GeoDataFrame(pd.concat(areas, ignore_index=True), crs=4326), provenance_of(*areas)
    )


def result_map(result, *, districts: pd.DataFrame | None = None, tiles="OpenStreetMap"):
    """The run's folium map (offline-capable, stand-ins in the banner); show it in a notebook or save it.

    Parameters
    ----------
    result
        A `planner.scenario.RunResult`.
    districts
        The run's `district_table` when already computed.
    tiles
        Background tiles (default OpenStreetMap; they need internet, every layer draws without them).
    """
    from planner.maps import plan_map

    return plan_map(
        demand=_map_demand(result),
        sites=all_sites(result),
        service_areas=service_area_layer(result),
        districts=_map_districts(result, district_table(result) if districts is None else districts),
        tiers=[{"name": t.spec.name, "threshold_min": t.spec.threshold_min} for t in result.tiers],
        title=_map_title(result),
        summary=_map_summary(result),
        offline=True,
        tiles=tiles,
    )


def write_outputs(result, out: str | Path) -> dict[str, Path]:
    """Write the run folder (see module docstring) at once, and return the final paths by name.

    Every file is written to a staging folder beside `out` (`planner.runfolder.run_folder`), which replaces
    `out` only when all are written: a failure leaves the previous folder as it was. The map and the what-if
    page are optional: if one fails, a warning says so, ``metrics.json`` records it under ``stages`` and the
    other files are still written.
    """
    from planner.runfolder import run_folder

    with run_folder(out, inputs=result.scenario.input_paths()) as folder:
        paths = _write_files(result, folder)
    log.info("wrote %d files to %s", len(paths), Path(out))
    return paths


def _write_files(result, folder) -> dict[str, Path]:
    from planner.maps import save_map

    paths: dict[str, Path] = {}
    sites = all_sites(result)
    chosen = _plain_columns(sites[sites["status"].isin(["new", "upgraded"])]).reset_index()
    chosen.to_file(folder.path("sites.geojson"), driver="GeoJSON")
    paths["sites"] = folder.final("sites.geojson")
    gpkg = folder.path("sites.gpkg")
    chosen.to_file(gpkg, layer="chosen", driver="GPKG")
    _plain_columns(sites).reset_index().to_file(gpkg, layer="all_sites", driver="GPKG")
    _fix_gpkg_times(gpkg)
    paths["sites_gpkg"] = folder.final("sites.gpkg")

    service = service_area_layer(result)
    if service is not None:
        service.to_file(folder.path("service_areas.geojson"), driver="GeoJSON")
        paths["service_areas"] = folder.final("service_areas.geojson")

    if result.areas is not None and "name" in result.areas.columns:
        result.areas[["name", "geometry"]].to_file(folder.path("areas.geojson"), driver="GeoJSON")
        paths["areas"] = folder.final("areas.geojson")

    paths["coverage"] = folder.write_csv("coverage.csv", coverage_csv_table(result))
    districts = district_table(result)
    paths["districts"] = folder.write_csv("districts.csv", districts, index=False)
    paths["gaps"] = folder.write_csv("gaps.csv", gap_table(result), index=False)
    if result.curve is not None:
        paths["curve"] = folder.write_csv("curve.csv", result.curve.table, index=False)
    if result.sensitivity is not None:
        paths["sensitivity"] = folder.write_csv("sensitivity.csv", result.sensitivity, index=False)

    stages = dict(result.stages)

    def optional(stage: str, write) -> None:
        try:
            paths[stage] = write()
            stages[stage] = "ok"
        except Exception as exc:  # an optional output never loses the run
            log.warning(
                "the %s could not be written (%s: %s); the other files are", stage, type(exc).__name__, exc
            )
            stages[stage] = f"failed: {type(exc).__name__}: {exc}"

    def write_map() -> Path:
        save_map(result_map(result, districts=districts), folder.path("map.html"))
        return folder.final("map.html")

    def write_page() -> Path:
        from planner.whatif import write_whatif

        write_whatif(result, folder.path("whatif.html"))
        return folder.final("whatif.html")

    optional("map", write_map)
    optional("whatif", write_page)
    paths["metrics"] = folder.write_json("metrics.json", metrics(result, stages=stages))
    return paths


def _fix_gpkg_times(path: Path) -> None:
    """Set the GeoPackage's modification times to a fixed value, so that the same run gives the same bytes."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as con:
        con.execute("UPDATE gpkg_contents SET last_change = '2000-01-01T00:00:00.000Z'")
        con.commit()
        con.execute("VACUUM")


def _plain_columns(gdf):
    """Columns a GeoJSON / GeoPackage driver can write (booleans and text kept; objects as text)."""
    out = gdf.copy()
    for col in out.columns:
        if col != out.geometry.name and out[col].dtype == object:
            out[col] = out[col].astype(str)
    return out


def _map_title(result) -> str:
    parts = []
    for tier in result.tiers:
        spec = tier.spec
        count = f"{spec.new} new" if spec.new else f"{spec.upgrade} upgraded"
        parts.append(f"{count} {spec.name}s ({spec.threshold_min:g} min)")
    return f"{result.scenario.name}: " + ", ".join(parts)


def _map_demand(result):
    """Demand points with their walk minutes; their provenance joins that of the walk times (the streets)."""
    demand = result.demand[["weight", "geometry"]].copy()
    for col in result.coverage.columns:
        if col.startswith(("walk_min_", "covered_")) and col != "covered_any":
            demand[col] = result.coverage[col]
    return with_provenance(demand, provenance_of(result.coverage))


def _map_districts(result, districts: pd.DataFrame):
    if result.areas is None:
        return None
    areas = result.areas
    name_col = "name" if "name" in areas.columns else None
    if name_col is None:
        return None
    table = districts.set_index(
        districts.columns[1] if "district_code" in districts.columns else districts.columns[0]
    )
    shares = {f"share_{t.spec.name}": table.get(plan_share_column(t)) for t in result.tiers}
    out = areas[[name_col, "geometry"]].copy()
    key = out[name_col].astype(str)
    out["weight"] = key.map(table["older_residents"]).astype(float)
    for col, series in shares.items():
        if series is not None:
            out[col] = key.map(series).astype(float)
    return out


def _map_summary(result) -> dict[str, str]:
    demand = result.demand
    total = float(demand["weight"].sum())
    summary = {"Older residents (demand)": f"{total:,.0f} at {len(demand):,} points"}
    for tier in result.tiers:
        name = tier.spec.name
        minutes = f"{tier.spec.threshold_min:g} min"
        for kind, entry in _service_metrics(result, tier, total).items():
            text = "n/a" if entry["coverage_share_plan"] is None else f"{entry['coverage_share_plan']:.1%}"
            if entry["coverage_share_today"] is not None:
                today = entry["coverage_share_today"]
                text += " (none today)" if not entry["sites_today"] else f" (today {today:.1%})"
            if kind == "new":
                label = f"Within {minutes} of a {name} ({len(tier.result.selected)} new)"
            elif kind == "basic":
                label = f"Within {minutes} of a {name}, basic service (all {entry['sites_plan']} existing)"
            else:
                label = f"Within {minutes} of a {name}, upgraded service ({entry['sites_plan']} upgraded)"
            summary[label] = text
        if result.joint is None:
            summary[f"{name} plan quality"] = f"{tier.result.status}, gap {tier.result.gap:.2%}"
    if result.joint is not None:
        summary["Both tiers together"] = f"{result.joint.status}, gap {result.joint.gap:.2%}"
    summary["Walking speed"] = f"{result.scenario.network.speed_mps:g} m/s"
    return summary


def _read_metrics(folder: Path) -> dict:
    """A run folder's metrics.json, or an error naming what is wrong with it."""
    path = folder / "metrics.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(
            f"{path} is not valid JSON ({exc}); the run folder is damaged, run it again"
        ) from None
    missing = [k for k in ("scenario", "speed_mps", "tiers") if not isinstance(data, dict) or k not in data]
    if missing:
        raise InputError(f"{path} lacks {missing}; it was not written by `planner run`, run it again")
    return data


def compare_runs(a: str | Path, b: str | Path) -> str:
    """What changed between two run folders: coverage by district and tier, and the chosen sites."""
    a, b = Path(a), Path(b)
    for folder in (a, b):
        if not (folder / "metrics.json").exists() or not (folder / "districts.csv").exists():
            raise InputError(
                f"{folder} is not a run folder (no metrics.json / districts.csv); give folders written by "
                "`planner run` or `planner demo`"
            )
    ma, mb = _read_metrics(a), _read_metrics(b)
    da = pd.read_csv(a / "districts.csv", encoding="utf-8-sig")
    db = pd.read_csv(b / "districts.csv", encoding="utf-8-sig")
    key = "district_name" if "district_name" in da.columns else da.columns[0]
    lines = [
        f"A = {a} ({ma['scenario']}, {ma['speed_mps']:g} m/s)",
        f"B = {b} ({mb['scenario']}, {mb['speed_mps']:g} m/s)",
    ]
    tiers_b = {t["name"]: t for t in mb["tiers"]}
    for ta in ma["tiers"]:
        tb = tiers_b.get(ta["name"])
        if tb is None:
            lines.append(f"tier {ta['name']}: only in A")
            continue
        sa, sb = set(ta["selected_ids"]), set(tb["selected_ids"])
        lines.append(
            f"tier {ta['name']}: coverage {ta['coverage_share']:.1%} -> {tb['coverage_share']:.1%} "
            f"({100 * (tb['coverage_share'] - ta['coverage_share']):+.1f} points); "
            f"sites kept {len(sa & sb)}, "
            f"only in A {len(sa - sb)}, only in B {len(sb - sa)}"
        )
        col = f"{'upgraded_' if ta.get('kind') == 'upgrade' else ''}share_{ta['name']}"
        if col in da.columns and col in db.columns:
            joined = da[[key, col]].merge(db[[key, col]], on=key, how="outer", suffixes=("_a", "_b"))
            joined["change"] = joined[f"{col}_b"] - joined[f"{col}_a"]
            lines.append(f"  {'district':<12} {'A':>7} {'B':>7} {'change':>8}")
            for _, row in joined.iterrows():
                lines.append(
                    f"  {row[key]!s:<12} {row[f'{col}_a']:>7.1%} {row[f'{col}_b']:>7.1%} "
                    f"{100 * row['change']:>+7.1f}pt"
                )
    return "\n".join(lines)
