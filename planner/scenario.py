"""Scenarios: a TOML file read into a frozen, validated `Scenario` (the schema; `planner.pipeline` runs it).

The minimal form (paths relative to the file)::

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

The keys of each table are the fields of its spec below (one source: `parse_scenario` reads the fields, their
types and bounds); every default comes from `planner.settings`. This module imports no stage of the run.
"""

from __future__ import annotations

import difflib
import logging
import math
import tomllib
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from planner._errors import InputError
from planner.coords import LONLAT_DATUMS, parse_datum
from planner.settings import (
    DEFAULT_CURVE_TARGETS,
    DEFAULT_MIP_GAP,
    DEFAULT_SOLVER_METHOD,
    DEFAULT_SPEED_MPS,
    DEFAULT_THRESHOLD_MIN,
    DEFAULT_TIME_LIMIT_S,
    SPEED_PRESETS_MPS,
    resolve_speed,
)

log = logging.getLogger(__name__)

#: Where the built-in default scenario lives.
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_SCENARIO = SCENARIO_DIR / "shenyang.toml"

#: Models a tier can ask for (``model = "..."``): see `planner.locate` and the README.
#: ``mclp`` maximal covering (with ``equity_*``), ``backup`` MCLP counting demand covered twice
#: (``backup_weight``), ``capacitated`` capacitated MCLP (``capacity_column``), ``p_median`` least total walk,
#: ``p_center`` least worst walk, ``lscp`` fewest sites covering all coverable demand (or ``target_share``),
#: ``lscp_backup`` fewest sites, then most demand covered twice, ``capacitated_p_median`` least total walk
#: within each site's capacity.
MODELS = (
    "mclp",
    "lscp",
    "p_median",
    "p_center",
    "capacitated",
    "backup",
    "lscp_backup",
    "capacitated_p_median",
)
#: Models that find the fewest sites themselves: ``new`` / ``upgrade`` are then maxima, or may be left out.
FEWEST_SITES_MODELS = ("lscp", "lscp_backup")
#: Models that need a capacity per site (``capacity_column``, or the stand-in stations' places).
CAPACITY_MODELS = ("capacitated", "capacitated_p_median")

#: Datum names a scenario may give besides ``"EPSG:<code>"`` (those of `planner.coords.parse_datum`).
DATUMS = LONLAT_DATUMS


def _key(default: Any = MISSING, *, low: float | None = None, high: float | None = None, **meta: Any) -> Any:
    """A scenario key: a dataclass field whose metadata holds the bounds `parse_scenario` checks.

    ``choices`` lists the allowed texts; ``toml=False`` marks a field that is no key of the file.
    """
    return field(default=default, metadata={"low": low, "high": high, **meta})


@dataclass(frozen=True)
class NetworkSpec:
    """Where the streets come from and how fast people walk."""

    #: "file" | "osm" | "synthetic" | "auto" (file if present, else cache, else synthetic); "file" when a
    #: path is given and no source.
    source: str = _key("synthetic", choices=("file", "osm", "synthetic", "auto"))
    path: Path | None = None
    place: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north (WGS84)
    speed_mps: float = _key(DEFAULT_SPEED_MPS, low=0.1, high=3.0)
    speed: str | None = _key(None, choices=tuple(SPEED_PRESETS_MPS))  # the preset name, when one was given
    max_snap_m: float | None = _key(None, low=1.0)
    seed: int = _key(0, low=0)
    #: the real major roads a SYNTHETIC stand-in network is built on (`planner.synthetic.streets_on_roads`):
    #: a line file with a ``highway`` column, or the built-in OSM roads of central Shenyang
    roads: Path | None = None
    roads_builtin: str | None = _key(None, choices=("shenyang",))


@dataclass(frozen=True)
class DemandSpec:
    """Older residents: from a file, from OSM buildings, or the estimated stand-in of the built-in default."""

    #: "file" | "osm-buildings" (`population` over the buildings of `path`) | "buildings" (each [areas] census
    #: total over its buildings) | "estimated" (the built-in default's stand-in)
    source: str = _key("file", choices=("file", "osm-buildings", "buildings", "estimated"))
    path: Path | None = None
    id: str = "id"
    weight: str = "weight"
    crs: str = "wgs84"
    layer: str | None = None  # the sheet of an Excel file (or layer of a GeoPackage)
    population: float | None = _key(None, low=0)  # for osm-buildings: people to spread over the buildings
    share_60plus: float | None = _key(None, low=0, high=1)
    points_per_community: int = _key(6, low=1, high=100)
    seed: int = _key(0, low=0)
    untyped: bool = False  # buildings: count building=yes without another use as homes (common in China)


@dataclass(frozen=True)
class TierSpec:
    """One service tier: open `new` sites among `candidates`, and/or upgrade `upgrade` `existing` sites."""

    name: str
    threshold_min: float = _key(DEFAULT_THRESHOLD_MIN, low=0.5, high=120)
    new: int = _key(0, low=0)
    upgrade: int = _key(0, low=0)
    model: str = _key("mclp", choices=MODELS)  # see MODELS
    candidates: Path | None = None
    existing: Path | None = None
    id: str = "id"
    crs: str = "wgs84"
    layer: str | None = None  # the sheet of an Excel file (or layer of a GeoPackage) of candidates / existing
    generate_candidates: int | None = _key(None, low=1)  # this many candidates generated on the network
    stand_in_existing: bool = False  # use the labelled stand-in stations of the built-in default
    exclude: tuple[str, ...] = ()  # site ids that are unavailable (e.g. land not free): never chosen
    # site ids open (new tier) or upgraded (upgrade tier) whatever the solver picks; new / upgrade count the
    # sites chosen beyond them (0: evaluate exactly these), as the what-if page's "download this plan" writes
    fixed: tuple[str, ...] = ()
    equity_min_share: float | None = _key(None, low=0, high=1)  # every area reaches this covered share
    equity_maximin: bool = False  # maximise the worst area's covered share first
    equity_by: str = "district_name"  # demand column naming the area of each point
    cost: float | None = _key(None, low=0)  # cost of one site (new site or upgrade), for a [joint] budget
    cost_column: str | None = None  # or a column of the candidates / existing file holding each site's cost
    capacity_column: str | None = None  # column of the site files with places (crowding, capacitated models)
    backup_weight: float | None = _key(None, low=0, high=1)  # model "backup": extra weight of a second cover
    target_share: float | None = _key(None, low=0, high=1)  # model "lscp": share of coverable weight to cover
    far_min: float | None = _key(
        None, low=0, high=600
    )  # p-median models: minutes counted for unserved demand
    #: ``existing = "osm:elderly_care"`` / ``candidates = "osm:community_centre"``: facility kinds read from
    #: OpenStreetMap ([network] path, else place) with `planner.sites.sites_from_osm`
    existing_osm: tuple[str, ...] = _key((), toml=False)
    candidates_osm: tuple[str, ...] = _key((), toml=False)

    @property
    def count(self) -> int:
        """Sites to open (new) or to upgrade: the model's p (a maximum for the fewest-sites models)."""
        return self.new or self.upgrade

    @property
    def kind(self) -> str:
        """``"upgrade"`` when the tier chooses among existing sites, else ``"new"``."""
        return "upgrade" if self.upgrade or (not self.new and self.existing_only) else "new"

    @property
    def existing_only(self) -> bool:
        """True when the tier has existing sites and no candidates (an upgrade tier)."""
        return (self.existing is not None or self.stand_in_existing or bool(self.existing_osm)) and (
            self.candidates is None and self.generate_candidates is None and not self.candidates_osm
        )


@dataclass(frozen=True)
class SolverSpec:
    """How hard to try: exact MIP (HiGHS), heuristic with a bound, or auto."""

    method: str = _key(DEFAULT_SOLVER_METHOD, choices=("exact", "heuristic", "auto"))
    time_limit_s: float = _key(DEFAULT_TIME_LIMIT_S, low=0.1)
    mip_gap: float = _key(DEFAULT_MIP_GAP, low=0, high=1)


@dataclass(frozen=True)
class JointSpec:
    """Solve a tier of new sites and a tier of upgrades together: a shared budget, or coverage by either."""

    budget: float | None = _key(None, low=0)  # total cost of new sites and upgrades (counts become maxima)
    objective: str = _key("sum", choices=("sum", "either"))  # "sum" of each tier's covered, or "either"


@dataclass(frozen=True)
class AreasSpec:
    """Areas to report coverage by (districts): a polygon file with a name column, or built-in ones."""

    path: Path | None = None
    name: str = "name"
    crs: str = "wgs84"
    builtin: str | None = _key(None, choices=("shenyang",))
    #: census columns for [demand] source = "buildings" (the built-in areas: pop_2020 and share_60plus)
    population_column: str | None = None
    share_60plus_column: str | None = None


@dataclass(frozen=True)
class CurveSpec:
    """The coverage curve of the first tier with new sites, and the fewest sites for target shares."""

    max_sites: int | None = _key(None, low=1)  # default: three times the tier's new sites
    targets: tuple[float, ...] = _key(DEFAULT_CURVE_TARGETS, low=0, high=1)  # shares; () skips the solves
    exact: bool = False  # exact MIP at every point of the curve (when `coverage_curve` offers it)


@dataclass(frozen=True)
class SensitivitySpec:
    """Walking speeds at which the chosen plan is evaluated again (`planner.sensitivity`).

    ``speeds``: preset names (``"older_winter"``) or metres per second; ``resolve = true`` also chooses the
    sites again at each speed.
    """

    speeds: tuple[str | float, ...] = ()
    resolve: bool = False


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
    base_dir: Path = field(default_factory=Path, metadata={"toml": False})
    curve: CurveSpec = field(default_factory=CurveSpec)
    joint: JointSpec | None = None
    sensitivity: SensitivitySpec | None = None

    @property
    def curve_max_sites(self) -> int | None:
        """``[curve] max_sites`` (kept for callers of the flat name)."""
        return self.curve.max_sites

    @property
    def curve_targets(self) -> tuple[float, ...]:
        """``[curve] targets`` (kept for callers of the flat name)."""
        return self.curve.targets

    def input_paths(self) -> tuple[Path, ...]:
        """Every file the scenario reads (streets, demand, sites, areas), for output-folder checks."""
        paths = [self.network.path, self.demand.path, self.areas.path if self.areas is not None else None]
        paths += [p for t in self.tiers for p in (t.candidates, t.existing)]
        return tuple(p for p in paths if p is not None)

    def with_speed(self, speed: str | float) -> Scenario:
        """The same scenario at another walking speed (a preset name or m/s)."""
        name = speed if isinstance(speed, str) else None
        return replace(self, network=replace(self.network, speed_mps=resolve_speed(speed), speed=name))

    def with_curve(self, **changes: Any) -> Scenario:
        """The same scenario with other ``[curve]`` settings, e.g. ``with_curve(max_sites=50)``."""
        return replace(self, curve=replace(self.curve, **changes))


#: Each table of the file and the spec whose fields are its keys.
SECTIONS: dict[str, type] = {
    "network": NetworkSpec,
    "demand": DemandSpec,
    "tiers": TierSpec,
    "solver": SolverSpec,
    "areas": AreasSpec,
    "curve": CurveSpec,
    "joint": JointSpec,
    "sensitivity": SensitivitySpec,
}


def _toml_fields(spec: type) -> dict[str, Field]:
    return {f.name: f for f in fields(spec) if f.metadata.get("toml", True)}


def keys(section: str = "") -> tuple[str, ...]:
    """The keys allowed in a table of the file (``""``: the top level), read from the specs.

    >>> keys("solver")
    ('method', 'time_limit_s', 'mip_gap')
    """
    return tuple(_toml_fields(SECTIONS[section] if section else Scenario))


def _where(section: str) -> str:
    return "the top level" if not section else f"[[{section}]]" if section == "tiers" else f"[{section}]"


def _unknown_keys(table: dict, section: str, problems: list[str]) -> None:
    valid = sorted(keys(section))
    for key in table:
        if key not in valid:
            near = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys are {', '.join(valid)}"
            problems.append(f"unknown key {key!r} in {_where(section)}{hint}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _bounds_problem(value: float, key: str, meta: Any) -> str | None:
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        lower = f"at least {low:g}" if low is not None else ""
        upper = f"at most {high:g}" if high is not None else ""
        return f"{key} = {value!r} must be {' and '.join(s for s in (lower, upper) if s)}"
    return None


def _convert(value: Any, f: Field, key: str, base: Path, problems: list[str]) -> Any:
    """The value of one key as its field's type, or MISSING (with the problem said) when it does not fit."""
    kind = str(f.type).replace(" | None", "")
    if kind in ("float", "int"):
        integer = kind == "int"
        if not _is_number(value) or (integer and not isinstance(value, int)):
            problems.append(f"{key} = {value!r} must be {'a whole number' if integer else 'a number'}")
        elif not math.isfinite(value):
            problems.append(f"{key} = {value!r} must be a finite number")
        elif (msg := _bounds_problem(value, key, f.metadata)) is not None:
            problems.append(msg)
        else:
            return int(value) if integer else float(value)
    elif kind == "bool":
        if isinstance(value, bool):
            return value
        problems.append(f"{key} = {value!r} must be true or false")
    elif kind == "str":
        choices = f.metadata.get("choices")
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key} = {value!r} must be non-empty text")
        elif choices is not None and value not in choices:
            near = difflib.get_close_matches(value, choices, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            problems.append(f"{key} = {value!r} is not one of {', '.join(map(repr, choices))}{hint}")
        else:
            return value
    elif kind == "Path":
        if isinstance(value, str) and value.strip():
            path = Path(value).expanduser()
            return path if path.is_absolute() else (base / path).resolve()
        problems.append(f"{key} = {value!r} must be a file path (text)")
    elif kind == "tuple[str, ...]":
        if isinstance(value, list) and all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value
        ):
            return tuple(str(v) for v in value)
        problems.append(f'{key} = {value!r} must be a list of ids as text, e.g. ["0051", "a7"]')
    elif kind == "tuple[float, ...]":
        if isinstance(value, list) and all(
            _is_number(v) and math.isfinite(v) and _bounds_problem(v, key, f.metadata) is None and v > 0
            for v in value
        ):
            return tuple(float(v) for v in value)
        problems.append(f"{key} = {value!r} must be a list of shares in (0, 1], e.g. [0.8, 0.9]")
    elif kind == "tuple[float, float, float, float]":
        if (
            isinstance(value, list)
            and len(value) == 4
            and all(_is_number(v) and math.isfinite(v) for v in value)
        ):
            west, south, east, north = (float(v) for v in value)
            if -180 <= west < east <= 180 and -90 <= south < north <= 90:
                return (west, south, east, north)
        problems.append(
            f"{key} = {value!r} must be [west, south, east, north] in degrees (WGS84), "
            "west < east, south < north"
        )
    else:  # pragma: no cover - a spec field of a type this reader does not know
        raise TypeError(f"scenario field {f.name} has unsupported type {f.type}")
    return MISSING


def _read_table(
    spec: type, raw: Any, section: str, base: Path, problems: list[str], *, where: str = "", **given: Any
) -> Any:
    """Build `spec` from a table: unknown keys, types and bounds checked; a bad value keeps its default."""
    where = where or _where(section)
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a table, got {type(raw).__name__}")
        raw = {}
    _unknown_keys(raw, section, problems)
    values = dict(given)
    for name, f in _toml_fields(spec).items():
        if name in raw and name not in given:
            value = _convert(raw[name], f, f"{where} {name}", base, problems)
            if value is not MISSING:
                values[name] = value
    return spec(**values)


def _sensitivity(raw: Any, base: Path, problems: list[str]) -> SensitivitySpec | None:
    """``[sensitivity]``: each speed a preset name or m/s (checked as `settings.resolve_speed` does)."""
    speeds = raw.get("speeds", ()) if isinstance(raw, dict) else ()
    good: list[str | float] = []
    if not isinstance(speeds, list) or not speeds:
        problems.append(
            f"[sensitivity] speeds = {speeds!r} must be a non-empty list of preset names or m/s, e.g. "
            '["planning", "older_winter", "frail"]'
        )
        speeds = []
    for value in speeds:
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise InputError(f"{value!r} is neither a preset name nor a number")
            resolve_speed(value)
        except InputError as exc:
            problems.append(f"[sensitivity] speeds: {exc}")
        else:
            good.append(value if isinstance(value, str) else float(value))
    return _read_table(SensitivitySpec, raw, "sensitivity", base, problems, speeds=tuple(good))


def _datum(value: str, key: str, problems: list[str]) -> str:
    """A datum name as `planner.coords.parse_datum` spells it (`DATUMS` or ``"EPSG:<code>"``)."""
    try:
        return parse_datum(value, name=key)
    except InputError:
        names = ", ".join(f'"{d}"' for d in DATUMS)
        problems.append(f'{key} = {value!r} must be {names} or "EPSG:<code>"')
        return value


def _check_file(path: Path | None, key: str, raw_value: Any, problems: list[str]) -> None:
    if path is not None and not path.exists():
        problems.append(
            f"{key} = {raw_value!r}: no such file {path}; paths are relative to the scenario file"
        )


def _network(raw: dict, base: Path, problems: list[str], check_files: bool) -> NetworkSpec:
    where = "[network]"
    given = {}
    if isinstance(raw, dict) and "source" not in raw and "path" in raw:
        given["source"] = "file"
    if isinstance(raw, dict) and "speed" in raw:
        if "speed_mps" in raw:
            problems.append(f"{where} give either speed (a preset name) or speed_mps (a number), not both")
        speed = raw["speed"]
        if isinstance(speed, str) and speed in SPEED_PRESETS_MPS:
            given.update(speed=speed, speed_mps=SPEED_PRESETS_MPS[speed])
        else:
            near = difflib.get_close_matches(str(speed), list(SPEED_PRESETS_MPS), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            problems.append(
                f"{where} speed = {speed!r} is not a preset ({', '.join(SPEED_PRESETS_MPS)}){hint}"
            )
            given["speed"] = None
    spec = _read_table(NetworkSpec, raw, "network", base, problems, where=where, **given)
    if spec.source == "file":
        if spec.path is None:
            problems.append(
                f'{where} source = "file" needs path = "<file>.osm.pbf" (or .osm, .osm.bz2, .graphml)'
            )
        elif check_files:
            _check_file(spec.path, f"{where} path", raw.get("path"), problems)
    if spec.source == "osm" and not spec.place and spec.bbox is None:
        problems.append(f'{where} source = "osm" needs place = "<name>" or bbox = [west, south, east, north]')
    return spec


def _demand(raw: Any, base: Path, problems: list[str], check_files: bool) -> DemandSpec:
    where = "[demand]"
    if not raw:
        problems.append(
            f'{where} is missing; give path = "<file>" with id, weight and crs, or source = "estimated"'
        )
        raw = {}
    spec = _read_table(DemandSpec, raw, "demand", base, problems, where=where)
    raw = raw if isinstance(raw, dict) else {}
    if check_files:
        _check_file(spec.path, f"{where} path", raw.get("path"), problems)
    if spec.source in ("file", "osm-buildings") and spec.path is None and raw:
        problems.append(f'{where} source = "{spec.source}" needs path = "<file>"')
    if spec.source == "osm-buildings" and spec.population is None:
        problems.append(f'{where} source = "osm-buildings" needs population = <older residents to spread>')
    if spec.source == "buildings" and spec.path is None:
        problems.append(
            f'{where} source = "buildings" needs path = "<extract>.osm.pbf" holding the buildings'
        )
    return replace(spec, crs=_datum(spec.crs, f"{where} crs", problems))


def _tier(k: int, raw: Any, base: Path, problems: list[str], check_files: bool) -> TierSpec | None:
    where = f"[[tiers]] #{k}"
    if not isinstance(raw, dict):
        problems.append(f"{where} must be a table")
        return None
    name = raw.get("name", f"tier{k}")
    if not isinstance(name, str) or not name.isidentifier():
        problems.append(f"{where}: name = {name!r} must be a short word (letters, digits, _)")
        name = f"tier{k}"
    raw, osm = _osm_sites(raw, where, problems)
    t = _read_table(TierSpec, raw, "tiers", base, problems, where=where, name=name, **osm)
    label = f"{where} ({t.name})"
    if check_files:
        _check_file(t.candidates, f"{where} candidates", raw.get("candidates"), problems)
        _check_file(t.existing, f"{where} existing", raw.get("existing"), problems)
    has_candidates = t.candidates is not None or t.generate_candidates is not None or bool(t.candidates_osm)
    has_existing = t.existing is not None or t.stand_in_existing or bool(t.existing_osm)
    fewest = t.model in FEWEST_SITES_MODELS
    if t.new == 0 and t.upgrade == 0 and not fewest and not t.fixed:
        problems.append(
            f"{label}: give new = <count> (open new sites), upgrade = <count>, or fixed = [<site ids>]"
        )
    both = sorted(set(t.fixed) & set(t.exclude))
    if both:
        problems.append(f"{label}: sites {both[:10]} are both fixed and excluded; name each in one list")
    if t.new and not has_candidates:
        problems.append(f'{label}: new = {t.new} needs candidates = "<file>" or generate_candidates = <n>')
    if t.upgrade and not has_existing:
        problems.append(f'{label}: upgrade = {t.upgrade} needs existing = "<file>" of current sites')
    if t.new and t.upgrade:
        problems.append(f"{label}: give new or upgrade, not both; put new sites and upgrades in two tiers")
    if fewest and not t.new and not t.upgrade and not (has_candidates or has_existing):
        problems.append(f'{label}: model = "{t.model}" needs candidates = "<file>" or existing = "<file>"')
    if t.model == "backup" and t.backup_weight is None:
        problems.append(f'{label}: model = "backup" needs backup_weight = <0-1, the worth of a second cover>')
    if t.backup_weight is not None and t.model != "backup":
        problems.append(f'{label}: backup_weight is an option of model = "backup", not "{t.model}"')
    if t.far_min is not None and t.model not in ("p_median", "capacitated_p_median"):
        problems.append(f'{label}: far_min is an option of the p-median models, not "{t.model}"')
    if t.target_share is not None and t.model != "lscp":
        problems.append(f'{label}: target_share is an option of model = "lscp", not "{t.model}"')
    if t.model in CAPACITY_MODELS and t.capacity_column is None and not t.stand_in_existing:
        problems.append(
            f'{label}: model = "{t.model}" needs capacity_column = "<column of the site files with places>"'
        )
    equity = t.equity_min_share is not None or t.equity_maximin
    if equity and t.model not in ("mclp", "backup"):
        problems.append(f'{label}: equity_* options work with model = "mclp" only, not "{t.model}"')
    return replace(t, crs=_datum(t.crs, f"{where} crs", problems))


#: How a tier asks for sites from OpenStreetMap instead of a file: ``"osm:<kind>[,<kind>]"``.
OSM_SITES_PREFIX = "osm:"


def _osm_sites(raw: dict, where: str, problems: list[str]) -> tuple[dict, dict]:
    """Take ``existing`` / ``candidates`` given as "osm:<kinds>" out of a tier's table, as kinds."""
    raw = dict(raw)
    osm = {}
    for key in ("existing", "candidates"):
        value = raw.get(key)
        if isinstance(value, str) and value.strip().lower().startswith(OSM_SITES_PREFIX):
            del raw[key]
            kinds = tuple(k.strip() for k in value.strip()[len(OSM_SITES_PREFIX) :].split(",") if k.strip())
            if not kinds:
                problems.append(f'{where} {key} = {value!r} names no kind; e.g. {key} = "osm:elderly_care"')
            osm[f"{key}_osm"] = kinds
    return raw, osm


def _joint(raw: Any, tiers: list[TierSpec], base: Path, problems: list[str]) -> JointSpec:
    joint = _read_table(JointSpec, raw, "joint", base, problems)
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
        if t.fixed:
            problems.append(
                f"tier {t.name!r}: fixed sites are not available with [joint]; solve the tiers apart "
                "(drop [joint]) to keep given sites open"
            )
        if t.model != "mclp":
            problems.append(
                f'tier {t.name!r}: [joint] solves two MCLP tiers; drop [joint] for model = "{t.model}"'
            )
        if joint.budget is not None and t.cost is None and t.cost_column is None:
            problems.append(
                f"[joint] budget needs the cost of each site: give tier {t.name!r} cost = <per site> "
                "or cost_column = <column of its site file>"
            )
    return joint


def _check_osm_inputs(network, demand, tiers, areas, problems: list[str]) -> None:
    """Keys that need another table: census columns on [areas], an OSM source for "osm:" sites."""
    if demand.source == "buildings":
        if areas is None:
            problems.append(
                '[demand] source = "buildings" spreads each area\'s census total: give [areas] with '
                "population_column (and share_60plus_column, or [demand] share_60plus)"
            )
        elif areas.builtin is None and areas.population_column is None:
            problems.append(
                '[demand] source = "buildings" needs [areas] population_column = "<census column>"'
            )
    osm_tiers = [t.name for t in tiers if t.existing_osm or t.candidates_osm]
    osm_file = network.path is not None and network.path.name.lower().endswith((".pbf", ".osm", ".osm.bz2"))
    if osm_tiers and not osm_file and not network.place:
        problems.append(
            f'tiers {osm_tiers} read sites from OpenStreetMap ("osm:..."): give [network] path = '
            '"<extract>.osm.pbf" or place = "<name>" to read them from'
        )


def parse_scenario(data: dict, *, base_dir: Path | str = ".", check_files: bool = True) -> Scenario:
    """Validate a scenario given as a dict (the parsed TOML); every problem is reported at once.

    Raises
    ------
    InputError
        Listing every unknown key (with the nearest valid one) and every bad value (NaN and infinity
        included) under its key path, with how to fix it.
    """
    base = Path(base_dir)
    problems: list[str] = []
    if not isinstance(data, dict):
        raise InputError(f"a scenario must be a table of keys, got {type(data).__name__}")
    _unknown_keys(data, "", problems)
    name = data.get("name", "scenario")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"name = {name!r} must be non-empty text")
        name = "scenario"
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.append(f"description = {description!r} must be text")
        description = ""

    network = _network(data.get("network", {}), base, problems, check_files)
    demand = _demand(data.get("demand", {}), base, problems, check_files)
    tiers_raw = data.get("tiers", [])
    if not isinstance(tiers_raw, list) or not tiers_raw:
        problems.append("no [[tiers]]: give at least one tier with name, threshold_min and new or upgrade")
        tiers_raw = []
    tiers = [
        t for k, raw in enumerate(tiers_raw, start=1) if (t := _tier(k, raw, base, problems, check_files))
    ]
    names = [t.name for t in tiers]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"[[tiers]]: tier name {dup!r} is used twice; tier names must be unique")
    solver = _read_table(SolverSpec, data.get("solver", {}), "solver", base, problems)
    areas = None
    if "areas" in data:
        areas = _read_table(AreasSpec, data["areas"], "areas", base, problems)
        if check_files:
            _check_file(areas.path, "[areas] path", str(areas.path), problems)
        if areas.path is None and areas.builtin is None:
            problems.append('[areas] needs path = "<polygon file>" or builtin = "shenyang"')
        areas = replace(areas, crs=_datum(areas.crs, "[areas] crs", problems))
    _check_osm_inputs(network, demand, tiers, areas, problems)
    curve = _read_table(CurveSpec, data.get("curve", {}), "curve", base, problems)
    sensitivity = _sensitivity(data["sensitivity"], base, problems) if "sensitivity" in data else None
    joint = _joint(data["joint"], tiers, base, problems) if "joint" in data else None

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
        description=description,
        base_dir=base.resolve(),
        curve=curve,
        sensitivity=sensitivity,
        joint=joint,
    )


def read_scenario(path: str | Path, *, check_files: bool = True) -> Scenario:
    """Read and validate a scenario TOML file (paths inside are relative to the file).

    Raises
    ------
    InputError
        When the file is missing, a folder, empty, binary, not UTF-8 or not valid TOML, or any key or value
        is wrong (see `parse_scenario`).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"scenario file {path} does not exist; give the path of a .toml file")
    if path.is_dir():
        raise InputError(f"scenario {path} is a folder; give the path of a .toml file inside it")
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"scenario file {path} is empty; write the scenario's keys in it (see the README)")
    if b"\x00" in raw:
        raise InputError(f"scenario file {path} is binary, not a TOML text file; give the .toml file")
    if raw.startswith(b"\xef\xbb\xbf"):
        log.info("scenario file %s starts with a UTF-8 byte-order mark; it is skipped", path)
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"scenario file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"scenario file {path} is not valid TOML: {exc}") from None
    return parse_scenario(data, base_dir=path.parent, check_files=check_files)


#: Names of the run that this module hands on from `planner.pipeline` (and of the loaders, from
#: `planner.inputs`), for code written before the run moved out of the schema.
_MOVED = {
    "run": "planner.pipeline",
    "RunResult": "planner.pipeline",
    "TierOutcome": "planner.pipeline",
    "STAGES": "planner.pipeline",
    "fetch_network": "planner.inputs",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'planner.scenario' has no attribute {name!r}")
