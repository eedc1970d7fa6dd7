"""planner: site elderly-care facilities for the 15-minute community life circle on real street networks."""

import logging

from planner._errors import DataError, InfeasibleError, InputError, PlannerError, PlannerWarning, SolverError

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "DataError",
    "InfeasibleError",
    "InputError",
    "PlannerError",
    "PlannerWarning",
    "SolverError",
    "__version__",
]
