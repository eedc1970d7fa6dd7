"""Defaults in one place, each with its source.

Walking speeds
--------------
Planning practice (GB 50180-2018 and the 15-minute life circle literature) assumes 60 m/min, i.e.
1.0 m/s, so a 15-minute walk reaches 900 m of street; the standard's 15-minute circle is 800-1,000 m.
Measured older people are slower (see ``../shared/docs/DOMAIN.md``):

* Willberg et al. (2023), Helsinki: median walking speed of older adults 1.18 m/s on dry pavement and
  1.08 m/s on gritted ice (winter);
* the Bath study: adults aged 65+ at risk of falls 0.76 m/s, frail adults 0.64 m/s;
* speed falls about 0.006 m/s per year after 60.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType

#: Named walking speeds in metres per second, with their sources (see module docstring).
SPEED_PRESETS_MPS = MappingProxyType(
    {
        "planning": 1.0,  # 60 m/min, planning practice behind GB 50180-2018
        "older_dry": 1.18,  # Willberg et al. 2023, median of older adults, dry
        "older_winter": 1.08,  # Willberg et al. 2023, median of older adults, gritted ice
        "older_at_risk": 0.76,  # Bath study, adults 65+ at risk
        "frail": 0.64,  # Bath study, frail adults
    }
)

#: Sources of the presets, for tables and map legends.
SPEED_SOURCES = MappingProxyType(
    {
        "planning": "planning practice, 60 m/min (GB 50180-2018)",
        "older_dry": "older adults, dry pavement, median (Willberg et al. 2023, Helsinki)",
        "older_winter": "older adults, gritted ice, median (Willberg et al. 2023, Helsinki)",
        "older_at_risk": "adults 65+ at risk of falls (Bath study)",
        "frail": "frail adults (Bath study)",
    }
)

DEFAULT_SPEED = "planning"
DEFAULT_SPEED_MPS = SPEED_PRESETS_MPS[DEFAULT_SPEED]

#: Life-circle levels of GB 50180-2018 (minutes of walk).
LIFE_CIRCLE_MIN = MappingProxyType({"15-minute": 15.0, "10-minute": 10.0, "5-minute": 5.0})

#: Default coverage threshold of a tier (minutes of walk): the 15-minute life circle of GB 50180-2018.
DEFAULT_THRESHOLD_MIN = LIFE_CIRCLE_MIN["15-minute"]

#: Default solve method: exact MIP (HiGHS) when the model is small enough, else a heuristic with a bound.
DEFAULT_SOLVER_METHOD = "auto"

#: Target shares of the coverable weight for which a coverage curve finds the fewest sites.
DEFAULT_CURVE_TARGETS = (0.8, 0.9, 0.95, 1.0)

#: Wall-clock limit of one exact solve (seconds); a solve that hits it returns its plan with the proven gap.
DEFAULT_TIME_LIMIT_S = 60.0
#: Relative MIP gap at which HiGHS stops (1e-6: proven optimal for practical purposes).
DEFAULT_MIP_GAP = 1e-6

#: Points farther than this from any walkable street are not snapped, and reported (metres).
DEFAULT_MAX_SNAP_M = 500.0

#: Streets within this distance of a reached street piece belong to its service area polygon (metres).
DEFAULT_SERVICE_AREA_BUFFER_M = 40.0


def cache_dir() -> Path:
    """Folder for caches (downloads, prepared graphs): ``$PLANNER_CACHE`` or ``~/.cache/planner``."""
    return Path(os.environ.get("PLANNER_CACHE", Path.home() / ".cache" / "planner"))


def resolve_speed(speed: str | float | None) -> float:
    """Return a walking speed in m/s from a preset name, a number, or None (the default preset).

    >>> resolve_speed("older_winter")
    1.08
    >>> resolve_speed(0.9)
    0.9
    """
    from planner._errors import InputError

    if speed is None:
        return DEFAULT_SPEED_MPS
    if isinstance(speed, str):
        if speed in SPEED_PRESETS_MPS:
            return SPEED_PRESETS_MPS[speed]
        names = ", ".join(f"{k} ({v} m/s)" for k, v in SPEED_PRESETS_MPS.items())
        raise InputError(f"unknown walking speed preset {speed!r}; use one of {names}, or a number in m/s")
    value = float(speed)
    if not (0.1 <= value <= 3.0):
        raise InputError(
            f"walking speed {value} m/s is outside 0.1-3.0 m/s; give metres per second "
            "(1.0 = 60 m/min; older adults 0.64-1.18, see planner.settings.SPEED_PRESETS_MPS)"
        )
    return value


#: A run stops when more than this share of the older residents (weight) is farther than ``max_snap_m`` from
#: every street: the answer would be an empty plan that looks valid.
FAR_DEMAND_STOP_SHARE = 0.5

#: Largest number of site-demand pairs within the walk a run computes (estimated before travel times), and
#: the memory one pair takes while the sparse table is built (walk seconds, indices, search buffers).
MAX_TRAVEL_PAIRS = 300_000_000
BYTES_PER_PAIR = 40
