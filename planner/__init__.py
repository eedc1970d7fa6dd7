"""planner: site elderly-care facilities for the 15-minute community life circle on real street networks.

The main steps are importable from the package (loaded on first use, so ``import planner`` stays light)::

    import planner
    net = planner.read_network("city.osm.pbf")
    times = planner.travel_times(net, sites, demand, limit_s=15 * 60, speed_mps="older_winter")
    plan = planner.mclp(times, demand["weight"], p=100, threshold_min=15)
"""

import importlib
import logging

from planner._errors import (
    DataError,
    InfeasibleError,
    InputError,
    PlannerError,
    PlannerWarning,
    SolverError,
)

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: public name -> module that defines it
_LAZY = {
    "StreetNetwork": "planner.network",
    "read_network": "planner.network",
    "network_from_place": "planner.network",
    "network_from_polygon": "planner.network",
    "network_from_bbox": "planner.network",
    "snap_points": "planner.snap",
    "TravelTimes": "planner.costs",
    "travel_times": "planner.costs",
    "service_areas": "planner.isochrones",
    "read_points": "planner.io",
    "mclp": "planner.locate",
    "lscp": "planner.locate",
    "p_median": "planner.locate",
    "p_center": "planner.locate",
    "capacitated_mclp": "planner.locate",
    "two_tier": "planner.locate",
    "coverage_curve": "planner.locate",
    "Equity": "planner.locate",
    "SitingResult": "planner.locate",
    "plan_map": "planner.maps",
    "save_map": "planner.maps",
    "Scenario": "planner.scenario",
    "read_scenario": "planner.scenario",
    "run": "planner.pipeline",
    "RunResult": "planner.pipeline",
    "write_outputs": "planner.results",
    "result_map": "planner.results",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'planner' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "DataError",
    "InfeasibleError",
    "InputError",
    "PlannerError",
    "PlannerWarning",
    "SolverError",
    "__version__",
]
__all__ += list(_LAZY)  # the names handed on from the stages' modules
