"""Scenarios: a TOML file read into a frozen, validated `Scenario`; `run` turns one into results.

A run is a pure function of its scenario: inputs in, results out, no hidden global state, so that many
runs can be spread over a cluster. The minimal form (paths relative to the file)::

    name = "example"
    [network]
    source = "file"            # "file" | "osm" (online, cached) | "synthetic" | "auto"
    path = "city.osm.pbf"      # .osm.pbf, .osm, .osm.bz2 or .graphml
    speed_mps = 1.0            # or speed = "<preset name>"
    [demand]
    path = "demand.csv"
    id = "id"
    weight = "elderly"
    crs = "wgs84"              # "wgs84" | "gcj02" | "bd09" | "EPSG:<code>"
    [[tiers]]
    name = "centre"
    threshold_min = 15
    new = 5
    candidates = "candidates.csv"
    [[tiers]]
    name = "station"
    threshold_min = 10
    upgrade = 3
    existing = "stations.csv"
    [solver]
    method = "exact"           # "exact" | "heuristic" | "auto"
    time_limit_s = 60
"""

from __future__ import annotations

import difflib
import logging
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from planner._errors import InputError
from planner.settings import SPEED_PRESETS_MPS, resolve_speed

log = logging.getLogger(__name__)

#: Where the built-in default scenario lives.
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_SCENARIO = SCENARIO_DIR / "shenyang.toml"


@dataclass(frozen=True)
class NetworkSpec:
    """Where the streets come from and how fast people walk."""

    source: str = (
        "synthetic"  # "file" | "osm" | "synthetic" | "auto" (file if present, else cache, else synthetic)
    )
    path: Path | None = None
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (WGS84)
    speed_mps: float = 1.0
    speed: str | None = None  # the preset name, when one was given
    max_snap_m: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class DemandSpec:
    """Older residents: from a file, from OSM buildings, or the estimated stand-in of the built-in default."""

    source: str = "file"  # "file" | "osm-buildings" | "estimated"
    path: Path | None = None
    id: str = "id"
    weight: str = "weight"
    crs: str = "wgs84"
    population: float | None = None  # for osm-buildings: people to spread over the buildings
    share_60plus: float | None = None
    points_per_community: int = 6
    seed: int = 0


@dataclass(frozen=True)
class TierSpec:
    """One service tier: open `new` sites among `candidates`, and/or upgrade `upgrade` `existing` sites."""

    name: str
    threshold_min: float
    new: int = 0
    upgrade: int = 0
    candidates: Path | None = None
    existing: Path | None = None
    id: str = "id"
    crs: str = "wgs84"
    generate_candidates: int | None = None  # this many candidates generated on the network, if no file
    stand_in_existing: bool = False  # use the labelled stand-in stations of the built-in default
    exclude: tuple[str, ...] = ()  # site ids that are unavailable (e.g. land not free): never chosen
    equity_min_share: float | None = None  # every area (equity_by) reaches at least this covered share
    equity_maximin: bool = False  # maximise the worst area's covered share first
    equity_by: str = "district_name"  # demand column naming the area of each point
    cost: float | None = None  # cost of one site (new site or upgrade), for a [joint] budget
    cost_column: str | None = None  # or a column of the candidates / existing file holding each site's cost
    capacity_column: str | None = None  # column of the site files with places: 2SFCA crowding scores


@dataclass(frozen=True)
class SolverSpec:
    """How hard to try: exact MIP (HiGHS), heuristic with a bound, or auto."""

    method: str = "auto"
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4


@dataclass(frozen=True)
class JointSpec:
    """Solve a tier of new sites and a tier of upgrades together: a shared budget, or coverage by either."""

    budget: float | None = None  # total cost of new sites and upgrades together (then counts are maxima)
    objective: str = "sum"  # "sum" of each tier's covered older residents, or "either" (covered once)


@dataclass(frozen=True)
class AreasSpec:
    """Areas to report coverage by (districts): a polygon file with a name column, or built-in ones."""

    path: Path | None = None
    name: str = "name"
    crs: str = "wgs84"
    builtin: str | None = None  # "shenyang"


@dataclass(frozen=True)
class Scenario:
    """A validated, immutable description of one siting run."""

    name: str
    network: NetworkSpec
    demand: DemandSpec
    tiers: tuple[TierSpec, ...]
    solver: SolverSpec = field(default_factory=SolverSpec)
    areas: AreasSpec | None = None
    description: str = ""
    base_dir: Path = Path()
    curve_max_sites: int | None = None
    curve_targets: tuple[float, ...] = (0.8, 0.9, 0.95, 1.0)  # shares; () skips the fewest-sites solves
    joint: JointSpec | None = None

    def with_speed(self, speed: str | float) -> Scenario:
        """The same scenario at another walking speed (a preset name or m/s)."""
        name = speed if isinstance(speed, str) else None
        return replace(self, network=replace(self.network, speed_mps=resolve_speed(speed), speed=name))


_KEYS: dict[str, set[str]] = {
    "": {"name", "description", "network", "demand", "tiers", "solver", "areas", "curve", "joint"},
    "network": {"source", "path", "place", "bbox", "speed_mps", "speed", "max_snap_m", "seed"},
    "demand": {
        "source",
        "path",
        "id",
        "weight",
        "crs",
        "population",
        "share_60plus",
        "points_per_community",
        "seed",
    },
    "tiers": {
        "name",
        "threshold_min",
        "new",
        "upgrade",
        "candidates",
        "existing",
        "id",
        "crs",
        "generate_candidates",
        "stand_in_existing",
        "exclude",
        "equity_min_share",
        "equity_maximin",
        "equity_by",
        "cost",
        "cost_column",
        "capacity_column",
    },
    "joint": {"budget", "objective"},
    "solver": {"method", "time_limit_s", "mip_gap"},
    "areas": {"path", "name", "crs", "builtin"},
    "curve": {"max_sites", "targets"},
}


def _unknown_keys(table: dict, section: str, problems: list[str]) -> None:
    valid = _KEYS[section]
    where = f"[{section}]" if section else "the top level"
    for key in table:
        if key not in valid:
            near = difflib.get_close_matches(key, sorted(valid), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys are {', '.join(sorted(valid))}"
            problems.append(f"unknown key {key!r} in {where}{hint}")


def _choice(value: Any, key: str, allowed: tuple[str, ...], problems: list[str]) -> str:
    if value not in allowed:
        problems.append(f"{key} = {value!r} is not one of {', '.join(repr(a) for a in allowed)}")
        return allowed[0]
    return value


def _number(
    value: Any, key: str, problems: list[str], *, low: float, high: float | None = None, integer: bool = False
) -> float:
    kind = "a whole number" if integer else "a number"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (integer and not isinstance(value, int))
    ):
        problems.append(f"{key} = {value!r} must be {kind}")
        return low
    if value < low or (high is not None and value > high):
        upper = f" and at most {high:g}" if high is not None else ""
        problems.append(f"{key} = {value!r} must be at least {low:g}{upper}")
    return value


def _path(value: Any, key: str, base: Path, problems: list[str], *, must_exist: bool = True) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        problems.append(f"{key} = {value!r} must be a file path (text)")
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = (base / path).resolve()
    if must_exist and not path.exists():
        problems.append(f"{key} = {value!r}: no such file {path}; paths are relative to the scenario file")
    return path


def parse_scenario(data: dict, *, base_dir: Path | str = ".", check_files: bool = True) -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML); every problem is reported at once.

    Raises
    ------
    InputError
        Listing every unknown key (with the nearest valid one) and every bad value, with how to fix it.
    """
    base = Path(base_dir)
    problems: list[str] = []
    _unknown_keys(data, "", problems)
    for section in ("network", "demand", "solver", "areas", "curve"):
        if section in data and not isinstance(data[section], dict):
            problems.append(f"[{section}] must be a table, got {type(data[section]).__name__}")
            data = {**data, section: {}}
    name = data.get("name", "scenario")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"name = {name!r} must be non-empty text")
        name = "scenario"

    raw = data.get("network", {})
    _unknown_keys(raw, "network", problems)
    source = _choice(
        raw.get("source", "file" if "path" in raw else "synthetic"),
        "[network] source",
        ("file", "osm", "synthetic", "auto"),
        problems,
    )
    if "speed" in raw and "speed_mps" in raw:
        problems.append("[network] give either speed (a preset name) or speed_mps (a number), not both")
    speed_name = raw.get("speed")
    if speed_name is not None and speed_name not in SPEED_PRESETS_MPS:
        near = difflib.get_close_matches(str(speed_name), list(SPEED_PRESETS_MPS), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        problems.append(
            f"[network] speed = {speed_name!r} is not a preset ({', '.join(SPEED_PRESETS_MPS)}){hint}"
        )
        speed_name = None
    speed_mps = (
        SPEED_PRESETS_MPS[speed_name]
        if speed_name
        else _number(raw.get("speed_mps", 1.0), "[network] speed_mps", problems, low=0.1, high=3.0)
    )
    net_path = _path(
        raw.get("path"), "[network] path", base, problems, must_exist=check_files and source == "file"
    )
    if source == "file" and net_path is None:
        problems.append(
            '[network] source = "file" needs path = "<file>.osm.pbf" (or .osm, .osm.bz2, .graphml)'
        )
    bbox = raw.get("bbox")
    if source == "osm" and not raw.get("place") and bbox is None:
        problems.append(
            '[network] source = "osm" needs place = "<name>" or bbox = [west, south, east, north]'
        )
    if bbox is not None and (not isinstance(bbox, list) or len(bbox) != 4):
        problems.append(f"[network] bbox = {bbox!r} must be [west, south, east, north] in degrees")
        bbox = None
    network = NetworkSpec(
        source=source,
        path=net_path,
        place=raw.get("place"),
        bbox=tuple(bbox) if bbox else None,
        speed_mps=float(speed_mps),
        speed=speed_name,
        max_snap_m=(
            _number(raw["max_snap_m"], "[network] max_snap_m", problems, low=1.0)
            if "max_snap_m" in raw
            else None
        ),
        seed=int(_number(raw.get("seed", 0), "[network] seed", problems, low=0, integer=True)),
    )

    raw = data.get("demand", {})
    _unknown_keys(raw, "demand", problems)
    if not raw:
        problems.append(
            '[demand] is missing; give path = "<file>" with id, weight and crs, or source = "estimated"'
        )
    d_source = _choice(
        raw.get("source", "file"), "[demand] source", ("file", "osm-buildings", "estimated"), problems
    )
    d_path = _path(raw.get("path"), "[demand] path", base, problems, must_exist=check_files)
    if d_source in ("file", "osm-buildings") and d_path is None and raw:
        problems.append(f'[demand] source = "{d_source}" needs path = "<file>"')
    if d_source == "osm-buildings" and "population" not in raw:
        problems.append('[demand] source = "osm-buildings" needs population = <older residents to spread>')
    crs = raw.get("crs", "wgs84")
    if not isinstance(crs, str) or not (
        crs.lower() in ("wgs84", "gcj02", "bd09") or crs.upper().startswith("EPSG:")
    ):
        problems.append(f'[demand] crs = {crs!r} must be "wgs84", "gcj02", "bd09" or "EPSG:<code>"')
    demand = DemandSpec(
        source=d_source,
        path=d_path,
        id=str(raw.get("id", "id")),
        weight=str(raw.get("weight", "weight")),
        crs=str(crs).lower() if str(crs).lower() in ("wgs84", "gcj02", "bd09") else str(crs),
        population=(
            _number(raw["population"], "[demand] population", problems, low=0)
            if "population" in raw
            else None
        ),
        share_60plus=(
            _number(raw["share_60plus"], "[demand] share_60plus", problems, low=0, high=1)
            if "share_60plus" in raw
            else None
        ),
        points_per_community=int(
            _number(
                raw.get("points_per_community", 6),
                "[demand] points_per_community",
                problems,
                low=1,
                high=100,
                integer=True,
            )
        ),
        seed=int(_number(raw.get("seed", 0), "[demand] seed", problems, low=0, integer=True)),
    )

    tiers_raw = data.get("tiers", [])
    if not isinstance(tiers_raw, list) or not tiers_raw:
        problems.append("no [[tiers]]: give at least one tier with name, threshold_min and new or upgrade")
        tiers_raw = []
    tiers = []
    seen: set[str] = set()
    for k, raw in enumerate(tiers_raw, start=1):
        where = f"[[tiers]] #{k}"
        if not isinstance(raw, dict):
            problems.append(f"{where} must be a table")
            continue
        _unknown_keys(raw, "tiers", problems)
        t_name = raw.get("name", f"tier{k}")
        if t_name in seen:
            problems.append(f"{where}: tier name {t_name!r} is used twice; tier names must be unique")
        seen.add(t_name)
        if not isinstance(t_name, str) or not t_name.isidentifier():
            problems.append(f"{where}: name = {t_name!r} must be a short word (letters, digits, _)")
        threshold = _number(
            raw.get("threshold_min", 15), f"{where} threshold_min", problems, low=0.5, high=120
        )
        new = int(_number(raw.get("new", 0), f"{where} new", problems, low=0, integer=True))
        upgrade = int(_number(raw.get("upgrade", 0), f"{where} upgrade", problems, low=0, integer=True))
        cand = _path(raw.get("candidates"), f"{where} candidates", base, problems, must_exist=check_files)
        existing = _path(raw.get("existing"), f"{where} existing", base, problems, must_exist=check_files)
        generate = raw.get("generate_candidates")
        if generate is not None:
            generate = int(_number(generate, f"{where} generate_candidates", problems, low=1, integer=True))
        stand_in_existing = bool(raw.get("stand_in_existing", False))
        if new == 0 and upgrade == 0:
            problems.append(f"{where} ({t_name}): give new = <count> (open new sites) or upgrade = <count>")
        if new and cand is None and generate is None:
            problems.append(
                f'{where} ({t_name}): new = {new} needs candidates = "<file>" or generate_candidates = <n>'
            )
        if upgrade and existing is None and not stand_in_existing:
            problems.append(
                f'{where} ({t_name}): upgrade = {upgrade} needs existing = "<file>" of current sites'
            )
        if new and upgrade:
            problems.append(
                f"{where} ({t_name}): give new or upgrade, not both; put new sites and upgrades in two tiers"
            )
        exclude = raw.get("exclude", [])
        if not isinstance(exclude, list) or not all(isinstance(e, str | int) for e in exclude):
            problems.append(f"{where} exclude = {exclude!r} must be a list of site ids")
            exclude = []
        equity_share = raw.get("equity_min_share")
        if equity_share is not None:
            equity_share = float(_number(equity_share, f"{where} equity_min_share", problems, low=0, high=1))
        t_crs = str(raw.get("crs", "wgs84"))
        tiers.append(
            TierSpec(
                name=str(t_name),
                threshold_min=float(threshold),
                new=new,
                upgrade=upgrade,
                candidates=cand,
                existing=existing,
                id=str(raw.get("id", "id")),
                crs=t_crs.lower() if t_crs.lower() in ("wgs84", "gcj02", "bd09") else t_crs,
                generate_candidates=generate,
                stand_in_existing=stand_in_existing,
                exclude=tuple(str(e) for e in exclude),
                equity_min_share=equity_share,
                equity_maximin=bool(raw.get("equity_maximin", False)),
                equity_by=str(raw.get("equity_by", "district_name")),
                cost=(
                    float(_number(raw["cost"], f"{where} cost", problems, low=0)) if "cost" in raw else None
                ),
                cost_column=raw.get("cost_column"),
                capacity_column=raw.get("capacity_column"),
            )
        )

    raw = data.get("solver", {})
    _unknown_keys(raw, "solver", problems)
    solver = SolverSpec(
        method=_choice(
            raw.get("method", "auto"), "[solver] method", ("exact", "heuristic", "auto"), problems
        ),
        time_limit_s=float(_number(raw.get("time_limit_s", 60), "[solver] time_limit_s", problems, low=0.1)),
        mip_gap=float(_number(raw.get("mip_gap", 1e-4), "[solver] mip_gap", problems, low=0, high=1)),
    )

    areas = None
    if "areas" in data:
        raw = data["areas"]
        _unknown_keys(raw, "areas", problems)
        builtin = raw.get("builtin")
        if builtin is not None and builtin != "shenyang":
            problems.append(f'[areas] builtin = {builtin!r}: the only built-in areas are "shenyang"')
        areas = AreasSpec(
            path=_path(raw.get("path"), "[areas] path", base, problems, must_exist=check_files),
            name=str(raw.get("name", "name")),
            crs=str(raw.get("crs", "wgs84")).lower(),
            builtin=builtin,
        )
    curve_max = None
    curve_targets = Scenario.curve_targets
    if "curve" in data:
        _unknown_keys(data["curve"], "curve", problems)
        targets = data["curve"].get("targets", list(Scenario.curve_targets))
        if not isinstance(targets, list) or not all(
            isinstance(t, int | float) and not isinstance(t, bool) and 0 < t <= 1 for t in targets
        ):
            problems.append(
                f"[curve] targets = {targets!r} must be a list of shares in (0, 1], e.g. [0.8, 0.9]"
            )
            targets = []
        curve_targets = tuple(float(t) for t in targets)
        if "max_sites" in data["curve"]:
            curve_max = int(
                _number(data["curve"]["max_sites"], "[curve] max_sites", problems, low=1, integer=True)
            )

    joint = None
    if "joint" in data:
        raw = data["joint"]
        _unknown_keys(raw, "joint", problems)
        budget = raw.get("budget")
        if budget is not None:
            budget = float(_number(budget, "[joint] budget", problems, low=0))
        joint = JointSpec(
            budget=budget,
            objective=_choice(raw.get("objective", "sum"), "[joint] objective", ("sum", "either"), problems),
        )
        kinds = sorted("new" if t.new else "upgrade" for t in tiers)
        if kinds != ["new", "upgrade"]:
            problems.append(
                "[joint] needs exactly two [[tiers]]: one with new = <count> and one with upgrade = <count>"
            )
        for t in tiers:
            if t.equity_min_share is not None or t.equity_maximin:
                problems.append(
                    f"tier {t.name!r}: equity floors are not available with [joint]; solve the tiers apart "
                    "(drop [joint]) to give an area its fair share"
                )
        if budget is not None:
            for t in tiers:
                if t.cost is None and t.cost_column is None:
                    problems.append(
                        f"[joint] budget needs the cost of each site: give tier {t.name!r} cost = <per site> "
                        "or cost_column = <column of its site file>"
                    )

    if problems:
        listed = "\n".join(f"  - {p}" for p in problems)
        raise InputError(f"scenario {name!r} has {len(problems)} problem(s):\n{listed}")
    return Scenario(
        name=name.strip(),
        network=network,
        demand=demand,
        tiers=tuple(tiers),
        solver=solver,
        areas=areas,
        description=str(data.get("description", "")),
        base_dir=base.resolve(),
        curve_max_sites=curve_max,
        curve_targets=curve_targets,
        joint=joint,
    )


def read_scenario(path: str | Path, *, check_files: bool = True) -> Scenario:
    """Read and validate a scenario TOML file (paths inside are relative to the file)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"scenario file {path} does not exist; give the path of a .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"scenario file {path} is not valid TOML: {exc}") from exc
    return parse_scenario(data, base_dir=path.parent, check_files=check_files)


# --------------------------------------------------------------------------------------------- running


@dataclass(frozen=True, eq=False)
class TierOutcome:
    """One tier's sites, walk times and plan."""

    spec: TierSpec
    sites: (
        Any  # GeoDataFrame indexed by site_id: status ("new", "candidate", "upgraded", "existing"), stand_in
    )
    times: Any  # TravelTimes from every site of the tier to every demand point, within the threshold
    result: Any  # SitingResult
    service_areas: Any = None  # GeoDataFrame of the chosen sites' service areas (WGS84)


@dataclass(frozen=True, eq=False)
class RunResult:
    """Everything a run produced; `planner.results.write_outputs` writes it to a folder."""

    scenario: Scenario
    network_summary: dict
    demand: Any  # GeoDataFrame (WGS84) indexed by demand_id, with area columns and `weight`
    demand_source: str
    tiers: tuple[TierOutcome, ...]
    coverage: Any  # per demand point: walk_min_<tier>, covered_<tier>, covered_any (after the plan)
    today: Any  # the same before the plan (existing sites only), or None
    areas: Any  # GeoDataFrame of report areas (WGS84) or None
    curve: Any  # CoverageCurve of the first tier with new sites, or None
    stand_ins: tuple[str, ...]
    timings_s: dict
    joint: Any = None  # TwoTierResult when the tiers were solved together ([joint])

    def headline(self) -> str:
        """One line per tier: how many older residents the plan puts within the walk."""
        total = float(self.demand["weight"].sum())
        lines = [f"{self.scenario.name}: {total:,.0f} older residents at {len(self.demand):,} demand points"]
        for tier in self.tiers:
            res = tier.result
            covered = float(self.coverage[f"covered_{tier.spec.name}"].mul(self.demand["weight"]).sum())
            lines.append(
                f"  {tier.spec.name}: {len(res.selected)} sites chosen, "
                f"{covered:,.0f} ({covered / total:.1%}) "
                f"within {tier.spec.threshold_min:g} min walk"
                + ("" if self.joint is not None else f"; {res.status}, gap {res.gap:.2%}")
            )
        if self.joint is not None:
            spent = self.joint.details.get("cost")
            lines.append(
                f"  both tiers solved together ({self.scenario.joint.objective}): objective "
                f"{self.joint.objective:,.0f}, {self.joint.status}, gap {self.joint.gap:.2%}"
                + (
                    f", cost {spent:,.0f} of budget {self.scenario.joint.budget:,.0f}"
                    if spent is not None
                    else ""
                )
            )
        if self.stand_ins:
            lines.append("  STAND-IN DATA: " + "; ".join(self.stand_ins))
        return "\n".join(lines)


#: The stages of a run, in order (a progress bar counts them).
STAGES = (
    "areas",
    "demand",
    "network",
    "sites",
    "snap",
    "travel_times",
    "today",
    "solve",
    "coverage",
    "access",
    "curve",
    "service_areas",
)


class _Stages:
    """Times each stage, logs one INFO line, and moves a progress bar over the stages when asked."""

    def __init__(self, *, progress: bool) -> None:
        from tqdm.auto import tqdm

        self.timings: dict[str, float] = {}
        self.bar = tqdm(total=len(STAGES), unit="stage", disable=not progress, leave=False)

    def __call__(self, name: str):
        import contextlib
        import time

        @contextlib.contextmanager
        def stage():
            self.bar.set_description(name.replace("_", " "))
            start = time.perf_counter()
            yield
            self.timings[name] = round(time.perf_counter() - start, 3)
            self.bar.update(1)
            log.info("stage %s: %.1f s", name, self.timings[name])

        return stage()

    def close(self) -> None:
        self.bar.close()


def run(scenario: Scenario, *, progress: bool = False) -> RunResult:
    """Run a scenario: load streets, demand and sites, compute walk times, solve every tier, measure coverage.

    The same scenario gives the same result: every random choice takes the scenario's seeds.
    """
    import numpy as np

    from planner.coverage import multi_tier_coverage
    from planner.snap import snap_points

    stage = _Stages(progress=progress)
    stand_ins: list[str] = []
    with stage("areas"):
        areas = _load_areas(scenario)
    with stage("demand"):
        demand, demand_source = _load_demand(scenario, areas)
        if demand_source == "estimated":
            stand_ins.append("ESTIMATED demand positions (census totals spread over communities)")
    with stage("network"):
        net = _load_network(scenario, demand, areas)
        if net.stand_in:
            stand_ins.append("SYNTHETIC STAND-IN street network (not real streets)")
        log.info("%s", net.summary())
    with stage("sites"):
        tier_sites = {t.name: _load_sites(t, net, demand, scenario) for t in scenario.tiers}
        for t in scenario.tiers:
            sites = tier_sites[t.name]
            if "stand_in" in sites and bool(sites["stand_in"].any()):
                stand_ins.append(f"STAND-IN {t.name} sites (generated, no published list)")
    with stage("snap"):
        max_snap = scenario.network.max_snap_m
        demand_snap = snap_points(net, demand, max_snap_m=max_snap, name="demand")
        site_snaps = {
            name: snap_points(net, sites, max_snap_m=max_snap, name=f"{name} sites")
            for name, sites in tier_sites.items()
        }
    with stage("travel_times"):
        from planner.costs import travel_times

        times = {
            t.name: travel_times(
                net,
                site_snaps[t.name],
                demand_snap,
                limit_s=t.threshold_min * 60.0,
                speed_mps=scenario.network.speed_mps,
                progress=progress,
            )
            for t in scenario.tiers
        }
        if stand_ins:
            times = {k: replace(v, stand_in=True) for k, v in times.items()}
    weights = demand["weight"]
    with stage("today"):
        existing = {
            t.name: list(tier_sites[t.name].index[tier_sites[t.name]["status"] == "existing"])
            for t in scenario.tiers
        }
        today = None
        if any(existing.values()):
            today = multi_tier_coverage(
                times,
                weights,
                thresholds_min={t.name: t.threshold_min for t in scenario.tiers},
                open_by_tier=dict(existing),
            )
    outcomes = []
    joint = None
    with stage("solve"):
        if scenario.joint is not None:
            outcomes, joint = _solve_joint(scenario, tier_sites, times, demand)
        else:
            for t in scenario.tiers:
                outcomes.append(_solve_tier(t, tier_sites[t.name], times[t.name], demand, scenario))
    with stage("coverage"):
        open_by_tier = {o.spec.name: list(o.result.selected) + list(o.result.fixed) for o in outcomes}
        coverage = multi_tier_coverage(
            times,
            weights,
            thresholds_min={t.name: t.threshold_min for t in scenario.tiers},
            open_by_tier=open_by_tier,
        )
    with stage("access"):
        coverage, outcomes = _crowding(coverage, outcomes, weights)
    curve = None
    with stage("curve"):
        first_new = next((o for o in outcomes if o.spec.new), None)
        if first_new is not None:
            curve = _curve(first_new, weights, scenario)
    with stage("service_areas"):
        outcomes = [_with_service_areas(o, net, site_snaps[o.spec.name], scenario) for o in outcomes]
    stage.close()
    summary = {
        "source": net.source,
        "stand_in": bool(net.stand_in),
        "nodes": int(net.n_nodes),
        "edges": int(net.n_edges),
        "crs": net.crs.to_string(),
        "dropped_nodes": int(net.dropped_nodes),
        "dropped_parts": int(net.dropped_parts),
        "description": net.description,
        "speed_mps": scenario.network.speed_mps,
        "speed": scenario.network.speed,
        "street_km": round(float(np.sum(net.length_m)) / 1000.0, 1),
        "demand_far_from_street": [str(i) for i in demand_snap.far[:10]],
        "demand_far_count": len(demand_snap.far),
    }
    return RunResult(
        scenario=scenario,
        network_summary=summary,
        demand=demand,
        demand_source=demand_source,
        tiers=tuple(outcomes),
        coverage=coverage,
        today=today,
        areas=areas,
        curve=curve,
        stand_ins=tuple(dict.fromkeys(stand_ins)),
        timings_s=stage.timings,
        joint=joint,
    )


def _load_areas(scenario: Scenario):
    """Report areas (districts) in WGS84 with a ``name`` column, or None."""
    spec = scenario.areas
    if spec is None:
        return None
    if spec.builtin == "shenyang":
        from planner.demand import shenyang_districts

        return shenyang_districts().to_crs(4326)
    import geopandas as gpd

    from planner.coords import to_wgs84

    areas = gpd.read_file(spec.path)
    if spec.name not in areas.columns:
        near = difflib.get_close_matches(spec.name, [str(c) for c in areas.columns], n=1)
        raise InputError(
            f"[areas] name = {spec.name!r} is not a column of {spec.path}; columns are {list(areas.columns)}"
            + (f"; did you mean {near[0]!r}?" if near else "")
        )
    if areas.crs is None:
        areas = areas.set_crs(4326) if spec.crs in ("wgs84", "gcj02", "bd09") else areas.set_crs(spec.crs)
    if spec.crs in ("gcj02", "bd09"):
        areas = to_wgs84(areas, spec.crs)
    areas = areas.to_crs(4326).rename(columns={spec.name: "name"})
    return areas.set_index(areas["name"].astype(str).rename("area"))


def _load_demand(scenario: Scenario, areas):
    """Demand points (WGS84, index demand_id, column weight) and their source label."""
    spec = scenario.demand
    if spec.source == "estimated":
        from planner.demand import estimated_demand, shenyang_communities, shenyang_districts

        demand = estimated_demand(
            shenyang_districts(),
            shenyang_communities(),
            share_60plus=spec.share_60plus,
            points_per_community=spec.points_per_community,
            seed=spec.seed,
        )
        return demand, "estimated"
    if spec.source == "osm-buildings":
        from planner.demand import demand_from_buildings

        demand = demand_from_buildings(spec.path, population=spec.population)
        source = "osm-buildings"
    else:
        from planner.demand import demand_from_file

        demand = demand_from_file(spec.path, id=spec.id, weight=spec.weight, crs=spec.crs)
        source = "file"
    if areas is not None and "district_name" not in demand.columns:
        demand = _assign_areas(demand, areas)
    return demand, source


def _assign_areas(demand, areas):
    """Add ``district_name`` (the report area each point lies in; "outside" when in none)."""
    import geopandas as gpd

    joined = gpd.sjoin(demand[["geometry"]], areas[["name", "geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    out = demand.copy()
    out["district_name"] = joined["name"].reindex(demand.index).fillna("outside").astype(str)
    return out


def _load_network(scenario: Scenario, demand, areas):
    from planner import network as nw

    spec = scenario.network
    if spec.source == "file":
        return nw.read_network(spec.path, bbox=_study_bbox(spec, areas))
    if spec.source == "osm":
        return _online_network(spec, cached_only=False)
    if spec.source == "auto":
        if spec.path is not None and spec.path.exists():
            return nw.read_network(spec.path, bbox=_study_bbox(spec, areas))
        cached = _online_network(spec, cached_only=True) if (spec.place or spec.bbox) else None
        if cached is not None:
            return cached
        log.warning(
            "no OpenStreetMap data for %s (no file %s, no cached download): using a SYNTHETIC STAND-IN "
            "street network; run `planner network fetch` online or put an .osm.pbf there for real streets",
            scenario.name,
            spec.path,
        )
    return _stand_in_network(demand, areas, seed=spec.seed)


#: Margin around the report areas when a street file is clipped to them (degrees, about 5 km).
STUDY_AREA_MARGIN_DEG = 0.05


def _study_bbox(spec: NetworkSpec, areas):
    """The [network] bbox, else the report areas' bounds plus a margin (a province extract cut to a city)."""
    if spec.bbox is not None:
        return spec.bbox
    if areas is None:
        return None
    west, south, east, north = (float(v) for v in areas.total_bounds)
    m = STUDY_AREA_MARGIN_DEG
    bbox = (west - m, south - m, east + m, north + m)
    log.info("streets clipped to the report areas' bounds with a %g deg margin: %s", m, bbox)
    return bbox


def _online_network(spec: NetworkSpec, *, cached_only: bool):
    from planner import network as nw

    if spec.bbox is not None:
        return nw.network_from_bbox(spec.bbox, cached_only=cached_only)
    return nw.network_from_place(spec.place, cached_only=cached_only)


def fetch_network(scenario: Scenario, *, place: str | None = None):
    """Download (or find in the cache) the walk network of a scenario's study area; return its description."""
    spec = scenario.network
    if place is not None:
        spec = replace(spec, place=place, bbox=None)
    if not spec.place and spec.bbox is None:
        raise InputError(
            f'scenario {scenario.name!r} names no study area; add place = "<name>" or bbox = [w, s, e, n] '
            "to [network], or pass --place"
        )
    net = _online_network(spec, cached_only=False)
    return net.meta.get("cache_file") or net.description


def _stand_in_network(demand, areas, *, seed: int):
    """A SYNTHETIC STAND-IN street network where the (estimated) people live, inside the real districts."""
    from planner.synthetic import settlement_streets

    metric = demand.to_crs(demand.estimate_utm_crs())
    boundary = None if areas is None else areas.to_crs(metric.crs).geometry
    column = "population" if "population" in metric.columns else "weight"
    return settlement_streets(metric, boundary=boundary, population=column, seed=seed)


def _load_sites(tier: TierSpec, net, demand, scenario: Scenario):
    """All sites of a tier (WGS84, index site_id): ``status`` "candidate" or "existing", ``stand_in``."""
    import geopandas as gpd
    import pandas as pd

    from planner import sites as st

    parts = []
    if tier.new:
        if tier.candidates is not None:
            cand = st.sites_from_file(
                tier.candidates,
                id=tier.id,
                crs=tier.crs,
                cost=tier.cost_column,
                capacity=tier.capacity_column,
            )
        else:
            cand = st.candidates_on_network(
                net, tier.generate_candidates, weights_gdf=demand, seed=scenario.network.seed
            )
        parts.append(cand.to_crs(4326).assign(status="candidate"))
    if tier.existing is not None or tier.stand_in_existing:
        if tier.existing is not None:
            exist = st.sites_from_file(
                tier.existing, id=tier.id, crs=tier.crs, cost=tier.cost_column, capacity=tier.capacity_column
            )
        else:
            exist = st.stand_in_stations(demand, seed=scenario.demand.seed)
        parts.append(exist.to_crs(4326).assign(status="existing"))
    sites = gpd.GeoDataFrame(pd.concat(parts), crs=4326)
    sites.index.name = "site_id"
    if sites.index.has_duplicates:
        from planner._validate import first_ids

        dup = sites.index[sites.index.duplicated()].unique()
        raise InputError(
            f"tier {tier.name!r}: candidate and existing sites share ids {first_ids(dup)}; "
            "give them distinct ids"
        )
    sites["stand_in"] = sites["stand_in"].fillna(False).astype(bool) if "stand_in" in sites else False
    sites["tier"] = tier.name
    if tier.cost is not None:
        sites["cost"] = float(tier.cost)
    elif tier.cost_column is not None and ("cost" not in sites or sites["cost"].isna().any()):
        raise InputError(
            f"tier {tier.name!r}: cost_column = {tier.cost_column!r} needs a cost for every site, but some "
            "sites come from no file (generated or stand-in); give cost = <per site> instead"
        )
    # an unavailable site stays what it was (existing, or a candidate) and says why in `note`
    unknown = sorted(set(tier.exclude) - {str(i) for i in sites.index})
    if unknown:
        from planner._validate import first_ids

        raise InputError(
            f"tier {tier.name!r}: exclude names ids that are not sites of the tier: {first_ids(unknown)}"
        )
    sites["note"] = ""
    sites.loc[sites.index.astype(str).isin(set(tier.exclude)), "note"] = "excluded by the scenario"
    n_exist = int((sites["status"] == "existing").sum())
    if tier.upgrade > n_exist:
        raise InputError(
            f"tier {tier.name!r}: upgrade = {tier.upgrade} but only {n_exist} existing sites are given; "
            "lower upgrade or give more existing sites"
        )
    n_cand = int((sites["status"] == "candidate").sum())
    if tier.new > n_cand:
        raise InputError(
            f"tier {tier.name!r}: new = {tier.new} but only {n_cand} candidate sites are given; "
            "lower new or give more candidates"
        )
    return sites


def _usable(sites, status: str) -> list:
    """Ids of the sites with this status that the scenario does not exclude."""
    return list(sites.index[(sites["status"] == status) & (sites["note"] == "")])


def _solve_tier(tier: TierSpec, sites, times, demand, scenario: Scenario) -> TierOutcome:
    from planner.locate import Equity, mclp

    solver = scenario.solver
    weights = demand["weight"]
    existing = _usable(sites, "existing")
    candidates = _usable(sites, "candidate")
    equity = None
    if tier.equity_min_share is not None or tier.equity_maximin:
        if tier.equity_by not in demand.columns:
            raise InputError(
                f"tier {tier.name!r}: equity_by = {tier.equity_by!r} is not a column of the demand; "
                f"columns are {[c for c in demand.columns if c != 'geometry']}"
            )
        equity = Equity(
            groups=demand[tier.equity_by].astype(str),
            min_share=tier.equity_min_share,
            maximin=tier.equity_maximin,
        )
    options = {
        "threshold_min": tier.threshold_min,
        "equity": equity,
        "method": solver.method,
        "time_limit_s": solver.time_limit_s,
        "mip_gap": solver.mip_gap,
    }
    if tier.upgrade:
        # choose which existing sites to upgrade; the others do not offer the upgraded service
        result = mclp(times, weights, p=tier.upgrade, candidates=existing, **options)
        status = dict.fromkeys(result.selected, "upgraded")
    else:
        result = mclp(times, weights, p=tier.new, fixed=existing or None, candidates=candidates, **options)
        status = dict.fromkeys(result.selected, "new")
    return TierOutcome(spec=tier, sites=_with_status(sites, status), times=times, result=result)


def _with_status(sites, status: dict):
    """A copy of `sites` with the chosen ones marked ("new" / "upgraded")."""
    sites = sites.copy()
    sites["status"] = [status.get(i, s) for i, s in zip(sites.index, sites["status"], strict=True)]
    return sites


def _solve_joint(scenario: Scenario, tier_sites, times, demand) -> tuple[list[TierOutcome], Any]:
    """The tier of new sites and the tier of upgrades in one model (shared budget, or "either" coverage)."""
    from planner.locate import two_tier

    joint, solver = scenario.joint, scenario.solver
    new_t = next(t for t in scenario.tiers if t.new)
    up_t = next(t for t in scenario.tiers if t.upgrade)
    new_sites, up_sites = tier_sites[new_t.name], tier_sites[up_t.name]
    budget = joint.budget
    result = two_tier(
        times[new_t.name],
        times[up_t.name],
        demand["weight"],
        threshold_new_min=new_t.threshold_min,
        threshold_upgrade_min=up_t.threshold_min,
        new=new_t.new,
        upgrade=up_t.upgrade,
        candidates_new=_usable(new_sites, "candidate"),
        fixed_new=_usable(new_sites, "existing") or None,
        candidates_upgrade=_usable(up_sites, "existing"),
        cost_new=new_sites["cost"] if budget is not None else None,
        cost_upgrade=up_sites["cost"] if budget is not None else None,
        budget=budget,
        objective=joint.objective,
        method=solver.method,
        time_limit_s=solver.time_limit_s,
        mip_gap=solver.mip_gap,
    )
    by_name = {
        new_t.name: TierOutcome(
            spec=new_t,
            sites=_with_status(new_sites, dict.fromkeys(result.new.selected, "new")),
            times=times[new_t.name],
            result=result.new,
        ),
        up_t.name: TierOutcome(
            spec=up_t,
            sites=_with_status(up_sites, dict.fromkeys(result.upgrade.selected, "upgraded")),
            times=times[up_t.name],
            result=result.upgrade,
        ),
    }
    return [by_name[t.name] for t in scenario.tiers], result


def _crowding(coverage, outcomes: list[TierOutcome], weights):
    """2SFCA places per older resident for tiers whose sites have capacities (crowding, not only distance).

    Adds ``access_<tier>`` (places within the threshold per older resident, shared by all who reach them) to
    the coverage table and ``supply_ratio`` (places per older resident in the catchment) to the open sites.
    """
    import warnings

    from planner.access import two_step_fca

    coverage = coverage.copy()
    done = []
    for outcome in outcomes:
        sites = outcome.sites
        open_ids = list(outcome.result.selected) + list(outcome.result.fixed)
        if "capacity" not in sites or not open_ids or sites.loc[open_ids, "capacity"].isna().any():
            done.append(outcome)
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scores = two_step_fca(
                outcome.times,
                weights,
                sites.loc[open_ids, "capacity"].astype(float),
                threshold_min=outcome.spec.threshold_min,
            )
        for warning in caught:  # e.g. open sites whose catchment holds nobody: said, not raised
            log.warning("%s: %s", outcome.spec.name, warning.message)
        coverage[f"access_{outcome.spec.name}"] = scores.access.reindex(coverage.index)
        sites = sites.assign(supply_ratio=scores.ratio.reindex(sites.index))
        done.append(replace(outcome, sites=sites))
    return coverage, done


def _curve(outcome: TierOutcome, weights, scenario: Scenario):
    from planner.locate import coverage_curve

    tier = outcome.spec
    sites = outcome.sites
    existing = _usable(sites, "existing") + _usable(sites, "upgraded")
    candidates = _usable(sites, "candidate") + _usable(sites, "new")
    wanted = 3 * tier.new if scenario.curve_max_sites is None else scenario.curve_max_sites
    return coverage_curve(
        outcome.times,
        weights,
        threshold_min=tier.threshold_min,
        fixed=existing or None,
        candidates=candidates,
        max_sites=min(wanted, len(candidates)),
        targets=scenario.curve_targets,
        method=scenario.solver.method,
        time_limit_s=scenario.solver.time_limit_s,
        mip_gap=scenario.solver.mip_gap,
    )


def _with_service_areas(outcome: TierOutcome, net, snapped_sites, scenario: Scenario) -> TierOutcome:
    from planner.isochrones import service_areas

    chosen = list(outcome.result.selected)
    if not chosen:
        return outcome
    areas = service_areas(
        net,
        snapped_sites.subset(chosen),
        threshold_s=outcome.spec.threshold_min * 60.0,
        speed_mps=scenario.network.speed_mps,
    )
    areas = areas.to_crs(4326)
    areas["tier"] = outcome.spec.name
    areas["site_id"] = areas.index
    return replace(outcome, service_areas=areas)
