"""Sweeps: many variants of one or more base scenarios, expanded from a grid of axes or listed, run on Dask.

A sweep file names a base scenario (or several) and the scenario keys to vary, as dotted paths (a tier by its
name). The smallest one::

    base = "shenyang.toml"              # or bases = ["shenyang.toml", "dalian.toml"]
    [axes]                              # scenario keys as dotted paths; a tier by its name
    "network.speed_mps" = [0.76, 1.0]   # or "network.speed" = ["planning", "frail"]
    "tiers.centre.new" = [80, 100, 120]

Instead of ``[axes]`` (every combination), ``[[variants]]`` lists the variants one by one::

    [[variants]]
    "tiers.centre.new" = 80
    [[variants]]
    "tiers.centre.new" = 120
    "tiers.centre.exclude" = ["cand-0042"]

Every variant is validated as a whole scenario before anything runs (a bad one is named, nothing starts).
What the variants share is done once: the streets are loaded and the points snapped once per base scenario,
walk times computed once per walking speed (to the longest threshold of the variants at that speed: a shorter
threshold is a filter of those times), so that variants differ only in the solve and the evaluation.
See `run_sweep` for running one and `planner.sweep` in the README for a cluster.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import itertools
import json
import logging
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner._errors import InputError
from planner.scenario import Scenario, parse_scenario, read_scenario

log = logging.getLogger(__name__)

#: A grid larger than this needs an explicit yes (``--yes``): it is probably a typo in an axis.
MAX_VARIANTS = 10_000

#: Scenario keys a sweep may vary (``tiers.<name>.<key>`` for the keys in `TIER_AXIS_KEYS`). They change only
#: the walking speed, the thresholds, the solve and the evaluation, so the loaded inputs are shared.
AXIS_KEYS: dict[str, tuple[str, ...]] = {
    "network": ("speed_mps", "speed"),
    "solver": ("method", "time_limit_s", "mip_gap"),
    "joint": ("budget", "objective"),
}
TIER_AXIS_KEYS = (
    "threshold_min",
    "new",
    "upgrade",
    "exclude",
    "fixed",
    "equity_min_share",
    "equity_maximin",
    "cost",
)

_SWEEP_KEYS = ("name", "description", "base", "bases", "axes", "variants")
#: Bad variants listed in one error (the count says how many more there are).
_LIST_AT_MOST = 10


@dataclass(frozen=True, eq=False)
class Variant:
    """One scenario of a sweep: a base scenario with some keys changed.

    Attributes
    ----------
    name
        ``v0001``, ``v0002``, ... in the order of the grid (or of the list).
    base
        Name of the base scenario.
    changes
        The dotted keys this variant sets, and their values as written in the sweep file.
    scenario
        The validated scenario of the variant.
    """

    name: str
    base: str
    changes: tuple[tuple[str, Any], ...]
    scenario: Scenario


@dataclass(frozen=True, eq=False)
class Sweep:
    """A validated sweep: its base scenarios, the axes (dotted keys) and every variant."""

    name: str
    bases: tuple[Scenario, ...]
    axes: tuple[str, ...]
    variants: tuple[Variant, ...]
    description: str = ""
    base_dir: Path = Path()

    def __len__(self) -> int:
        return len(self.variants)


# --------------------------------------------------------------------------------------------- schema


def valid_axes(base: Scenario) -> list[str]:
    """Every dotted key a sweep may vary on this base scenario (tiers by name)."""
    keys = [f"{section}.{key}" for section, names in AXIS_KEYS.items() for key in names]
    keys += [f"tiers.{t.name}.{key}" for t in base.tiers for key in TIER_AXIS_KEYS]
    return keys


def _set_key(data: dict, path: str, value: Any) -> str | None:
    """Set a dotted key in a scenario dict (a copy made by the caller); a problem, or None when set."""
    parts = path.split(".")
    if parts[0] == "tiers":
        if len(parts) != 3:
            return f"{path!r} must read tiers.<tier name>.<key>"
        tiers = data.get("tiers", [])
        match = [t for t in tiers if isinstance(t, dict) and t.get("name") == parts[1]]
        if not match:
            names = [t.get("name") for t in tiers if isinstance(t, dict)]
            return f"{path!r}: the base scenario has no tier named {parts[1]!r} (its tiers: {names})"
        match[0][parts[2]] = value
        return None
    section, key = parts
    table = data.setdefault(section, {})
    table[key] = value
    if section == "network" and key in ("speed", "speed_mps"):
        # a speed axis replaces the base's speed, whichever way the base gave it
        table.pop("speed_mps" if key == "speed" else "speed", None)
    return None


def _check_axis(path: Any, bases: list[tuple[Scenario, dict]]) -> str | None:
    """A problem with a dotted key (unknown, or not a key a sweep may vary), or None."""
    if not isinstance(path, str):
        return f'axis {path!r} must be a dotted scenario key in quotes, e.g. "tiers.centre.new"'
    for base, _ in bases:
        valid = valid_axes(base)
        if path in valid:
            continue
        parts = path.split(".")
        names = [t.name for t in base.tiers]
        if parts[0] == "tiers" and len(parts) == 3 and parts[1] not in names:
            return (
                f"axis {path!r}: base scenario {base.name!r} has no tier named {parts[1]!r} "
                f"(its tiers: {names})"
            )
        near = difflib.get_close_matches(path, valid, n=1, cutoff=0.5)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        fixed = ", ".join(f"{sec}.{key}" for sec, keys in AXIS_KEYS.items() for key in keys)
        return (
            f"axis {path!r} is not a key a sweep can vary in base scenario {base.name!r}{hint}; sweeps vary "
            f"{fixed} and tiers.<tier name>.<{'|'.join(TIER_AXIS_KEYS)}>"
        )
    return None


def _axis_value(scenario: Scenario, path: str) -> Any:
    """The value a (validated) scenario has for a dotted key, for the table (lists as ``a;b``)."""
    parts = path.split(".")
    if parts[0] == "tiers":
        obj = next((t for t in scenario.tiers if t.name == parts[1]), None)
        key = parts[2]
    else:
        obj = getattr(scenario, parts[0])
        key = parts[1]
    value = None if obj is None else getattr(obj, key)
    if isinstance(value, tuple):
        return ";".join(str(v) for v in value)
    return value


def _grid(axes: Any, problems: list[str]) -> tuple[list[str], list[list]]:
    """The axes of a grid and the values of each (checked; the caller expands them)."""
    if not isinstance(axes, dict):
        problems.append(f"[axes] must be a table of dotted key = [values], got {type(axes).__name__}")
        return [], []
    names = list(axes)
    if not names:
        problems.append(
            'the grid is empty: [axes] names no key; give e.g. "tiers.centre.new" = [80, 100, 120]'
        )
    for name in names:
        values = axes[name]
        if not isinstance(values, list):
            problems.append(f"axis {name!r} = {values!r} must be a list of values, e.g. [80, 100, 120]")
        elif not values:
            problems.append(f"axis {name!r} has no values: the grid is empty; give at least one value")
    return names, [v if isinstance(v, list) else [] for v in axes.values()]


def _listed(variants: Any, problems: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """The keys of an explicit list of variants (in order of appearance) and the variants."""
    if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        problems.append("[[variants]] must be a list of tables of dotted key = value")
        return [], []
    if not variants:
        problems.append("[[variants]] lists no variant: the sweep is empty")
    names = list(dict.fromkeys(k for v in variants for k in v))
    return names, variants


def parse_sweep(data: dict, *, base_dir: Path | str = ".", yes: bool = False) -> Sweep:
    """Validate a sweep given as a dict (the parsed TOML) and every variant it expands to.

    Parameters
    ----------
    data
        The sweep: ``base`` or ``bases`` (scenario files, relative to `base_dir`), and ``[axes]`` (a grid)
        or ``[[variants]]`` (a list).
    base_dir
        Folder the base paths are relative to (the sweep file's folder).
    yes
        Allow more than `MAX_VARIANTS` variants.

    Raises
    ------
    InputError
        Naming every problem of the sweep file, or every bad variant (its name, its changes, and what the
        scenario reader says about it), before anything runs.
    """
    base_dir = Path(base_dir)
    problems: list[str] = []
    for key in data:
        if key not in _SWEEP_KEYS:
            near = difflib.get_close_matches(key, _SWEEP_KEYS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys are {', '.join(_SWEEP_KEYS)}"
            problems.append(f"unknown key {key!r} at the top level of the sweep{hint}")
    name = data.get("name", "sweep")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"name = {name!r} must be non-empty text")
        name = "sweep"
    if "base" in data and "bases" in data:
        problems.append('give base = "<scenario.toml>" or bases = [...], not both')
    paths = data.get("bases", [data["base"]] if "base" in data else [])
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p for p in paths):
        problems.append(
            'the sweep names no base scenario: give base = "<scenario.toml>" or bases = ["a.toml", "b.toml"]'
        )
        paths = []
    if ("axes" in data) == ("variants" in data):
        problems.append(
            "give [axes] (every combination of values) or [[variants]] (a list), not "
            + ("both" if "axes" in data else "neither")
        )
    bases: list[tuple[Scenario, dict]] = []
    for p in paths:
        path = Path(p).expanduser()
        path = path if path.is_absolute() else (base_dir / path).resolve()
        raw = _read_toml(path, "base scenario")
        bases.append((read_scenario(path), {"raw": raw, "dir": path.parent}))
    names = [b.name for b, _ in bases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        problems.append(f"base scenarios share the names {dup}; give each base its own name")

    axes: list[str] = []
    values: list[list] = []
    combos: list[dict[str, Any]] = []
    if "axes" in data and "variants" not in data:
        axes, values = _grid(data["axes"], problems)
    elif "variants" in data and "axes" not in data:
        axes, combos = _listed(data["variants"], problems)
    for axis in axes:
        problem = _check_axis(axis, bases)
        if problem:
            problems.append(problem)
    if problems:
        raise _sweep_error(name, problems)
    count = len(bases) * (math.prod(len(v) for v in values) if values else len(combos))
    if count > MAX_VARIANTS and not yes:
        sizes = " x ".join(f"{a} ({len(v)})" for a, v in zip(axes, values, strict=True)) or "listed"
        raise InputError(
            f"sweep {name!r} expands to {count:,} variants ({len(bases)} base(s) x {sizes}), more than "
            f"{MAX_VARIANTS:,}; check the axes, or confirm with --yes (read_sweep(..., yes=True))"
        )
    if values:  # every combination, the last axis fastest
        combos = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*values)]

    variants: list[Variant] = []
    bad: list[str] = []
    width = max(4, len(str(count)))
    for base, extra in bases:
        for combo in combos:
            vname = f"v{len(variants) + 1:0{width}d}"
            scenario, problem = _variant_scenario(base, extra, combo)
            if problem:
                bad.append(f"{vname} ({_describe(combo)}) on {base.name!r}: {problem}")
                variants.append(Variant(vname, base.name, tuple(combo.items()), base))
                continue
            variants.append(Variant(vname, base.name, tuple(combo.items()), scenario))
    if bad:
        shown = "\n".join(f"  - {b}" for b in bad[:_LIST_AT_MOST])
        more = f"\n  ... and {len(bad) - _LIST_AT_MOST} more" if len(bad) > _LIST_AT_MOST else ""
        raise InputError(
            f"sweep {name!r}: {len(bad)} of {len(variants)} variants are not valid scenarios; nothing ran:\n"
            f"{shown}{more}"
        )
    log.info("sweep %s: %s variants of %d base scenario(s)", name, f"{len(variants):,}", len(bases))
    return Sweep(
        name=name.strip(),
        bases=tuple(b for b, _ in bases),
        axes=tuple(axes),
        variants=tuple(variants),
        description=str(data.get("description", "")),
        base_dir=base_dir.resolve(),
    )


def _variant_scenario(base: Scenario, extra: dict, combo: dict) -> tuple[Scenario, str | None]:
    """The scenario of one variant (validated by the scenario reader), or a problem."""
    data = copy.deepcopy(extra["raw"])
    for path, value in combo.items():
        problem = _set_key(data, path, value)
        if problem:
            return base, problem
    try:
        return parse_scenario(data, base_dir=extra["dir"]), None
    except InputError as exc:
        # keep the reader's list of problems, one line, without its "scenario 'x' has n problem(s)" header
        text = str(exc)
        lines = [ln.strip().removeprefix("- ") for ln in text.splitlines()[1:]] or [text]
        return base, "; ".join(lines)


def _describe(combo: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in combo.items()) or "the base unchanged"


def _sweep_error(name: str, problems: list[str]) -> InputError:
    listed = "\n".join(f"  - {p}" for p in problems)
    return InputError(f"sweep {name!r} has {len(problems)} problem(s):\n{listed}")


def _read_toml(path: Path, what: str) -> dict:
    if not path.exists():
        raise InputError(f"{what} {path} does not exist; give the path of a .toml file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{what} {path} is not valid TOML: {exc}") from exc


def read_sweep(path: str | Path, *, yes: bool = False) -> Sweep:
    """Read and validate a sweep TOML file (base paths inside are relative to the file); see `parse_sweep`."""
    path = Path(path)
    data = _read_toml(path, "sweep file")
    data.setdefault("name", path.stem)  # a sweep is named after its file unless it says otherwise
    return parse_sweep(data, base_dir=path.parent, yes=yes)


# --------------------------------------------------------------------------------------------- keys


def variant_key(scenario: Scenario, *, fingerprints: dict[Path, str] | None = None) -> str:
    """A hash of a variant's parameters and of the content of every input file it reads.

    A rerun of a sweep skips the variants whose key it finds done in the sweep folder.
    """
    from planner import __version__

    fingerprints = {} if fingerprints is None else fingerprints
    params = dataclasses.asdict(scenario)
    params.pop("name", None)  # the same parameters under another name are the same variant
    files = {}
    for path in _paths(params):
        if path not in fingerprints:
            fingerprints[path] = _file_hash(path)
        files[str(path)] = fingerprints[path]
    blob = json.dumps(
        {"planner": __version__, "scenario": params, "files": files}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def _paths(obj: Any) -> list[Path]:
    if isinstance(obj, Path):
        return [obj]
    if isinstance(obj, dict):
        return [p for v in obj.values() for p in _paths(v)]
    if isinstance(obj, list | tuple):
        return [p for v in obj for p in _paths(v)]
    return []


def _file_hash(path: Path) -> str:
    if path.is_dir():
        return "folder"
    if not path.exists():
        return "absent"
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------- sanity

#: Axes along which coverage may only grow (a larger value never covers less).
_GROWING = ("network.speed_mps", "network.speed", "joint.budget")
_GROWING_TIER = ("threshold_min", "new", "upgrade")
#: Relative tolerance of the sanity checks (solver round-off).
_SANITY_TOL = 1e-6


def _order_value(scenario: Scenario, axis: str) -> Any:
    """The value an axis is ordered by: m/s for a speed, a set for an exclusion, +inf for no budget."""
    if axis in ("network.speed", "network.speed_mps"):
        return scenario.network.speed_mps
    if axis == "joint.budget":
        budget = None if scenario.joint is None else scenario.joint.budget
        return math.inf if budget is None else budget
    if axis.endswith(".exclude"):
        tier = next(t for t in scenario.tiers if t.name == axis.split(".")[1])
        return frozenset(tier.exclude)
    return _axis_value(scenario, axis)


def _should_cover_more(axis: str, a: Any, b: Any) -> bool:
    """True when a variant at `b` must cover at least as much as one at `a` (all else equal)."""
    if axis.endswith(".exclude"):
        return b < a  # excluding fewer sites (a strict subset) never covers less
    growing = axis in _GROWING or (axis.startswith("tiers.") and axis.split(".")[2] in _GROWING_TIER)
    return growing and a is not None and b is not None and b > a


def _quantities(scenario: Scenario) -> list[tuple[str, str, str]]:
    """(label, objective column, bound column) compared across variants of this scenario.

    Tiers solved apart are compared one by one when their model maximises coverage (a maximin equity tier is
    not: lifting the worst area may cost total coverage; nor a model that minimises walks or counts sites);
    tiers solved together by their joint objective.
    """
    if scenario.joint is not None:
        return [("both tiers", "objective", "bound")]
    return [
        (t.name, f"objective_{t.name}", f"bound_{t.name}")
        for t in scenario.tiers
        if not t.equity_maximin and getattr(t, "model", "mclp") == "mclp"
    ]


def sanity_checks(sweep: Sweep, table) -> list[str]:
    """Check that coverage moves the right way between variants that differ in one axis only.

    More sites never cover less; a faster walk or a longer threshold never covers less; a larger budget never
    covers less; excluding more sites never covers more. A violation is certain (and flagged) only when the
    proven bound of the variant that should cover more lies below what the other one covered, so a heuristic
    or time-limited solve is never flagged for its gap.

    Parameters
    ----------
    sweep
        The sweep.
    table
        The sweep table (one row per variant, in the order of ``sweep.variants``), with ``outcome`` and the
        objective and bound columns.

    Returns
    -------
    list of str
        Per variant, ``""`` or the violations it takes part in (``VIOLATION: ...``, joined by `` | ``).
    """
    notes: list[list[str]] = [[] for _ in sweep.variants]
    done = [i for i, ok in enumerate(table["outcome"].eq("done")) if ok]
    for axis in sweep.axes:
        others = [a for a in sweep.axes if a != axis]
        groups: dict[tuple, list[int]] = {}
        for i in done:
            v = sweep.variants[i]
            key = (v.base, *(str(_axis_value(v.scenario, a)) for a in others))
            groups.setdefault(key, []).append(i)
        for members in groups.values():
            for i, j in itertools.permutations(members, 2):
                vi, vj = sweep.variants[i], sweep.variants[j]
                a, b = _order_value(vi.scenario, axis), _order_value(vj.scenario, axis)
                if not _should_cover_more(axis, a, b):
                    continue
                for label, obj, bnd in _quantities(vj.scenario):
                    if obj not in table.columns or bnd not in table.columns:
                        continue
                    lo, hi = float(table[obj].iloc[i]), float(table[bnd].iloc[j])
                    if math.isnan(lo) or math.isnan(hi) or hi >= lo - _SANITY_TOL * max(1.0, abs(lo)):
                        continue
                    text = (
                        f"VIOLATION: {label} at {axis} = {_axis_value(vj.scenario, axis)} covers at most "
                        f"{hi:,.1f}, less than {lo:,.1f} at {_axis_value(vi.scenario, axis)} ({vi.name})"
                    )
                    notes[j].append(text)
                    notes[i].append(f"VIOLATION: see {vj.name}")
    flagged = sum(1 for n in notes if n)
    if flagged:
        log.warning(
            "sweep %s: %d variants break a sanity rule (a bug: please report it); see the sanity column",
            sweep.name,
            flagged,
        )
    return [" | ".join(dict.fromkeys(n)) for n in notes]


# --------------------------------------------------------------------------------------------- running


@dataclass(frozen=True, eq=False)
class SweepResult:
    """What a sweep produced: the table behind ``sweep.csv``, the charts, and the folder they are in."""

    sweep: Sweep
    table: Any  # pd.DataFrame, one row per variant (index ``variant``)
    folder: Path
    charts: tuple[Path, ...] = ()

    @property
    def failed(self) -> list[str]:
        """Names of the variants that did not finish (their ``error`` says why)."""
        return list(self.table.index[self.table["outcome"] != "done"])

    @property
    def violations(self) -> list[str]:
        """Names of the variants flagged by a sanity rule (see `sanity_checks`)."""
        return list(self.table.index[self.table["sanity"] != ""])


def _prepare_task(scenario: Scenario):
    """On a worker: areas, demand, streets, sites and snapped points of a base scenario."""
    from planner.pipeline import prepare

    return prepare(scenario)


def _site_counts(prepared) -> dict[str, tuple[list[str], int, int]]:
    """On a worker: per tier, the site ids and the numbers of candidate and existing sites."""
    out = {}
    for name, sites in prepared.tier_sites.items():
        status = sites["status"]
        out[name] = (
            [str(i) for i in sites.index],
            int((status == "candidate").sum()),
            int((status == "existing").sum()),
        )
    return out


def _times_task(prepared, scenario: Scenario):
    """On a worker: walk times of every tier at the scenario's speed, to each tier's threshold."""
    from planner.pipeline import walk_times

    return walk_times(prepared, scenario)


def _variant_task(prepared, times, scenario: Scenario, runs_dir: str | None) -> dict:
    """On a worker: solve and evaluate one variant; its row of ``sweep.csv`` (its run folder if asked)."""
    import time

    from planner.pipeline import evaluate

    start = time.perf_counter()
    keep = runs_dir is not None
    result = evaluate(prepared, times, scenario, curve=keep, service_areas=keep, sensitivity=keep)
    if keep:
        from planner.results import write_outputs

        write_outputs(result, runs_dir)
    row = result_row(result)
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def result_row(result) -> dict[str, Any]:
    """Covered share, objective, bound, gap, status and the chosen site ids of a run: per tier, and (but
    the sites) for the whole variant.

    The variant's ``objective`` and ``bound`` are the sums over tiers solved apart (``status`` "optimal" only
    when every tier is), or those of the joint solve.
    """
    from planner.results import covered_weight

    weights = result.demand["weight"]
    total = float(weights.sum())
    row: dict[str, Any] = {}
    statuses = []
    for outcome in result.tiers:
        name, res = outcome.spec.name, outcome.result
        covered = covered_weight(result, name)
        row[f"covered_share_{name}"] = covered / total if total > 0 else math.nan
        row[f"objective_{name}"] = float(res.objective)
        row[f"bound_{name}"] = float(res.bound)
        row[f"gap_{name}"] = float(res.gap)
        row[f"status_{name}"] = res.status
        row[f"selected_{name}"] = ";".join(str(i) for i in res.selected)
        statuses.append(res.status)
    if result.joint is not None:
        joint = result.joint
        row.update(
            objective=float(joint.objective),
            bound=float(joint.bound),
            gap=float(joint.gap),
            status=joint.status,
        )
    else:
        objective = sum(float(o.result.objective) for o in result.tiers)
        bound = sum(float(o.result.bound) for o in result.tiers)
        row.update(
            objective=objective,
            bound=bound,
            gap=abs(bound - objective) / max(abs(objective), 1e-9),
            status="optimal" if all(s == "optimal" for s in statuses) else "/".join(dict.fromkeys(statuses)),
        )
    return row


def _client(scheduler: str | None, workers: int | None, timeout_s: float):
    """A Dask client (and the cluster it started, if any): the given scheduler, or a LocalCluster."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            return Client(scheduler, timeout=f"{timeout_s}s"), None
        except (OSError, TimeoutError) as exc:
            raise InputError(
                f"--scheduler {scheduler}: no Dask scheduler answered within {timeout_s:g} s ({exc}); start "
                "one with `dask scheduler` (and `dask worker tcp://<host>:8786` on each machine), or leave "
                "--scheduler out to run on this machine"
            ) from None
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = workers or cores
    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    )
    client = Client(cluster)
    log.info(
        "Dask LocalCluster: %d workers, 1 thread each (%d cores); dashboard %s",
        n,
        cores,
        client.dashboard_link,
    )
    return client, cluster


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    keep_runs: bool | Iterable[str] = False,
    progress: bool = False,
    connect_timeout_s: float = 20.0,
) -> SweepResult:
    """Run every variant of a sweep on Dask and write ``sweep.csv`` and a chart per axis to `out`.

    Each base scenario is prepared once (streets loaded, points snapped), walk times computed once per
    walking speed to the longest threshold any variant needs, and the variants solved in parallel. Variants
    already done with the same key (`variant_key`: parameters and input files) are read back, not rerun.

    Parameters
    ----------
    sweep
        From `read_sweep` or `parse_sweep`.
    out
        The sweep folder: ``sweep.csv``, ``chart_<axis>.svg``, ``variants/<key>.json`` (what a rerun
        reuses) and, with `keep_runs`, ``runs/<variant>/`` (each variant's run folder).
    client
        A `distributed.Client` to use (it stays open). Default: one on `scheduler`, else on a LocalCluster of
        `workers` processes (default: one per core) that is closed at the end.
    scheduler
        Address of a running Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``. Its workers need ``planner``
        installed and must see the input files at the same paths (and `out`, with `keep_runs`).
    workers
        Number of LocalCluster workers.
    keep_runs
        Also write each variant's run folder (tables, map; with its coverage curve and service areas); or
        only those of the variants named (e.g. ``["v0002", "v0005"]``).
    progress
        A tqdm bar over the variants.
    connect_timeout_s
        How long to wait for `scheduler` before giving up with an `InputError`.

    Returns
    -------
    SweepResult
        Failed variants are in the table with ``outcome = "failed"`` and the error; the others are saved.
    """

    folder = Path(out)
    names = [v.name for v in sweep.variants]
    if isinstance(keep_runs, bool):
        keep = set(names) if keep_runs else set()
    else:
        keep = {str(k) for k in keep_runs}
        unknown = sorted(keep - set(names))
        if unknown:
            raise InputError(
                f"keep_runs names variants the sweep does not have: {unknown[:10]}; they are "
                f"{names[0]} ... {names[-1]}"
            )
    (folder / "variants").mkdir(parents=True, exist_ok=True)
    fingerprints: dict[Path, str] = {}
    keys = [variant_key(v.scenario, fingerprints=fingerprints) for v in sweep.variants]
    rows: dict[int, dict] = {}
    for i, (v, key) in enumerate(zip(sweep.variants, keys, strict=True)):
        saved = folder / "variants" / f"{key}.json"
        if saved.exists() and (v.name not in keep or (folder / "runs" / v.name / "metrics.json").exists()):
            rows[i] = json.loads(saved.read_text(encoding="utf-8"))
    todo = [i for i in range(len(sweep.variants)) if i not in rows]
    log.info(
        "sweep %s: %d variants, %d already done, %d to run", sweep.name, len(sweep), len(rows), len(todo)
    )
    if todo:
        own = client is None
        cluster = None
        if own:
            client, cluster = _client(scheduler, workers, connect_timeout_s)
        try:
            rows.update(_run_on(client, sweep, todo, keys, folder, keep=keep, progress=progress))
        finally:
            if own:
                client.close()
                if cluster is not None:
                    cluster.close()
    table = _table(sweep, rows, keys)
    table["sanity"] = sanity_checks(sweep, table)
    table.to_csv(folder / "sweep.csv", index=True)
    from planner._sweep_charts import write_charts

    charts = write_charts(sweep, table, folder)
    n_failed = int((table["outcome"] != "done").sum())
    log.info(
        "sweep %s: %d done, %d failed; %s", sweep.name, len(table) - n_failed, n_failed, folder / "sweep.csv"
    )
    return SweepResult(sweep=sweep, table=table, folder=folder, charts=tuple(charts))


def _run_on(client, sweep: Sweep, todo: list[int], keys: list[str], folder: Path, *, keep: set, progress):
    """Submit the shared work and the variants; collect rows as they finish (saving each one)."""
    from distributed import as_completed

    mine = {b.name: [i for i in todo if sweep.variants[i].base == b.name] for b in sweep.bases}
    bases = [b for b in sweep.bases if mine[b.name]]
    # every base is prepared (in parallel), and every variant checked against its sites, before any runs
    prepared = {
        b.name: client.submit(_prepare_task, b, key=f"prepare-{b.name}-{keys[mine[b.name][0]]}")
        for b in bases
    }
    counts = client.gather([client.submit(_site_counts, prepared[b.name]) for b in bases])
    for b, found in zip(bases, counts, strict=True):
        _check_sites(sweep, mine[b.name], found)
    futures = {}
    for base in bases:
        by_speed: dict[float, list[int]] = {}
        for i in mine[base.name]:
            by_speed.setdefault(sweep.variants[i].scenario.network.speed_mps, []).append(i)
        for speed, members in by_speed.items():
            # one table a speed, to the longest threshold of each tier there (shorter ones filter it)
            longest = _longest([sweep.variants[i].scenario for i in members])
            times = client.submit(
                _times_task,
                prepared[base.name],
                longest,
                key=f"times-{base.name}-{speed:g}-{keys[members[0]]}",
            )
            for i in members:
                v = sweep.variants[i]
                runs_dir = str(folder / "runs" / v.name) if v.name in keep else None
                fut = client.submit(
                    _variant_task,
                    prepared[base.name],
                    times,
                    v.scenario,
                    runs_dir,
                    key=f"variant-{keys[i]}",
                    pure=False,
                )
                futures[fut] = i
    rows: dict[int, dict] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), unit="variant", desc=f"sweep {sweep.name}")
    for fut in as_completed(list(futures)):
        i = futures[fut]
        v = sweep.variants[i]
        try:
            row = fut.result()
        except Exception as exc:  # a failed variant (or a dead worker) is reported; the rest go on
            log.warning("variant %s failed: %s: %s", v.name, type(exc).__name__, exc)
            rows[i] = {"outcome": "failed", "error": f"{type(exc).__name__}: {exc}"}
        else:
            row.update(outcome="done", error="")
            (folder / "variants" / f"{keys[i]}.json").write_text(json.dumps(row), encoding="utf-8")
            rows[i] = row
        if bar is not None:
            bar.update(1)
        fut.release()
    if bar is not None:
        bar.close()
    return rows


def _longest(scenarios: list[Scenario]) -> Scenario:
    """The first scenario with each tier's threshold raised to the longest any of them has (same tiers)."""
    first = scenarios[0]
    tiers = tuple(
        dataclasses.replace(t, threshold_min=max(s.tiers[k].threshold_min for s in scenarios))
        for k, t in enumerate(first.tiers)
    )
    return dataclasses.replace(first, tiers=tiers)


def _check_sites(sweep: Sweep, members: list[int], counts: dict) -> None:
    """Every variant's exclusions name sites of the tier, and its counts fit the sites there are."""
    bad = []
    for i in members:
        v = sweep.variants[i]
        for t in v.scenario.tiers:
            ids, n_cand, n_exist = counts[t.name]
            for key in ("exclude", "fixed"):
                unknown = sorted(set(getattr(t, key)) - set(ids))
                if unknown:
                    ids_text = f"{key} names ids that are not sites: {unknown[:10]}"
                    bad.append(f"{v.name}: tier {t.name!r} {ids_text}")
            if t.new > n_cand:
                bad.append(f"{v.name}: tier {t.name!r} new = {t.new} but there are {n_cand} candidate sites")
            if t.upgrade > n_exist:
                bad.append(
                    f"{v.name}: tier {t.name!r} upgrade = {t.upgrade} but there are {n_exist} existing sites"
                )
    if bad:
        shown = "\n".join(f"  - {b}" for b in bad[:_LIST_AT_MOST])
        more = f"\n  ... and {len(bad) - _LIST_AT_MOST} more" if len(bad) > _LIST_AT_MOST else ""
        raise InputError(
            f"sweep {sweep.name!r}: {len(bad)} problem(s) with the sites; nothing ran:\n{shown}{more}"
        )


def _table(sweep: Sweep, rows: dict[int, dict], keys: list[str]):
    """One row per variant: name, base, the axes by dotted key, the results, the outcome, the key."""
    import pandas as pd

    records = []
    for i, v in enumerate(sweep.variants):
        rec: dict[str, Any] = {"variant": v.name, "base": v.base}
        rec.update({a: _axis_value(v.scenario, a) for a in sweep.axes})
        rec.update(rows.get(i, {"outcome": "failed", "error": "not run"}))
        rec["key"] = keys[i]
        records.append(rec)
    table = pd.DataFrame.from_records(records).set_index("variant")
    first = ["base", *sweep.axes]
    shares = sorted(c for c in table.columns if c.startswith("covered_share_"))
    last = ["objective", "bound", "gap", "status", "seconds", "outcome", "error", "key"]
    middle = [c for c in table.columns if c not in first + shares + last]
    return table[[c for c in first + shares + middle + last if c in table.columns]]
