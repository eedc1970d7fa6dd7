"""The immutable result of a siting model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True, eq=False)
class SitingResult:
    """A plan and how good it is.

    Attributes
    ----------
    model
        ``"mclp"``, ``"lscp"``, ``"p-median"``, ``"p-center"``, ``"capacitated-mclp"``, ``"backup-mclp"``,
        ``"two-tier"``, ...
    selected
        Ids of the sites the model opens (new sites, or upgrades), sorted.
    fixed
        Ids of existing / required sites that were open anyway (they cover, and are not counted in p).
    objective
        Value of the plan in the model's unit (covered weight, weighted walk seconds, worst walk seconds,
        sites).
    bound
        Best proven bound on the optimum (upper bound when maximising, lower when minimising).
    gap
        Relative gap ``|bound - objective| / max(|objective|, 1e-9)``; 0 means proven optimal.
    status
        ``"optimal"``, ``"time_limit"`` (feasible plan, gap stated), ``"heuristic"`` (bound from a
        relaxation).
    method
        ``"exact"`` (HiGHS MIP) or ``"heuristic"`` (greedy + interchange with a relaxation bound).
    solve_s
        Wall seconds spent in model build and solve.
    covered
        Per demand point (index ``demand_id``): number of open sites (selected + fixed) within the threshold.
    assigned
        Per demand point: the site it is assigned to (nearest open, or by the capacitated model), NaN if none.
    details
        Model-specific extra numbers (e.g. per-district shares, the sizes after reduction).
    """

    model: str
    selected: tuple
    fixed: tuple
    objective: float
    bound: float
    gap: float
    status: str
    method: str
    solve_s: float
    covered: pd.Series
    assigned: pd.Series | None = None
    details: Mapping = field(default_factory=dict)
