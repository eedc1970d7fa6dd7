"""Siting models: MCLP, LSCP, p-median, p-center, capacitated and backup coverage, equity, two tiers."""

from planner.locate._result import SitingResult
from planner.locate.covering import Equity, capacitated_mclp, lscp, mclp
from planner.locate.curve import CoverageCurve, coverage_curve
from planner.locate.median import p_center, p_median
from planner.locate.tiers import TwoTierResult, two_tier

__all__ = [
    "CoverageCurve",
    "Equity",
    "SitingResult",
    "TwoTierResult",
    "capacitated_mclp",
    "coverage_curve",
    "lscp",
    "mclp",
    "p_center",
    "p_median",
    "two_tier",
]
