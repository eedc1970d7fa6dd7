"""The planning report: a run folder turned into what a district or city official reads, in Chinese or
English.

`write_report` reads a run folder (written by `planner run` / `planner demo`) and writes into it, and into
nothing else:

    report.html     one self-contained page: opens offline, prints to PDF from the browser; charts and maps
                    are inline SVG with their text kept as text (Chinese renders, prints and can be copied)
    report.xlsx     one sheet per table, headers in the report's language
    report_<table>.csv   the same tables (UTF-8 with a byte-order mark, rounded; English column keys)

Contents, in order: the headline (older residents within each service's walk, today and with the plan); a
map of each service; coverage by district and by sub-district; the communities with the most older
residents still out of reach; the coverage curve with the gain of each added site and the sites needed for
each target share; equity (Gini, Palma ratio, worst-off decile, gap to the city share, mean walk); the check
against the national standards (`planner.standards`); walking-speed sensitivity when the run has it; the
comparison with another run (``compare=``); solver status and gap of every solve; the data sources. Every
section that rests on stand-in data says so.

A tier that upgrades existing sites is reported as two services: the **basic** service of every existing
site (the same today and with the plan: upgrading closes none) and the **upgraded** service of the upgraded
sites (none today).
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from planner import equity, standards
from planner._errors import InputError
from planner.coverage import covered_weight
from planner.i18n import check_lang, column_label, label, service_label, speed_label, tier_label
from planner.io import round_table, write_csv
from planner.provenance import Provenance
from planner.results import RUN_FORMAT

log = logging.getLogger(__name__)

#: Files a run folder must hold for a report.
REQUIRED_FILES = ("metrics.json", "coverage.csv")
#: Area columns of ``coverage.csv``, coarse to fine.
AREA_COLUMNS = ("district_name", "street_name", "community_name")
#: Rows of the "most out of reach" and "short of the standard" lists in the page (the CSV keeps more).
TOP_ROWS = 20
#: The scenario name of the built-in Shenyang default: its report is in Chinese unless asked otherwise.
CHINESE_SCENARIOS = ("shenyang",)


@dataclass(frozen=True)
class Service:
    """One service a tier offers: ``new`` sites, or the ``basic`` / ``upgraded`` service of existing sites."""

    tier: str
    kind: str  # "new" | "basic" | "upgraded"
    threshold_min: float
    today_col: str | None  # covered column today (None: nobody has it today)
    plan_col: str
    today_walk: str | None
    plan_walk: str
    sites_today: int
    sites_plan: int

    @property
    def key(self) -> str:
        return f"{self.tier}:{self.kind}"


@dataclass(frozen=True, eq=False)
class RunFolder:
    """A run folder read back: its metrics and tables."""

    folder: Path
    metrics: dict
    coverage: pd.DataFrame
    curve: pd.DataFrame | None
    sites: pd.DataFrame | None  # all sites (sites.gpkg layer all_sites) or the chosen ones, WGS84
    areas: pd.DataFrame | None
    sensitivity: pd.DataFrame | None

    @property
    def name(self) -> str:
        return str(self.metrics.get("scenario", ""))

    @property
    def speed_mps(self) -> float:
        return float(self.metrics["speed_mps"])

    @property
    def stand_ins(self) -> list[str]:
        records = self.metrics.get("inputs")
        if records:
            return Provenance.from_records(records).banner_lines()
        return list(self.metrics.get("stand_ins") or [])

    @property
    def services(self) -> list[Service]:
        out = []
        for tier in self.metrics["tiers"]:
            name, minutes = tier["name"], float(tier["threshold_min"])
            existing, chosen = int(tier.get("existing", 0)), len(tier["selected_ids"])
            today, walk_today = f"covered_today_{name}", f"walk_min_today_{name}"
            if tier.get("kind", "upgrade" if tier.get("upgrade") else "new") == "upgrade":
                out.append(
                    Service(name, "basic", minutes, today, today, walk_today, walk_today, existing, existing)
                )
                out.append(
                    Service(
                        name,
                        "upgraded",
                        minutes,
                        None,
                        f"covered_{name}",
                        None,
                        f"walk_min_{name}",
                        0,
                        chosen,
                    )
                )
            else:
                out.append(
                    Service(
                        name,
                        "new",
                        minutes,
                        today,
                        f"covered_{name}",
                        walk_today,
                        f"walk_min_{name}",
                        existing,
                        existing + chosen,
                    )
                )
        return out


def _fail(folder: Path, what: str) -> InputError:
    return InputError(
        f"{folder}: {what}; give a run folder written by `planner run` or `planner demo` "
        "(run the scenario again to write one)"
    )


def read_run(folder: str | Path) -> RunFolder:
    """Read a run folder for a report; an `InputError` names the folder and what is missing or too old.

    Nothing in the folder is changed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise _fail(folder, "is not a folder" if folder.exists() else "does not exist")
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise _fail(folder, f"is not a run folder: {', '.join(missing)} missing")
    try:
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(folder, f"metrics.json is not valid JSON ({exc})") from None
    if not isinstance(metrics, dict):
        raise _fail(folder, "metrics.json does not hold an object")
    version = metrics.get("run_format")
    if not isinstance(version, int) or version < RUN_FORMAT:
        raise InputError(
            f"{folder}: written by an older version of planner (metrics.json run_format "
            f"{version if version is not None else 'missing'}, the report needs {RUN_FORMAT}: today's "
            "coverage per demand point in coverage.csv); run the scenario again into this folder "
            "(`planner run SCENARIO --out FOLDER` or `planner demo`)"
        )
    absent = [k for k in ("scenario", "speed_mps", "tiers", "demand") if k not in metrics]
    if absent:
        raise _fail(folder, f"metrics.json lacks {', '.join(absent)}")
    coverage = pd.read_csv(
        folder / "coverage.csv",
        encoding="utf-8-sig",
        dtype=dict.fromkeys(("demand_id", *AREA_COLUMNS, "district_code"), str),
        keep_default_na=False,
        na_values=[""],
    )
    run = RunFolder(folder, metrics, coverage, None, None, None, None)
    needed = {"lon", "lat", "older_residents"}
    for service in run.services:
        needed |= {
            c for c in (service.today_col, service.plan_col, service.today_walk, service.plan_walk) if c
        }
    lacking = sorted(needed - set(coverage.columns))
    if lacking:
        raise _fail(folder, f"coverage.csv lacks the columns {lacking}")
    for col in coverage.columns:
        if col.startswith("covered_"):
            coverage[col] = coverage[col].astype(str).str.lower().eq("true")
    curve = None
    if (folder / "curve.csv").is_file():
        curve = pd.read_csv(folder / "curve.csv", encoding="utf-8-sig", dtype={"site": str})
    sensitivity = None
    if (folder / "sensitivity.csv").is_file():
        sensitivity = pd.read_csv(
            folder / "sensitivity.csv", encoding="utf-8-sig", dtype={"district_name": str, "speed": str}
        )
    return RunFolder(folder, metrics, coverage, curve, _read_sites(folder), _read_areas(folder), sensitivity)


def _read_sites(folder: Path):
    import geopandas as gpd

    if (folder / "sites.gpkg").is_file():
        try:
            return gpd.read_file(folder / "sites.gpkg", layer="all_sites")
        except Exception as exc:
            log.warning("%s: cannot read sites.gpkg (%s); the maps show the chosen sites only", folder, exc)
    if (folder / "sites.geojson").is_file():
        return gpd.read_file(folder / "sites.geojson")
    return None


def _read_areas(folder: Path):
    import geopandas as gpd

    if (folder / "areas.geojson").is_file():
        return gpd.read_file(folder / "areas.geojson")
    return None


def default_lang(run: RunFolder) -> str:
    """Chinese for the Shenyang default, English otherwise."""
    return "zh" if run.name in CHINESE_SCENARIOS else "en"


# ---------------------------------------------------------------------------------------------- tables


def _points(run: RunFolder) -> pd.DataFrame:
    cov = run.coverage.copy()
    if "district_name" not in cov:
        cov["district_name"] = "all"
    return cov


def _covered(points: pd.DataFrame, col: str | None) -> pd.Series:
    return points[col].astype(bool) if col else pd.Series(False, index=points.index)


def _walk(points: pd.DataFrame, col: str | None) -> pd.Series:
    return points[col].astype(float) if col else pd.Series(np.nan, index=points.index)


def headline_table(run: RunFolder) -> pd.DataFrame:
    """One row per service: sites and older residents within the walk, today and with the plan."""
    points = _points(run)
    w = points["older_residents"].astype(float)
    total = float(w.sum())
    rows = []
    for s in run.services:
        today = covered_weight(_covered(points, s.today_col), w)
        plan = covered_weight(_covered(points, s.plan_col), w)
        rows.append(
            {
                "service": s.key,
                "threshold_min": s.threshold_min,
                "walk_m": round(s.threshold_min * 60.0 * run.speed_mps),
                "sites_today": s.sites_today,
                "sites_plan": s.sites_plan,
                "older_residents": total,
                "covered_today": today,
                "share_today": today / total if total else math.nan,
                "covered_plan": plan,
                "share_plan": plan / total if total else math.nan,
                "change_points": 100.0 * (plan - today) / total if total else math.nan,
            }
        )
    return pd.DataFrame(rows)


def area_table(run: RunFolder, by: list[str]) -> pd.DataFrame:
    """Per area (``by``): older residents and each service's covered share, today and with the plan."""
    points = _points(run)
    by = [c for c in by if c in points]
    w = points["older_residents"].astype(float)
    frame = points[by].copy()
    frame["older_residents"] = w
    cols = []
    for s in run.services:
        for when, col in (("today", s.today_col), ("plan", s.plan_col)):
            key = f"share_{when}:{s.key}"
            frame[key] = w.where(_covered(points, col), 0.0)
            cols.append(key)
    sums = frame.groupby(by, sort=True).sum()
    total = frame[["older_residents", *cols]].sum().to_frame().T
    total.index = pd.MultiIndex.from_tuples([("total",) * len(by)]) if len(by) > 1 else pd.Index(["total"])
    sums = pd.concat([sums, total])
    for col in cols:
        sums[col] = sums[col] / sums["older_residents"].where(sums["older_residents"] > 0)
    sums.index.names = by
    return sums.reset_index()


def gaps_table(run: RunFolder, *, n: int = 50) -> pd.DataFrame:
    """The communities with the most older residents out of reach of every service with the plan."""
    points = _points(run)
    by = [c for c in AREA_COLUMNS if c in points] or ["district_name"]
    w = points["older_residents"].astype(float)
    reached = pd.Series(False, index=points.index)
    for s in run.services:
        reached |= _covered(points, s.plan_col)
    frame = points[by].assign(older_residents=w, uncovered_residents=w.where(~reached, 0.0))
    sums = frame.groupby(by, sort=True).sum()
    sums["covered_share"] = 1.0 - sums["uncovered_residents"] / sums["older_residents"].where(
        sums["older_residents"] > 0
    )
    all_out = float(sums["uncovered_residents"].sum())
    sums["share_of_uncovered"] = sums["uncovered_residents"] / all_out if all_out else 0.0
    sums = sums[sums["uncovered_residents"] > 0].sort_values(
        ["uncovered_residents", *by], ascending=[False, *[True] * len(by)], kind="stable"
    )
    return sums.head(n).reset_index()


def curve_table(run: RunFolder) -> pd.DataFrame | None:
    """The coverage curve with the marginal gain of each added site."""
    if run.curve is None:
        return None
    cols = [c for c in ("p", "site", "covered_weight", "share", "bound") if c in run.curve]
    out = run.curve[cols].copy()
    out["gain"] = out["covered_weight"].diff()
    return out[[c for c in ("p", "site", "covered_weight", "gain", "share", "bound") if c in out]]


def sites_needed_table(run: RunFolder) -> pd.DataFrame | None:
    curve = run.metrics.get("curve") or {}
    needed = curve.get("sites_needed") or {}
    if not needed:
        return None
    rows = [
        {
            "target": float(k),
            "sites": v.get("sites"),
            "lower_bound": v.get("lower_bound"),
            "status": v.get("status"),
        }
        for k, v in needed.items()
    ]
    return pd.DataFrame(rows).sort_values("target").reset_index(drop=True)


def equity_tables(run: RunFolder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per district (covered share, mean walk, gap to the city share per service with the plan) and the
    Gini / Palma / worst-off decile across districts and communities, today and with the plan."""
    points = _points(run)
    per_district = None
    rows = []
    community_by = [c for c in AREA_COLUMNS if c in points]
    for s in run.services:
        for when, cov_col, walk_col in (
            ("today", s.today_col, s.today_walk),
            ("plan", s.plan_col, s.plan_walk),
        ):
            frame = points.assign(_c=_covered(points, cov_col), _w=_walk(points, walk_col))
            for level, by in (("district", ["district_name"]), ("community", community_by)):
                if level == "community" and len(by) < 3:
                    continue
                table = equity.area_equity(
                    frame, by=by, weight="older_residents", covered="_c", walk_min="_w"
                )
                rows.append({"service": s.key, "when": when, "level": level, **equity.summary(table)})
                if level == "district" and when == "plan":
                    part = table[["covered_share", "mean_walk_min", "gap_to_city"]].rename(
                        columns=lambda c, k=s.key: f"{c}:{k}"
                    )
                    if per_district is None:
                        per_district = table[["older_residents"]].join(part)
                    else:
                        per_district = per_district.join(part)
    return per_district.reset_index(), pd.DataFrame(rows)


def standards_tables(run: RunFolder) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The standard each service is checked against; per district the share within it; the communities
    furthest short of it."""
    points = _points(run)
    community_by = [c for c in AREA_COLUMNS if c in points]
    levels, per_district, short = [], None, []
    for s in run.services:
        frame = points.assign(_w=_walk(points, s.plan_walk))
        check = standards.walk_check(
            frame,
            by="district_name",
            weight="older_residents",
            walk_min="_w",
            threshold_min=s.threshold_min,
            speed_mps=run.speed_mps,
        )
        level = check.attrs["level"]
        levels.append(
            {
                "service": s.key,
                "standard": f"{level.name_zh} / {level.name_en}",
                "standard_walk_m": level.max_walk_m,
                "walk_m": round(s.threshold_min * 60.0 * run.speed_mps),
                "bound": check["bound"].iloc[0] if len(check) else "exact",
                "source": level.source,
            }
        )
        part = check[["within_standard_share", "meets"]].rename(columns=lambda c, k=s.key: f"{c}:{k}")
        per_district = (
            check[["older_residents"]].join(part) if per_district is None else per_district.join(part)
        )
        if len(community_by) > 1:
            comm = standards.walk_check(
                frame,
                by=community_by,
                weight="older_residents",
                walk_min="_w",
                threshold_min=s.threshold_min,
                speed_mps=run.speed_mps,
            )
            comm = comm[~comm["meets"]].sort_values("short_residents", ascending=False, kind="stable")
            comm = comm.head(TOP_ROWS).reset_index()
            comm.insert(0, "service", s.key)
            short.append(
                comm[
                    ["service", *community_by, "older_residents", "within_standard_share", "short_residents"]
                ]
            )
    short_table = pd.concat(short, ignore_index=True) if short else pd.DataFrame()
    return pd.DataFrame(levels), per_district.reset_index(), short_table


def beds_table(run: RunFolder) -> pd.DataFrame | None:
    """Per district: places at the open sites whose capacities are known, against GB 50437-2007's 40 beds
    per 1,000 older residents (None when the run knows no capacities or has no report areas)."""
    import geopandas as gpd

    sites, areas = run.sites, run.areas
    if sites is None or areas is None or "capacity" not in sites or "name" not in areas:
        return None
    open_sites = sites[sites["status"].isin(["existing", "new", "upgraded"]) & sites["capacity"].notna()]
    if open_sites.empty:
        return None
    # a site counts once, even when it serves two tiers' files (the same id in both)
    open_sites = open_sites[~open_sites["site_id"].duplicated()] if "site_id" in open_sites else open_sites
    joined = gpd.sjoin(
        open_sites[["capacity", "geometry"]], areas[["name", "geometry"]], how="left", predicate="within"
    )
    beds = joined.groupby("name")["capacity"].sum()
    older = _points(run).groupby("district_name")["older_residents"].sum()
    table = standards.beds_check(older, beds)
    table.index.name = "district_name"
    return table.reset_index()


def solves_table(run: RunFolder) -> pd.DataFrame:
    """Solver status and gap of every solve: each tier's plan, a joint solve, the curve's target solves."""
    timings = run.metrics.get("timings_s") or {}
    rows = []
    for tier in run.metrics["tiers"]:
        rows.append(
            {
                "solve": tier["name"],
                "model": tier.get("model"),
                "method": tier.get("method"),
                "status": tier.get("status"),
                "objective": tier.get("objective"),
                "bound": tier.get("bound"),
                "gap": tier.get("gap"),
                "solve_s": tier.get("solve_s", timings.get(f"solve_{tier['name']}")),
            }
        )
    joint = run.metrics.get("joint")
    if joint:
        rows.append(
            {
                "solve": "joint",
                "model": joint.get("objective_kind"),
                **{k: joint.get(k) for k in ("method", "status", "objective", "bound", "gap")},
                "solve_s": joint.get("solve_s", timings.get("solve_joint")),
            }
        )
    curve = run.metrics.get("curve") or {}
    for target, v in (curve.get("sites_needed") or {}).items():
        rows.append(
            {
                "solve": f"{curve.get('tier')}: {float(target):.0%}",
                "model": "lscp",
                "status": v.get("status"),
                "objective": v.get("sites"),
                "bound": v.get("lower_bound"),
                "gap": (
                    (v["sites"] - v["lower_bound"]) / v["sites"]
                    if v.get("sites") and v.get("lower_bound") is not None
                    else None
                ),
            }
        )
    return pd.DataFrame(rows)


def sensitivity_table(run: RunFolder) -> pd.DataFrame | None:
    """Covered share by district at each walking speed, side by side (when the run evaluated speeds)."""
    sens = run.sensitivity
    if sens is None or sens.empty:
        return None
    resolved = sens["resolved"].astype(str).str.lower().eq("true") if "resolved" in sens else False
    measure = np.where(resolved, "resolved_share", "covered_share")
    sens = sens.assign(
        _col=[
            f"{m}:{t}:{k}|{sp}"
            for m, t, k, sp in zip(measure, sens["tier"], sens["kind"], sens["speed"], strict=True)
        ]
    )
    out = sens.pivot_table(index="district_name", columns="_col", values="covered_share", sort=False)
    order = list(dict.fromkeys(sens["_col"]))
    out = out[order]
    older = sens.groupby("district_name", sort=False)["older_residents"].first()
    out.insert(0, "older_residents", older)
    keys = [k for k in out.index if k != "total"] + [k for k in out.index if k == "total"]
    return out.loc[keys].reset_index()


def sources_table(run: RunFolder, lang: str = "en") -> pd.DataFrame:
    """Every input of the run: what it is (in `lang`), whether it is real, where it came from."""
    records = run.metrics.get("inputs") or []
    rows = [
        {
            "input": r.get("input"),
            "real": bool(r.get("real")),
            "what": Provenance.from_records([r]).sources[0].label(lang),
            "origin": r.get("origin", ""),
            "licence": r.get("licence", ""),
        }
        for r in records
    ]
    return pd.DataFrame(rows, columns=["input", "real", "what", "origin", "licence"])


def sites_compared(run: RunFolder, other: RunFolder) -> pd.DataFrame:
    """Per tier: the sites added, dropped and kept by this run against the other."""
    theirs = {t["name"]: set(map(str, t["selected_ids"])) for t in other.metrics["tiers"]}
    rows = []
    for tier in run.metrics["tiers"]:
        mine = set(map(str, tier["selected_ids"]))
        other_ids = theirs.get(tier["name"], set())
        for what, ids in (
            ("added", mine - other_ids),
            ("dropped", other_ids - mine),
            ("kept", mine & other_ids),
        ):
            ordered = sorted(ids)
            rows.append(
                {"tier": tier["name"], "change": what, "count": len(ordered), "site_ids": " ".join(ordered)}
            )
    return pd.DataFrame(rows)


def _with_other(
    mine: pd.DataFrame, theirs: pd.DataFrame, keys: list[str], prefixes: tuple[str, ...]
) -> pd.DataFrame:
    """`mine` with, after each column starting with `prefixes`, the other run's value and the change."""
    keys = [k for k in keys if k in mine and k in theirs]
    value_cols = [c for c in mine.columns if c.startswith(prefixes) and c in theirs]
    joined = mine.merge(
        theirs[[*keys, *value_cols]].rename(columns={c: f"{c}|other" for c in value_cols}),
        on=keys,
        how="left",
    )
    ordered = []
    for col in mine.columns:
        ordered.append(col)
        if col in value_cols:
            joined[f"{col}|change"] = joined[col] - joined[f"{col}|other"]
            ordered += [f"{col}|other", f"{col}|change"]
    return joined[ordered]


def report_tables(run: RunFolder, *, other: RunFolder | None = None) -> dict[str, pd.DataFrame]:
    """Every table of the report, by name, in the report's order (English column keys)."""
    tables: dict[str, pd.DataFrame] = {}
    tables["headline"] = headline_table(run)
    tables["districts"] = area_table(run, ["district_name"])
    if "street_name" in run.coverage:
        tables["subdistricts"] = area_table(run, ["district_name", "street_name"])
    tables["gaps"] = gaps_table(run)
    curve = curve_table(run)
    if curve is not None:
        tables["curve"] = curve
    needed = sites_needed_table(run)
    if needed is not None:
        tables["sites_needed"] = needed
    tables["equity"], tables["equity_summary"] = equity_tables(run)
    tables["standards"], tables["standards_districts"], short = standards_tables(run)
    if not short.empty:
        tables["standards_short"] = short
    beds = beds_table(run)
    if beds is not None:
        tables["standards_beds"] = beds
    sens = sensitivity_table(run)
    if sens is not None:
        tables["sensitivity"] = sens
    if other is not None:
        theirs = report_tables(other)
        compared = {
            "headline": (["service"], ("share_", "covered_plan")),
            "districts": (["district_name"], ("share_plan",)),
            "subdistricts": (["district_name", "street_name"], ("share_plan",)),
            "equity": (["district_name"], ("covered_share", "mean_walk_min")),
            "standards_districts": (["district_name"], ("within_standard_share",)),
        }
        for name, (keys, prefixes) in compared.items():
            if name in tables and name in theirs:
                tables[name] = _with_other(tables[name], theirs[name], keys, prefixes)
        tables["sites_changed"] = sites_compared(run, other)
    tables["solves"] = solves_table(run)
    return tables


# --------------------------------------------------------------------------------------- figures (SVG)

_BLUE, _ORANGE, _GREY = (33, 102, 172), (230, 97, 1), "#555"


def _mix(share: float) -> str:
    r, g, b = (round(o + (c - o) * share) for o, c in zip(_ORANGE, _BLUE, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def map_svg(
    run: RunFolder,
    service: Service,
    lang: str,
    *,
    bounds: tuple[float, float, float, float] | None = None,
    width: int = 680,
    cells: int = 110,
) -> str:
    """A static map of one service with the plan: demand in squares coloured by covered share, the sites,
    district outlines and names (from ``areas.geojson`` when the run has it), a legend and a scale bar.

    `bounds` (west, south, east, north; WGS84) zooms in; default the whole study area.
    """
    points = _points(run)
    areas = run.areas
    if bounds is not None:
        x0, y0, x1, y1 = bounds
        inside = points["lon"].between(x0, x1) & points["lat"].between(y0, y1)
        points = points[inside]
        if areas is not None:
            areas = areas.assign(geometry=areas.geometry.clip_by_rect(x0, y0, x1, y1))
            areas = areas[~areas.geometry.is_empty]
    elif areas is not None and len(areas):
        x0, y0, x1, y1 = areas.total_bounds
    else:
        x0, y0, x1, y1 = (
            points["lon"].min(),
            points["lat"].min(),
            points["lon"].max(),
            points["lat"].max(),
        )
    lon, lat = points["lon"].to_numpy(float), points["lat"].to_numpy(float)
    kx = math.cos(math.radians((y0 + y1) / 2.0))
    span_x, span_y = max((x1 - x0) * kx, 1e-6), max(y1 - y0, 1e-6)
    pad, legend_h = 8, 46
    scale = (width - 2 * pad) / span_x
    height = round(span_y * scale) + 2 * pad + legend_h
    if height > width * 1.3:  # tall study areas: fit the height instead
        scale *= (width * 1.3 - 2 * pad - legend_h) / (span_y * scale)
        height = round(span_y * scale) + 2 * pad + legend_h

    def xy(lo, la):
        return pad + (np.asarray(lo) - x0) * kx * scale, pad + (y1 - np.asarray(la)) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{_esc(service_label(service.key, lang))}" class="map">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    # demand in squares, coloured by the covered share of their older residents
    cell = (width - 2 * pad) / cells
    px, py = xy(lon, lat)
    w = points["older_residents"].to_numpy(float)
    cov = w * _covered(points, service.plan_col).to_numpy()
    gx, gy = np.floor(px / cell).astype(int), np.floor(py / cell).astype(int)
    grid = pd.DataFrame({"gx": gx, "gy": gy, "w": w, "c": cov}).groupby(["gx", "gy"]).sum()
    grid = grid[grid["w"] > 0]
    parts.append('<g class="cells" stroke="none">')
    for (cx, cy), row in grid.iterrows():
        parts.append(
            f'<rect x="{cx * cell:.1f}" y="{cy * cell:.1f}" width="{cell:.1f}" height="{cell:.1f}" '
            f'fill="{_mix(row["c"] / row["w"])}"/>'
        )
    parts.append("</g>")
    if areas is not None and len(areas):
        parts.append(f'<g class="areas" fill="none" stroke="{_GREY}" stroke-width="0.6">')
        simple = areas.geometry.simplify((x1 - x0) / 800.0)
        for geom in simple:
            parts.append(f'<path d="{_path(geom, xy)}"/>')
        parts.append("</g>")
    # sites of the service
    sites = _service_sites(run, service)
    if sites is not None and bounds is not None:
        sites = sites[sites.geometry.x.between(x0, x1) & sites.geometry.y.between(y0, y1)]
    if sites is not None and len(sites):
        sx, sy = xy(sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy())
        parts.append('<g class="sites" fill="#111" stroke="#fff" stroke-width="0.4">')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="1.8"/>' for a, b in zip(sx, sy, strict=True)]
        parts.append("</g>")
    if areas is not None and len(areas) and "name" in areas:
        parts.append('<g class="labels" font-size="9" text-anchor="middle" fill="#222">')
        for name, geom in zip(areas["name"], areas.geometry, strict=True):
            if geom.area < 0.002 * (x1 - x0) * (y1 - y0):  # a sliver at the edge of a zoom: no name
                continue
            pt = geom.representative_point()
            a, b = xy(pt.x, pt.y)
            parts.append(
                f'<text x="{float(a):.1f}" y="{float(b):.1f}" paint-order="stroke" stroke="#fff" '
                f'stroke-width="2">{_esc(name)}</text>'
            )
        parts.append("</g>")
    # legend and scale bar
    top = height - legend_h + 10
    parts.append(f'<g class="legend" font-size="10" fill="#222" transform="translate({pad},{top})">')
    for i, (share, key) in enumerate(((1.0, "map_legend_covered"), (0.0, "map_legend_uncovered"))):
        parts.append(f'<rect x="{i * 190}" y="0" width="10" height="10" fill="{_mix(share)}"/>')
        parts.append(f'<text x="{i * 190 + 14}" y="9">{_esc(label(key, lang))}</text>')
    parts.append('<circle cx="385" cy="5" r="2.5" fill="#111"/>')
    parts.append(f'<text x="392" y="9">{_esc(label("map_legend_sites", lang))}</text>')
    km_per_px = 111.32 / scale
    bar_km = _nice(km_per_px * 120)
    bar_px = bar_km / km_per_px
    parts.append(f'<rect x="0" y="22" width="{bar_px:.1f}" height="3" fill="#222"/>')
    parts.append(f'<text x="{bar_px + 5:.1f}" y="27">{bar_km:g} {_esc(label("km", lang))}</text>')
    parts.append("</g></svg>")
    return "".join(parts)


def core_bounds(run: RunFolder, *, share: float = 0.7) -> tuple[float, float, float, float] | None:
    """Where most older residents live: the box between the weighted quantiles holding the central
    `share` of them in each direction, or None when that is most of the study area anyway."""
    points = _points(run)
    w = points["older_residents"].to_numpy(float)
    if w.sum() <= 0:
        return None
    lo, hi = (1.0 - share) / 2.0, 1.0 - (1.0 - share) / 2.0
    box = []
    for col in ("lon", "lat"):
        v = points[col].to_numpy(float)
        order = np.argsort(v, kind="stable")
        cum = np.cumsum(w[order]) / w.sum()
        box.append((v[order][np.searchsorted(cum, lo)], v[order][min(np.searchsorted(cum, hi), len(v) - 1)]))
    (x0, x1), (y0, y1) = box
    full_x = points["lon"].max() - points["lon"].min()
    full_y = points["lat"].max() - points["lat"].min()
    if (x1 - x0) * (y1 - y0) > 0.4 * full_x * full_y:
        return None
    mx, my = (x1 - x0) * 0.1, (y1 - y0) * 0.1
    return (x0 - mx, y0 - my, x1 + mx, y1 + my)


def _nice(x: float) -> float:
    power = 10 ** math.floor(math.log10(x))
    return next(m * power for m in (5, 2, 1) if m * power <= x)


def _path(geom, xy) -> str:
    polys = getattr(geom, "geoms", [geom])
    out = []
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            xs, ys = xy(*np.asarray(ring.coords)[:, :2].T)
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
            out.append(f"M{pts}Z")
    return "".join(out)


def _service_sites(run: RunFolder, service: Service):
    sites = run.sites
    if sites is None or "tier" not in sites or "status" not in sites:
        return None
    statuses = {"new": ("new", "existing"), "basic": ("existing", "upgraded"), "upgraded": ("upgraded",)}
    return sites[(sites["tier"] == service.tier) & sites["status"].isin(statuses[service.kind])]


def curve_svg(
    curve: pd.DataFrame, *, plan_p: int | None, lang: str, width: int = 680, height: int = 300
) -> str:
    """The coverage curve (share against sites added) and, below it, the marginal gain of each site."""
    left, right, top = 52, 12, 12
    upper_h = 170
    lower_top, lower_h = upper_h + 40, height - upper_h - 60
    p = curve["p"].to_numpy(float)
    share = curve["share"].to_numpy(float)
    gain = curve["gain"].fillna(0).to_numpy(float)
    pmax = max(p.max(), 1.0)
    plot_w = width - left - right

    def x(v):
        return left + v / pmax * plot_w

    def y(v):
        return top + (1.0 - v) * upper_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{_esc(label("curve", lang))}" font-size="10" fill="#222">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
        )
        parts.append(f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" text-anchor="end">{tick:.0%}</text>')
    pts = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(p, share, strict=True))
    parts.append(f'<polyline points="{pts}" fill="none" stroke="#2166ac" stroke-width="1.8"/>')
    if plan_p is not None and plan_p <= pmax:
        at = float(np.interp(plan_p, p, share))
        parts.append(
            f'<line x1="{x(plan_p):.1f}" x2="{x(plan_p):.1f}" y1="{top}" y2="{top + upper_h}" '
            'stroke="#e66101" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{x(plan_p) + 4:.1f}" y="{y(at) + 14:.1f}">'
            f"{_esc(label('plan_marker', lang, p=plan_p))}: {at:.1%}</text>"
        )
    parts.append(f'<text x="{left}" y="{top + upper_h + 14}">{_esc(label("curve_y", lang))}</text>')
    gmax = max(gain.max(), 1.0)
    bar_w = max(plot_w / pmax * 0.8, 0.5)
    for a, g in zip(p, gain, strict=True):
        if g > 0:
            h = g / gmax * lower_h
            parts.append(
                f'<rect x="{x(a) - bar_w / 2:.1f}" y="{lower_top + lower_h - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="#92c5de"/>'
            )
    parts.append(
        f'<text x="{left - 4}" y="{lower_top + 8}" text-anchor="end">{gmax:,.0f}</text>'
        f'<text x="{left + 4}" y="{lower_top - 4}">{_esc(label("gain", lang))}</text>'
    )
    for tick in np.linspace(0, pmax, 6):
        parts.append(f'<text x="{x(tick):.1f}" y="{height - 20}" text-anchor="middle">{tick:.0f}</text>')
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">'
        f"{_esc(label('curve_x', lang))}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------------ HTML

_CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei","Microsoft YaHei",
 "PingFang SC",Arial,sans-serif;color:#222;max-width:1000px;margin:24px auto;padding:0 16px;
 font-size:13px;line-height:1.45}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:2px solid #2166ac;
 padding-bottom:3px;break-after:avoid}h3{font-size:14px;margin:14px 0 6px;break-after:avoid}
table{border-collapse:collapse;margin:6px 0 10px;font-size:11.5px}th,td{border:1px solid #ccc;padding:2px 6px}
th{background:#eef3f8;text-align:left;vertical-align:bottom;min-width:3.2em}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr{break-inside:avoid}thead{display:table-header-group}tr.total td{font-weight:bold;background:#f6f6f6}
figure{margin:8px 0 14px;break-inside:avoid}.panels{display:flex;gap:8px;align-items:flex-start}
.panel{flex:1 1 0;min-width:0}td{white-space:nowrap}figcaption{font-size:11.5px;color:#444}
.banner{border:2px solid #c00;background:#fff0f0;color:#900;padding:8px 12px;margin:10px 0;font-weight:bold}
.banner ul{margin:4px 0 0 18px;font-weight:normal}
.tag{color:#c00;font-size:11px;font-weight:normal;margin-left:8px}
.meta{color:#555}.note{color:#555;font-size:11.5px}.lines li{margin:3px 0}
.bad{color:#b00;font-weight:bold}.good{color:#060}
@page{size:A4;margin:14mm 12mm}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-before:auto}.noprint{display:none}
 table{font-size:9.5px}.banner{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 svg{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


def _measure(col: str) -> str:
    base, _, suffix = col.partition("|")
    return (
        "change_points"
        if suffix == "change" and base.startswith(("share", "covered_share", "within"))
        else base.partition(":")[0]
    )


def _fmt(value, col: str, lang: str) -> tuple[str, bool]:
    """Text of a cell and whether it is a number (right-aligned)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return label("not_available", lang), True
    measure = _measure(col)
    if isinstance(value, (bool, np.bool_)):
        if measure == "meets":
            return label("yes" if value else "no", lang), False
        return label("true" if value else "false", lang), False
    if measure in ("bound",) and isinstance(value, str):
        return label(value, lang), False
    if not isinstance(value, (int, float, np.integer, np.floating)):
        text = str(value)
        if measure == "service":
            text = service_label(text, lang)
        elif measure == "status" or measure in ("change", "when", "level"):
            text = label(text, lang)
        elif measure == "tier":
            text = tier_label(text, lang)
        elif measure == "solve":
            tier, sep, rest = text.partition(": ")
            text = tier_label(tier, lang) + sep + rest
        return text, False
    v = float(value)
    if math.isinf(v):
        return "∞", True
    if col.endswith("|change") and measure != "change_points":
        if measure.startswith(("covered_share", "share", "within")):
            return f"{100 * v:+.1f}", True
        return f"{v:+,.1f}" if measure in ("mean_walk_min",) else f"{v:+,.0f}", True
    if measure == "change_points":
        return f"{100 * v:+.1f}" if col.endswith("|change") else f"{v:+.1f}", True
    if measure.startswith(
        ("share", "covered_share", "resolved_share", "within_standard_share", "worst_off", "target", "gap_to")
    ):
        return (f"{100 * v:+.1f}" if measure == "gap_to_city" else f"{v:.1%}"), True
    if measure == "gap":
        return f"{v:.2%}", True
    if measure in ("gini", "palma"):
        return f"{v:.3f}", True
    if measure in ("mean_walk_min", "threshold_min", "solve_s", "speed_mps"):
        return f"{v:.1f}", True
    return f"{v:,.0f}", True


def _html_table(table: pd.DataFrame, lang: str, *, rows: int | None = None) -> str:
    shown = table if rows is None else table.head(rows)
    head = "".join(f"<th>{_esc(column_label(c, lang))}</th>" for c in shown.columns)
    body = []
    for rec in shown.itertuples(index=False):
        total = any(str(v) == "total" for v in rec)
        cells = []
        for col, value in zip(shown.columns, rec, strict=True):
            text, numeric = _fmt(value, col, lang)
            if str(value) == "total":
                text = label("total", lang)
            klass = ' class="n"' if numeric else ""
            cells.append(f"<td{klass}>{_esc(text)}</td>")
        row_class = ' class="total"' if total else ""
        body.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    more = ""
    if rows is not None and len(table) > rows:
        more = (
            f'<p class="note">… {len(table) - rows:,} more rows in report.xlsx / CSV</p>'
            if lang == "en"
            else (f'<p class="note">……另有{len(table) - rows:,}行，见 report.xlsx / CSV</p>')
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _changes_only(table: pd.DataFrame) -> pd.DataFrame:
    """A wide compared table for the page: this run and the change (the workbook also has the other run)."""
    return table.drop(columns=[c for c in table.columns if c.endswith("|other")])


def _page_columns(table: pd.DataFrame, run: RunFolder) -> pd.DataFrame:
    """The page's narrower view of an area table: the basic service once (the same today and with the
    plan), the upgraded service with the plan only (nobody has it today); the workbook keeps every column."""
    out = table.copy()
    for s in run.services:
        if s.kind == "basic":
            out = out.rename(columns={f"share_today:{s.key}": f"share_both:{s.key}"})
            out = out.drop(columns=[f"share_plan:{s.key}"], errors="ignore")
        elif s.kind == "upgraded":
            out = out.drop(columns=[f"share_today:{s.key}"], errors="ignore")
    return out


def _stand_in_lines(run: RunFolder, lang: str) -> list[str]:
    """The stand-ins a run rests on, in `lang` (from the provenance records of ``metrics.json``)."""
    records = run.metrics.get("inputs")
    if not records:
        return list(run.stand_ins)
    prov = Provenance.from_records(records)
    return list(dict.fromkeys(prov.banner_lines(lang)))


def render_html(
    run: RunFolder, tables: dict[str, pd.DataFrame], *, lang: str, other: RunFolder | None = None
) -> str:
    """The report page (self-contained HTML)."""
    stand_in = bool(run.stand_ins) or (other is not None and bool(other.stand_ins))
    tag = f'<span class="tag">{_esc(label("stand_in_short", lang))}</span>' if stand_in else ""

    def h2(key: str) -> str:
        return f'<h2 id="{key}">{_esc(label(key, lang))}{tag}</h2>'

    m = run.metrics
    total = float(m["demand"]["weight_total"])
    speed = m.get("network", {}).get("speed") or f"{run.speed_mps:g}"
    out = [
        f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{_esc(label('title', lang))}: {_esc(run.name)}</title><style>{_CSS}</style></head><body>",
        f'<h1>{_esc(label("title", lang))}</h1><p class="meta">{_esc(label("subtitle", lang))}</p>',
        '<p class="meta">'
        f"{_esc(label('scenario', lang))}: <b>{_esc(run.name)}</b> · "
        f"{_esc(label('walking_speed', lang))}: {_esc(speed_label(speed, lang))} · "
        f"{_esc(label('older_total', lang))}: {total:,.0f} ({int(m['demand']['points']):,} "
        f"{_esc(label('demand_points', lang))}) · {_esc(label('run_folder', lang))}: {_esc(run.folder.name)}"
        + (
            f" · {_esc(label('other_run', lang))}: {_esc(other.folder.name)} "
            f"({_esc(speed_label(other.metrics.get('network', {}).get('speed') or other.speed_mps, lang))})"
            if other is not None
            else ""
        )
        + "</p>",
    ]
    if stand_in:
        lines = _stand_in_lines(run, lang) + (
            [
                f"{label('other', lang)}: {t}"
                for t in _stand_in_lines(other, lang)
                if t not in _stand_in_lines(run, lang)
            ]
            if other is not None
            else []
        )
        items = "".join(f"<li>{_esc(t)}</li>" for t in lines)
        out.append(f'<div class="banner">{_esc(label("stand_in_banner", lang))}<ul>{items}</ul></div>')

    # 1. headline
    out.append(h2("headline"))
    lines = []
    for rec in tables["headline"].to_dict("records"):
        today = (
            label("none_today", lang)
            if rec["sites_today"] == 0 and not rec["covered_today"]
            else label("today_share", lang, share=f"{rec['share_today']:.1%}")
        )
        lines.append(
            label(
                "headline_line",
                lang,
                service=service_label(rec["service"], lang),
                covered=f"{rec['covered_plan']:,.0f}",
                share=f"{rec['share_plan']:.1%}",
                minutes=rec["threshold_min"],
                today=today,
            )
        )
    out.append('<ul class="lines">' + "".join(f"<li>{_esc(x)}</li>" for x in lines) + "</ul>")
    head = tables["headline"]
    if other is not None:  # the page keeps the shares of both runs; the workbook also has the counts
        head = head.drop(columns=[c for c in head.columns if c.startswith("covered_") and "|" in c])
    out.append(_html_table(head, lang))
    if any(s.kind == "basic" for s in run.services):
        out.append(f'<p class="note">{_esc(label("service_basic_note", lang))}</p>')

    # 2. maps
    out.append(h2("maps"))
    for s in run.services:
        if s.kind == "basic":
            continue
        caption = label(
            "map_caption",
            lang,
            service=service_label(s.key, lang),
            minutes=s.threshold_min,
            metres=s.threshold_min * 60 * run.speed_mps,
        )
        core = core_bounds(run)
        panels = f'<div class="panel">{map_svg(run, s, lang, width=520)}</div>'
        if core is not None:
            panels += f'<div class="panel">{map_svg(run, s, lang, bounds=core, width=520, cells=80)}</div>'
            caption += " " + label("map_zoom", lang)
        out.append(
            f'<figure><div class="panels">{panels}</div><figcaption>{_esc(caption)}</figcaption></figure>'
        )

    # 3-4. districts and sub-districts
    out.append(h2("districts"))
    out.append(_html_table(_page_columns(tables["districts"], run), lang))
    if "subdistricts" in tables:
        out.append(h2("subdistricts"))
        out.append(_html_table(_page_columns(tables["subdistricts"], run), lang))

    # 5. gaps
    out.append(h2("gaps"))
    out.append(f'<p class="note">{_esc(label("gaps_note", lang))}</p>')
    out.append(
        _html_table(tables["gaps"], lang, rows=TOP_ROWS)
        if len(tables["gaps"])
        else f"<p>{_esc(label('none_found', lang))}</p>"
    )

    # 6. curve
    if "curve" in tables:
        out.append(h2("curve"))
        curve_tier = (m.get("curve") or {}).get("tier")
        plan_p = next((int(t["new"]) for t in m["tiers"] if t["name"] == curve_tier), None)
        out.append(f"<figure>{curve_svg(tables['curve'], plan_p=plan_p, lang=lang)}</figure>")
        if "sites_needed" in tables:
            out.append(f"<h3>{_esc(label('sites_needed', lang))}</h3>")
            out.append(_html_table(tables["sites_needed"], lang))
        out.append(_html_table(tables["curve"].iloc[1:], lang, rows=TOP_ROWS))

    # 7. equity
    out.append(h2("equity"))
    out.append(_html_table(_changes_only(tables["equity"]), lang))
    out.append(f"<h3>{_esc(label('equity_summary', lang))}</h3>")
    out.append(_html_table(tables["equity_summary"], lang))

    # 8. standards
    out.append(h2("standards"))
    out.append(_html_table(tables["standards"], lang))
    beds_note = "" if "standards_beds" in tables else " " + _esc(label("beds_note", lang))
    out.append(f'<p class="note">{_esc(label("bound_note", lang))}{beds_note}</p>')
    out.append(_html_table(_changes_only(tables["standards_districts"]), lang))
    if "standards_short" in tables:
        out.append(f"<h3>{_esc(label('standards_short', lang))}</h3>")
        out.append(_html_table(tables["standards_short"], lang))
    if "standards_beds" in tables:
        out.append(f"<h3>{_esc(label('standards_beds', lang))}</h3>")
        out.append(_html_table(tables["standards_beds"], lang))

    # 9. sensitivity
    if "sensitivity" in tables:
        out.append(h2("sensitivity"))
        out.append(f'<p class="note">{_esc(label("sensitivity_note", lang))}</p>')
        out.append(_html_table(tables["sensitivity"], lang))

    # 10. comparison
    if "sites_changed" in tables:
        out.append(h2("comparison"))
        shown = tables["sites_changed"].assign(
            site_ids=lambda t: t["site_ids"].str.split().str[:20].str.join(" ")
        )
        out.append(f"<h3>{_esc(label('sites_changed', lang))}</h3>")
        out.append(_html_table(shown, lang))

    # 11. solves and sources
    out.append(h2("solves"))
    out.append(_html_table(tables["solves"], lang))
    out.append(h2("sources"))
    if not stand_in:
        out.append(f"<p>{_esc(label('no_stand_ins', lang))}</p>")
    out.append(_html_table(sources_table(run, lang), lang))
    net = m.get("network", {})
    out.append(f'<p class="note">{_esc(net.get("description", ""))} · {_esc(m.get("description", ""))}</p>')
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.append(
        f'<p class="note">{_esc(label("generated", lang))}: {stamp}. '
        f'<span class="noprint">{_esc(label("print_hint", lang))}</span></p>'
    )
    out.append("</body></html>")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------ xlsx, CSV


def _sheet_name(name: str, lang: str, used: set[str]) -> str:
    text = label(name, lang)
    for ch in "[]:*?/\\":
        text = text.replace(ch, " ")
    text = text[:31].strip() or name[:31]
    base, i = text, 2
    while text in used:
        text = f"{base[:28]} {i}"
        i += 1
    used.add(text)
    return text


def _cell(value, col: str, lang: str):
    """A value openpyxl can write: plain Python numbers, None for missing, service names in `lang`."""
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) else "∞" if math.isinf(value) else value
    if col == "service" and isinstance(value, str):
        return service_label(value, lang)
    return value


def write_xlsx(tables: dict[str, pd.DataFrame], path: Path, *, lang: str) -> Path:
    """One sheet per table, headers (and service names) in `lang`."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    used: set[str] = set()
    for name, table in tables.items():
        sheet = book.create_sheet(_sheet_name(name, lang, used))
        shown = round_table(table)
        sheet.append([column_label(c, lang) for c in shown.columns])
        for rec in shown.itertuples(index=False):
            sheet.append([_cell(v, col, lang) for col, v in zip(shown.columns, rec, strict=True)])
        sheet.freeze_panes = "A2"
        for i, col in enumerate(shown.columns, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = min(
                max(10, len(column_label(col, lang)) + 2), 40
            )
    book.save(path)
    return path


def _replace(tmp: Path, path: Path) -> Path:
    tmp.replace(path)
    return path


def write_report(
    folder: str | Path, *, compare: str | Path | None = None, lang: str | None = None
) -> dict[str, Path]:
    """Write ``report.html``, ``report.xlsx`` and ``report_<table>.csv`` into a run folder.

    Parameters
    ----------
    folder
        A run folder written by `planner run` / `planner demo` (`planner.results.write_outputs`).
    compare
        Another run folder of the same scenario: every table shows both runs and the change, and the report
        names the sites added, dropped and kept.
    lang
        ``"zh"`` or ``"en"``; default Chinese for the Shenyang default, English otherwise.

    Returns
    -------
    dict
        The paths written, by name (``html``, ``xlsx``, ``csv:<table>``). Nothing else in the folder changes.
    """
    run = read_run(folder)
    other = None
    if compare is not None:
        other = read_run(compare)
        if other.name != run.name:
            raise InputError(
                f"--compare: {other.folder} is a run of scenario {other.name!r}, {run.folder} of "
                f"{run.name!r}; "
                "compare two runs of the same scenario (e.g. `planner demo --speed frail --out OTHER`)"
            )
        mine = [t["name"] for t in run.metrics["tiers"]]
        theirs = [t["name"] for t in other.metrics["tiers"]]
        if mine != theirs:
            raise InputError(
                f"--compare: {other.folder} has tiers {theirs}, {run.folder} has {mine}; compare runs with "
                "the "
                "same tiers"
            )
    lang = check_lang(lang) if lang is not None else default_lang(run)
    tables = report_tables(run, other=other)
    paths: dict[str, Path] = {}
    out = run.folder
    for stale in out.glob("report_*.csv"):  # tables of an earlier report that this one has not
        if stale.stem.removeprefix("report_") not in tables:
            stale.unlink()
    for name, table in tables.items():
        tmp = out / f".report_{name}.csv.tmp"
        write_csv(table, tmp)
        paths[f"csv:{name}"] = _replace(tmp, out / f"report_{name}.csv")
    tmp = out / ".report.xlsx.tmp"
    write_xlsx(tables, tmp, lang=lang)
    paths["xlsx"] = _replace(tmp, out / "report.xlsx")
    tmp = out / ".report.html.tmp"
    tmp.write_text(render_html(run, tables, lang=lang, other=other), encoding="utf-8")
    paths["html"] = _replace(tmp, out / "report.html")
    log.info("report (%s): %s, %d tables", lang, paths["html"], len(tables))
    return paths
