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
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from planner._errors import InputError
from planner.settings import SPEED_PRESETS_MPS, resolve_speed

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
    generate_candidates: int | None = (
        None  # generate this many candidates on the network when no file is given
    )
    stand_in_existing: bool = False  # use the labelled stand-in stations of the built-in default


@dataclass(frozen=True)
class SolverSpec:
    """How hard to try: exact MIP (HiGHS), heuristic with a bound, or auto."""

    method: str = "auto"
    time_limit_s: float = 60.0
    mip_gap: float = 1e-4


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

    def with_speed(self, speed: str | float) -> Scenario:
        """The same scenario at another walking speed (a preset name or m/s)."""
        name = speed if isinstance(speed, str) else None
        return replace(self, network=replace(self.network, speed_mps=resolve_speed(speed), speed=name))


_KEYS: dict[str, set[str]] = {
    "": {"name", "description", "network", "demand", "tiers", "solver", "areas", "curve"},
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
    },
    "solver": {"method", "time_limit_s", "mip_gap"},
    "areas": {"path", "name", "crs", "builtin"},
    "curve": {"max_sites"},
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
    if "curve" in data:
        _unknown_keys(data["curve"], "curve", problems)
        if "max_sites" in data["curve"]:
            curve_max = int(
                _number(data["curve"]["max_sites"], "[curve] max_sites", problems, low=1, integer=True)
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
