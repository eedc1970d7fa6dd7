"""Error classes: one root, each also the builtin a user would catch (as r5py does)."""

from __future__ import annotations


class PlannerError(Exception):
    """Root of every error `planner` raises on purpose."""


class InputError(PlannerError, ValueError):
    """An input (file, table, argument, scenario key) is wrong; the message says how to fix it."""


class DataError(PlannerError, ValueError):
    """A data file could not be read or holds no usable data (not OSM, corrupt, no walkable ways)."""


class InfeasibleError(PlannerError, RuntimeError):
    """A model has no feasible plan (e.g. an equity target no set of sites can meet)."""


class SolverError(PlannerError, RuntimeError):
    """The solver failed for a reason other than infeasibility."""


class PlannerWarning(UserWarning):
    """Something a user should know that does not stop the run (e.g. points too far from any street)."""
