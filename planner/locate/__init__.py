"""Siting models: MCLP, LSCP, p-median, p-center, capacitated and backup coverage, equity, two tiers."""

from planner.locate._result import SitingResult
from planner.locate.capacitated import capacitated_p_median
from planner.locate.covering import Equity, capacitated_mclp, lscp, lscp_backup, mclp
from planner.locate.curve import CoverageCurve, coverage_curve
from planner.locate.median import p_center, p_median
from planner.locate.tiers import TwoTierResult, two_tier

__all__ = [
    "CoverageCurve",
    "Equity",
    "SitingResult",
    "TwoTierResult",
    "capacitated_mclp",
    "capacitated_p_median",
    "coverage_curve",
    "lscp",
    "lscp_backup",
    "mclp",
    "p_center",
    "p_median",
    "two_tier",
]
